"""The setups' one-pass loops, compiled with numba: the three scans, the opening range, the call that runs
them together on a context (`scalper_scans`), and the one the candidate generator makes, which builds the
context's series first (`context_and_scans`: one library for both to load from numba's cache).

Each loop repeats the rule of its setup module (`orb_retest`, `ema_pullback`, `vwap_rejection`) bar by
bar with the same comparisons and arithmetic, so the candidates are the same bit for bit
(tests/setups/test_setup_scans.py holds them equal to the vectorised versions). The setup modules
import this one on first use, so importing the setups (the API, the services) does not load numba.

A scan walks the context's bars: its prices are the input bars' (all of them), read at the context's
positions `src` (`BarContext.source_index`), and its other series are the context's own. It marks its
bars in `hit`, which the caller passes in all False (a bool array as long as the context) and gets
back. The callers allocate the arrays, in Python (an allocation in compiled code brings its own error
paths into the machine-code library that a fresh process loads from numba's cache), except in
`context_and_scans`, which learns the context's size inside the call.
"""

from __future__ import annotations

import numpy as np

from mesdesk.recursions import compiled, inlined
from mesdesk.setups.context import RTH_OPEN_MIN
from mesdesk.setups.context_pass import (
    F_ATR_5M,
    F_EMA_FAST,
    F_EMA_SLOPE,
    F_EMA_SLOW,
    F_VWAP,
    I_DAY,
    I_MINUTE,
    I_SRC,
    kept_context,
)


@inlined
def orb_retest_scan(
    close: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    src: np.ndarray,
    edge: np.ndarray,
    minute_open: np.ndarray,
    rth: np.ndarray,
    day: np.ndarray,
    sign: float,
    range_end: int,
    breakout_end: int,
    breakout_off: float,
    retest_off: float,
    hold_off: float,
    max_retest: int,
    max_go: int,
    hit: np.ndarray,
) -> np.ndarray:
    """`hit` True at each go bar of ORB retest-go: steps 2-5 of `orb_retest`'s docstring, one pass per trading day.

    Prices are "signed" (``sign * price``) so the short side is the long side of the mirrored series;
    the offsets are the tick tolerances in points. A day's breakout ``b``, retest ``r`` and failure are
    each the first bar with its condition, so the day stops at its go bar, its first failure after
    ``b``, or when the retest or go window has run out.
    """
    n = src.shape[0]
    current = -1
    b = -1
    r = -1
    done = False
    prev_favour = np.nan  # the prior bar's extreme on the trade's side (any bar, as `previous`)
    for i in range(n):
        j = src[i]  # the bar's position in the price arrays
        favour_before = prev_favour
        prev_favour = high[j] if sign > 0 else -low[j]
        if day[i] != current:
            current = day[i]
            b = -1
            r = -1
            done = False
        if done or not (rth[i] and np.isfinite(edge[i]) and minute_open[i] >= range_end):
            continue
        s_close = sign * close[j]
        s_edge = sign * edge[i]
        if b < 0:
            if minute_open[i] < breakout_end and s_close > s_edge + breakout_off:
                b = i
            continue
        if s_close < s_edge - hold_off:  # failure: no go bar from here on
            done = True
            continue
        if r >= 0:
            if i - r > max_go:
                done = True
            elif s_close > favour_before and s_close > sign * open_[j] and s_close > s_edge:
                hit[i] = True
                done = True
            continue
        if i - b > max_retest:
            done = True
            continue
        s_adverse = low[j] if sign > 0 else -high[j]
        if s_adverse <= s_edge + retest_off and s_close >= s_edge - hold_off:
            r = i
    return hit


@inlined
def ema_pullback_scan(
    close: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    src: np.ndarray,
    ema_fast: np.ndarray,
    ema_slow: np.ndarray,
    ema_slope: np.ndarray,
    atr_5m: np.ndarray,
    rth: np.ndarray,
    sign: float,
    min_slope_atr: float,
    require_slow_ema: bool,
    touch_off: float,
    pierce_off: float,
    lookback: int,
    hit: np.ndarray,
) -> np.ndarray:
    """`hit` True at each 20-EMA pullback bar (steps 1-3 of `ema_pullback`'s docstring) in one pass over the bars.

    Prices are "signed" (``sign * price``) so the short side is the long side of the mirrored series;
    `touch_off` and `pierce_off` are the tick tolerances in points. The latest touch and the latest
    continuation bar strictly before each bar are carried along.
    """
    n = src.shape[0]
    last_touch = -1
    last_cont = -1
    prev_favour = np.nan  # the prior bar's extreme on the trade's side
    for i in range(n):
        j = src[i]  # the bar's position in the price arrays
        s_close = sign * close[j]
        s_open = sign * open_[j]
        s_ema = sign * ema_fast[i]
        cont = s_close > prev_favour and s_close > s_open
        if cont and rth[i] and last_touch >= 0 and i - last_touch <= lookback and last_cont <= last_touch:
            trend = sign * ema_slope[i] >= min_slope_atr * atr_5m[i] and np.isfinite(atr_5m[i]) and s_close > s_ema
            if require_slow_ema:
                trend = trend and s_ema > sign * ema_slow[i]
            hit[i] = trend
        floor = s_ema - pierce_off
        s_adverse = low[j] if sign > 0 else -high[j]
        if s_adverse <= s_ema + touch_off and s_close >= floor and s_open >= floor:
            last_touch = i
        if cont:
            last_cont = i
        prev_favour = high[j] if sign > 0 else -low[j]
    return hit


