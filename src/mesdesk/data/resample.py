"""Resample bars to a higher timeframe, anchored on the CME trading day (17:00 CT).

Bins up to 1h are clock-aligned (17:00 CT sits on an hour boundary, so they are the same in UTC
and CT). 4h bins run 17-21, 21-01, 01-05, 05-09, 09-13, 13-16 CT (the last one ends at the 16:00
close); 1d bins are whole trading days. Every output bar is labelled by its bin's **open** time.
On an early-close day (see `mesdesk.calendar`) the last bins end at that close. Bars opening after
their 4h/1d bin's end (16:00-17:00 CT, after an early close) are outside the session and left out.
A bin is emitted only once it is complete: its end is at or before the close of the last input bar
(`complete_only`), so resampled history never changes when later bars arrive.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from mesdesk.bars import BAR_COLUMNS, empty_bars
from mesdesk.calendar import CT, DAY_CLOSE_CT, ct_wall, session_close_ct
from mesdesk.errors import ConfigError
from mesdesk.timeframes import Timeframe

_NS_MIN = 60 * 1_000_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _wall_bins(index: pd.DatetimeIndex, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin start and end (UTC ns) for wall-clock bins of `hours` anchored at 17:00 CT.

    Edges are computed once per run of bars sharing a bin, then repeated (a year of minutes has a
    few thousand runs), which keeps the time-zone work small.
    """
    wall = ct_wall(index).to_numpy().astype("datetime64[m]").astype(np.int64)  # wall minutes
    shifted = wall + 7 * 60  # 17:00 CT -> 00:00 of the trading day
    day = shifted // (24 * 60)
    into = shifted - day * 24 * 60
    slot = np.zeros_like(into) if hours >= 24 else into // (hours * 60)
    key = day * 8 + slot
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    pos = np.flatnonzero(first)
    counts = np.diff(np.append(pos, key.size))
    run_day = day[pos]
    if hours >= 24:
        start_into = np.zeros(pos.size, dtype=np.int64)
        end_into = np.full(pos.size, 23 * 60, dtype=np.int64)  # 16:00 CT close
    else:
        start_into = slot[pos] * hours * 60
        end_into = np.minimum(start_into + hours * 60, 23 * 60)
    start_ns = _wall_minutes_to_utc_ns(run_day * 24 * 60 + start_into - 7 * 60)
    end_ns = _clip_to_early_close(run_day, _wall_minutes_to_utc_ns(run_day * 24 * 60 + end_into - 7 * 60))
    return np.repeat(start_ns, counts), np.repeat(end_ns, counts)


