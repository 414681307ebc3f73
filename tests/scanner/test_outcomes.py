"""Following signals to their outcome: targets, stop (gap fill), ambiguity, expiry, void, open."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.resample import bin_close_ns
from mesdesk.pathbars import PathBars
from mesdesk.setups.measured_move import MeasuredMoveConfig, detect_measured_moves
from mesdesk.setups.measured_move_outcomes import OutcomeConfig, follow_outcomes
from mesdesk.timeframes import Timeframe

from .builders import bullish_bars, mirror, path_bars

K2 = MeasuredMoveConfig(swing_order=2)
FIVE = pd.Timedelta(minutes=5)


def outcome_of(bars: pd.DataFrame, config: OutcomeConfig | None = None) -> pd.Series:
    sig = detect_measured_moves(bars, Timeframe.M5, K2)
    assert len(sig) == 1
    close_ns = bin_close_ns(pd.DatetimeIndex(bars.index), Timeframe.M5)
    out = follow_outcomes(sig, close_ns, PathBars.from_frame(bars, FIVE), config)
    return out.iloc[0]


def test_long_reaches_both_targets_entry_at_next_open() -> None:
    bars = bullish_bars()
    o = outcome_of(bars)
    # entry: open of bar 15 (the first bar opening at the confirmation, bar 14's close)
    assert o["entry_at"] == bars.index[15]
    assert o["entry"] == 107.75
    # bar 20 tops at 114.5 = target_100 (a touch, not through); bar 21 trades through it,
    # bar 22 (high 117) trades through 116.75
    assert o["outcome"] == "target_123_6"
    assert o["outcome_at"] == bars.index[22] + FIVE
    assert o["resolved_at"] == o["outcome_at"]
    assert o["exit_price"] == 114.5
    assert o["pnl_pts"] == pytest.approx(114.5 - 107.75)
    assert o["pnl_ext_pts"] == pytest.approx(116.75 - 107.75)
    assert o["mfe"] == pytest.approx(6.75)  # capped at the target_100 exit
    assert o["mae"] == pytest.approx(0.5)  # bar 15 low 107.25
    assert not o["ambiguous"]


def test_touch_fills_target_100_one_bar_earlier_than_through() -> None:
    bars = bullish_bars().iloc[:21]  # bar 20 tops exactly at target_100 = 114.5
    through = outcome_of(bars)
    assert through["outcome"] == "open"
    assert pd.isna(through["pnl_pts"])
    touch = outcome_of(bars, OutcomeConfig(target_fill="touch"))
    assert touch["outcome_at"] == bars.index[20] + FIVE
    assert touch["pnl_pts"] == pytest.approx(6.75)


def test_short_mirror_has_the_same_points() -> None:
    o = outcome_of(mirror(bullish_bars()))
    assert o["entry"] == 300 - 107.75
    assert o["outcome"] == "target_123_6"
    assert o["exit_price"] == 300 - 114.5
    assert o["pnl_pts"] == pytest.approx(6.75)
    assert o["pnl_ext_pts"] == pytest.approx(9.0)
    assert o["mae"] == pytest.approx(0.5)


def test_stop_fills_at_the_open_when_the_bar_gaps_through_it() -> None:
    # after the confirmation: up to 107 at bar 16, then down 1.75 a bar: bar 18 opens at 103.5 < stop 104.25
    bars = path_bars([0, 3, 8, 12, 14, 16, 20], [103.0, 100.5, 109.5, 105.0, 106.5, 107.0, 100.0])
    o = outcome_of(bars)
    assert o["entry"] == 106.75
    assert o["outcome"] == "stop"
    assert o["outcome_at"] == bars.index[18] + FIVE
    assert o["exit_price"] == 103.5
    assert o["pnl_pts"] == pytest.approx(-3.25)
    assert o["mae"] == pytest.approx(3.25)
    assert o["mfe"] == pytest.approx(0.75)  # bar 16 high 107.5


def test_stop_and_target_in_one_bar_is_a_stop_flagged_ambiguous() -> None:
    bars = bullish_bars()
    bars.iloc[16, bars.columns.get_loc("high")] = 116.0  # through target_100 114.5
    bars.iloc[16, bars.columns.get_loc("low")] = 104.0  # through the stop 104.25
    o = outcome_of(bars)
    assert o["outcome"] == "stop"
    assert o["ambiguous"]
    assert o["exit_price"] == 104.25
    assert o["pnl_pts"] == pytest.approx(104.25 - 107.75)
    # The stop is assumed first in bar 16, so its 116.00 was never held: bar 15's high 108.25 and
    # bar 16's open 109.00 are all that count toward the MFE.
    assert o["mfe"] == pytest.approx(109.00 - 107.75)
    assert o["mae"] == pytest.approx(107.75 - 104.25)


def test_expiry_exits_at_the_last_close_inside_the_holding_window() -> None:
    bars = path_bars([0, 3, 8, 12, 14, 15, 60], [103.0, 100.5, 109.5, 105.0, 106.5, 107.0, 108.0])
    o = outcome_of(bars, OutcomeConfig(max_hold_bars=10))
    assert o["outcome"] == "expiry"
    assert o["expiry_at"] == bars.index[24] + FIVE  # close of the 10th bar after the confirming bar 14
    assert o["outcome_at"] == o["expiry_at"]
    expected_close = float(np.interp(24, [15, 60], [107.0, 108.0]))
    assert o["exit_price"] == pytest.approx(expected_close)
    assert o["pnl_pts"] == pytest.approx(expected_close - o["entry"])


def test_signal_is_open_until_its_outcome_is_final() -> None:
    bars = path_bars([0, 3, 8, 12, 14, 15, 30], [103.0, 100.5, 109.5, 105.0, 106.5, 107.0, 108.0])
    o = outcome_of(bars)  # 50-bar window not over, nothing hit
    assert o["outcome"] == "open"
    assert pd.isna(o["resolved_at"])
    assert pd.isna(o["pnl_pts"])


def test_target_100_reached_but_window_still_running_is_open_with_its_pnl_known() -> None:
    bars = bullish_bars().iloc[:22]  # through target_100 at bar 21; 123.6 not yet, no stop, no expiry
    o = outcome_of(bars)
    assert o["outcome"] == "open"
    assert o["outcome_at"] == bars.index[21] + FIVE
    assert o["pnl_pts"] == pytest.approx(6.75)
    assert pd.isna(o["pnl_ext_pts"])


def test_entry_gapping_beyond_the_stop_voids_the_signal() -> None:
    bars = bullish_bars()
    bars.iloc[15, bars.columns.get_loc("open")] = 104.0
    bars.iloc[15, bars.columns.get_loc("low")] = 103.75
    o = outcome_of(bars)
    assert o["outcome"] == "void"
    assert o["entry"] == 104.0
    assert pd.isna(o["pnl_pts"])


def test_outcome_walks_the_finer_base_bars() -> None:
    # The same 5m path as 1m bars: five identical minutes per 5m bar, so the 5m bars resample exactly.
    five = bullish_bars()
    one = five.loc[five.index.repeat(5)].copy()
    one.index = pd.date_range(five.index[0], periods=len(one), freq="1min", tz="UTC", name="ts").as_unit("ns")
    one["volume"] = 20
    sig = detect_measured_moves(five, Timeframe.M5, K2)
    close_ns = bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5)
    out = follow_outcomes(sig, close_ns, PathBars.from_frame(one, pd.Timedelta(minutes=1))).iloc[0]
    assert out["entry_at"] == five.index[15]
    # target_100 traded through in the first minute of bar 21
    assert out["outcome"] == "target_123_6"
    assert out["outcome_at"] == five.index[22] + pd.Timedelta(minutes=1)
