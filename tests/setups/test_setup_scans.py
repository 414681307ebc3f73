"""The compiled scans of the three setups give exactly what the vectorised rules give.

Each setup's compiled one-pass scan replaced a vectorised numpy version (below, kept as the
reference: "first bar of the day with a condition", "latest marked bar strictly before"). Random
contexts on a coarse tick grid (so ties and touches are common, with NaN ATRs, slopes and range edges,
days of a few bars and gaps in the minutes) and random parameters must give the same bars, signs and
levels; a fixed set of seeds checks that every setup actually fires in both directions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from setup_bars import random_walk_days

from mesdesk.errors import DataError
from mesdesk.indicators import group_starts
from mesdesk.setups.context import RTH_OPEN_MIN, BarContext, SetupHits, bars_for
from mesdesk.setups.ema_pullback import EmaPullbackConfig, detect_ema_pullback
from mesdesk.setups.orb_retest import OrbRetestConfig, detect_orb_retest, opening_range_edges
from mesdesk.setups.scalper import SETUP_ORDER, ScalperSetupsConfig, _context_and_scan, _detect_all, scalper_context
from mesdesk.setups.scans import opening_range_into
from mesdesk.setups.vwap_rejection import VwapRejectionConfig, detect_vwap_rejection
from mesdesk.timeframes import Timeframe

TICK = 0.25


def random_context(seed: int) -> BarContext:
    """A few hundred bars of a few trading days around the open, prices on the 0.25 grid."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    starts = rng.random(n) < rng.choice([0.005, 0.02, 0.1])
    starts[0] = True
    day = np.cumsum(starts) - 1
    step = rng.choice([1, 1, 1, 2, 5], size=n)
    minute = np.empty(n, dtype=np.int64)
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        first = RTH_OPEN_MIN + int(rng.integers(-40, 40))
        minute[rows] = first + np.cumsum(step[rows]) - step[rows[0]]
    close = 100.0 + np.cumsum(rng.integers(-3, 4, size=n)) * TICK
    open_ = np.where(rng.random(n) < 0.8, np.r_[100.0, close[:-1]], close + rng.integers(-4, 5, size=n) * TICK)
    high = np.maximum(open_, close) + rng.integers(0, 4, size=n) * TICK
    low = np.minimum(open_, close) - rng.integers(0, 4, size=n) * TICK

    def near(x: np.ndarray, ticks: int) -> np.ndarray:
        return np.asarray(x + rng.integers(-ticks, ticks + 1, size=n) * TICK, dtype=np.float64)

    def some_nan(x: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(n) < share, np.nan, x)

    def lagging(x: np.ndarray, bars: int) -> np.ndarray:  # a moving average on the grid: price comes back to it
        mean = np.convolve(np.r_[np.full(bars - 1, x[0]), x], np.ones(bars) / bars, mode="valid")
        return np.asarray(np.round(mean / TICK) * TICK, dtype=np.float64)

    bar_minutes = 1.0
    # The context's bars lie among others in the price arrays (as the kept hours do among a day's bars):
    # the scans read the prices at `source_index`, never at the context's own row.
    src = np.sort(rng.choice(3 * n, size=n, replace=False)).astype(np.int64)

    def spread(kept: np.ndarray) -> np.ndarray:
        every = np.where(rng.random(3 * n) < 0.5, np.nan, 1e6 + rng.random(3 * n))
        every[src] = kept
        return every

    return BarContext(
        bar_open=spread(open_),
        bar_high=spread(high),
        bar_low=spread(low),
        bar_close=spread(close),
        source_index=src,
        bar_open_ns=np.arange(3 * n, dtype=np.int64) * 60_000_000_000,
        span_ns=60_000_000_000,
        bar_minutes=bar_minutes,
        ct_runs=(0, -1, np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64)),  # covers nothing
        day_dates=(np.arange(int(day[-1]) + 1) + 20_000).astype("datetime64[D]"),
        day=day.astype(np.int64),
        n_days=int(day[-1]) + 1,
        minute_open=minute,
        rth=minute >= RTH_OPEN_MIN,
        ema_fast=near(close, 4),
        ema_slow=near(close, 6),
        ema_slope=some_nan(rng.integers(-8, 9, size=n) * TICK, 0.05),
        vwap=np.where(rng.random(n) < 0.5, lagging(close, 30), near(close, 4)),
        atr_5m=some_nan(rng.integers(0, 12, size=n) * TICK, 0.1),
        atr_bar=rng.integers(1, 8, size=n) * TICK,
        volume_multiple=some_nan(rng.random(n) * 2, 0.1),
    )


