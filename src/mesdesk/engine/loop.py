"""The one loop: decide, gate, fill and journal, for backtest, replay and paper alike.

`Engine.advance` processes every event known at `clock.now()`: batches of candidates whose decision
time has come, entries, exits. A backtest calls it once with all bars under a `SimClock` set to the end
of the data; the live runner calls it after each bar (or batch window) with the bars so far under a
`WallClock`. Work is proportional to the candidates and to the bars a position spends open, never to a
Python loop over all bars: between candidates nothing happens, and an open position's path is walked
with numpy (see `bracket.walk`).

Timing (DESIGN.md "Time and data"): a candidate's `ts` is the close of the bar that completed it. It
is decided at the end of its `batch_window_s` window (epoch-aligned); the entry fills at the open of the
first path bar opening at or after that decision time. An exit becomes known at the close of the
path bar where it happened, so a position counts as open for the gate until then.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_days
from mesdesk.clock import Clock, SimClock
from mesdesk.decider import Decider, DecisionContext, ScoreDecider
from mesdesk.engine.candidates import CandidateTable, decision_times, passed_mask
from mesdesk.engine.config import EngineConfig
from mesdesk.engine.fills import BracketOutcome, PositionState, open_position, outcome, walk
from mesdesk.engine.journal import JOURNAL_COLUMNS, assemble_journal, blank_columns, result_of, trades_from_journal
from mesdesk.engine.risk import DayState, Order, Refused, close_time_utc, gate, in_entry_window
from mesdesk.errors import ConfigError, DataError, DecisionError
from mesdesk.model import Decision
from mesdesk.pathbars import PathBars

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _dt(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _ns(ts: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (a pandas Timestamp keeps its nanoseconds)."""
    if isinstance(ts, pd.Timestamp):
        return int(ts.as_unit("ns").value)
    return ((ts - _EPOCH) // _MICROSECOND) * 1000  # exact: a datetime holds whole microseconds


def infer_span(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The bar length of a frame: the most common gap between consecutive opens (first 5000 bars)."""
    if len(index) < 2:
        raise DataError("cannot infer the bar length from fewer than 2 bars; pass it explicitly")
    gaps = np.diff(np.asarray(index[:5000].as_unit("ns").asi8, dtype=np.int64))
    values, counts = np.unique(gaps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


@dataclass(slots=True)
class _Pending:
    row: int
    direction: int
    decided_ns: int
    day: date


@dataclass(slots=True)
class _Open:
    row: int
    state: PositionState
    day: date
    flat_ns: int


@dataclass(frozen=True)
class EngineResult:
    """A finished run: the journal (every candidate) and the trades (every fill)."""

    journal: pd.DataFrame
    trades: pd.DataFrame
    config: EngineConfig


@dataclass(slots=True)
class _Records:
    """Journal fields of candidates the loop handled individually, keyed by candidate row."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)


class Engine:
    """Decide, gate, fill, journal. Feed it bars and candidates as they become known."""

    def __init__(
        self,
        config: EngineConfig,
        decider: Decider,
        clock: Clock,
        *,
        bar_span: pd.Timedelta | None = None,
        path_span: pd.Timedelta | None = None,
        context_bars: int = 120,
    ) -> None:
        self.config = config
        self.decider = decider
        self.clock = clock
        self._bar_span = None if bar_span is None else pd.Timedelta(bar_span)
        self._path_span = None if path_span is None else pd.Timedelta(path_span)
        self._context_bars = context_bars
        self._bars: pd.DataFrame | None = None
        self._bar_close_ns = np.empty(0, dtype=np.int64)
        self._path: PathBars | None = None
        self._candidates: pd.DataFrame | None = None
        self._table: CandidateTable | None = None
        self._no_bars: pd.DataFrame | None = None
        self._flat_ns: dict[date, int] = {}
        self._decision_ns = np.empty(0, dtype=np.int64)
        self._decision_day: list[date] = []
        self._passed = np.empty(0, dtype=bool)
        self._cursor = 0
        self._records = _Records()
        self._days: dict[date, DayState] = {}
        self._pending: _Pending | None = None
        self._open: _Open | None = None

    # ------------------------------------------------------------ feeding

    def advance(self, bars: pd.DataFrame, candidates: pd.DataFrame, sub_bars: pd.DataFrame | None = None) -> None:
        """Process everything known at `clock.now()`.

        `bars` (decision timeframe) and `sub_bars` (the fill path, when finer data exists) hold what
        is known so far; `candidates` is the candidate frame computed on `bars`. Later calls pass
        longer frames of the same history (earlier rows unchanged).
        """
        now_ns = _ns(self.clock.now())
        self._ingest(bars, candidates, sub_bars)
        ready = int(np.searchsorted(self._decision_ns, now_ns, side="right"))
        if ready > self._cursor:
            rows = np.arange(self._cursor, ready)
            rows = rows[self._passed[self._cursor : ready]]
            if rows.size:
                times = self._decision_ns[rows]
                starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
                ends = np.r_[starts[1:], rows.size]
                for a, b in zip(starts, ends, strict=True):
                    decided_ns = int(times[a])
                    self._settle(decided_ns)
                    self._decide_batch([int(r) for r in rows[a:b]], decided_ns)
            self._cursor = ready
        self._settle(now_ns)

    def _ingest(self, bars: pd.DataFrame, candidates: pd.DataFrame, sub_bars: pd.DataFrame | None) -> None:
        if self._bars is None or len(bars) != len(self._bars):
            if self._bar_span is None:
                self._bar_span = infer_span(pd.DatetimeIndex(bars.index))
            self._bars = bars
            self._bar_close_ns = (
                np.asarray(pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64) + self._bar_span.value
            )
        path_frame = bars if sub_bars is None else sub_bars
        if self._path is None or len(path_frame) != len(self._path):
            if self._path_span is None:
                self._path_span = self._bar_span if sub_bars is None else infer_span(pd.DatetimeIndex(sub_bars.index))
            assert self._path_span is not None
            self._path = PathBars.from_frame(path_frame, self._path_span)
        if self._candidates is None or len(candidates) != len(self._candidates):
            self._candidates = candidates
            self._table = CandidateTable(candidates)
            self._decision_ns = decision_times(candidates, self.config.execution.batch_window_s)
            days = trading_days(pd.DatetimeIndex(pd.to_datetime(self._decision_ns, unit="ns", utc=True)))
            self._decision_day = days.tolist()  # datetime.date per row: batches read them one by one
            self._passed = passed_mask(candidates, self.config.prefilter_threshold)

    # ------------------------------------------------------------ deciding

    def _day(self, day: date) -> DayState:
        state = self._days.get(day)
        if state is None:
            state = self._days[day] = DayState(day=day)
        state.position_open = self._pending is not None or self._open is not None
        return state

    def _decide_batch(self, rows: list[int], decided_ns: int) -> None:
        table = self._table
        assert table is not None
        decided_at = _dt(decided_ns)
        day_key = self._decision_day[rows[0]]
        day = self._day(day_key)
        asked: list[int] = []
        for row in rows:
            direction = int(table.sign[row])
            verdict = gate(Order(row, direction, decided_at, day_key), day, self.config.limits, self.config.session)
            if isinstance(verdict, Refused):
                self._records.rows[row] = {"decision": "not_asked", "gate": verdict.reason}
            else:
                asked.append(row)
        if not asked:
            return
        decisions = self._ask(asked, decided_ns)
        best: int | None = None
        best_rank = -1.0
        for row, decision in zip(asked, decisions, strict=True):
            self._records.rows[row] = {
                "decision": decision.status.value,
                "decision_source": decision.source,
                "fallback": decision.fallback,
                "confidence": decision.confidence,
                "reason": decision.reason,
                "gate": "ok",
            }
            # Several takes in one batch: the most confident one; without a stated confidence, the best score.
            rank = decision.confidence if decision.confidence is not None else float(table.score[row])
            if decision.take and (best is None or rank > best_rank):
                best, best_rank = row, rank
        if best is None:
            return
        for row, decision in zip(asked, decisions, strict=True):
            if decision.take and row != best:
                self._records.rows[row]["gate"] = "position open"
        self._pending = _Pending(best, int(table.sign[best]), decided_ns, day_key)

    def _ask(self, rows: list[int], decided_ns: int) -> list[Decision]:
        assert self._table is not None
        assert self._bars is not None
        candidates = [self._table.candidate(r) for r in rows]
        if getattr(self.decider, "needs_bars", True):
            known = int(np.searchsorted(self._bar_close_ns, decided_ns, side="right"))
            recent = self._bars.iloc[max(0, known - self._context_bars) : known]
        else:  # the decider declares it never reads bars: skip the slice (a hot path in backtests)
            if self._no_bars is None:
                self._no_bars = self._bars.iloc[:0]
            recent = self._no_bars
        decisions = self.decider.decide(candidates, DecisionContext(now=_dt(decided_ns), recent_bars=recent))
        if len(decisions) != len(candidates):
            raise DecisionError(
                f"decider {self.decider.name} returned {len(decisions)} decisions for {len(candidates)} candidates"
            )
        return decisions

    # ------------------------------------------------------------ filling and walking

    def _settle(self, until_ns: int) -> None:
        """Fill a pending order and walk the open position over path bars closed by `until_ns`."""
        path = self._path
        assert path is not None
        if self._pending is None and self._open is None:
            return
        known = path.known_count(until_ns)
        if self._pending is not None:
            pend = self._pending
            e = path.first_open_at_or_after(pend.decided_ns)
            if e >= known:
                return
            self._pending = None
            entry_at = _dt(int(path.ts_ns[e]))
            if not in_entry_window(entry_at, pend.day, self.config.session):
                self._records.rows[pend.row]["gate"] = "outside window"
                return
            day = self._day(pend.day)
            commission = self.config.execution.commission_pts_round_trip
            floor_pts = self.config.limits.daily_point_stop - day.net_pts + commission
            state = open_position(
                path, e, pend.direction, self.config.bracket, self.config.execution, floor_pts=floor_pts
            )
            flat_ns = self._flat_ns.get(pend.day)
            if flat_ns is None:
                flat_ns = self._flat_ns[pend.day] = _ns(
                    close_time_utc(pend.day, self.config.session.close_on(pend.day))
                )
            self._open = _Open(pend.row, state, pend.day, flat_ns)
            day.trades += 1
            day.position_open = True
        if self._open is not None:
            pos = self._open
            flat_index = path.last_closed_by(pos.flat_ns) if until_ns >= pos.flat_ns else None
            walk(pos.state, path, known, self.config.bracket, self.config.execution, flat_index=flat_index)
            if not pos.state.is_open:
                self._close(pos)

    def _close(self, pos: _Open) -> None:
        self._open = None
        out = outcome(pos.state, self.config.execution)
        self._records.rows[pos.row].update(self._fields_of(out))
        day = self._day(pos.day)
        day.net_pts = round(day.net_pts + out.pnl_pts, 10)
        if result_of(out.pnl_pts, out.exit_reason) == "loss":
            day.losses += 1

    # ------------------------------------------------------------ output

    def _trade_fields(self) -> dict[int, dict[str, Any]]:
        positions: list[tuple[int, PositionState]] = []
        # Closed positions live in the records once written; open ones are read from state.
        fields: dict[int, dict[str, Any]] = {}
        if self._open is not None:
            positions.append((self._open.row, self._open.state))
        for row, state in positions:
            fields[row] = self._outcome_fields(state)
        return fields

    def _outcome_fields(self, state: PositionState) -> dict[str, Any]:
        return self._fields_of(outcome(state, self.config.execution))

    @staticmethod
    def _fields_of(out: BracketOutcome) -> dict[str, Any]:
        return {
            "entry_ts": out.entry_ts_ns,
            "entry_price": out.entry_price,
            "exit_ts": out.exit_ts_ns if out.exit_index >= 0 else None,
            "exit_price": out.exit_price,
            "exit_reason": out.exit_reason,
            "pnl_pts": out.pnl_pts,
            "gross_pts": out.gross_pts,
            "commission_pts": out.commission_pts,
            "time_to_target": out.time_to_target_s,
            "mae": out.mae,
            "mfe": out.mfe,
            "ambiguous": out.ambiguous,
        }

    def open_position(self) -> dict[str, Any] | None:
        """The open position with its WORKING bracket (quoted prices), or None when flat.

        `stop` is the effective stop (breakeven, trail or the day's floor, whichever is tightest).
        """
        if self._open is None or self._table is None:
            return None
        st, row = self._open.state, self._open.row
        s = st.direction
        return {
            "setup": str(self._table.setup[row]),
            "direction": "long" if s == 1 else "short",
            "entry_ts": pd.Timestamp(st.entry_ts_ns, tz="UTC").to_pydatetime(),
            "entry_price": round(s * st.entry, 10),
            "target": round(s * st.target, 10),
            "stop": round(s * max(st.stop, st.floor), 10),
            "breakeven": st.be_done,
            "trailing": st.trail_on,
            "best_price": round(s * st.best, 10),
            "bracket": "working",
        }

    def journal(self) -> pd.DataFrame:
        """One row per candidate decided so far (JOURNAL_COLUMNS first, then the candidate's columns)."""
        return build_journal(self)

    def trades(self) -> pd.DataFrame:
        """The filled trades in the seed's /metrics/trades shape."""
        return trades_from_journal(self.journal())


def build_journal(engine: Engine) -> pd.DataFrame:
    """Assemble the journal from the candidate frame (vectorised) and the per-row records."""
    cand = engine._candidates  # noqa: SLF001 - same module family; kept out of the public surface
    n = engine._cursor  # noqa: SLF001
    if cand is None or n == 0:
        return pd.DataFrame(columns=list(JOURNAL_COLUMNS))
    base = cand.iloc[:n].reset_index(drop=True)
    passed = engine._passed[:n]  # noqa: SLF001
    cols = blank_columns(passed)
    trade_fields = engine._trade_fields()  # noqa: SLF001
    for row, rec in engine._records.rows.items():  # noqa: SLF001
        if row >= n:
            continue
        merged = {**rec, **trade_fields.get(row, {})}
        for key, value in merged.items():
            if key == "entry_ts":
                cols["entry_ts_ns"][row] = value
            elif key == "exit_ts":
                cols["exit_ts_ns"][row] = -1 if value is None else value
            else:
                cols[key][row] = value
    return assemble_journal(base, passed, engine._decision_ns[:n], cols)  # noqa: SLF001


EngineKernel = Literal["auto", "reference"]


def _kernel(kernel: EngineKernel | None) -> EngineKernel:
    """The requested kernel; MESDESK_ENGINE (auto|reference) overrides the default, never an explicit one."""
    if kernel is not None:
        return kernel
    chosen = os.environ.get("MESDESK_ENGINE", "auto").strip().lower() or "auto"
    if chosen not in ("auto", "reference"):
        raise ConfigError(f"MESDESK_ENGINE={chosen!r}: choose auto or reference")
    return "auto" if chosen == "auto" else "reference"


def uses_kernel(kernel: EngineKernel | None = None) -> bool:
    """True when a backtest with a score decider runs the compiled path (not MESDESK_ENGINE=reference)."""
    return _kernel(kernel) == "auto"


def run_end_ns(bars: pd.DataFrame, sub_bars: pd.DataFrame | None, span: pd.Timedelta, path_span: pd.Timedelta) -> int:
    """The clock at the end of a one-step backtest: when the last bar or sub-bar is known (epoch ns)."""
    path_frame = bars if sub_bars is None else sub_bars
    end = max(pd.DatetimeIndex(bars.index)[-1] + span, pd.DatetimeIndex(path_frame.index)[-1] + path_span)
    return _ns(end.to_pydatetime())


def run_backtest(
    bars: pd.DataFrame,
    candidates: pd.DataFrame,
    decider: Decider,
    config: EngineConfig | None = None,
    sub_bars: pd.DataFrame | None = None,
    *,
    bar_span: pd.Timedelta | None = None,
    step: pd.Timedelta | None = None,
    attach: Callable[[Engine], None] | None = None,
    kernel: EngineKernel | None = None,
) -> EngineResult:
    """The backtest: feed the bars to one `Engine` under a `SimClock`; the only way a backtest runs.

    With `step` None the clock is set to the end of the data and everything is processed in one
    `advance` (the fast path). With a `step` the clock moves in steps from the first bar: each
    `advance` processes what is known at the step's time (the engine never reads a bar that closes
    later), so a decider that learns from the journal between batches (`attach` hands it the engine)
    sees it grow as it would live. Both give the same journal for a decider that does not learn.

    `kernel`: ``"auto"`` (default; the environment variable MESDESK_ENGINE overrides it) runs the
    compiled path (`mesdesk.engine.fast`, the same journal, tested) when the decider is a
    `ScoreDecider` such as the rule decider and nothing steps or attaches; ``"reference"`` always runs
    this loop.
    """
    config = config or EngineConfig()
    span = pd.Timedelta(bar_span) if bar_span is not None else infer_span(pd.DatetimeIndex(bars.index))
    path_frame = bars if sub_bars is None else sub_bars
    path_span = span if sub_bars is None else infer_span(pd.DatetimeIndex(sub_bars.index))
    end = max(pd.DatetimeIndex(bars.index)[-1] + span, pd.DatetimeIndex(path_frame.index)[-1] + path_span)
    if step is None and attach is None and isinstance(decider, ScoreDecider) and uses_kernel(kernel):
        from mesdesk.engine.fast import fast_journal

        path = PathBars.from_frame(path_frame, path_span)
        fast = fast_journal(path, candidates, decider, config, run_end_ns(bars, sub_bars, span, path_span))
        if fast is not None:
            return EngineResult(journal=fast, trades=trades_from_journal(fast), config=config)
    if step is None:
        engine = Engine(config, decider, SimClock(end.to_pydatetime()), bar_span=span, path_span=path_span)
        if attach is not None:
            attach(engine)
        engine.advance(bars, candidates, sub_bars)
    else:
        start = pd.DatetimeIndex(bars.index)[0].floor(step)
        clock = SimClock(start.to_pydatetime())
        engine = Engine(config, decider, clock, bar_span=span, path_span=path_span)
        if attach is not None:
            attach(engine)
        for t in pd.date_range(start + step, end, freq=step).append(pd.DatetimeIndex([end])):
            if t <= pd.Timestamp(clock.now()):
                continue
            clock.advance_to(t.to_pydatetime())
            engine.advance(bars, candidates, sub_bars)
    journal = engine.journal()
    return EngineResult(journal=journal, trades=trades_from_journal(journal), config=config)
