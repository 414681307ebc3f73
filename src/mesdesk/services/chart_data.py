"""The chart's records, pure functions of frames and values: bars with indicators as columns, candidate
markers, trades with their stop path, equity points and scanner signals; the time fields they carry.

Shared by the dashboard's views (`mesdesk.services.chart`, which reads the runner's store) and the
backtest report (`mesdesk.services.backtest_report`, which must not load the store or the runner: a
backtest imports neither SQLAlchemy nor the service). Times: `ts` fields are ISO 8601 UTC; `ct`
fields are the display zone's wall clock as text; `t` fields are that wall clock as seconds since 1970
("wall seconds"), the number the chart library puts on its axis, so the axis reads Central Time on
both sides of a DST change. A bar's `t` is its open; a candidate's `t` is the open of the bar it
completed on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mesdesk.calendar import ct_wall, trading_days
from mesdesk.data.resample import resample
from mesdesk.engine.config import BracketConfig, ExecutionConfig
from mesdesk.engine.fills import PositionState, walk
from mesdesk.indicators import ema, session_vwap
from mesdesk.pathbars import PathBars
from mesdesk.timeframes import Timeframe

EMA_PERIOD = 20
RTH_OPEN_MIN = 8 * 60 + 30
OPENING_RANGE_MIN = 15  # the ORB setup's range (mesdesk.setups.orb_retest.OrbRetestConfig.range_minutes)
MARKER_KINDS = ("taken", "skipped", "refused", "below_prefilter")


def wall_seconds(index: pd.DatetimeIndex, tz: ZoneInfo) -> np.ndarray:
    """The wall clock of `tz` at each UTC instant, as seconds since 1970 (see the module docstring)."""
    if len(index) == 0:
        return np.empty(0, dtype=np.int64)
    wall = index.tz_convert(tz).tz_localize(None).as_unit("ns")
    return np.asarray(wall.asi8 // 1_000_000_000, dtype=np.int64)


def wall_of(ts: datetime, tz: ZoneInfo) -> int:
    local = ts.astimezone(tz).replace(tzinfo=UTC)
    return int(local.timestamp())


def ct_text(ts: datetime, tz: ZoneInfo) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_columns(index: pd.DatetimeIndex, tz: ZoneInfo) -> tuple[list[int | None], list[str | None], list[str | None]]:
    """`wall_of`, `iso_utc` and `ct_text` of many aware instants at once: `t`, `ts` and `ct` lists, None at NaT.

    Equal to the per-instant functions for every instant from 1970 on (they truncate to the second;
    this floors, which is the same there). A report has thousands of instants; one `strftime` and
    `astimezone` each was most of the time of its trade records.
    """
    ok = ~np.asarray(index.isna(), dtype=bool)
    valid = index[ok] if not ok.all() else index
    wall = wall_seconds(valid, tz)
    utc_s = valid.tz_convert(UTC).as_unit("ns").asi8 // 1_000_000_000
    iso = np.datetime_as_string(utc_s.astype("datetime64[s]"), unit="s", timezone="UTC").tolist()  # with "Z"
    ct = [text.replace("T", " ") for text in np.datetime_as_string(wall.astype("datetime64[s]"), unit="s").tolist()]
    t: list[int | None] = wall.tolist()
    if ok.all():
        return t, iso, ct
    t_all: list[int | None] = [None] * len(index)
    iso_all: list[str | None] = [None] * len(index)
    ct_all: list[str | None] = [None] * len(index)
    for j, pos in enumerate(np.flatnonzero(ok).tolist()):
        t_all[pos], iso_all[pos], ct_all[pos] = t[j], iso[j], ct[j]
    return t_all, iso_all, ct_all


def _num(value: Any, digits: int = 4) -> float | None:
    if value is None:
        return None
    x = float(value)
    return None if math.isnan(x) or math.isinf(x) else round(x, digits)


# ---------------------------------------------------------------- bars and indicators


def base_span(bars: pd.DataFrame) -> pd.Timedelta:
    index = pd.DatetimeIndex(bars.index)
    if len(index) < 2:
        return pd.Timedelta(minutes=1)
    return pd.Timedelta(int(np.diff(index.as_unit("ns").asi8).min()), unit="ns")


def with_indicators(
    bars: pd.DataFrame, timeframe: Timeframe, rth_end_min: int = 15 * 60, *, span: pd.Timedelta | None = None
) -> pd.DataFrame:
    """`bars` resampled to `timeframe` (the last bin may be partial) with `ema20` and `vwap` columns.

    EMA20 runs over all given bars (warm before the day starts); VWAP is the session VWAP of regular
    hours (08:30 CT to the RTH end, the setups' anchor), NaN outside them. `span` is the bars' length
    when the caller has it (default: `base_span(bars)`).
    """
    frame = bars[["open", "high", "low", "close", "volume"]]
    span = base_span(bars) if span is None else span
    if pd.Timedelta(timeframe.span) > span:
        frame = resample(frame, timeframe, source_span=span, complete_only=False)
    # One Central wall clock gives both the minute of the day and the trading day (`calendar.trading_days`).
    wall = ct_wall(pd.DatetimeIndex(frame.index)).to_numpy()
    minute = wall.view(np.int64) // 60_000_000_000 % (24 * 60)  # minutes after wall midnight
    rth = (minute >= RTH_OPEN_MIN) & (minute < rth_end_min)
    trading_day = (wall + np.timedelta64(7, "h")).astype("datetime64[D]")
    day = trading_day.astype(np.int64)
    keys = np.where(rth, day, -1 - np.arange(len(day)))  # each bar outside RTH its own (masked) session
    h, lo, c = (frame[k].to_numpy(dtype=np.float64) for k in ("high", "low", "close"))
    vwap = session_vwap(h, lo, c, frame["volume"].to_numpy(dtype=np.float64), keys)
    out = frame.copy(deep=False)  # `frame` is already a new frame (a column selection or resampled): new columns only
    out["ema20"] = ema(c, EMA_PERIOD) if len(c) else c
    out["vwap"] = np.where(rth, vwap, np.nan)
    out["trading_day"] = trading_day
    return out


def opening_range(
    bars: pd.DataFrame, day: date, known_until: datetime | None = None, *, span: pd.Timedelta | None = None
) -> dict[str, Any] | None:
    """High and low of the first `OPENING_RANGE_MIN` minutes of `day`'s regular hours (CT), once closed.

    `bars` are sorted by open time (validated at the edge): the window is found by bisection, so a
    report can ask for many days of a long history. `span` is the bar length (default: `base_span(bars)`).
    """
    index = pd.DatetimeIndex(bars.index)
    start = pd.Timestamp(datetime.combine(day, datetime.min.time()), tz="America/Chicago") + pd.Timedelta(
        minutes=RTH_OPEN_MIN
    )
    end = start + pd.Timedelta(minutes=OPENING_RANGE_MIN)
    first, stop = int(index.searchsorted(start)), int(index.searchsorted(end))
    if stop <= first:
        return None
    last_close = index[stop - 1] + (base_span(bars) if span is None else span)
    if last_close < end or (known_until is not None and pd.Timestamp(known_until) < end):
        return None
    return {
        "high": _extreme(bars["high"], first, stop, np.max),
        "low": _extreme(bars["low"], first, stop, np.min),
        "start_ts": iso_utc(start.to_pydatetime()),
        "end_ts": iso_utc(end.to_pydatetime()),
    }


def _extreme(column: pd.Series, first: int, stop: int, pick: Any) -> float:
    """`pick` (np.max or np.min) of rows [first, stop) as a float, skipping NaN as pandas' max and min do."""
    value = float(pick(column.to_numpy()[first:stop]))
    if value != value:
        series = column.iloc[first:stop]
        return float(series.max() if pick is np.max else series.min())
    return value


BAR_FIELDS = ("t", "ts", "open", "high", "low", "close", "volume", "ema20", "vwap")


def bar_columns(frame: pd.DataFrame, tz: ZoneInfo) -> dict[str, list[Any]]:
    """`bar_records` as columns (one list per field of `BAR_FIELDS`), built with array operations.

    Every value is a plain Python scalar, JSON-ready: EMA20 and VWAP rounded to 4 places, None when NaN.
    A multi-year report asks for tens of thousands of bars; one dict per bar was most of its time.
    """
    index = pd.DatetimeIndex(frame.index)
    ns = index.tz_convert(UTC).as_unit("ns").asi8
    iso = np.datetime_as_string(ns.astype("datetime64[ns]").astype("datetime64[s]"), unit="s", timezone="UTC")
    cols: dict[str, list[Any]] = {"t": wall_seconds(index, tz).tolist(), "ts": iso.tolist()}
    for k in ("open", "high", "low", "close"):
        cols[k] = frame[k].to_numpy(dtype=np.float64).tolist()
    cols["volume"] = frame["volume"].to_numpy().astype(np.int64).tolist()
    for k in ("ema20", "vwap"):
        cols[k] = rounded(frame[k].to_numpy(dtype=np.float64), 4)
    return cols


def rounded(values: np.ndarray, digits: int) -> list[float | None]:
    """Python's `round(x, digits)` of each value (correctly rounded, half to even), None where NaN.

    What the API has always sent, computed on the array: x * 10**digits is rounded to an integer and
    divided back, one correctly rounded division that gives the double nearest that decimal, as `round`
    does. The product carries a rounding error of at most half a unit in its last place, which can
    change the integer only when the product lies that close to a half; such values (and huge or
    non-finite ones) are rounded by Python itself. `digits` is 0 to 22 (10**digits is exact).
    """
    x = np.asarray(values, dtype=np.float64)
    scale = 10.0**digits
    with np.errstate(invalid="ignore", over="ignore"):
        y = x * scale
        size = np.abs(y)
        safe = (size < 2.0**52) & (np.abs(size - np.floor(size) - 0.5) > 4 * np.spacing(size))
        out = (np.rint(y) / scale).astype(object)
        missing = np.isnan(x)
    out[missing] = None
    for i in np.flatnonzero(~safe & ~missing).tolist():
        out[i] = round(float(x[i]), digits)
    result: list[float | None] = out.tolist()
    return result


def bar_records(frame: pd.DataFrame, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Rows of `with_indicators` as JSON-ready dicts: t (wall seconds), ts, OHLCV, ema20, vwap (null when NaN)."""
    cols = bar_columns(frame, tz)
    return [dict(zip(BAR_FIELDS, row, strict=True)) for row in zip(*(cols[k] for k in BAR_FIELDS), strict=True)]


def day_slices(frame: pd.DataFrame) -> dict[date, slice]:
    """Each trading day of `with_indicators`'s frame (sorted by time) -> the positions of its bars."""
    days = frame["trading_day"].to_numpy()
    if len(days) == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    stops = np.r_[starts[1:], len(days)]
    pairs = zip(starts.tolist(), stops.tolist(), strict=True)
    return {pd.Timestamp(days[a]).date(): slice(a, b) for a, b in pairs}


def day_bars(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    return frame[frame["trading_day"] == np.datetime64(day)]


def days_of(bars: pd.DataFrame) -> list[date]:
    return sorted({pd.Timestamp(d).date() for d in np.unique(trading_days(pd.DatetimeIndex(bars.index)))})


# ---------------------------------------------------------------- candidates and trades


def marker_kind(*, traded: bool, passed_prefilter: bool, decision: str, gate: str) -> str:
    """taken, below_prefilter, refused (the decider said take, or was not asked, and the gate said no) or skipped."""
    if traded:
        return "taken"
    if not passed_prefilter or gate == "below prefilter":
        return "below_prefilter"
    if decision in ("take", "not_asked") or gate not in ("", "ok"):
        return "refused"
    return "skipped"


def candidate_clock(ts: datetime, span: timedelta, tz: ZoneInfo) -> dict[str, Any]:
    """A candidate's time fields: `t` (the open of the bar it completed on, wall seconds), `ts` and `ct`."""
    return {"t": wall_of(ts - span, tz), "ts": iso_utc(ts), "ct": ct_text(ts, tz)}


def candidate_clocks(ts: pd.DatetimeIndex, span: timedelta, tz: ZoneInfo) -> list[dict[str, Any]]:
    """`candidate_clock` of many aware instants at once (see `clock_columns`)."""
    t, _, _ = clock_columns(ts - span, tz)
    _, iso, ct = clock_columns(ts, tz)
    return [{"t": a, "ts": b, "ct": c} for a, b, c in zip(t, iso, ct, strict=True)]


def candidate_record(
    *,
    clock: Mapping[str, Any],
    setup: str,
    direction: str,
    ref_entry: float,
    score: float | None,
    passed_prefilter: bool,
    decision: str,
    source: str,
    confidence: float | None,
    reason: str,
    gate: str,
    traded: bool,
    pnl_pts: float | None,
) -> dict[str, Any]:
    """One candidate as a chart marker whose tooltip is its journal row; `clock` from `candidate_clock(s)`."""
    return {
        "t": clock["t"],
        "ts": clock["ts"],
        "ct": clock["ct"],
        "setup": setup,
        "direction": direction,
        "ref_entry": _num(ref_entry),
        "prefilter_score": _num(score, 2),
        "passed_prefilter": bool(passed_prefilter),
        "decision": decision,
        "decision_source": source or "",
        "confidence": _num(confidence, 2),
        "reason": reason or "",
        "gate": gate or "",
        "traded": traded,
        "pnl_pts": _num(pnl_pts),
        "kind": marker_kind(traded=traded, passed_prefilter=passed_prefilter, decision=decision, gate=gate),
    }


def stop_path(
    path: PathBars,
    *,
    direction: int,
    entry_ts: datetime,
    entry_price: float,
    exit_ts: datetime | None,
    bracket: BracketConfig,
    execution: ExecutionConfig,
) -> list[dict[str, Any]]:
    """The working stop after each path bar from the entry to the exit: one point per change.

    Replays the one bracket walk (`mesdesk.engine.fills.walk`) bar by bar from the recorded entry fill;
    each point is `{"ts_ns", "stop", "target", "why"}` where `ts_ns` is the close of the bar whose
    move takes effect from the next bar (why: initial, breakeven or trail). The day's point stop is
    not replayed (it is not a stop move); the recorded exit says when it fired.
    """
    return stop_path_ns(
        path,
        direction=direction,
        entry_ns=int(pd.Timestamp(entry_ts).value),
        entry_price=entry_price,
        exit_ns=int(pd.Timestamp(exit_ts).value) if exit_ts is not None else None,
        bracket=bracket,
        execution=execution,
    )


def stop_path_ns(
    path: PathBars,
    *,
    direction: int,
    entry_ns: int,
    entry_price: float,
    exit_ns: int | None,
    bracket: BracketConfig,
    execution: ExecutionConfig,
) -> list[dict[str, Any]]:
    """`stop_path` with the entry and exit as int64 UTC nanoseconds (exit None: still open)."""
    first = path.first_open_at_or_after(entry_ns)
    if first >= len(path):
        return []
    s = 1 if direction > 0 else -1
    entry = s * float(entry_price)
    st = PositionState(
        direction=s,
        entry_index=first,
        entry_ts_ns=int(path.ts_ns[first]),
        entry=entry,
        target=round(entry + bracket.tp_pts, 10),
        stop=round(entry - bracket.sl_pts, 10),
        floor=-math.inf,
        next_index=first,
        best=entry,
        worst=entry,
    )
    points = [{"ts_ns": int(path.ts_ns[first]), "stop": s * st.stop, "target": s * st.target, "why": "initial"}]
    i = first
    # Walk the bars that open before the recorded exit (a gap exit fills at the open of the exit bar).
    while st.is_open and i < len(path) and (exit_ns is None or int(path.ts_ns[i]) < exit_ns):
        before = st.stop
        walk(st, path, i + 1, bracket, execution)
        if st.is_open and st.stop != before:
            why = "trail" if st.trail_on and st.stop > st.entry + 1e-9 else "breakeven"
            points.append({"ts_ns": int(path.close_ns[i]), "stop": s * st.stop, "target": s * st.target, "why": why})
        i += 1
    return points


def stop_records(points: Iterable[Mapping[str, Any]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """`stop_path` points as records with `t`, `ts` and `ct` (their instant is whole microseconds)."""
    points = list(points)
    # A point's instant is taken to the microsecond, as a datetime holds it.
    us = np.array([p["ts_ns"] // 1000 for p in points], dtype=np.int64)
    t, iso, ct = clock_columns(pd.DatetimeIndex(us.astype("datetime64[us]"), tz=UTC), tz)
    return [
        {"t": t[j], "ts": iso[j], "ct": ct[j], "stop": round(p["stop"], 4), "why": p["why"]}
        for j, p in enumerate(points)
    ]


def trade_clock(entry_ts: datetime, exit_ts: datetime | None, tz: ZoneInfo) -> dict[str, Any]:
    """A trade's time fields: entry and exit as wall seconds, ISO UTC and CT text (exit None: still open).

    `exit_t` is the bar holding the last second before the exit instant: a stop or target fill (stamped
    at its bar's close) sits on the bar it filled in; a gap fill (stamped at a bar's open) on the bar before.
    """
    return {
        "entry_t": wall_of(entry_ts, tz),
        "entry_ts": iso_utc(entry_ts),
        "entry_ct": ct_text(entry_ts, tz),
        "exit_t": None if exit_ts is None else wall_of(exit_ts - timedelta(seconds=1), tz),
        "exit_ts": None if exit_ts is None else iso_utc(exit_ts),
        "exit_ct": None if exit_ts is None else ct_text(exit_ts, tz),
    }


def trade_clocks(entry: pd.DatetimeIndex, exit_: pd.DatetimeIndex, tz: ZoneInfo) -> list[dict[str, Any]]:
    """`trade_clock` of many trades at once (aware instants, NaT exits: open trades; see `clock_columns`)."""
    entry_t, entry_iso, entry_ct = clock_columns(entry, tz)
    exit_t, _, _ = clock_columns(exit_ - pd.Timedelta(seconds=1), tz)
    _, exit_iso, exit_ct = clock_columns(exit_, tz)
    keys = ("entry_t", "entry_ts", "entry_ct", "exit_t", "exit_ts", "exit_ct")
    columns = (entry_t, entry_iso, entry_ct, exit_t, exit_iso, exit_ct)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def trade_record(
    *,
    clock: Mapping[str, Any],
    span: timedelta,
    setup: str,
    direction: str,
    session: str,
    entry_price: float,
    exit_price: float | None,
    exit_reason: str,
    pnl_pts: float | None,
    result: str,
    score: float | None,
    confidence: float | None,
    mae: float | None,
    mfe: float | None,
    ambiguous: bool,
    stops: list[dict[str, Any]],
    target: float | None,
) -> dict[str, Any]:
    """A trade with CT times (`clock`, from `trade_clock(s)`), its target and stop path."""
    return {
        "setup": setup,
        "direction": direction,
        "session": session,
        "entry_t": clock["entry_t"],
        "entry_ts": clock["entry_ts"],
        "entry_ct": clock["entry_ct"],
        "exit_t": clock["exit_t"],
        "exit_ts": clock["exit_ts"],
        "exit_ct": clock["exit_ct"],
        "entry_price": _num(entry_price),
        "exit_price": _num(exit_price),
        "exit_reason": exit_reason,
        "pnl_pts": _num(pnl_pts),
        "result": result,
        "prefilter_score": _num(score, 2),
        "confidence": _num(confidence, 2),
        "mae": _num(mae),
        "mfe": _num(mfe),
        "ambiguous": bool(ambiguous),
        "target": _num(target),
        "stops": stops,
        "span_s": int(span.total_seconds()),
    }


def equity_records(points: Iterable[tuple[datetime, float]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Cumulative points after each closed trade with the drawdown from the running peak (both in points)."""
    points = list(points)
    # Each instant to the microsecond, as a datetime holds it (`clock_columns` gives the three time fields).
    t, iso, ct = clock_columns(pd.DatetimeIndex([ts for ts, _ in points], dtype="datetime64[us, UTC]"), tz)
    out = []
    peak = 0.0
    for j, (_, equity) in enumerate(points):
        peak = max(peak, equity)
        out.append(
            {
                "t": t[j],
                "ts": iso[j],
                "ct": ct[j],
                "equity_pts": round(equity, 4),
                "drawdown_pts": round(equity - peak, 4),
            }
        )
    return out


# ---------------------------------------------------------------- scanner


def scanner_records(signals: Iterable[Mapping[str, Any]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """The scanner's signal records with wall seconds and CT text for A, B, C and the confirmation."""
    out = []
    for sig in signals:
        rec = dict(sig)
        for name in ("a_time", "b_time", "c_time", "confirmed_at", "outcome_at"):
            raw = sig.get(name)
            if raw:
                ts = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
                rec[name.replace("_time", "").replace("_at", "") + "_t"] = wall_of(ts, tz)
                rec[name + "_ct"] = ct_text(ts, tz)
        out.append(rec)
    return out
