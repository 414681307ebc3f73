"""Shared series of the setups: the fast Central-time path and the volume multiple."""

from __future__ import annotations

import numpy as np
import pandas as pd
from setup_bars import ct_bars, flat

from mesdesk.setups.context import IndicatorConfig, build_context, ct_wall_ns
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
