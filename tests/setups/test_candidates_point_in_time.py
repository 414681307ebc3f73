"""Point in time: candidate rows up to t do not change when later bars are appended."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from setup_bars import random_walk_days

from mesdesk.data.resample import resample
from mesdesk.indicators import atr
from mesdesk.setups.context import IndicatorConfig, build_context
from mesdesk.setups.scalper import detect_candidates
from mesdesk.timeframes import Timeframe

DAYS = ["2025-03-05", "2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-03-12"]  # across DST


@pytest.fixture(scope="module", name="walk")
def fixture_walk() -> pd.DataFrame:
    return random_walk_days(DAYS, seed=7)


@pytest.fixture(scope="module", name="full")
def fixture_full(walk: pd.DataFrame) -> pd.DataFrame:
    return detect_candidates(walk)


def test_random_walk_produces_every_setup(full: pd.DataFrame) -> None:
    assert set(full["setup_type"]) == {"ORB_retest_go", "EMA20_pullback", "VWAP_rejection"}
    assert full["volume_multiple"].notna().any()  # from the fourth day on


@pytest.mark.parametrize("frac", [0.55, 0.62, 0.71, 0.8, 0.93])
def test_rows_up_to_t_are_identical_without_later_bars(walk: pd.DataFrame, full: pd.DataFrame, frac: float) -> None:
    # Cut inside the RTH of a late day: at a bar that completed a candidate, and at an arbitrary bar.
    cut = int(len(walk) * frac)
    rth_rows = full["bar_index"].to_numpy()
    cuts = [cut, int(rth_rows[np.searchsorted(rth_rows, cut)])]
    for k in cuts:
        part = walk.iloc[: k + 1]
        t = part.index[-1] + pd.Timedelta(minutes=1)
        got = detect_candidates(part)
        want = full[full["ts"] <= t].reset_index(drop=True)
        assert len(want) > 0
        pd.testing.assert_frame_equal(got, want)


def test_five_minute_decisions_are_point_in_time_too() -> None:
    bars = resample(random_walk_days(DAYS[:5], seed=11), Timeframe.M5)
    full = detect_candidates(bars, timeframe=Timeframe.M5)
    assert len(full) > 0
    for k in (len(bars) * 3 // 5, len(bars) * 4 // 5):
        part = bars.iloc[: k + 1]
        t = part.index[-1] + pd.Timedelta(minutes=5)
        want = full[full["ts"] <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(detect_candidates(part, timeframe=Timeframe.M5), want)


def test_atr_5m_on_one_minute_bars_changes_only_when_a_5m_bin_closes(walk: pd.DataFrame) -> None:
    bars = walk.iloc[:600]
    ctx = build_context(bars, IndicatorConfig(), Timeframe.M1)
    m5 = resample(bars, Timeframe.M5)
    expected = atr(m5["high"].to_numpy(), m5["low"].to_numpy(), m5["close"].to_numpy(), 14)
    closes = bars.index + pd.Timedelta(minutes=1)
    # A 1m bar closing at 17:13 CT sees the 5m bins closed by 17:10: the second bin's ATR.
    assert np.isnan(ctx.atr_5m[:4]).all()  # no 5m bin has closed before 17:05
    k = int(np.flatnonzero(closes == m5.index[2])[0])  # the 1m bar closing when bin 2 opens (bin 1 closes)
    assert ctx.atr_5m[k] == expected[1]
    assert ctx.atr_5m[k + 1] == expected[1]
    assert ctx.atr_5m[k + 4] == expected[1]  # bin 2 still open
    assert ctx.atr_5m[k + 5] == expected[2]  # bin 2 closed
