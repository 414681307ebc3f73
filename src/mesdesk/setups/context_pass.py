"""The context's compiled pass: every series `context.build_context` keeps, for the kept bars only.

`context_pass` finds the kept bars and fills their columns in a few loops inside one compiled
function (one machine-code library to load from numba's cache instead of one per indicator, and no
whole-series temporaries). Each loop repeats the arithmetic of the function it stands for, in the same
order: the EMAs and Wilder's ATR as `recursions.first_order` runs them, the session VWAP as
`recursions.session_vwap_kernel`, the volume multiple as `recursions.volume_multiple_kernel`, so every
value is the same bit for bit (tests/setups/test_context.py holds the pass equal to those functions).

The pass allocates its outputs once it knows m, the number of kept bars: one (rows, m) array of
floats and one of ints, so only the memory it writes is touched. (Rows as long as the input cost more
page faults; numpy's large arrays ask for huge pages, and on a fragmented system a call now and then
waits ~0.1 s while the kernel compacts memory for them.) It keeps no row it can do without: the
kept bars' prices and volumes are read where they lie (at their positions), their close times and slots
are worked out in the scratch rows of the positions and wall times, their trading days are kept per day.
A fresh process faults in every page of the rows it keeps that no freed memory serves, 2.4 MB a row over
a million 1m bars, about 1.5 ms each on the first call.

The context imports this module on first use, so importing the setups does not load numba.
"""

from __future__ import annotations

import math

import numpy as np

from mesdesk.recursions import compiled, inlined
from mesdesk.setups.context import NS_PER_DAY, NS_PER_MIN, RTH_OPEN_MIN

NS_PER_5MIN = 5 * NS_PER_MIN
TRADING_DAY_SHIFT_NS = 7 * 60 * NS_PER_MIN  # 17:00 CT -> 00:00 of the trading day
FLOAT_ROWS = ("ema_fast", "ema_slow", "ema_slope", "atr_bar", "atr_5m", "volume_multiple", "vwap")
INT_ROWS = ("source_index", "day", "minute_open")
F_EMA_FAST, F_EMA_SLOW, F_EMA_SLOPE, F_ATR_BAR, F_ATR_5M, F_VOLUME_MULTIPLE, F_VWAP = range(7)
I_SRC, I_DAY, I_MINUTE = range(3)


N_FLOAT = len(FLOAT_ROWS)
N_INT = len(INT_ROWS)


