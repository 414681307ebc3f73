"""Fill rules the bracket tests left loose, hand-checked (MES, 1 tick slippage, 0.248 pt commission).

A long enters at the 09:00 bar's open 5000.00 + 1 tick = 5000.25 (stop 4999.50, target 5001.50 with
the seed's bracket). A short is the same path mirrored around 5000.00: prices p -> 10000 - p, high and
low swapped, so every price of the short's result is 10000 minus the long's and every point the same.
Each test asserts the exit TIME (which bar) as well as the price: a stop move applied one bar early
often exits at the same price, only sooner.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import BracketConfig, EngineConfig, ExecutionConfig, PathBars, RiskLimits, run_backtest
from mesdesk.engine.fills import BracketOutcome, simulate_bracket

from .factories import candidate_frame, ct, day_bars, ohlc_bars

START = ct("2025-03-11", "09:00")
Row = tuple[float, float, float, float]


def mirror(rows: Sequence[Row]) -> list[Row]:
    """The short's path: 10000 - price, high and low swapped."""
    return [(10000 - o, 10000 - lo, 10000 - h, 10000 - c) for o, h, lo, c in rows]


def run(rows: Sequence[Row], direction: int, br: BracketConfig | None = None) -> BracketOutcome:
    """Enter at bar 0's open (long +1 / short -1, mirrored rows) and walk the bracket."""
    for o, h, lo, c in rows:  # the factory does not validate: a bar written by hand must be a real bar
        assert lo <= min(o, c) <= max(o, c) <= h, (o, h, lo, c)
    path_rows = list(rows) if direction == 1 else mirror(rows)
    path = PathBars.from_frame(ohlc_bars(START, path_rows), pd.Timedelta("1min"))
    return simulate_bracket(path, 0, direction, br or BracketConfig(), ExecutionConfig())


def quoted(price: float, direction: int) -> float:
    """A long's price as the short's mirrored path quotes it."""
    return price if direction == 1 else 10000 - price


def close_of(minute: int) -> int:
    """Close time (ns UTC) of the bar opening `minute` minutes after 09:00 CT."""
    return (START + pd.Timedelta(minutes=minute + 1)).value


SIDES = pytest.mark.parametrize("direction", [1, -1], ids=["long", "short"])


@SIDES
def test_trail_starts_exactly_at_plus_one_point(direction: int) -> None:
    rows = [
        (5000.00, 5000.25, 5000.00, 5000.25),  # entry 5000.25
        (5000.25, 5001.25, 5000.25, 5001.00),  # best 5001.25 = +1.00 exactly (and +0.50: breakeven)
        (5001.00, 5001.00, 5000.75, 5000.75),  # trail stop 5001.25 - 0.50 = 5000.75: hit
    ]
    out = run(rows, direction)
    # Had the trail waited for more than +1.00, only breakeven (5000.25) would stand and this stays open.
    assert out.exit_reason == "trail"
    assert out.exit_price == quoted(5000.50, direction)  # 5000.75 minus one tick of slippage
    assert out.gross_pts == 0.25
    assert out.pnl_pts == pytest.approx(0.002)
    assert (out.exit_index, out.exit_ts_ns) == (2, close_of(2))


@SIDES
def test_trail_rounds_against_us_to_whole_steps_larger_than_a_tick(direction: int) -> None:
    # Steps of 0.75 (3 ticks), 0.50 behind the best price, from +1.00; target far away (+3.00).
    br = BracketConfig(tp_pts=3.0, trail_step_pts=0.75)
    rows = [
        (5000.00, 5000.25, 5000.00, 5000.25),  # entry 5000.25
        (5000.25, 5002.00, 5000.25, 5001.75),  # best 5002.00 = +1.75: best - 0.50 = +1.25 from entry
        (5001.75, 5001.75, 5001.00, 5001.25),  # whole 0.75 steps below +1.25: one -> stop 5001.00: hit
    ]
    out = run(rows, direction, br)
    # A tick-rounded trail (stop 5001.25) would fill at 5001.00; a step rounded to the nearest (+1.50,
    # stop 5001.75) would stop at this bar's open 5001.75 - 1 tick. Against us: 5001.00 - 1 tick.
    assert out.exit_reason == "trail"
    assert out.exit_price == quoted(5000.75, direction)
    assert out.gross_pts == 0.50
    assert (out.exit_index, out.exit_ts_ns) == (2, close_of(2))


