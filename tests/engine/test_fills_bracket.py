"""Hand-checked fills of one bracket (MES, 1 tick slippage, $0.62 per side = 0.248 pt round trip).

Long entry at the 09:00 bar's open 5000.00 + 1 tick = 5000.25; stop 4999.50; target 5001.50.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mesdesk.engine import BracketConfig, ExecutionConfig, PathBars, simulate_bracket

from .factories import ct, ohlc_bars

BR = BracketConfig()
EX = ExecutionConfig()
START = ct("2025-03-11", "09:00")


def run(rows, *, direction=1, ex=EX, br=BR, freq="1min", flat_index=None, floor_pts=None):
    path = PathBars.from_frame(ohlc_bars(START, rows, freq=freq), pd.Timedelta(freq))
    return simulate_bracket(path, 0, direction, br, ex, flat_index=flat_index, floor_pts=floor_pts)


def test_costs_are_one_tick_slippage_and_0_248_points_commission() -> None:
    assert EX.slippage_pts == 0.25
    assert EX.commission_pts_round_trip == pytest.approx(0.248)


def test_stop_fills_at_open_when_bar_gaps_through_it() -> None:
    out = run([(5000.00, 5000.50, 4999.75, 5000.25), (4998.50, 4999.00, 4998.00, 4998.75)])
    assert out.entry_price == 5000.25
    assert out.exit_reason == "sl"
    assert out.exit_price == 4998.25  # the gap open 4998.50, minus one tick
    assert out.gross_pts == -2.00
    assert out.pnl_pts == pytest.approx(-2.248)
    assert out.exit_ts_ns == ct("2025-03-11", "09:01").value  # known at that bar's open
    assert out.mae == -2.00
    assert out.mfe == 0.25


def test_bar_opening_beyond_the_target_fills_the_target_not_an_ambiguous_stop() -> None:
    # No breakeven or trail, so the stop stays at 4999.50; the 09:01 bar gaps up to 5002.00 and later
    # trades down to 4999.25. The resting target (5001.50) filled at that open; the stop never mattered.
    br = BracketConfig(breakeven_at_pts=None, trail_after_pts=None)
    out = run([(5000.00, 5000.50, 4999.75, 5000.25), (5002.00, 5002.25, 4999.25, 4999.50)], br=br)
    assert (out.exit_reason, out.exit_price, out.gross_pts) == ("tp", 5001.50, 1.25)
    assert out.ambiguous is False
    assert out.exit_ts_ns == ct("2025-03-11", "09:01").value  # filled at that bar's open
    short = run([(5000.00, 5000.25, 4999.50, 4999.75), (4998.00, 5000.75, 4997.75, 5000.50)], direction=-1, br=br)
    assert (short.exit_reason, short.exit_price, short.ambiguous) == ("tp", 4998.50, False)  # entry 4999.75


def test_stop_fills_at_stop_price_minus_slippage() -> None:
    out = run([(5000.00, 5000.50, 4999.75, 5000.25), (5000.00, 5000.25, 4999.25, 4999.50)])
    assert (out.exit_reason, out.exit_price, out.gross_pts) == ("sl", 4999.25, -1.00)
    assert out.exit_ts_ns == ct("2025-03-11", "09:02").value  # known at the bar's close


def test_target_must_trade_through_unless_touch_is_configured() -> None:
    rows = [(5000.00, 5000.50, 5000.00, 5000.25), (5000.25, 5001.50, 5000.25, 5001.25)] + [
        (5001.25, 5001.50, 5001.25, 5001.25)
    ] * 3
    through = run(rows, br=BracketConfig(breakeven_at_pts=None, trail_after_pts=None))
    assert through.exit_reason == "open"  # 5001.50 touched, never traded through
    touch = run(
        rows, br=BracketConfig(breakeven_at_pts=None, trail_after_pts=None), ex=ExecutionConfig(target_fill="touch")
    )
    assert (touch.exit_reason, touch.exit_price, touch.gross_pts) == ("tp", 5001.50, 1.25)
    assert touch.pnl_pts == pytest.approx(1.002)
    assert touch.time_to_target_s == 120.0  # entry 09:00, the 09:01 bar closes 09:02


def test_tp_and_sl_in_one_bar_without_finer_data_is_stop_first_and_ambiguous() -> None:
    rows = [(5000.00, 5000.50, 5000.00, 5000.25), (5000.25, 5001.75, 4999.25, 5000.00)]
    out = run(rows)
    assert (out.exit_reason, out.exit_price, out.ambiguous) == ("sl", 4999.25, True)
    optimistic = run(rows, ex=ExecutionConfig(ambiguous_policy="target_first"))
    assert (optimistic.exit_reason, optimistic.exit_price, optimistic.ambiguous) == ("tp", 5001.50, True)


def test_sub_bars_resolve_the_ambiguous_bar() -> None:
    five = [(5000.00, 5000.50, 5000.00, 5000.25), (5000.25, 5001.75, 4999.25, 5000.00)]
    coarse = run(five, freq="5min")
    assert (coarse.exit_reason, coarse.ambiguous) == ("sl", True)
    ones = [(5000.00, 5000.50, 5000.00, 5000.25)] * 5 + [
        (5000.25, 5001.00, 5000.00, 5000.75),  # +0.75: breakeven armed for the next minute
        (5000.75, 5001.75, 5000.50, 5001.50),  # trades through 5001.50 first
        (5001.50, 5001.50, 4999.25, 4999.50),  # the dip comes later
        (5000.00, 5000.25, 4999.75, 5000.00),
        (5000.00, 5000.25, 4999.75, 5000.00),
    ]
    fine = run(ones, freq="1min")
    assert (fine.exit_reason, fine.exit_price, fine.ambiguous) == ("tp", 5001.50, False)
    assert fine.exit_ts_ns == ct("2025-03-11", "09:07").value


def test_breakeven_moves_the_stop_from_the_next_bar_then_is_hit() -> None:
    rows = [
        (5000.00, 5000.75, 5000.00, 5000.50),  # +0.50 reached; the dip below entry in this bar does not exit
        (5000.50, 5000.75, 5000.00, 5000.25),  # stop now 5000.25: hit
    ]
    out = run(rows)
    assert (out.exit_reason, out.exit_price, out.gross_pts) == ("be", 5000.00, -0.25)
    assert out.pnl_pts == pytest.approx(-0.498)


def test_trailing_stop_follows_the_best_price_by_half_a_point() -> None:
    rows = [
        (5000.00, 5000.50, 5000.00, 5000.25),
        (5000.25, 5001.25, 5000.25, 5001.00),  # +1.00: trail on, stop 5001.25 - 0.50 = 5000.75
        (5001.00, 5001.50, 5001.00, 5001.25),  # touches the target only; best 5001.50 -> stop 5001.00
        (5001.25, 5001.25, 5000.75, 5000.75),  # stop 5001.00 hit
    ]
    out = run(rows)
    assert (out.exit_reason, out.exit_price, out.gross_pts) == ("trail", 5000.75, 0.50)
    assert out.pnl_pts == pytest.approx(0.252)
    assert (out.mae, out.mfe) == (-0.25, 1.25)


def test_short_is_the_mirror_image() -> None:
    # Short at 5000.00 - 1 tick = 4999.75; stop 5000.50; target 4998.50.
    rows = [(5000.00, 5000.25, 4999.50, 4999.75), (4999.75, 5000.75, 4999.50, 5000.50)]
    out = run(rows, direction=-1)
    assert out.entry_price == 4999.75
    assert (out.exit_reason, out.exit_price, out.gross_pts) == ("sl", 5000.75, -1.00)
    assert (out.mae, out.mfe) == (-1.00, 0.25)


def test_open_position_is_closed_after_the_flat_bar() -> None:
    rows = [(5000.00, 5000.50, 5000.00, 5000.25), (5000.25, 5000.50, 5000.00, 5000.50), (5000.50,) * 4]
    out = run(rows, flat_index=1)
    assert (out.exit_reason, out.exit_index, out.exit_price) == ("session_end", 1, 5000.25)


def test_daily_floor_closes_before_the_bracket_stop() -> None:
    # The day may lose 0.50 more (after costs): floor at 5000.25 - 0.50 = 4999.75, above the stop 4999.50.
    rows = [(5000.00, 5000.50, 5000.00, 5000.25), (5000.00, 5000.25, 4999.50, 4999.75)]
    out = run(rows, floor_pts=-0.50)
    assert (out.exit_reason, out.exit_price) == ("daily_stop", 4999.50)


def test_walk_in_pieces_equals_walk_whole() -> None:
    from mesdesk.engine.fills import open_position, outcome, walk

    rows = [
        (5000.00, 5000.50, 5000.00, 5000.25),
        (5000.25, 5001.25, 5000.25, 5001.00),
        (5001.00, 5001.50, 5001.00, 5001.25),
        (5001.25, 5001.25, 5000.75, 5000.75),
    ]
    path = PathBars.from_frame(ohlc_bars(START, rows), pd.Timedelta("1min"))
    whole = simulate_bracket(path, 0, 1, BR, EX)
    st = open_position(path, 0, 1, BR, EX)
    for end in range(1, 5):
        walk(st, path, end, BR, EX)
    assert outcome(st, EX) == whole
