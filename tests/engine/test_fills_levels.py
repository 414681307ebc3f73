"""The generalisations the scanner's plan needs from the fills: quoted levels, exact comparison,
the MFE of a stopped bar, and a named flat exit (hand-checked; no slippage or commission here).

Long entry at the 09:00 bar's open 5000.00; the short walks the same bars.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mesdesk.engine import BracketConfig, ExecutionConfig, PathBars
from mesdesk.engine.fills import StopBarMfe, open_position, outcome, walk

from .factories import ct, ohlc_bars

START = ct("2025-03-11", "09:00")
FIXED = BracketConfig(breakeven_at_pts=None, trail_after_pts=None)
GROSS = ExecutionConfig(slippage_ticks=0, commission_usd_per_side=0.0)


def path_of(rows: list[tuple[float, float, float, float]]) -> PathBars:
    return PathBars.from_frame(ohlc_bars(START, rows), pd.Timedelta("1min"))


def close_of(minute: int) -> int:
    return (START + pd.Timedelta(minutes=minute + 1)).value


def test_quoted_levels_replace_the_bracket_offsets_for_both_sides() -> None:
    rows = [
        (5000.00, 5000.25, 4999.75, 5000.00),
        (5000.00, 5001.75, 5000.00, 5001.50),  # beyond the bracket's own 1.25 target, short of 5002.00
        (5001.50, 5002.25, 5001.25, 5002.00),  # through 5002.00
    ]
    path = path_of(rows)
    long = open_position(path, 0, 1, FIXED, GROSS, stop_price=4999.00, target_price=5002.00)
    walk(long, path, len(path), FIXED, GROSS)
    out = outcome(long, GROSS)
    assert (out.exit_reason, out.exit_price, out.gross_pts, out.exit_ts_ns) == ("tp", 5002.00, 2.00, close_of(2))
    short = open_position(path, 0, -1, FIXED, GROSS, stop_price=5002.00, target_price=4998.00)
    walk(short, path, len(path), FIXED, GROSS)
    out = outcome(short, GROSS)
    # 5002.00 is only touched at bar 2's high 5002.25 (a stop triggers at a touch): stopped there.
    assert (out.exit_reason, out.exit_price, out.gross_pts, out.exit_ts_ns) == ("sl", 5002.00, -2.00, close_of(2))


def test_exact_comparison_counts_a_high_a_hair_above_the_level_as_through() -> None:
    rows = [(5000.00, 5000.25, 4999.75, 5000.00), (5000.00, 5001.50, 5000.00, 5001.25)]
    path = path_of(rows)
    level = 5001.4999999999  # a computed level 1e-10 under the bar's high
    tolerant = walk(
        open_position(path, 0, 1, FIXED, GROSS, stop_price=4999.0, target_price=level), path, 2, FIXED, GROSS
    )
    assert tolerant.exit_reason == "open"  # within the 1e-9 float tolerance: a touch, not through
    exact = open_position(path, 0, 1, FIXED, GROSS, stop_price=4999.0, target_price=level, tolerance=0.0)
    assert walk(exact, path, 2, FIXED, GROSS).exit_reason == "tp"


@pytest.mark.parametrize(("rule", "mfe"), [("high", 2.00), ("open", 0.50)])
def test_a_stopped_bar_counts_its_high_or_only_its_open_toward_the_mfe(rule: StopBarMfe, mfe: float) -> None:
    rows = [
        (5000.00, 5000.25, 4999.75, 5000.00),
        (5000.50, 5002.00, 4998.75, 4999.00),  # stop 4999.00 and target 5001.50 in one bar: stop first
    ]
    path = path_of(rows)
    st = open_position(path, 0, 1, FIXED, GROSS, stop_price=4999.00, target_price=5001.50, mfe_in_stop_bar=rule)
    out = outcome(walk(st, path, 2, FIXED, GROSS), GROSS)
    assert (out.exit_reason, out.exit_price, out.ambiguous) == ("sl", 4999.00, True)
    assert (out.mfe, out.mae) == (mfe, -1.00)


def test_the_flat_exit_carries_the_callers_name_at_the_flat_bars_close() -> None:
    rows = [(5000.00, 5000.25, 4999.75, 5000.00), (5000.00, 5000.50, 5000.00, 5000.25), (5000.25,) * 4]
    path = path_of(rows)
    st = open_position(path, 0, 1, FIXED, GROSS, stop_price=4999.00, target_price=5002.00)
    out = outcome(walk(st, path, 3, FIXED, GROSS, flat_index=1, flat_reason="expiry"), GROSS)
    assert (out.exit_reason, out.exit_index, out.exit_price, out.exit_ts_ns) == ("expiry", 1, 5000.25, close_of(1))
