"""Shared series of the setups: the fast Central-time path, the 5m ATR and the volume multiple."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from setup_bars import ct_bars, flat

from mesdesk.data.resample import clock_bins_hlc
from mesdesk.indicators import align_asof, atr
from mesdesk.setups.context import NS_PER_MIN, IndicatorConfig, build_context, ct_wall_ns
from mesdesk.setups.scans import binned_atr_asof, kept_bars
from mesdesk.timeframes import Timeframe


def test_fast_wall_clock_matches_calendar_across_both_dst_changes() -> None:
    for start in ("2025-03-08 00:00", "2025-11-01 00:00"):
        idx = pd.date_range(start, periods=3 * 24 * 60, freq="1min", tz="UTC").as_unit("ns")
        oracle = idx.tz_convert("America/Chicago").tz_localize(None)  # pandas' own conversion, minute by minute
        np.testing.assert_array_equal(ct_wall_ns(np.asarray(idx.asi8)), np.asarray(oracle.asi8))


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
    got = binned_atr_asof(open_ns, high, low, close, int(pd.Timedelta("5min").value), span, period, query)
    np.testing.assert_array_equal(got, want)
    assert got.tobytes() == want.tobytes()


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    first=st.sampled_from([0.0, 450.0, 480.0, 497.5, 1439.0]),
    end=st.integers(1, 1440),
)
def test_kept_bars_equal_the_minute_mask(seed: int, first: float, end: int) -> None:
    rng = np.random.default_rng(seed)
    wall = np.sort(rng.integers(1_700_000_000, 1_700_400_000, int(rng.integers(0, 500)))) * 10**9
    minute = wall // NS_PER_MIN % (24 * 60)
    want = np.flatnonzero((minute >= first) & (minute < end))
    src, got_minute = kept_bars(wall, first, end)
    np.testing.assert_array_equal(src, want)
    np.testing.assert_array_equal(got_minute, minute[want])
    assert src.dtype == got_minute.dtype == np.int64