@inlined
def minute_segment(wall_ns: int, first_minute: float, end_minute: int) -> tuple[int, int, bool]:
    """The CT wall span [start, end) (ns) around `wall_ns` in which "the minute of the day is in
    [`first_minute`, `end_minute`)" keeps one answer, and that answer."""
    minute = (wall_ns // NS_PER_MIN) % (24 * 60)
    midnight = wall_ns // NS_PER_MIN * NS_PER_MIN - minute * NS_PER_MIN
    first = min(max(math.ceil(first_minute), 0), 24 * 60)  # the first whole minute >= first_minute
    end = min(max(end_minute, 0), 24 * 60)
    lo = 0
    hi = 24 * 60
    for edge in (first, end):
        if edge <= minute:
            lo = max(lo, edge)
        else:
            hi = min(hi, edge)
    kept = minute >= first_minute and minute < end_minute
    return midnight + lo * NS_PER_MIN, midnight + hi * NS_PER_MIN, kept


@inlined
def kept_rows(
    open_ns: np.ndarray,
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    change_ns: np.ndarray,
    run_offset_ns: np.ndarray,
    first_minute: float,
    end_minute: int,
    src: np.ndarray,
    wall: np.ndarray,
) -> int:
    """Positions (into `src`) and CT wall times (ns, into `wall`) of the bars opening at CT wall minutes
    in [`first_minute`, `end_minute`); returns how many, or -1 if a price (open, high, low, close) is not
    finite or an open is not later than the one before (`context._refuse_values` says which and where).

    The CT offset of a bar is ``run_offset_ns[r]``, ``r`` being the number of `change_ns` instants at or
    before its open (`context.ct_offset_runs`). The minute is worked out again only when a bar leaves
    the span of wall times that share its answer (`minute_segment`): a few times a day.
    """
    o, h, lo, c = prices
    m = 0
    r = 0
    start = 0
    end = 0  # an empty span: the first bar works its minute out
    kept = False
    valid = True
    for i in range(open_ns.shape[0]):
        # x - x is 0.0 for a finite x, NaN for NaN and the infinities: one test of the sum covers the bar
        valid &= (o[i] - o[i]) + (h[i] - h[i]) + (lo[i] - lo[i]) + (c[i] - c[i]) == 0.0
        if i:
            valid &= open_ns[i] > open_ns[i - 1]
        while r < change_ns.shape[0] and open_ns[i] >= change_ns[r]:
            r += 1
        wall_ns = open_ns[i] + run_offset_ns[r]
        if wall_ns < start or wall_ns >= end:
            start, end, kept = minute_segment(wall_ns, first_minute, end_minute)
        if kept:
            src[m] = i
            wall[m] = wall_ns
            m += 1
    return m if valid else -1


@inlined
def emas_at(
    close: np.ndarray,
    src: np.ndarray,
    fast_period: int,
    slow_period: int,
    slope_bars: int,
    fast: np.ndarray,
    slow: np.ndarray,
    slope: np.ndarray,
) -> None:
    """`indicators.ema` of all closes (fast and slow) at the bars `src`, and the fast EMA's change over
    `slope_bars` bars there (NaN where fewer bars precede), into `fast`, `slow` and `slope`."""
    m = src.shape[0]
    if m == 0:
        return
    alpha_fast = 2.0 / (fast_period + 1.0)
    alpha_slow = 2.0 / (slow_period + 1.0)
    a1_fast = alpha_fast - 1.0
    a1_slow = alpha_slow - 1.0
    z_fast = (1.0 - alpha_fast) * close[0]
    z_slow = (1.0 - alpha_slow) * close[0]
    ring = slope_bars + 1
    recent = np.empty(ring)  # the fast EMA of the last slope_bars + 1 bars: bar i at i % ring
    k = 0  # i % ring, kept without a division per bar
    p = 0
    for i in range(src[m - 1] + 1):
        x = close[i]
        y_fast = z_fast + alpha_fast * x
        z_fast = x * 0.0 - y_fast * a1_fast
        y_slow = z_slow + alpha_slow * x
        z_slow = x * 0.0 - y_slow * a1_slow
        recent[k] = y_fast
        k += 1
        if k == ring:
            k = 0
        if src[p] == i:
            fast[p] = y_fast
            slow[p] = y_slow
            slope[p] = y_fast - recent[k] if i >= slope_bars else np.nan  # k: (i + 1) % ring, bar i - slope_bars
            p += 1


@inlined
def true_range(high: float, low: float, prev_close: float) -> float:
    """A bar's (or bin's) true range against the previous close, as `indicators` computes it."""
    return max(high - low, max(abs(high - prev_close), abs(low - prev_close)))


@inlined
def wilder_step(tr: float, z: float, alpha: float, first: bool) -> tuple[float, float]:
    """One step of Wilder's average as `recursions.first_order` runs it (b0 = alpha, a1 = alpha - 1,
    the state seeded from the first value): the average and the next state."""
    if first:
        z = (1.0 - alpha) * tr
    y = z + alpha * tr
    return y, tr * 0.0 - y * (alpha - 1.0)


@inlined
def wilder_true_range_at(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, src: np.ndarray, period: int, out: np.ndarray
) -> None:
    """`indicators.wilder` of the true ranges of the bars `src` (each with its real previous close), into `out`."""
    alpha = 1.0 / period
    z = 0.0
    for p in range(src.shape[0]):
        i = src[p]
        prev_close = close[max(i - 1, 0)]
        h = high[i]
        lo = low[i]
        y, z = wilder_step(true_range(h, lo, prev_close), z, alpha, p == 0)
        out[p] = y


@inlined
def rth_vwap(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    src: np.ndarray,
    day: np.ndarray,
    rth: np.ndarray,
    out: np.ndarray,
) -> None:
    """`session_vwap_kernel` with a session per trading day and part (before the open, regular hours), of
    the bars `src` (their prices ``high[src]``, ``low[src]``, ``close[src]``; their volumes ``volume[src]``,
    as floats; `day`, their trading day or its dense rank, and `rth` theirs)."""
    total_pv = 0.0
    total_v = 0.0
    base_pv = 0.0
    base_v = 0.0
    key = -1
    for p in range(src.shape[0]):
        i = src[p]
        tp = (high[i] + low[i] + close[i]) / 3.0
        v = float(volume[i])
        previous = key
        key = day[p] * 3 + (1 if rth[p] else 0)
        if p == 0:
            total_pv = tp * v
            total_v = v
        else:
            if key != previous:
                base_pv = total_pv
                base_v = total_v
            total_pv += tp * v
            total_v += v
        pv = total_pv - base_pv
        cv = total_v - base_v
        out[p] = pv / cv if cv > 0 else tp


@inlined
def volume_multiple_at(
    volume: np.ndarray,
    src: np.ndarray,
    day: np.ndarray,
    slot: np.ndarray,
    lookback_days: int,
    min_days: int,
    out: np.ndarray,
) -> None:
    """`indicators.volume_multiple` of the bars `src` (their volumes ``volume[src]``, as floats; `day` a dense
    rank from 0, `slot` any integers), into `out`."""
    m = src.shape[0]
    if m == 0:
        return
    first_slot = slot[0]
    last_slot = slot[0]
    for p in range(m):
        out[p] = np.nan
        first_slot = min(first_slot, slot[p])
        last_slot = max(last_slot, slot[p])
    n_slots = last_slot - first_slot + 1
    size = (day[m - 1] + 2) * n_slots
    total = np.zeros(size)  # row r (r = day + 1) sums the volume of that day's slot; row 0 stays empty
    count = np.zeros(size)
    for p in range(m):
        cell = (day[p] + 1) * n_slots + slot[p] - first_slot
        total[cell] += float(volume[src[p]])
        count[cell] += 1.0
    for cell in range(n_slots, size):  # running sums down the days: row r holds days 0..r-1
        total[cell] = total[cell - n_slots] + total[cell]
        count[cell] = count[cell - n_slots] + count[cell]
    for p in range(m):
        before = day[p] * n_slots + slot[p] - first_slot
        first = max(day[p] - lookback_days, 0) * n_slots + slot[p] - first_slot
        n = count[before] - count[first]
        if n >= min_days and n > 0:
            mean = (total[before] - total[first]) / n
            if mean > 0:
                out[p] = float(volume[src[p]]) / mean


@inlined
def binned_atr_into(
    open_ns: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    width_ns: int,
    span_ns: int,
    period: int,
    query_ns: np.ndarray,
    out: np.ndarray,
) -> None:
    """`align_asof(known, atr(h, l, c, period), query_ns)` of the complete clock bins of `width_ns`, into `out`.

    One pass over the bars: a bin's high, low and close as `clock_bins_hlc` takes them, its true range
    and Wilder's step exactly as `indicators.atr` computes them (same operations in the same order),
    merged on the way with the sorted query times (a query gets the last bin that ended by it). A bin
    counts once it ends by the last bar's close. `open_ns` must increase strictly (a bin's bars are the
    ones that open before its end).
    """
    n = open_ns.shape[0]
    for q in range(query_ns.shape[0]):
        out[q] = np.nan
    if n == 0:
        return
    alpha = 1.0 / period
    data_end = open_ns[n - 1] + span_ns
    m = 0
    q = 0
    y_before = np.nan  # the ATR of the last bin that ended (none yet)
    z = 0.0
    prev_close = 0.0
    i = 0
    while i < n:
        start = open_ns[i] // width_ns * width_ns
        h = high[i]
        lo = low[i]
        end = start + width_ns
        j = i + 1
        while j < n and open_ns[j] < end:  # the opens increase: the later bars of the bin
            h = max(h, high[j])
            lo = min(lo, low[j])
            j += 1
        if end > data_end:  # only the last bin can still be open
            break
        c = close[j - 1]
        if m == 0:
            prev_close = c
        y, z = wilder_step(true_range(h, lo, prev_close), z, alpha, m == 0)
        while q < query_ns.shape[0] and query_ns[q] < end:  # before this bin's end: the bin before it
            if m > 0:
                out[q] = y_before
            q += 1
        y_before = y
        m += 1
        prev_close = c
        i = j
    while q < query_ns.shape[0]:  # at or after the last bin's end
        if m > 0:
            out[q] = y_before
        q += 1


@inlined
def kept_columns(
    open_ns: np.ndarray,
    src: np.ndarray,
    wall: np.ndarray,
    span_ns: int,
    ints: np.ndarray,
    rth: np.ndarray,
    day_dates: np.ndarray,
) -> int:
    """The kept bars' positions `src`, dense day rank and CT minute into the (rows, m) array `ints`, their
    RTH flags into `rth` and each day rank's trading day (days since 1970-01-01) into `day_dates`, from
    the positions and the CT `wall` clock, which is overwritten with the bars' slots (bars since 17:00
    CT); returns how many days. Their prices stay where they are (`BarContext.price`)."""
    rank = -1
    tday = 0
    day_start = 0  # the current trading day's 00:00 (CT wall + 7 h, ns); the day is worked out once
    day_end = 0
    for p in range(src.shape[0]):
        i = src[p]
        ints[I_SRC, p] = i
        shifted = wall[p] + TRADING_DAY_SHIFT_NS
        if shifted < day_start or shifted >= day_end:
            new_day = shifted // NS_PER_DAY
            if rank < 0 or new_day != tday:
                rank += 1
                day_dates[rank] = new_day
            tday = new_day
            day_start = tday * NS_PER_DAY
            day_end = day_start + NS_PER_DAY
        ints[I_DAY, p] = rank
        into_day = shifted - day_start  # shifted % NS_PER_DAY
        wall[p] = into_day // span_ns  # the slot
        minute = (into_day // NS_PER_MIN + 17 * 60) % (24 * 60)  # of the CT wall day: 17:00 is the day's 0
        ints[I_MINUTE, p] = minute
        rth[p] = minute >= RTH_OPEN_MIN
    return rank + 1


@inlined
def kept_context(
    open_ns: np.ndarray,
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    change_ns: np.ndarray,
    run_offset_ns: np.ndarray,
    first_minute: float,
    end_minute: int,
    span_ns: int,
    periods: np.ndarray,
    with_rth_vwap: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """The kept bars and their series, in `BarContext`'s terms: a (`N_FLOAT`, m) float array in the
    order of `FLOAT_ROWS`, a (`N_INT`, m) int array in the order of `INT_ROWS`, the m RTH flags, each
    day rank's trading day (days since 1970-01-01), and whether the bars are valid: every price finite
    and the opens strictly increasing (checked on the way, in the loop that reads every open; when not,
    the series are empty and `context._refuse_values` names the column and row). The close times and the
    slots are worked out in the scratch rows of the kept bars' positions and wall times, not kept.

    `bars` are the open, high, low, close and volume of all bars; `periods` holds ema_fast, ema_slow,
    slope_bars, atr_period, volume_lookback_days, volume_min_days. The VWAP row is filled only if
    `with_rth_vwap`.
    """
    n = open_ns.shape[0]
    open_, high, low, close, volume = bars
    src_all = np.empty(n, dtype=np.int64)
    wall = np.empty(n, dtype=np.int64)
    m = kept_rows(open_ns, (open_, high, low, close), change_ns, run_offset_ns, first_minute, end_minute, src_all, wall)
    if m < 0:  # bars the context refuses (`context._refuse_values` says why): no series
        no_rth = np.empty(0, dtype=np.bool_)
        return np.empty((N_FLOAT, 0)), np.empty((N_INT, 0), dtype=np.int64), no_rth, wall[:0], False
    floats = np.empty((N_FLOAT, m))
    ints = np.empty((N_INT, m), dtype=np.int64)
    rth = np.empty(m, dtype=np.bool_)
    day_dates = np.empty(m, dtype=np.int64)  # at most one day per kept bar; only the days are written
    slot = wall[:m]
    n_days = kept_columns(open_ns, src_all[:m], slot, span_ns, ints, rth, day_dates)
    src = ints[I_SRC]
    close_ns = src_all[:m]  # the positions are in ints by now
    for p in range(m):
        close_ns[p] = open_ns[src[p]] + span_ns
    emas_at(close, src, periods[0], periods[1], periods[2], floats[F_EMA_FAST], floats[F_EMA_SLOW], floats[F_EMA_SLOPE])
    wilder_true_range_at(high, low, close, src, periods[3], floats[F_ATR_BAR])
    if m:
        binned_atr_into(
            open_ns,
            high,
            low,
            close,
            NS_PER_5MIN,
            span_ns,
            periods[3],
            close_ns,
            floats[F_ATR_5M],
        )
    volume_multiple_at(volume, src, ints[I_DAY], slot, periods[4], periods[5], floats[F_VOLUME_MULTIPLE])
    if with_rth_vwap:
        rth_vwap(
            high,
            low,
            close,
            volume,
            src,
            ints[I_DAY],
            rth,
            floats[F_VWAP],
        )
    return floats, ints, rth, day_dates[:n_days], True


@compiled
def context_pass(
    open_ns: np.ndarray,
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    change_ns: np.ndarray,
    run_offset_ns: np.ndarray,
    first_minute: float,
    end_minute: int,
    span_ns: int,
    periods: np.ndarray,
    with_rth_vwap: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """`kept_context` as one compiled call (`scans.context_and_scans` runs it with the scans in another)."""
    return kept_context(
        open_ns, bars, change_ns, run_offset_ns, first_minute, end_minute, span_ns, periods, with_rth_vwap
    )
