"""Shared series of the setups: the fast Central-time path, the 5m ATR, the volume multiple, and the
compiled context pass held equal, bit for bit, to the plain functions it stands for."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from setup_bars import ct_bars, flat

from mesdesk.data.resample import clock_bins_hlc
from mesdesk.indicators import align_asof, atr, ema, group_starts, session_vwap, volume_multiple, wilder
from mesdesk.setups.context import (
    NS_PER_DAY,
    NS_PER_MIN,
    RTH_OPEN_MIN,
    BarContext,
    IndicatorConfig,
    build_context,
    ct_offset_runs,
    ct_wall_ns,
)
from mesdesk.setups.context_pass import binned_atr_into, kept_rows
from mesdesk.timeframes import Timeframe


def test_fast_wall_clock_matches_calendar_across_both_dst_changes() -> None:
    for start in ("2025-03-08 00:00", "2025-11-01 00:00"):
        idx = pd.date_range(start, periods=3 * 24 * 60, freq="1min", tz="UTC").as_unit("ns")
        oracle = idx.tz_convert("America/Chicago").tz_localize(None)  # pandas' own conversion, minute by minute
        np.testing.assert_array_equal(ct_wall_ns(np.asarray(idx.asi8)), np.asarray(oracle.asi8))


def test_wall_clock_from_a_context_s_runs_matches_and_falls_back_outside_them() -> None:
    idx = pd.date_range("2025-11-01 00:00", periods=3 * 24 * 60, freq="1min", tz="UTC").as_unit("ns")
    utc = np.asarray(idx.asi8)
    oracle = np.asarray(idx.tz_convert("America/Chicago").tz_localize(None).asi8)
    runs = (int(utc[0]), int(utc[-1]), *ct_offset_runs(int(utc[0]), int(utc[-1])))
    np.testing.assert_array_equal(ct_wall_ns(utc[100:3000], runs), oracle[100:3000])  # across the DST change
    stale = (int(utc[0]), int(utc[10]), np.empty(0, dtype=np.int64), np.array([0], dtype=np.int64))
    np.testing.assert_array_equal(ct_wall_ns(utc, stale), oracle)  # runs that do not cover them are not used
    # A context's runs reach its last bar's close: here the last bar closes as CDT ends (07:00 UTC).
    opens = pd.date_range("2025-11-01 13:00", "2025-11-02 06:59", freq="1min", tz="UTC")
    bars = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1}, index=opens)
    ctx = build_context(bars, IndicatorConfig(), Timeframe.M1)
    closes = np.asarray(opens.as_unit("ns").asi8) + 60 * 10**9
    want = np.asarray((opens + pd.Timedelta("1min")).tz_convert("America/Chicago").tz_localize(None).as_unit("ns").asi8)
    assert ctx.ct_runs[1] >= closes[-1]  # so the candidates' times use them
    np.testing.assert_array_equal(ct_wall_ns(closes, ctx.ct_runs), want)


def test_volume_multiple_compares_the_same_minute_of_earlier_days() -> None:
    days = ["2025-06-09", "2025-06-10", "2025-06-11", "2025-06-12"]
    frames = []
    for k, day in enumerate(days):
        frame = ct_bars(day, "08:30", flat(100.0, 10))
        frame["volume"] = 100 * (k + 1)  # 100, 200, 300, then 400 on the fourth day
        frames.append(frame)
    ctx = build_context(pd.concat(frames), IndicatorConfig(), Timeframe.M1)
    last_day = ctx.day == 3
    # Fourth day: 400 over the mean of 100, 200, 300 -> 2.0; NaN before three earlier days exist.
    np.testing.assert_allclose(ctx.volume_multiple[last_day], 2.0)
    assert np.isnan(ctx.volume_multiple[~last_day]).all()


def test_rth_vwap_restarts_at_the_open() -> None:
    bars = ct_bars("2025-06-11", "08:00", [*flat(90.0, 30), (100.0, 101.0, 99.0, 100.0), *flat(102.0, 1)])
    ctx = build_context(bars, IndicatorConfig(), Timeframe.M1)
    rth = np.flatnonzero(ctx.rth)
    assert ctx.vwap[rth[0]] == 100.0  # typical price of the first RTH bar; the pre-open at 90 is not in it
    assert ctx.vwap[rth[1]] == 101.0


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    timeframe=st.sampled_from([Timeframe.S1, Timeframe.M1, Timeframe.M5]),
    period=st.integers(1, 20),
)
def test_compiled_5m_atr_equals_bins_then_atr_then_asof(seed: int, timeframe: Timeframe, period: int) -> None:
    """The one-pass 5m ATR gives exactly `clock_bins_hlc` -> `atr` -> `align_asof` (gaps, a last open bin)."""
    rng = np.random.default_rng(seed)
    span = int(pd.Timedelta(timeframe.span).value)
    n = int(rng.integers(0, 300))
    steps = rng.choice([1, 1, 1, 2, 7, 300], size=n)  # bars in a row, small gaps, a few long ones
    open_ns = 1_750_000_200 * 10**9 + int(rng.integers(0, 600)) * span + np.cumsum(steps) * span  # on 5m bins
    close = 100.0 + np.cumsum(rng.integers(-3, 4, size=n)) * 0.25
    high = close + rng.integers(0, 4, size=n) * 0.25
    low = close - rng.integers(0, 4, size=n) * 0.25
    closes = open_ns + span
    query = np.unique(np.r_[rng.choice(closes, size=min(n, 50), replace=False), closes[-1:]]) if n else closes
    known, h, lo, c = clock_bins_hlc(open_ns, high, low, close, span, Timeframe.M5)
    want = align_asof(known, atr(h, lo, c, period), query)
    got = np.empty(query.size)
    binned_atr_into(
        *(open_ns, high, low, close, int(pd.Timedelta("5min").value), span, period),
        *(query, got),
    )
    np.testing.assert_array_equal(got, want)
    assert got.tobytes() == want.tobytes()


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    first=st.sampled_from([-30.0, 0.0, 450.0, 480.0, 497.5, 1439.0]),
    end=st.integers(1, 1440),
)
def test_kept_rows_equal_the_minute_mask_of_the_wall_clock(seed: int, first: float, end: int) -> None:
    rng = np.random.default_rng(seed)
    start = int(rng.choice([1_741_300_000, 1_762_000_000, 1_750_000_000]))  # both DST changes of 2025, June
    utc = np.unique(rng.integers(start, start + 400_000, int(rng.integers(1, 500)))) * 10**9
    wall = ct_wall_ns(utc)
    minute = wall // NS_PER_MIN % (24 * 60)
    want = np.flatnonzero((minute >= first) & (minute < end))
    src, got_wall = np.empty(utc.size, dtype=np.int64), np.empty(utc.size, dtype=np.int64)
    prices = tuple(np.full(utc.size, 100.0) for _ in range(4))
    runs = ct_offset_runs(int(utc[0]), int(utc[-1]))
    m = kept_rows(utc, prices, *runs, first, end, src, got_wall)
    src, got_wall = src[:m], got_wall[:m]
    np.testing.assert_array_equal(src, want)
    np.testing.assert_array_equal(got_wall, wall[want])
    assert src.dtype == got_wall.dtype == np.int64
    # Refused (-1): a price that is not finite in any of the four columns, an open not after the one before.
    row = int(rng.integers(0, utc.size))
    for column in range(4):
        for bad in (np.nan, np.inf, -np.inf):
            broken = tuple(p.copy() for p in prices)
            broken[column][row] = bad
            assert kept_rows(utc, broken, *runs, first, end, src, got_wall) == -1
    if utc.size > 1:
        repeated = utc.copy()
        repeated[max(row, 1)] = repeated[max(row, 1) - 1]
        assert kept_rows(repeated, prices, *runs, first, end, src, got_wall) == -1


def reference_context(
    bars: pd.DataFrame, config: IndicatorConfig, timeframe: Timeframe, pre_open_minutes: float
) -> dict[str, object]:
    """The context as numpy and the plain indicator functions compute it (what the compiled pass replaced)."""
    span_ns = int(pd.Timedelta(timeframe.span).value)
    open_ns = np.asarray(bars.index.as_unit("ns").asi8, dtype=np.int64)
    wall_ns = ct_wall_ns(open_ns)
    minute_all = wall_ns // NS_PER_MIN % (24 * 60)
    src = np.flatnonzero((minute_all >= RTH_OPEN_MIN - pre_open_minutes) & (minute_all < config.rth_end_min))
    minute = minute_all[src]
    c_all, h_all, lo_all = (bars[col].to_numpy(dtype=np.float64) for col in ("close", "high", "low"))
    ema_fast_all = ema(c_all, config.ema_fast)
    k = config.slope_bars
    slope = ema_fast_all[src] - ema_fast_all[np.maximum(src - k, 0)]
    slope[src < k] = np.nan
    prev_close = c_all[np.maximum(src - 1, 0)]
    h, lo, c = h_all[src], lo_all[src], c_all[src]
    true_range = np.maximum(h - lo, np.maximum(np.abs(h - prev_close), np.abs(lo - prev_close)))
    v = bars["volume"].to_numpy()[src].astype(np.float64)
    close_ns = open_ns[src] + span_ns
    shifted = wall_ns[src] + 7 * 60 * NS_PER_MIN
    tday = shifted // NS_PER_DAY
    day = np.cumsum(group_starts(tday)) - 1
    rth = minute >= RTH_OPEN_MIN
    if config.vwap_anchor == "rth":
        vwap = session_vwap(h, lo, c, v, tday * 3 + np.where(rth, 1, np.where(minute < RTH_OPEN_MIN, 0, 2)))
    else:
        all_tday = (wall_ns + 7 * 60 * NS_PER_MIN) // NS_PER_DAY
        vwap = session_vwap(h_all, lo_all, c_all, bars["volume"].to_numpy(dtype=np.float64), all_tday)[src]
    slot = (shifted % NS_PER_DAY) // span_ns
    known, bh, bl, bc = clock_bins_hlc(open_ns, h_all, lo_all, c_all, span_ns, Timeframe.M5)
    return {
        "open": bars["open"].to_numpy(dtype=np.float64)[src],
        "high": h,
        "low": lo,
        "close": c,
        "source_index": src,
        "close_ns": close_ns,
        "trading_day": tday.astype("datetime64[D]"),
        "day": day,
        "minute_open": minute,
        "minutes_since_open": (minute - RTH_OPEN_MIN).astype(np.float64) + span_ns / NS_PER_MIN,
        "rth": rth,
        "ema_fast": ema_fast_all[src],
        "ema_slow": ema(c_all, config.ema_slow)[src],
        "ema_slope": slope,
        "vwap": vwap,
        "atr_5m": align_asof(known, atr(bh, bl, bc, config.atr_period), close_ns),
        "atr_bar": wilder(true_range, config.atr_period),
        "volume_multiple": volume_multiple(v, day, slot, config.volume_lookback_days, config.volume_min_days),
    }


def random_bars(rng: np.random.Generator, timeframe: Timeframe) -> pd.DataFrame:
    """Bars with gaps of a few bars to days, across a DST change, prices off the tick grid, zero volumes."""
    span = int(pd.Timedelta(timeframe.span).value)
    n = int(rng.integers(100, 3000))
    steps = rng.choice([1, 1, 1, 1, 2, 7, 60, 1000], size=n)
    steps[:100] = rng.choice([1, 2], size=100)  # the first day reaches its RTH bars
    steps *= max(1, 60_000_000_000 // span)
    # 08:00 CT before the March and the November DST change, and in June
    start = int(rng.choice([1_741_356_000, 1_761_915_600, 1_749_646_800])) * 10**9
    open_ns = start + np.cumsum(steps) * span
    close = 5000.0 + np.cumsum(rng.normal(0, 1.3, n))
    open_ = close + rng.normal(0, 0.5, n)
    volume = np.where(rng.random(n) < 0.1, 0, rng.integers(1, 3000, n))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + rng.random(n),
            "low": np.minimum(open_, close) - rng.random(n),
            "close": close,
            "volume": volume.astype(rng.choice([np.int64, np.float64])),
        },
        index=pd.DatetimeIndex(pd.to_datetime(open_ns, unit="ns", utc=True), name="ts"),
    )


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    timeframe=st.sampled_from([Timeframe.S1, Timeframe.M1, Timeframe.M5]),
    anchor=st.sampled_from(["rth", "trading_day"]),
    pre_open_minutes=st.sampled_from([0.0, 30.0, 42.5, 600.0]),
)
def test_compiled_context_equals_the_plain_functions_bit_for_bit(
    seed: int, timeframe: Timeframe, anchor: str, pre_open_minutes: float
) -> None:
    rng = np.random.default_rng(seed)
    bars = random_bars(rng, timeframe)
    config = IndicatorConfig(
        ema_fast=int(rng.integers(1, 30)),
        ema_slow=int(rng.integers(1, 80)),
        atr_period=int(rng.integers(1, 20)),
        slope_bars=int(rng.integers(1, 12)),
        vwap_anchor="rth" if anchor == "rth" else "trading_day",
        volume_lookback_days=int(rng.integers(1, 25)),
        volume_min_days=int(rng.integers(1, 5)),
        rth_end_min=int(rng.choice([900, 960, 600])),
    )
    got = build_context(bars, config, timeframe, pre_open_minutes)
    want = reference_context(bars, config, timeframe, pre_open_minutes)
    assert got.source_index.size > 0  # the case happens: the random bars reach the kept hours
    for name, value in want.items():
        array = getattr(got, name)
        assert isinstance(value, np.ndarray)
        assert array.dtype == value.dtype, name
        assert array.tobytes() == value.tobytes(), (name, np.flatnonzero(array != value)[:5])
    assert got.n_days == (int(got.day[-1]) + 1)
    assert got.bar_minutes == int(pd.Timedelta(timeframe.span).value) / NS_PER_MIN


def test_compiled_context_of_no_bars_in_the_kept_hours_is_empty() -> None:
    bars = random_bars(np.random.default_rng(3), Timeframe.M1).iloc[:0]
    ctx: BarContext = build_context(bars, IndicatorConfig(), Timeframe.M1)
    assert ctx.size == 0
    assert ctx.n_days == 0
