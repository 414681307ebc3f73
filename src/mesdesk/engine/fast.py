"""The compiled fast path of a backtest whose decider is a `ScoreDecider` (the rule decider).

`fast_journal` gives the journal `Engine.advance` would give in one step at `now_ns`, computed by
the numba kernel (`mesdesk.engine.kernel`): decisions come from `decider.decide_score` once per
distinct score, entry windows and flat times are worked out here with numpy, and the kernel runs the
gate, limits, fills and bracket. It returns None where it cannot promise identical output (a price the
kernel reads too large for its exact rounding, a session that closes before any bar, a score the
decider refuses); the caller then runs the loop. tests/engine/test_fast_path.py holds the two equal.

`fast_journal` is three steps that the optimizer also uses apart (`research.evaluate.KernelSums`):
`prepare` (what the bracket, limits and fill rules do not change), `run` (the kernel with a config's
bracket, limits and execution) and the journal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np
import pandas as pd

from mesdesk.calendar import ct_hour_runs, ct_wall_values
from mesdesk.decider import ScoreDecider
from mesdesk.engine.candidates import decision_times, passed_mask
from mesdesk.engine.config import EngineConfig, SessionConfig
from mesdesk.engine.journal import JOURNAL_COLUMNS, assemble_journal, blank_columns
from mesdesk.engine.risk import close_time_utc
from mesdesk.frames import text_column
from mesdesk.model import Decision
from mesdesk.pathbars import PathBars

_NS_DAY = 86_400_000_000_000
_TRADING_DAY_SHIFT_NS = 7 * 3_600_000_000_000  # 17:00 CT starts the next trading day
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _gate_text(config: EngineConfig) -> np.ndarray:
    limits = config.limits
    return np.array(
        [
            "",
            "ok",
            "outside window",
            f"daily stop {limits.daily_point_stop:.2f} reached",
            f"stop after {limits.stop_after_losses} losses",
            f"max trades {limits.max_trades} reached",
            "position open",
        ],
        dtype=object,
    )


EXIT_TEXT = np.array([None, "open", "sl", "be", "trail", "daily_stop", "tp", "session_end"], dtype=object)


def _day_close_ns(days: np.ndarray, session: SessionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per trading day (datetime64[D]): the flat instant (UTC ns) and the CT wall time of the close (ns after
    midnight), the instant being `risk.close_time_utc` cut to microseconds.

    The instant is the close's wall time less the one Central offset that maps it back to that wall time
    (`calendar.ct_hour_runs`); a day where no offset or two do (a close in a DST gap or repeated hour) is
    asked of `close_time_utc` itself, which decides those as the loop does.
    """
    closes = [session.close_on(day) for day in days.tolist()]
    tod_of = {t: _ns_of_time(t) for t in set(closes)}
    close_tod = np.array([tod_of[t] for t in closes], dtype=np.int64)
    wall = days.astype("datetime64[ns]").astype(np.int64) + close_tod
    flat = np.empty(len(closes), dtype=np.int64)
    if not closes:
        return flat, close_tod
    hour = 3_600_000_000_000
    change_hours, run_offset = ct_hour_runs(int(wall.min()) // hour - 48, int(wall.max()) // hour + 48)
    matches = np.zeros(len(closes), dtype=np.int64)
    for offset in np.unique(run_offset).tolist():
        utc = wall - offset
        maps_back = run_offset[np.searchsorted(change_hours * hour, utc, side="right")] == offset
        flat[maps_back] = utc[maps_back]
        matches += maps_back
    for k in np.flatnonzero(matches != 1).tolist():
        flat[k] = ((close_time_utc(days[k].item(), closes[k]) - _EPOCH) // _MICROSECOND) * 1000
    return flat, close_tod


def _in_entry_window(
    ts_ns: np.ndarray, day_ns: np.ndarray, close_tod: np.ndarray, session: SessionConfig
) -> np.ndarray:
    """`risk.in_entry_window` for many instants: the CT date is the trading day and the CT time of day
    lies in a window [start, min(end, the day's close)). Instants are first cut to microseconds, as the
    loop's datetimes are."""
    if ts_ns.size == 0:
        return np.zeros(0, dtype=bool)
    wall = ct_wall_values((ts_ns // 1000) * 1000)
    wall_day = np.floor_divide(wall, _NS_DAY)
    tod = wall - wall_day * _NS_DAY
    ok = np.zeros(ts_ns.size, dtype=bool)
    for w in session.windows:
        start, end = _ns_of_time(w.start), _ns_of_time(w.end)
        ok |= (tod >= start) & (tod < np.minimum(end, close_tod))
    result: np.ndarray = ok & (wall_day * _NS_DAY == day_ns)
    return result


def _answers(decider: ScoreDecider, scores: np.ndarray) -> tuple[list[Decision], np.ndarray] | None:
    """The decider's answer per distinct score (bit for bit, so -0.0 is not 0.0) and each row's answer."""
    keys, which = np.unique(np.ascontiguousarray(scores, dtype=np.float64).view(np.int64), return_inverse=True)
    answers = []
    for key in keys.view(np.float64).tolist():
        try:
            answers.append(decider.decide_score(key))
        except ValueError:  # e.g. a score outside 0-100: the loop raises there, so it runs instead
            return None
    return answers, which.reshape(-1)


def _ns_of_time(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000_000 + t.microsecond * 1000


@dataclass(frozen=True)
class KernelInputs:
    """What the kernel reads that the bracket, the limits and the fill rules do not change.

    Built once by `prepare` for a candidate frame, a decider, the batch window, the prefilter
    threshold and the session; `run` then takes any bracket, limits and execution costs. `n` is how
    many candidate rows are decided by `now_ns`; `rows` the passed ones among them (kernel row k is
    candidate row ``rows[k]``); `take` and `rank` the decider's answers per kernel row.
    """

    n: int
    passed: np.ndarray
    decision_ns: np.ndarray
    rows: np.ndarray
    scores: np.ndarray
    take: np.ndarray
    rank: np.ndarray
    arrays: tuple[np.ndarray, ...]  # run_kernel's arguments before `path`
    path: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    now_ns: int


def prepare(
    path: PathBars, candidates: pd.DataFrame, decider: ScoreDecider, config: EngineConfig, now_ns: int
) -> KernelInputs:
    """The kernel's inputs for `candidates` at `now_ns` (the kernel itself checks the prices it reads)."""
    decision_ns = decision_times(candidates, config.execution.batch_window_s)
    n = int(np.searchsorted(decision_ns, now_ns, side="right"))
    decision_ns = decision_ns[:n]
    passed = passed_mask(candidates, config.prefilter_threshold)[:n]
    rows = np.flatnonzero(passed)
    if n == 0:  # nothing decided yet: no kernel run (the journal is empty)
        none = np.zeros(0, dtype=np.int64)
        return KernelInputs(
            0,
            passed,
            decision_ns,
            rows,
            none.astype(np.float64),
            none.astype(np.bool_),
            none.astype(np.float64),
            (),
            _kernel_path(path),
            now_ns,
        )
    scores = candidates["prefilter_score"].to_numpy(dtype=np.float64)[:n]
    take_many, rank_many = decider.decide_scores(scores[rows])
    take = np.ascontiguousarray(take_many, dtype=np.bool_)
    rank = np.ascontiguousarray(rank_many, dtype=np.float64)
    sign = np.where((candidates["direction"].astype(str) == "long").to_numpy(dtype=bool)[:n][rows], 1, -1)

    times = decision_ns[rows]
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]]) if rows.size else np.zeros(0, dtype=np.int64)
    batch_ns = times[starts]
    day_of = ((ct_wall_values(batch_ns) + _TRADING_DAY_SHIFT_NS) // _NS_DAY).astype("datetime64[D]")  # trading_days
    uniq_days, batch_day = np.unique(day_of, return_inverse=True)
    flat_ns, close_tod = _day_close_ns(uniq_days, config.session)
    day_ns = uniq_days.astype("datetime64[ns]").astype(np.int64)
    window_ok = _in_entry_window(batch_ns, day_ns[batch_day], close_tod[batch_day], config.session)
    entry = np.searchsorted(path.ts_ns, batch_ns, side="left").astype(np.int64)
    entry_ts = path.ts_ns[np.minimum(entry, max(len(path) - 1, 0))] if len(path) else np.zeros_like(entry)
    entry_ok = _in_entry_window(entry_ts, day_ns[batch_day], close_tod[batch_day], config.session)
    entry_ok &= entry < len(path)
    arrays = (
        batch_ns.astype(np.int64),
        np.r_[starts, rows.size].astype(np.int64),
        batch_day.astype(np.int64),
        window_ok.astype(np.int8),
        entry,
        entry_ok.astype(np.int8),
        take,
        rank,
        sign.astype(np.int64),
        flat_ns,
    )
    return KernelInputs(n, passed, decision_ns, rows, scores, take, rank, arrays, _kernel_path(path), now_ns)


def _kernel_path(path: PathBars) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (path.ts_ns, path.close_ns, path.open, path.high, path.low, path.close)


def kernel_params(config: EngineConfig, now_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's float and int parameters: bracket, execution costs and rules, limits, the clock."""
    b, ex, lim = config.bracket, config.execution, config.limits
    fp = np.array(
        [
            b.tp_pts,
            b.sl_pts,
            np.nan if b.breakeven_at_pts is None else b.breakeven_at_pts,
            np.nan if b.trail_after_pts is None else b.trail_after_pts,
            b.trail_distance_pts,
            b.trail_step_pts,
            ex.slippage_pts,
            ex.commission_pts_round_trip,
            ex.contract.tick_size,
            lim.daily_point_stop,
        ],
        dtype=np.float64,
    )
    ip = np.array(
        [
            int(ex.target_fill == "through"),
            int(ex.ambiguous_policy == "stop_first"),
            lim.stop_after_losses,
            lim.max_trades,
            now_ns,
        ],
        dtype=np.int64,
    )
    return fp, ip


def run(inputs: KernelInputs, config: EngineConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The kernel over `inputs` with `config`'s bracket, execution and limits: (gate, decision, out_f, out_i),
    or None when the kernel met something only the loop handles."""
    from mesdesk.engine import kernel

    fp, ip = kernel_params(config, inputs.now_ns)
    a = inputs.arrays
    state = kernel.new_state(a[6].shape[0], a[9].shape[0])
    status = kernel.run_kernel(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], inputs.path, fp, ip, *state)
    if status != kernel.STATUS_OK:
        return None
    gate, decision, out_f, out_i = state[:4]
    return gate, decision, out_f, out_i


def answers_agree(decider: ScoreDecider, scores: np.ndarray, take: np.ndarray, rank: np.ndarray) -> bool:
    """True when `decide_score` gives, for every score, the take and rank `decide_scores` gave."""
    answered = _answers(decider, scores)
    return answered is not None and _agree(*answered, scores, take, rank)


def _agree(answers: list[Decision], which: np.ndarray, scores: np.ndarray, take: np.ndarray, rank: np.ndarray) -> bool:
    # The loop's rank: the stated confidence, else the score (Engine._decide_batch).
    said_take = np.array([a.take for a in answers], dtype=np.bool_)[which]
    stated = np.array([np.nan if a.confidence is None else a.confidence for a in answers], dtype=np.float64)[which]
    said_rank = np.where(np.isnan(stated), scores, stated)
    return bool(np.array_equal(said_take, take) and np.array_equal(said_rank, rank))


def fast_journal(
    path: PathBars,
    candidates: pd.DataFrame,
    decider: ScoreDecider,
    config: EngineConfig,
    now_ns: int,
) -> pd.DataFrame | None:
    """The journal of one `advance` at `now_ns` over `path` and `candidates`, or None (run the loop)."""
    from mesdesk.engine import kernel

    inputs = prepare(path, candidates, decider, config, now_ns)
    if inputs.n == 0:
        return pd.DataFrame(columns=list(JOURNAL_COLUMNS))
    result = run(inputs, config)
    if result is None:
        return None
    gate, decision, out_f, out_i = result
    asked = decision != kernel.DEC_NOT_ASKED
    rows, scores = inputs.rows, inputs.scores
    answered = _answers(decider, scores[rows[asked]])  # the texts of the rows the loop would have asked
    if answered is None:
        return None
    answers, which = answered
    if not _agree(answers, which, scores[rows[asked]], inputs.take[asked], inputs.rank[asked]):
        return None  # decide_scores disagrees with decide_score: only the loop can be trusted
    return _journal(
        candidates,
        inputs.n,
        inputs.passed,
        inputs.decision_ns,
        rows,
        answers,
        which,
        gate,
        decision,
        out_f,
        out_i,
        config,
    )


def _journal(
    candidates: pd.DataFrame,
    n: int,
    passed: np.ndarray,
    decision_ns: np.ndarray,
    rows: np.ndarray,
    answers: list[Decision],
    which: np.ndarray,
    gate: np.ndarray,
    decision: np.ndarray,
    out_f: np.ndarray,
    out_i: np.ndarray,
    config: EngineConfig,
) -> pd.DataFrame:
    from mesdesk.engine import kernel

    cols = blank_columns(passed)
    touched = gate != kernel.GATE_NONE
    # Text columns as label codes (`frames.text_column`): code 0 the blank's text, then the labels.
    gate_code = np.where(passed, 0, 1)
    gate_code[rows[touched]] = 2 + gate[touched]
    cols["gate"] = text_column(["", "below prefilter", *_gate_text(config).tolist()], gate_code)
    asked = decision != kernel.DEC_NOT_ASKED
    asked_rows = rows[asked]
    # Each field once per distinct answer, then spread to the rows (`which`: a row's answer).
    answer_code = np.zeros(n, dtype=np.int64)
    answer_code[asked_rows] = 1 + which
    cols["decision"] = text_column(["not_asked", *(a.status.value for a in answers)], answer_code)
    cols["decision_source"] = text_column(["", *(a.source for a in answers)], answer_code)
    cols["fallback"][asked_rows] = np.array([a.fallback for a in answers], dtype=object)[which]
    confidence = [math.nan if a.confidence is None else a.confidence for a in answers]
    cols["confidence"][asked_rows] = np.array(confidence, dtype=np.float64)[which]
    cols["reason"] = text_column(["", *(a.reason for a in answers)], answer_code)
    traded = out_i[:, 2] != kernel.EXIT_NONE
    t_rows = rows[traded]
    for k, name in enumerate(
        ("entry_price", "exit_price", "pnl_pts", "gross_pts", "commission_pts", "time_to_target", "mae", "mfe")
    ):
        cols[name][t_rows] = out_f[traded, k]
    cols["entry_ts_ns"][t_rows] = out_i[traded, 0]
    cols["exit_ts_ns"][t_rows] = out_i[traded, 1]
    exit_code = np.zeros(n, dtype=np.int64)  # EXIT_TEXT[0] is None, the blank's
    exit_code[t_rows] = out_i[traded, 2]
    cols["exit_reason"] = text_column(EXIT_TEXT.tolist(), exit_code)
    cols["ambiguous"][t_rows] = out_i[traded, 3].astype(bool)
    base = candidates.iloc[:n].reset_index(drop=True)
    return assemble_journal(base, passed, decision_ns, cols)