def random_edges(ctx: BarContext, seed: int, range_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-day range edges near the day's prices, NaN before the range end, outside RTH or on some days."""
    rng = np.random.default_rng(seed + 1)
    mid = 100.0 + rng.integers(-8, 9, size=ctx.n_days) * TICK
    width = rng.integers(0, 8, size=ctx.n_days) * TICK
    known = ctx.rth & (ctx.minute_open >= RTH_OPEN_MIN + range_minutes) & (rng.random(ctx.n_days) < 0.9)[ctx.day]
    return np.where(known, (mid + width)[ctx.day], np.nan), np.where(known, (mid - width)[ctx.day], np.nan)


# The vectorised rules the compiled scans replaced.


def first_per_day(mask: np.ndarray, day: np.ndarray, n_days: int) -> np.ndarray:
    out = np.full(n_days, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if idx.size:
        d = day[idx]
        keep = group_starts(d)
        out[d[keep]] = idx[keep]
    return out


def last_true_before(mask: np.ndarray) -> np.ndarray:
    marks = np.where(mask, np.arange(mask.size, dtype=np.int64), -1)
    running = np.maximum.accumulate(marks) if marks.size else marks
    out = np.full(mask.size, -1, dtype=np.int64)
    out[1:] = running[:-1]
    return out


def previous(values: np.ndarray) -> np.ndarray:
    out = np.full(values.size, np.nan)
    out[1:] = values[:-1]
    return out


def reference_orb(ctx: BarContext, cfg: OrbRetestConfig, edge: np.ndarray, sign: int) -> SetupHits:
    def first_after(mask: np.ndarray, anchor: np.ndarray, max_bars: int | None) -> np.ndarray:
        i = np.arange(ctx.size, dtype=np.int64)
        a = anchor[ctx.day]
        since = i - a
        ok = mask & (a >= 0) & (since >= 1)
        if max_bars is not None:
            ok &= since <= max_bars
        return first_per_day(ok, ctx.day, ctx.n_days)

    s_close, s_open, s_edge = sign * ctx.close, sign * ctx.open, sign * edge
    s_adverse = ctx.low if sign > 0 else -ctx.high
    s_favour = ctx.high if sign > 0 else -ctx.low
    range_end = RTH_OPEN_MIN + cfg.range_minutes
    after = ctx.rth & np.isfinite(edge) & (ctx.minute_open >= range_end)
    with np.errstate(invalid="ignore"):
        brk = after & (ctx.minute_open < range_end + cfg.breakout_window_minutes)
        brk &= s_close > s_edge + cfg.breakout_ticks * TICK
        retest = after & (s_adverse <= s_edge + cfg.retest_ticks * TICK) & (s_close >= s_edge - cfg.hold_ticks * TICK)
        fail = after & (s_close < s_edge - cfg.hold_ticks * TICK)
        go = after & (s_close > previous(s_favour)) & (s_close > s_open) & (s_close > s_edge)
    b = first_per_day(brk, ctx.day, ctx.n_days)
    r = first_after(retest, b, bars_for(cfg.max_retest_minutes, ctx.bar_minutes))
    f_bar = first_after(fail, b, None)[ctx.day]
    before_fail = (f_bar < 0) | (np.arange(ctx.size) < f_bar)
    g = first_after(go & before_fail, r, bars_for(cfg.max_go_minutes, ctx.bar_minutes))
    hit = g[g >= 0]
    return SetupHits(hit, np.full(hit.size, sign, dtype=np.int64), edge[hit])


def reference_ema(ctx: BarContext, cfg: EmaPullbackConfig, sign: int) -> SetupHits:
    s_close, s_open, s_ema = sign * ctx.close, sign * ctx.open, sign * ctx.ema_fast
    s_adverse = ctx.low if sign > 0 else -ctx.high
    s_favour = ctx.high if sign > 0 else -ctx.low
    with np.errstate(invalid="ignore"):
        trend = sign * ctx.ema_slope >= cfg.min_slope_atr * ctx.atr_5m
        trend &= np.isfinite(ctx.atr_5m) & (s_close > s_ema)
        if cfg.require_slow_ema:
            trend &= s_ema > sign * ctx.ema_slow
        floor = s_ema - cfg.pierce_ticks * TICK
        touch = (s_adverse <= s_ema + cfg.touch_ticks * TICK) & (s_close >= floor) & (s_open >= floor)
        cont = (s_close > previous(s_favour)) & (s_close > s_open)
    i = np.arange(ctx.size, dtype=np.int64)
    t = last_true_before(touch)
    fresh = (t >= 0) & (i - t <= cfg.touch_lookback_bars) & (last_true_before(cont) <= t)
    hit = np.flatnonzero(ctx.rth & trend & cont & fresh)
    return SetupHits(hit, np.full(hit.size, sign, dtype=np.int64), ctx.ema_fast[hit])


def reference_vwap(ctx: BarContext, cfg: VwapRejectionConfig, sign: int) -> SetupHits:
    s_close, s_vwap = sign * ctx.close, sign * ctx.vwap
    s_adverse = ctx.low if sign > 0 else -ctx.high
    rng = ctx.high - ctx.low
    with np.errstate(invalid="ignore", divide="ignore"):
        close_pos = np.where(rng > 0, (s_close - s_adverse) / np.where(rng > 0, rng, 1.0), 0.0)
        touch = s_adverse <= s_vwap + cfg.touch_ticks * TICK
        side = (sign * ctx.ema_fast > s_vwap) & (previous(s_close) > previous(s_vwap))
        reject = touch & (s_close >= s_vwap + cfg.close_ticks * TICK) & (close_pos >= cfg.min_close_position)
    t = last_true_before(touch)
    fresh = (t < 0) | (np.arange(ctx.size) - t > cfg.fresh_bars)
    late_enough = ctx.minutes_since_open >= cfg.min_minutes_after_open
    hit = np.flatnonzero(ctx.rth & late_enough & side & reject & fresh)
    return SetupHits(hit, np.full(hit.size, sign, dtype=np.int64), ctx.vwap[hit])


def assert_same(got: SetupHits, want: SetupHits) -> None:
    for name in ("index", "sign", "level"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        assert getattr(got, name).dtype == getattr(want, name).dtype, name


def check_all(seed: int, orb: OrbRetestConfig, ema: EmaPullbackConfig, vwap: VwapRejectionConfig) -> np.ndarray:
    """Compare each setup with its reference on one random context; hits per setup (rows) and side (long, short)."""
    ctx = random_context(seed)
    edges = random_edges(ctx, seed, orb.range_minutes)
    cases = [
        (
            detect_orb_retest(ctx, orb, TICK, edges),
            [reference_orb(ctx, orb, edges[0], 1), reference_orb(ctx, orb, edges[1], -1)],
        ),
        (detect_ema_pullback(ctx, ema, TICK), [reference_ema(ctx, ema, 1), reference_ema(ctx, ema, -1)]),
        (detect_vwap_rejection(ctx, vwap, TICK), [reference_vwap(ctx, vwap, 1), reference_vwap(ctx, vwap, -1)]),
    ]
    counts = np.zeros((3, 2), dtype=np.int64)
    for k, (got, sides) in enumerate(cases):
        assert_same(got, SetupHits.concat(sides))
        counts[k] = [sides[0].index.size, sides[1].index.size]
    # The candidate generator runs the three in one compiled call, with the context's own opening range:
    # the same hits and range, and a setup switched off gives none.
    config = ScalperSetupsConfig(orb=orb, ema_pullback=ema, vwap_rejection=vwap)
    alone = [detect_orb_retest(ctx, orb, TICK), cases[1][0], cases[2][0]]
    fields = ("orb", "ema_pullback", "vwap_rejection")
    for off in (None, *fields):
        switched = {} if off is None else {off: replace(getattr(config, off), enabled=False)}
        together, (or_high, or_low) = _detect_all(ctx, replace(config, **switched))
        assert [setup for setup, _ in together] == list(SETUP_ORDER)
        for k, (_, hits) in enumerate(together):
            assert_same(hits, SetupHits.empty() if fields[k] == off else alone[k])
        want_high, want_low = opening_range_edges(ctx, orb)
        assert or_high.tobytes() == want_high.tobytes()
        assert or_low.tobytes() == want_low.tobytes()
    return counts


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), range_minutes=st.integers(1, 45))
def test_compiled_opening_range_equals_the_vectorised_one(seed: int, range_minutes: int) -> None:
    """NaN prices on some seeds (numpy's maximum lets NaN win), days without range bars, bars before the range."""
    ctx = random_context(seed)
    rng = np.random.default_rng(seed + 2)
    if rng.random() < 0.3:
        ctx = replace(ctx, bar_high=np.where(rng.random(ctx.bar_high.size) < 0.05, np.nan, ctx.bar_high))
    cfg = OrbRetestConfig(range_minutes=range_minutes)
    with np.errstate(invalid="ignore"):  # numpy warns of the NaN it lets win
        want_high, want_low = opening_range_edges(ctx, cfg)
    got_high, got_low = np.empty(ctx.size), np.empty(ctx.size)
    opening_range_into(
        ctx.bar_high,
        ctx.bar_low,
        ctx.source_index,
        ctx.day,
        ctx.minute_open,
        ctx.rth,
        RTH_OPEN_MIN + range_minutes,
        got_high,
        got_low,
    )
    assert got_high.tobytes() == want_high.tobytes()
    assert got_low.tobytes() == want_low.tobytes()


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    orb=st.builds(
        OrbRetestConfig,
        range_minutes=st.integers(1, 30),
        breakout_ticks=st.integers(0, 3),
        breakout_window_minutes=st.integers(1, 60),
        retest_ticks=st.integers(0, 3),
        hold_ticks=st.integers(0, 3),
        max_retest_minutes=st.integers(1, 20),
        max_go_minutes=st.integers(1, 10),
    ),
    ema=st.builds(
        EmaPullbackConfig,
        min_slope_atr=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
        require_slow_ema=st.booleans(),
        touch_ticks=st.integers(0, 3),
        pierce_ticks=st.integers(0, 3),
        touch_lookback_bars=st.integers(1, 6),
    ),
    vwap=st.builds(
        VwapRejectionConfig,
        touch_ticks=st.integers(0, 3),
        close_ticks=st.integers(0, 3),
        min_close_position=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
        fresh_bars=st.integers(0, 8),
        min_minutes_after_open=st.integers(0, 30),
    ),
)
def test_compiled_scans_equal_the_vectorised_rules(
    seed: int, orb: OrbRetestConfig, ema: EmaPullbackConfig, vwap: VwapRejectionConfig
) -> None:
    check_all(seed, orb, ema, vwap)


