"""Point in time: candidate rows up to t do not change when later bars are appended."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from setup_bars import random_walk_days

from mesdesk.data.resample import resample
from mesdesk.data.synthetic import SyntheticConfig, generate_days
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
    bars = walk.iloc[:1380]  # the first whole session (trading day 2025-03-05, CST: 08:45 CT = 14:45 UTC)
    ctx = build_context(bars, IndicatorConfig(), Timeframe.M1)
    m5 = resample(bars, Timeframe.M5)
    expected = atr(m5["high"].to_numpy(), m5["low"].to_numpy(), m5["close"].to_numpy(), 14)
    closes = pd.DatetimeIndex(pd.to_datetime(ctx.close_ns, unit="ns", utc=True))
    b = int(np.flatnonzero(m5.index == pd.Timestamp("2025-03-05 14:45", tz="UTC"))[0])  # the 08:45-08:50 CT bin
    at = {
        minute: ctx.atr_5m[closes.get_loc(pd.Timestamp(f"2025-03-05 14:{minute}", tz="UTC"))]
        for minute in range(49, 56)
    }
    assert at[49] == expected[b - 1]  # 08:49 CT: the 08:45 bin is still open
    assert at[50] == expected[b]  # 08:50: it has closed
    assert at[51] == at[52] == at[53] == at[54] == expected[b]
    assert at[55] == expected[b + 1]


def test_synthetic_market_is_point_in_time_too() -> None:
    bars = generate_days(8, SyntheticConfig(seed=5))
    full = detect_candidates(bars)
    assert set(full["setup_type"]) == {"ORB_retest_go", "EMA20_pullback", "VWAP_rejection"}
    for frac in (0.6, 0.85):
        part = bars.iloc[: int(len(bars) * frac)]
        t = part.index[-1] + pd.Timedelta(minutes=1)
        pd.testing.assert_frame_equal(detect_candidates(part), full[full["ts"] <= t].reset_index(drop=True))