@inlined
def vwap_rejection_scan(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    src: np.ndarray,
    vwap: np.ndarray,
    ema_fast: np.ndarray,
    minute_open: np.ndarray,
    bar_minutes: float,
    rth: np.ndarray,
    sign: float,
    touch_off: float,
    close_off: float,
    min_close_position: float,
    fresh_bars: int,
    min_minutes_after_open: float,
    hit: np.ndarray,
) -> np.ndarray:
    """`hit` True at each VWAP rejection bar (steps 1-4 of `vwap_rejection`'s docstring) in one pass over the bars.

    Prices are "signed" (``sign * price``) so the short side is the long side of the mirrored series;
    `touch_off` and `close_off` are the tick tolerances in points. The latest VWAP test strictly
    before each bar is carried along.
    """
    n = src.shape[0]
    last_touch = -1
    prev_close = np.nan
    prev_vwap = np.nan
    for i in range(n):
        j = src[i]  # the bar's position in the price arrays
        s_close = sign * close[j]
        s_vwap = sign * vwap[i]
        s_adverse = low[j] if sign > 0 else -high[j]
        touch = s_adverse <= s_vwap + touch_off
        since = float(minute_open[i] - RTH_OPEN_MIN) + bar_minutes  # minutes from 08:30 CT to the close
        if touch and rth[i] and since >= min_minutes_after_open:
            rng = high[j] - low[j]
            close_pos = (s_close - s_adverse) / rng if rng > 0 else 0.0
            side = sign * ema_fast[i] > s_vwap and prev_close > prev_vwap
            reject = s_close >= s_vwap + close_off and close_pos >= min_close_position
            hit[i] = side and reject and (last_touch < 0 or i - last_touch > fresh_bars)
        if touch:
            last_touch = i
        prev_close = s_close
        prev_vwap = s_vwap
    return hit


@inlined
def opening_range_into(
    high: np.ndarray,
    low: np.ndarray,
    src: np.ndarray,
    day: np.ndarray,
    minute_open: np.ndarray,
    rth: np.ndarray,
    range_end: int,
    or_high: np.ndarray,
    or_low: np.ndarray,
) -> None:
    """`orb_retest.opening_range_edges` (`indicators.opening_range` of the bars that open in regular hours
    before the CT minute `range_end`) into `or_high` and `or_low`, value for value: a day's range high and
    low (numpy's maximum and minimum, in bar order) at its regular-hours bars from `range_end` on that come
    after every range bar, NaN elsewhere. The context's prices are ``high[src]`` and ``low[src]``."""
    m = src.shape[0]
    for p in range(m):
        or_high[p] = np.nan
        or_low[p] = np.nan
    if m == 0:
        return
    first_day = day[0]
    last_day = day[0]
    for p in range(m):
        first_day = min(first_day, day[p])
        last_day = max(last_day, day[p])
    n_days = last_day - first_day + 1
    hi = np.full(n_days, -np.inf)
    lo = np.full(n_days, np.inf)
    last = np.full(n_days, -1)  # the day's last range bar; -1: none
    for p in range(m):
        if rth[p] and minute_open[p] < range_end:
            d = day[p] - first_day
            h = high[src[p]]
            lo_p = low[src[p]]
            if hi[d] == hi[d] and (h != h or h > hi[d]):  # np.maximum: NaN wins, ties keep the first
                hi[d] = h
            if lo[d] == lo[d] and (lo_p != lo_p or lo_p < lo[d]):
                lo[d] = lo_p
            last[d] = p
    for p in range(m):
        d = day[p] - first_day
        if rth[p] and minute_open[p] >= range_end and last[d] >= 0 and p > last[d] and np.isfinite(hi[d]):
            or_high[p] = hi[d]
            or_low[p] = lo[d]


