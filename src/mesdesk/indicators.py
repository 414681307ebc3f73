"""Indicators as pure functions over numpy arrays, all point-in-time.

Value ``i`` of every output uses only inputs ``0..i`` (the bar ``i`` itself counts: its value is
known at the bar's close). Pivots are the exception that proves the rule: a pivot at ``i`` becomes
known only at ``i + k`` and the function returns that index too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def ema(values: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the first value."""
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    alpha = 2.0 / (period + 1.0)
    from mesdesk.recursions import first_order

    return first_order(x, alpha, alpha - 1.0, (1.0 - alpha) * x[0])


def wilder(values: npt.ArrayLike, period: int) -> FloatArray:
    """Wilder's smoothing (alpha = 1 / period), seeded with the first value."""
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    alpha = 1.0 / period
    from mesdesk.recursions import first_order

    return first_order(x, alpha, alpha - 1.0, (1.0 - alpha) * x[0])


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """High-low range widened by a gap from the previous close (first bar: high - low)."""
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    prev = np.empty_like(c)
    if c.size:
        prev[0] = c[0]
        prev[1:] = c[:-1]
    return np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Average true range (Wilder) in points, on whatever timeframe the bars are."""
    return wilder(true_range(high, low, close), period)


def group_starts(keys: npt.ArrayLike) -> BoolArray:
    """True where a new group (session) starts in a sorted key array."""
    k = np.asarray(keys)
    starts = np.ones(k.size, dtype=bool)
    if k.size > 1:
        starts[1:] = k[1:] != k[:-1]
    return starts


def session_vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    session_keys: npt.ArrayLike,
) -> FloatArray:
    """Volume-weighted average of the typical price (h+l+c)/3, reset where `session_keys` change.

    Pass trading-day ordinals to reset at 17:00 CT, or RTH-session ids to reset at 08:30 CT
    (rows outside any session can carry their own key; mask them afterwards). Until the session
    has traded volume the VWAP is the typical price.
    """
    h = np.ascontiguousarray(high, dtype=np.float64)
    if h.size == 0:
        return h.copy()
    from mesdesk.recursions import session_vwap_kernel

    out: FloatArray = session_vwap_kernel(
        h,
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(volume, dtype=np.float64),
        group_starts(session_keys),
    )
    return out


def volume_multiple(
    volume: npt.ArrayLike,
    day_index: npt.ArrayLike,
    slot: npt.ArrayLike,
    lookback_days: int = 20,
    min_days: int = 3,
) -> FloatArray:
    """Volume over the mean volume of the same slot (time of day) in the previous `lookback_days` days.

    `day_index` is a non-decreasing integer per bar (0, 1, 2... per trading day) and `slot` the bar's
    position in its day (e.g. minutes since 17:00 CT // bar minutes). Days where the slot has no bar
    do not count. NaN until `min_days` earlier days have that slot. Only earlier days are used, so the
    value is known at the bar's close.
    """
    v = np.asarray(volume, dtype=np.float64)
    d = np.asarray(day_index, dtype=np.int64)
    s = np.asarray(slot, dtype=np.int64)
    out = np.full(v.size, np.nan)
    if v.size == 0:
        return out
    d = d - d.min()
    s = s - s.min()  # only the slots that occur: a grid of RTH slots, not of the whole day
    n_days, n_slots = int(d.max()) + 1, int(s.max()) + 1
    from mesdesk.recursions import volume_multiple_kernel

    out = volume_multiple_kernel(np.ascontiguousarray(v), d, s, n_days, n_slots, int(lookback_days), int(min_days))
    return np.asarray(out, dtype=np.float64)


def opening_range(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    day_index: npt.ArrayLike,
    in_range: npt.ArrayLike,
    after_range: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Opening-range high and low per bar, NaN until the range is complete.

    `in_range` marks the bars that form the range (e.g. the first N minutes of RTH); `after_range`
    marks bars that close at or after the range end on the same day. A bar only sees its own day's
    range, and only once the range has closed and every range bar comes before it in the input.
    """
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    d = np.asarray(day_index, dtype=np.int64)
    inr = np.asarray(in_range, dtype=bool)
    aft = np.asarray(after_range, dtype=bool)
    or_high = np.full(h.size, np.nan)
    or_low = np.full(h.size, np.nan)
    if h.size == 0 or not inr.any():
        return or_high, or_low
    d0 = d - d.min()
    n = int(d0.max()) + 1
    hi_by_day = np.full(n, -np.inf)
    lo_by_day = np.full(n, np.inf)
    last_in_range = np.full(n, np.iinfo(np.int64).max)
    np.maximum.at(hi_by_day, d0[inr], h[inr])
    np.minimum.at(lo_by_day, d0[inr], lo[inr])
    positions = np.arange(h.size)
    last_in_range[np.unique(d0[inr])] = -1
    np.maximum.at(last_in_range, d0[inr], positions[inr])
    # A bar sees its day's range only once every range bar lies before it, whatever `after_range` says
    # (a loose mask such as "minutes >= 09:00 CT" would otherwise hand the evening session tomorrow's range).
    has = np.isfinite(hi_by_day)[d0] & aft & (positions > last_in_range[d0])
    or_high[has] = hi_by_day[d0[has]]
    or_low[has] = lo_by_day[d0[has]]
    return or_high, or_low


def _window_extreme(x: FloatArray, k: int, op: np.ufunc) -> FloatArray:
    """out[j] = op over x[j..j+k-1] (k contiguous passes: faster than reducing strided windows)."""
    out = x[: x.size - k + 1].copy()
    for shift in range(1, k):
        op(out, x[shift : shift + out.size], out=out)
    return out


@dataclass(frozen=True, slots=True)
class Pivots:
    """Swing pivots of order k: `index` of the pivot bar, `known_at` = index + k, `price`, `is_high`."""

    index: IntArray
    known_at: IntArray
    price: FloatArray
    is_high: BoolArray


def pivots(high: npt.ArrayLike, low: npt.ArrayLike, order: int) -> Pivots:
    """Swing highs and lows of order `order` (k), in bar order.

    A swing high at ``i``: ``high[i]`` is above the k highs before it and not below the k highs after
    it (ties go to the earlier bar); a swing low mirrors it. It is known at bar ``i + k``'s close,
    so pivots whose confirmation bar does not exist yet are not returned.
    """
    k = int(order)
    if k < 1:
        raise ValueError(f"pivot order must be >= 1, got {order}")
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    n = h.size
    if n < 2 * k + 1:
        empty_i = np.empty(0, dtype=np.int64)
        return Pivots(empty_i, empty_i, np.empty(0), np.empty(0, dtype=bool))
    centers = np.arange(k, n - k)
    hmax, lmin = _window_extreme(h, k, np.maximum), _window_extreme(lo, k, np.minimum)
    hc, lc = h[centers], lo[centers]
    # window j covers bars j..j+k-1: the k bars before a center i start at i-k, the k after at i+1
    is_ph = (hc > hmax[centers - k]) & (hc >= hmax[centers + 1])
    is_pl = (lc < lmin[centers - k]) & (lc <= lmin[centers + 1])
    ph = centers[is_ph]
    pl = centers[is_pl]
    idx = np.concatenate((ph, pl))
    high_flag = np.concatenate((np.ones(ph.size, bool), np.zeros(pl.size, bool)))
    price = np.concatenate((h[ph], lo[pl]))
    order_ = np.lexsort((~high_flag, idx))
    idx = idx[order_].astype(np.int64)
    return Pivots(idx, idx + k, price[order_], high_flag[order_])


def align_asof(src_known_ns: npt.ArrayLike, src_values: npt.ArrayLike, dst_known_ns: npt.ArrayLike) -> FloatArray:
    """For each destination time, the latest source value known at or before it (NaN if none).

    Times are int64 nanoseconds of when each value became known (a bar's close).
    Use it to read a 5-minute ATR from 1-minute decisions without looking ahead.
    """
    src_t = np.asarray(src_known_ns, dtype=np.int64)
    vals = np.asarray(src_values, dtype=np.float64)
    pos = np.searchsorted(src_t, np.asarray(dst_known_ns, dtype=np.int64), side="right") - 1
    out = np.full(pos.size, np.nan)
    ok = pos >= 0
    out[ok] = vals[pos[ok]]
    return out
