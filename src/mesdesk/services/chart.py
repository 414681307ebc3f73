"""The chart's read model: the runner's bars with indicators, candidate markers, trades with their stop path,
the working bracket and the scanner's signals; shared by the dashboard's API and the backtest report.

Times: `ts` fields are ISO 8601 UTC; `ct` fields are the display zone's wall clock (`TIMEZONE`, Central
Time by default) as text; `t` fields are that wall clock as seconds since 1970 ("wall seconds"), the
number the chart library puts on its axis, so the axis reads Central Time on both sides of a DST change.
A bar's `t` is its open; a candidate's `t` is the open of the bar it completed on.
Nothing here shows a bar the runner has not processed: the runner's feed is cut at its stored cursor.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable
from zoneinfo import ZoneInfo

import pandas as pd

from mesdesk.engine.config import BracketConfig, ExecutionConfig
from mesdesk.pathbars import PathBars
from mesdesk.services.chart_data import (
    bar_records,
    base_span,
    candidate_clock,
    candidate_record,
    ct_text,
    day_bars,
    equity_records,
    iso_utc,
    opening_range,
    scanner_records,
    stop_path,
    stop_records,
    trade_clock,
    trade_record,
    wall_of,
    with_indicators,
)
from mesdesk.services.display import zone_label
from mesdesk.services.service import BadRequest, ServiceContext, Unavailable, parse_day
from mesdesk.store.service import JournalRow, TradeRow
from mesdesk.timeframes import Timeframe

T = TypeVar("T")

CHART_TIMEFRAMES = ("1m", "5m", "15m")
SCANNER_TIMEFRAMES = ("5m", "15m", "1h")
SCANNER_BARS = 400  # the scanner panel shows the last bars of its timeframe ...
SCANNER_SIGNALS = 6  # ... reaching back to the A of its last signals


@runtime_checkable
class BarHistory(Protocol):
    """The runner's feed: every bar up to and including `cursor` (the replay driver has it)."""

    def prefix_to(self, cursor: datetime) -> pd.DataFrame: ...


class ChartCache:
    """A small LRU of computed views keyed by the runner's cursor: a new bar makes a new key."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


# ---------------------------------------------------------------- parameters


def check_timeframe(text: str, allowed: Sequence[str], param: str = "timeframe") -> Timeframe:
    if text not in allowed:
        raise BadRequest(f"{param}={text!r}: choose one of {', '.join(allowed)}")
    return Timeframe(text)


def parse_since(text: str | None, param: str = "since") -> datetime | None:
    """An ISO 8601 instant with a zone (e.g. 2025-09-16T13:30:00Z); `BadRequest` naming `param` otherwise."""
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{param}={text!r}: expected an ISO 8601 time with a zone, e.g. 2025-09-16T13:30Z") from None
    if value.tzinfo is None:
        raise BadRequest(f"{param}={text!r}: give a zone (Z or +00:00); times are UTC")
    return value.astimezone(UTC)


def _journal_record(row: JournalRow, span: timedelta, tz: ZoneInfo) -> dict[str, Any]:
    return candidate_record(
        clock=candidate_clock(row.ts, span, tz),
        setup=row.setup,
        direction=row.direction,
        ref_entry=row.ref_entry,
        score=row.prefilter_score,
        passed_prefilter=row.passed_prefilter,
        decision=row.decision,
        source=row.decision_source,
        confidence=row.confidence,
        reason=row.reason,
        gate=row.gate,
        traded=row.entry_ts is not None,
        pnl_pts=row.pnl_pts,
    )


def _trade_row_record(
    row: TradeRow, path: PathBars | None, span: timedelta, tz: ZoneInfo, bracket: BracketConfig, ex: ExecutionConfig
) -> dict[str, Any]:
    sign = 1 if row.direction == "long" else -1
    points = (
        stop_path(
            path,
            direction=sign,
            entry_ts=row.entry_ts,
            entry_price=row.entry_price,
            exit_ts=row.exit_ts,
            bracket=bracket,
            execution=ex,
        )
        if path is not None
        else []
    )
    return trade_record(
        clock=trade_clock(row.entry_ts, row.exit_ts, tz),
        span=span,
        setup=row.setup,
        direction=row.direction,
        session=row.session,
        entry_price=row.entry_price,
        exit_price=row.exit_price,
        exit_reason=row.exit_reason,
        pnl_pts=row.pnl_pts,
        result=row.result,
        score=row.prefilter_score,
        confidence=row.confidence,
        mae=row.mae,
        mfe=row.mfe,
        ambiguous=row.ambiguous,
        stops=stop_records(points, tz),
        target=row.entry_price + sign * bracket.tp_pts,
    )


# ---------------------------------------------------------------- the API's views


@dataclass
class ChartSource:
    """What the chart endpoints read: the service context, the runner's feed (None: no runner here), a cache."""

    ctx: ServiceContext
    history: BarHistory | None
    cache: ChartCache

    @property
    def tz(self) -> ZoneInfo:
        return self.ctx.settings.tz

    def cursor(self) -> tuple[datetime | None, date | None]:
        snap = self.ctx.store.state(self.ctx.runner)
        if snap is None:
            return None, None
        return snap.last_bar_ts, snap.trading_day

    def bars(self, cursor: datetime) -> pd.DataFrame:
        if self.history is None:
            raise Unavailable("no runner in this process: the chart's bars come from the runner's feed")
        history = self.history
        return self.cache.get(("bars", cursor), lambda: history.prefix_to(cursor))

    def rth_end_min(self) -> int:
        hh, mm = self.ctx.settings.rth_end.split(":")
        return int(hh) * 60 + int(mm)