@inlined
def scans_into(
    series: tuple[np.ndarray, ...],
    orb: tuple[int, int, float, float, float, int, int],
    ema: tuple[float, bool, float, float, int],
    vwap: tuple[float, float, float, int, float],
    enabled: tuple[bool, bool, bool],
    bar_minutes: float,
    out: tuple[np.ndarray, ...],
) -> None:
    """The opening range's high and low (`opening_range_into`, the ORB setup and a feature read them), then
    the three scans, long then short: ORB, EMA pullback, VWAP rejection (a setup not `enabled` marks none).

    `series` holds the bars' close, open, high and low, the context's positions into them (`source_index`),
    and its minute_open, rth, day, ema_fast, ema_slow, ema_slope, atr_5m and vwap; `bar_minutes` its bars' span;
    `orb`, `ema` and `vwap` each setup's arguments after `sign` (its module's `scan_params`; the opening
    range ends at the first of `orb`); `out` the range's high and low (floats) and the six scans' `hit`
    arrays (all False), each as long as the context. The same loops as the scans called one by one, in one
    machine-code library: a fresh process loads one library from numba's cache instead of three.
    """
    close, open_, high, low, src, minute_open, rth, day, ema_fast, ema_slow, ema_slope, atr_5m, vwap_ = series
    range_end, breakout_end, breakout_off, retest_off, hold_off, max_retest, max_go = orb
    min_slope_atr, require_slow_ema, touch_off, pierce_off, lookback = ema
    vwap_touch_off, close_off, min_close_position, fresh_bars, min_minutes_after_open = vwap
    or_high, or_low, orb_long, orb_short, ema_long, ema_short, vwap_long, vwap_short = out
    opening_range_into(high, low, src, day, minute_open, rth, range_end, or_high, or_low)
    if enabled[0]:
        orb_retest_scan(
            close, open_, high, low, src, or_high, minute_open, rth, day, 1.0,
            range_end, breakout_end, breakout_off, retest_off, hold_off, max_retest, max_go, orb_long,
        )  # fmt: skip
        orb_retest_scan(
            close, open_, high, low, src, or_low, minute_open, rth, day, -1.0,
            range_end, breakout_end, breakout_off, retest_off, hold_off, max_retest, max_go, orb_short,
        )  # fmt: skip
    if enabled[1]:
        ema_pullback_scan(
            close, open_, high, low, src, ema_fast, ema_slow, ema_slope, atr_5m, rth, 1.0,
            min_slope_atr, require_slow_ema, touch_off, pierce_off, lookback, ema_long,
        )  # fmt: skip
        ema_pullback_scan(
            close, open_, high, low, src, ema_fast, ema_slow, ema_slope, atr_5m, rth, -1.0,
            min_slope_atr, require_slow_ema, touch_off, pierce_off, lookback, ema_short,
        )  # fmt: skip
    if enabled[2]:
        vwap_rejection_scan(
            close, high, low, src, vwap_, ema_fast, minute_open, bar_minutes, rth, 1.0,
            vwap_touch_off, close_off, min_close_position, fresh_bars, min_minutes_after_open, vwap_long,
        )  # fmt: skip
        vwap_rejection_scan(
            close, high, low, src, vwap_, ema_fast, minute_open, bar_minutes, rth, -1.0,
            vwap_touch_off, close_off, min_close_position, fresh_bars, min_minutes_after_open, vwap_short,
        )  # fmt: skip


@compiled
def scalper_scans(
    series: tuple[np.ndarray, ...],
    orb: tuple[int, int, float, float, float, int, int],
    ema: tuple[float, bool, float, float, int],
    vwap: tuple[float, float, float, int, float],
    enabled: tuple[bool, bool, bool],
    bar_minutes: float,
    out: tuple[np.ndarray, ...],
) -> None:
    """`scans_into` as one compiled call, on a context built before (`context_and_scans` runs both)."""
    scans_into(series, orb, ema, vwap, enabled, bar_minutes, out)


@compiled
def context_and_scans(
    open_ns: np.ndarray,
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    change_ns: np.ndarray,
    run_offset_ns: np.ndarray,
    first_minute: float,
    end_minute: int,
    span_ns: int,
    periods: np.ndarray,
    orb: tuple[int, int, float, float, float, int, int],
    ema: tuple[float, bool, float, float, int],
    vwap: tuple[float, float, float, int, float],
    enabled: tuple[bool, bool, bool],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray, np.ndarray]:
    """The context's pass with its RTH-anchored VWAP (`context_pass.kept_context`), then the scans on it
    (`scans_into`), in one compiled call: a fresh process loads one library from numba's cache for both.

    Returns the pass's five outputs, then the opening range's high and low and the six scans' hits as
    rows of a (6, m) bool array (long then short: ORB, EMA pullback, VWAP rejection); on bars the pass
    refuses, the scans do not run.
    """
    floats, ints, rth, day_dates, valid = kept_context(
        open_ns, bars, change_ns, run_offset_ns, first_minute, end_minute, span_ns, periods, True
    )
    m = rth.shape[0]
    edges = np.empty((2, m))
    hits = np.zeros((6, m), dtype=np.bool_)
    if valid:
        open_, high, low, close, _ = bars
        series = (
            close, open_, high, low, ints[I_SRC], ints[I_MINUTE], rth, ints[I_DAY],
            floats[F_EMA_FAST], floats[F_EMA_SLOW], floats[F_EMA_SLOPE], floats[F_ATR_5M], floats[F_VWAP],
        )  # fmt: skip
        out = (edges[0], edges[1], hits[0], hits[1], hits[2], hits[3], hits[4], hits[5])
        scans_into(series, orb, ema, vwap, enabled, span_ns / 60_000_000_000, out)
    return floats, ints, rth, day_dates, valid, edges, hits
