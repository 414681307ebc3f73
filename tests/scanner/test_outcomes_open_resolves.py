"""A bar whose open is already beyond a level resolves the order inside it: no stop-first guess there.

DESIGN.md: the stop is assumed first only when the stop and a target are both inside one bar "and no
finer data resolves the path". The open is the bar's first price: a bar opening beyond target_100 has
filled the target before it can trade down to the stop, and a bar opening beyond the stop has stopped
the trade before it can rise to the target. Neither is ambiguous.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.resample import bin_close_ns
from mesdesk.pathbars import PathBars
from mesdesk.setups.measured_move import detect_measured_moves
from mesdesk.setups.measured_move_outcomes import OutcomeConfig, follow_outcomes
from mesdesk.timeframes import Timeframe

from .builders import bullish_bars, path_bars
from .test_outcomes import FIVE, K2, outcome_of


def set_bar(bars: pd.DataFrame, i: int, o: float, h: float, lo: float, c: float) -> None:
    for col, v in zip(("open", "high", "low", "close"), (o, h, lo, c), strict=True):
        bars.iloc[i, bars.columns.get_loc(col)] = v


def test_bar_opening_through_target_100_then_trading_through_the_stop_is_a_target() -> None:
    bars = bullish_bars()  # entry 107.75 at bar 15, stop 104.25, target_100 114.5, target_123_6 116.75
    set_bar(bars, 17, 115.0, 115.5, 104.0, 105.0)  # gaps above 114.5, then falls through the stop
    o = outcome_of(bars)
    assert o["outcome"] == "target_100"  # the open filled target_100; the 123.6% plan was stopped after
    assert not o["ambiguous"]
    assert o["outcome_at"] == bars.index[17] + FIVE
    assert o["resolved_at"] == bars.index[17] + FIVE
    assert o["pnl_pts"] == pytest.approx(114.5 - 107.75)
    assert o["pnl_ext_pts"] == pytest.approx(104.25 - 107.75)
    assert o["mae"] == pytest.approx(0.5)  # bar 15 low 107.25; bar 17's low came after the exit at its open
    assert o["mfe"] == pytest.approx(114.5 - 107.75)


def test_bar_opening_through_target_123_6_then_through_the_stop_is_a_target_123_6() -> None:
    bars = bullish_bars()
    set_bar(bars, 17, 117.0, 117.0, 104.0, 105.0)
    o = outcome_of(bars)
    assert o["outcome"] == "target_123_6"
    assert not o["ambiguous"]
    assert o["pnl_ext_pts"] == pytest.approx(116.75 - 107.75)


def test_bar_gapping_through_the_stop_is_a_stop_even_if_it_later_trades_through_the_target() -> None:
    bars = path_bars([0, 3, 8, 12, 14, 16, 20], [103.0, 100.5, 109.5, 105.0, 106.5, 107.0, 100.0])
    set_bar(bars, 17, 103.5, 115.0, 103.0, 114.0)  # opens below the stop 104.25, then rallies through 114.5
    o = outcome_of(bars)
    assert o["outcome"] == "stop"
    assert not o["ambiguous"]
    assert o["exit_price"] == 103.5


def test_touch_rule_counts_an_open_exactly_at_the_target() -> None:
    bars = bullish_bars()
    set_bar(bars, 17, 114.5, 115.0, 104.0, 105.0)
    assert outcome_of(bars, OutcomeConfig(target_fill="touch"))["outcome"] == "target_100"
    through = outcome_of(bars)  # an open at the target is not "through" it: both inside the bar
    assert through["outcome"] == "stop"
    assert through["ambiguous"]


def test_expiry_outcome_at_is_expiry_at_even_when_the_last_minutes_are_missing() -> None:
    five = path_bars([0, 3, 8, 12, 14, 15, 60], [103.0, 100.5, 109.5, 105.0, 106.5, 107.0, 108.0])
    one = five.loc[five.index.repeat(5)].copy()
    one.index = pd.date_range(five.index[0], periods=len(one), freq="1min", tz="UTC", name="ts").as_unit("ns")
    one = one.drop(one.index[24 * 5 + 3 : 24 * 5 + 5])  # the window's last two minutes (bin 24) are missing
    sig = detect_measured_moves(five, Timeframe.M5, K2)
    close_ns = bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5)
    path = PathBars.from_frame(one, pd.Timedelta(minutes=1))
    o = follow_outcomes(sig, close_ns, path, OutcomeConfig(max_hold_bars=10)).iloc[0]
    assert o["outcome"] == "expiry"
    assert o["expiry_at"] == five.index[24] + FIVE
    assert o["outcome_at"] == o["expiry_at"]  # as documented, not the last minute's close
    assert o["exit_price"] == pytest.approx(float(np.interp(24, [15, 60], [107.0, 108.0])))