def _pick_day(day_text: str | None, fallback: date | None) -> date | None:
    return parse_day(day_text, "day") or fallback


def poll(src: ChartSource) -> dict[str, Any]:
    """The cheap cursor the page polls every second: when `last_bar_ts` changes it fetches the rest."""
    snap = src.ctx.store.state(src.ctx.runner)
    if snap is None:
        return {
            "version": 0,
            "timezone": src.tz.key,
            "last_bar_ts": None,
            "last_bar_ct": None,
            "trading_day": None,
            "position": None,
        }
    pos = dict(snap.position) if snap.position else None
    if pos is not None:
        raw = pos.get("entry_ts")
        ts = raw if isinstance(raw, datetime) else parse_since(str(raw), "entry_ts") if raw else None
        if ts is not None:
            pos["entry_ts"] = iso_utc(ts)
            pos["entry_ct"] = ct_text(ts, src.tz)
            pos["entry_t"] = wall_of(ts, src.tz)
    return {
        "version": snap.version,
        "timezone": src.tz.key,
        "last_bar_ts": iso_utc(snap.last_bar_ts) if snap.last_bar_ts else None,
        "last_bar_ct": ct_text(snap.last_bar_ts, src.tz) if snap.last_bar_ts else None,
        "trading_day": snap.trading_day.isoformat() if snap.trading_day else None,
        "running": snap.running,
        "paused_reason": snap.paused_reason,
        "position": pos,
    }


def bars_view(src: ChartSource, timeframe: str, day_text: str | None, since_text: str | None) -> dict[str, Any]:
    """Bars of one trading day (default: the runner's) on `timeframe` with EMA20, VWAP and the opening range.

    `since` (ISO UTC) returns only bars opening at or after it: the page passes its last bar's `ts`
    and gets that bar again (a higher-timeframe bar grows until its bin closes) plus the new ones.
    """
    tf = check_timeframe(timeframe, CHART_TIMEFRAMES)
    since = parse_since(since_text)
    cursor, runner_day = src.cursor()
    day = _pick_day(day_text, runner_day)
    empty = {"timeframe": tf.value, "tz": zone_label(src.tz), "trading_day": None, "last_bar_ts": None}
    if cursor is None or day is None:
        return empty | {"bars": [], "opening_range": None}
    raw = src.bars(cursor)
    frame = src.cache.get(("ind", tf.value, cursor), lambda: with_indicators(raw, tf, src.rth_end_min()))
    rows = day_bars(frame, day)
    if since is not None:
        rows = rows[pd.DatetimeIndex(rows.index) >= pd.Timestamp(since)]
    return {
        "timeframe": tf.value,
        "tz": zone_label(src.tz),
        "trading_day": day.isoformat(),
        "last_bar_ts": iso_utc(cursor),
        "bars": bar_records(rows, src.tz),
        "opening_range": _with_walls(opening_range(raw, day, cursor + base_span(raw)), src.tz),
    }