def _clip_to_early_close(day_number: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """End bins no later than the session's early close (a 12:15 CT close completes the day at 12:15)."""
    uniq, inverse = np.unique(day_number, return_inverse=True)
    close_ns = np.full(uniq.size, np.iinfo(np.int64).max, dtype=np.int64)
    for i, number in enumerate(uniq):
        day = date.fromordinal(int(number) + _EPOCH_ORDINAL)
        try:
            close = session_close_ct(day)
        except ConfigError:  # outside the calendar's years: regular 16:00 CT close
            continue
        if close is not None and close < DAY_CLOSE_CT:
            close_ns[i] = pd.Timestamp(datetime.combine(day, close, tzinfo=CT)).value
    clipped: np.ndarray = np.minimum(end_ns, close_ns[inverse])
    return clipped


def _wall_minutes_to_utc_ns(wall_min: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(wall_min, return_inverse=True)
    naive = pd.DatetimeIndex(uniq.astype("datetime64[m]").astype("datetime64[ns]"))
    # An ambiguous wall time (fall-back 01:00) is its first occurrence; a skipped one shifts forward.
    local = naive.tz_localize(CT, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
    return np.asarray(local.tz_convert("UTC").asi8)[inv]


def resample(
    bars: pd.DataFrame,
    timeframe: Timeframe,
    *,
    source_span: pd.Timedelta | None = None,
    complete_only: bool = True,
) -> pd.DataFrame:
    """Aggregate validated bars to `timeframe` (open first, high max, low min, close last, volume sum).

    `source_span` is the input bar length (inferred as the smallest gap between bars if omitted);
    it says when the last input bar closes, which decides whether the last bin is complete.
    """
    if len(bars) == 0:
        return empty_bars()
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise ConfigError("resample: bars must have a DatetimeIndex")
    idx = bars.index.as_unit("ns")
    ts = idx.asi8
    if source_span is None:
        diffs = np.diff(ts)
        span_ns = int(diffs.min()) if diffs.size else _NS_MIN
    else:
        span_ns = int(source_span.value)
    width_ns = int(pd.Timedelta(timeframe.span).value)
    if width_ns < span_ns:
        raise ConfigError(f"cannot resample {span_ns // 10**9}s bars down to {timeframe.value}")
    data_end = ts[-1] + span_ns
    if timeframe in (Timeframe.H4, Timeframe.D1):
        start_ns, end_ns = _wall_bins(idx, 4 if timeframe is Timeframe.H4 else 24)
        # A bar opening at or after its bin's end (a 16:00 CT settlement print, the maintenance break,
        # prints after an early close) is outside the session: folded in, it would change a bin that
        # has already closed. It is left out of 4h/1d bins.
        inside = ts < end_ns
        if not inside.all():
            bars, ts, start_ns, end_ns = bars[inside], ts[inside], start_ns[inside], end_ns[inside]
            if ts.size == 0:
                return empty_bars()
    else:
        start_ns = (ts // width_ns) * width_ns
        end_ns = start_ns + width_ns

    first = np.ones(ts.size, dtype=bool)
    first[1:] = start_ns[1:] != start_ns[:-1]
    pos = np.flatnonzero(first)
    last = np.concatenate((pos[1:] - 1, [ts.size - 1]))
    o = bars["open"].to_numpy()[pos]
    h = np.maximum.reduceat(bars["high"].to_numpy(), pos)
    lo = np.minimum.reduceat(bars["low"].to_numpy(), pos)
    c = bars["close"].to_numpy()[last]
    v = np.add.reduceat(bars["volume"].to_numpy(), pos)
    out = pd.DataFrame(
        {"open": o, "high": h, "low": lo, "close": c, "volume": v.astype(np.int64)},
        index=pd.DatetimeIndex(pd.to_datetime(start_ns[pos], unit="ns", utc=True), name="ts"),
    )[list(BAR_COLUMNS)]
    if complete_only:
        out = out[end_ns[pos] <= data_end]
    return out


def clock_bins_hlc(
    ts_ns: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, span_ns: int, timeframe: Timeframe
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`resample`'s complete bins of a clock-aligned timeframe (up to 1h) as arrays, without a frame.

    Takes sorted bar opens (UTC ns) and the bars' high, low and close; returns each complete bin's
    close time (UTC ns, as `bin_close_ns`), high, low and close. Hot paths that need only these
    (an ATR of 5m bins) skip building the resampled frame.
    """
    if timeframe in (Timeframe.H4, Timeframe.D1):
        raise ConfigError(f"clock_bins_hlc: {timeframe.value} bins are wall-clock bins; use resample")
    width_ns = int(pd.Timedelta(timeframe.span).value)
    if width_ns < span_ns:
        raise ConfigError(f"cannot resample {span_ns // 10**9}s bars down to {timeframe.value}")
    if ts_ns.size == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.int64), empty, empty, empty
    start_ns = ts_ns // width_ns
    start_ns *= width_ns  # in place: one full-length array, not two
    first = np.ones(ts_ns.size, dtype=bool)
    first[1:] = start_ns[1:] != start_ns[:-1]
    pos = np.flatnonzero(first)
    last = np.concatenate((pos[1:] - 1, [ts_ns.size - 1]))
    end_ns = start_ns[pos] + width_ns
    complete = end_ns <= ts_ns[-1] + span_ns
    h = np.maximum.reduceat(high, pos)[complete]
    lo = np.minimum.reduceat(low, pos)[complete]
    return end_ns[complete], h, lo, close[last][complete]


def bin_close_ns(index: pd.DatetimeIndex, timeframe: Timeframe) -> np.ndarray:
    """When each bar of `timeframe` (labelled by open) closes, in UTC ns (4h/1d bins end at 16:00 CT)."""
    if timeframe in (Timeframe.H4, Timeframe.D1):
        _, end_ns = _wall_bins(index, 4 if timeframe is Timeframe.H4 else 24)
        return end_ns
    return np.asarray(index.as_unit("ns").asi8) + int(pd.Timedelta(timeframe.span).value)