def test_every_setup_fires_in_both_directions_on_the_fixed_seeds() -> None:
    orb = OrbRetestConfig(range_minutes=5, max_retest_minutes=10, max_go_minutes=5)
    totals = np.zeros((3, 2), dtype=np.int64)
    for seed in range(150):
        totals += check_all(seed, orb, EmaPullbackConfig(), VwapRejectionConfig())
    assert (totals >= 15).all(), totals


@pytest.mark.parametrize(("seed", "minutes"), [(1, 1), (2, 1), (3, 5), (4, 1), (6, 5)])
def test_the_context_and_the_scans_in_one_call_equal_them_called_apart(seed: int, minutes: int) -> None:
    """`context_and_scans` (the candidate generator's call) gives the context and the hits the context
    pass and `scalper_scans` give when called one after the other, bit for bit."""
    days = ["2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-06-10"]  # across the spring change
    bars = random_walk_days(days, seed=seed, minutes=minutes)
    timeframe = Timeframe.M1 if minutes == 1 else Timeframe.M5
    rng = np.random.default_rng(seed)
    config = ScalperSetupsConfig(
        orb=OrbRetestConfig(enabled=bool(rng.random() < 0.8), range_minutes=int(rng.choice([15, 30]))),
        vwap_rejection=VwapRejectionConfig(enabled=bool(rng.random() < 0.8)),
    )
    fused, scanned = _context_and_scan(bars, config, timeframe, scan=True)
    apart = scalper_context(bars, config, timeframe)
    assert scanned is not None
    for name in fused.__dataclass_fields__:
        got, want = getattr(fused, name), getattr(apart, name)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype, name
            assert got.tobytes() == want.tobytes(), name
        elif name != "ct_runs":
            assert got == want, name
    hits_fused, edges_fused = _detect_all(fused, config, scanned)
    hits_apart, edges_apart = _detect_all(apart, config)
    for (setup_a, a), (setup_b, b) in zip(hits_fused, hits_apart, strict=True):
        assert setup_a == setup_b
        assert_same(a, b)
    for got, want in zip(edges_fused, edges_apart, strict=True):
        assert got.tobytes() == want.tobytes()
    assert sum(h.index.size for _, h in hits_apart) > 0


def test_a_trading_day_vwap_runs_the_scans_after_the_context() -> None:
    """That VWAP is worked out after the compiled pass, so the scans cannot run inside it."""
    bars = random_walk_days(["2025-06-10", "2025-06-11"], seed=5)
    config = ScalperSetupsConfig()
    anchored = replace(config, indicators=replace(config.indicators, vwap_anchor="trading_day"))
    assert _context_and_scan(bars, anchored, Timeframe.M1, scan=True)[1] is None
    assert _context_and_scan(bars, config, Timeframe.M1, scan=True)[1] is not None
    broken = bars.copy()
    broken.iloc[3, broken.columns.get_loc("high")] = np.nan
    with pytest.raises(DataError, match="high is not a finite price at row 3"):
        _context_and_scan(broken, config, Timeframe.M1, scan=True)