def _with_walls(rng: dict[str, Any] | None, tz: ZoneInfo) -> dict[str, Any] | None:
    if rng is None:
        return None
    for key in ("start", "end"):
        rng[f"{key}_t"] = wall_of(datetime.fromisoformat(rng[f"{key}_ts"].replace("Z", "+00:00")), tz)
    return rng


def candidates_view(src: ChartSource, day_text: str | None, since_text: str | None) -> list[dict[str, Any]]:
    """Every journal row of a trading day (default: the runner's) as a marker, oldest first."""
    since = parse_since(since_text)
    cursor, runner_day = src.cursor()
    day = _pick_day(day_text, runner_day)
    if day is None:
        return []
    span = _span(src, cursor)
    rows = sorted(src.ctx.store.journal(src.ctx.runner, day, limit=100_000), key=lambda r: r.ts)
    return [_journal_record(r, span, src.tz) for r in rows if since is None or r.ts >= since]


def _span(src: ChartSource, cursor: datetime | None) -> timedelta:
    if cursor is None or src.history is None:
        return timedelta(minutes=1)
    return base_span(src.bars(cursor)).to_pytimedelta()


def trades_view(src: ChartSource, day_text: str | None) -> dict[str, Any]:
    """Closed trades of a trading day with their stop path, and the open position's working bracket."""
    cursor, runner_day = src.cursor()
    day = _pick_day(day_text, runner_day)
    if day is None:
        return {"trading_day": None, "trades": [], "position": None}
    rows = src.ctx.store.trades(src.ctx.runner, day)
    path: PathBars | None = None
    span = timedelta(minutes=1)
    if cursor is not None and src.history is not None:
        raw = src.bars(cursor)
        span = base_span(raw).to_pytimedelta()
        path = src.cache.get(("path", cursor), lambda: PathBars.from_frame(raw, pd.Timedelta(span)))
    bracket, ex = BracketConfig(), ExecutionConfig()
    return {
        "trading_day": day.isoformat(),
        "trades": [_trade_row_record(r, path, span, src.tz, bracket, ex) for r in rows],
        "position": poll(src)["position"],
    }


def equity_view(src: ChartSource) -> list[dict[str, Any]]:
    return equity_records(((e.ts, e.equity_pts) for e in src.ctx.store.equity(src.ctx.runner)), src.tz)


def scanner_view(
    src: ChartSource, timeframe: str, signals_fn: Callable[[str, pd.DataFrame], list[dict[str, Any]]]
) -> dict[str, Any]:
    """Measured-move signals on the runner's bars (up to its cursor) with A/B/C, targets, stop and the VIX verdict."""
    tf = check_timeframe(timeframe, SCANNER_TIMEFRAMES)
    cursor, _ = src.cursor()
    if cursor is None:
        return {"timeframe": tf.value, "signals": [], "last_bar_ts": None}
    raw = src.bars(cursor)
    signals = src.cache.get(("scan", tf.value, cursor), lambda: signals_fn(tf.value, raw))
    frame = src.cache.get(("ind", tf.value, cursor), lambda: with_indicators(raw, tf, src.rth_end_min()))
    # From the A of the oldest signal shown (the last few), at least SCANNER_BARS bars, at most 4x that.
    first = len(frame) - SCANNER_BARS
    starts = [pd.Timestamp(str(sig["a_time"])) for sig in signals[-SCANNER_SIGNALS:] if sig.get("a_time")]
    if starts:
        first = min(first, int(pd.DatetimeIndex(frame.index).searchsorted(min(starts))) - 10)
    first = max(0, first, len(frame) - 4 * SCANNER_BARS)
    return {
        "timeframe": tf.value,
        "last_bar_ts": iso_utc(cursor),
        "bars": bar_records(frame.iloc[first:], src.tz),
        "signals": scanner_records(signals, src.tz),
    }