@SIDES
def test_breakeven_takes_effect_from_the_next_bar_on_the_exit_time(direction: int) -> None:
    rows = [
        (5000.00, 5000.75, 5000.00, 5000.50),  # +0.50 reached, and the bar trades below the entry too
        (5000.50, 5000.75, 5000.50, 5000.75),  # nothing: the stop (now 5000.25) is not touched
        (5000.75, 5000.75, 5000.25, 5000.50),  # breakeven stop 5000.25 touched
    ]
    out = run(rows, direction)
    # Applied inside bar 0, the stop would have filled at the same 5000.00, two bars earlier.
    assert out.exit_reason == "be"
    assert out.exit_price == quoted(5000.00, direction)
    assert (out.exit_index, out.exit_ts_ns) == (2, close_of(2))


@SIDES
def test_trail_takes_effect_from_the_next_bar_on_the_exit_time(direction: int) -> None:
    br = BracketConfig(breakeven_at_pts=None)  # the trail alone: the stop stays at 4999.50 until it starts
    rows = [
        (5000.00, 5000.50, 5000.00, 5000.50),
        (5000.50, 5001.25, 5000.50, 5001.00),  # +1.00: trail to 5000.75 from bar 2; this low 5000.50 is below
        (5001.00, 5001.00, 5000.75, 5000.75),  # trail stop 5000.75 touched
    ]
    out = run(rows, direction, br)
    # Applied inside bar 1, the trail would have filled at the same 5000.50, one bar earlier.
    assert out.exit_reason == "trail"
    assert out.exit_price == quoted(5000.50, direction)
    assert (out.exit_index, out.exit_ts_ns) == (2, close_of(2))


@SIDES
def test_mfe_of_a_target_exit_is_clipped_to_the_target(direction: int) -> None:
    rows = [
        (5000.00, 5000.25, 5000.00, 5000.25),
        (5000.25, 5003.00, 5000.00, 5002.75),  # through the target 5001.50 up to 5003.00
    ]
    out = run(rows, direction)
    assert out.exit_reason == "tp"
    assert out.exit_price == quoted(5001.50, direction)
    assert (out.exit_index, out.exit_ts_ns) == (1, close_of(1))
    assert out.mfe == 1.25  # not the 2.75 the bar reached after the fill
    assert out.mae == -0.25  # the whole of bar 1 up to the fill counts: low 5000.00


@SIDES
def test_mfe_of_a_target_filled_at_a_gap_open_is_the_target(direction: int) -> None:
    br = BracketConfig(breakeven_at_pts=None, trail_after_pts=None)
    rows = [
        (5000.00, 5000.25, 5000.00, 5000.25),
        (5002.50, 5003.00, 4999.00, 4999.25),  # opens above 5001.50: filled there, the rest is after the exit
    ]
    out = run(rows, direction, br)
    assert (out.exit_reason, out.exit_price, out.ambiguous) == ("tp", quoted(5001.50, direction), False)
    assert out.exit_ts_ns == START.value + pd.Timedelta(minutes=1).value  # at that bar's open
    assert (out.mfe, out.mae) == (1.25, -0.25)  # bar 1's 5003.00 and 4999.00 came after the fill


BE_DAY = "2025-03-12"


def test_breakeven_exit_with_negative_net_is_a_scratch_in_the_day_counter_and_the_result() -> None:
    # Quiet bars at 5000.00 (high 5000.25, low 4999.75); longs enter at the candidate bar's open + 1 tick.
    # 08:40 long: +0.50 at 08:41, breakeven stop 5000.25 touched at 08:42 -> 5000.00: gross -0.25,
    #   net -0.498 after commission, exit reason "be": a scratch, not a loss.
    # 08:50 long: stopped at 08:51 -> 4999.25: net -1.248, a loss.
    # 09:00 long: refused, since the day stops after ONE loss; had the breakeven exit counted, the
    #   08:50 trade would have been refused instead.
    events = {
        "08:41": (5000.25, 5000.75, 5000.25, 5000.50),
        "08:42": (5000.50, 5000.50, 5000.25, 5000.25),
        "08:51": (5000.00, 5000.25, 4999.25, 4999.50),
        "09:01": (5000.00, 5001.75, 5000.00, 5001.50),
    }
    cands = candidate_frame([(ct(BE_DAY, t), "long", 5000.0) for t in ("08:40", "08:50", "09:00")])
    config = EngineConfig(execution=ExecutionConfig(batch_window_s=0), limits=RiskLimits(stop_after_losses=1))
    res = run_backtest(day_bars(BE_DAY, events), cands, RuleDecider(), config)
    assert list(res.journal["gate"]) == ["ok", "ok", "stop after 1 losses"]
    t = res.trades
    assert list(t["exit_reason"]) == ["be", "sl"]
    assert list(t["exit_price"]) == [5000.00, 4999.25]
    assert list(t["exit_ts"]) == [ct(BE_DAY, "08:43"), ct(BE_DAY, "08:52")]
    assert list(t["pnl_pts"]) == pytest.approx([-0.498, -1.248])
    assert list(t["result"]) == ["scratch", "loss"]
