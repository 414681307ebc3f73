"""ABC detection is the same for a market and its mirror image (prices negated): longs become shorts.

A bar that is both a swing high and a swing low (an outside bar) used to be read "high first" for
both directions, so a short could fire with C on an outside bar whose low had already broken B while
its mirror-image long did not fire; the docs promise no signal through such a bar.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.indicators import pivots
from mesdesk.setups.measured_move import MeasuredMoveConfig, detect_measured_moves
from mesdesk.timeframes import Timeframe

from .builders import bullish_bars, mirror
from .test_measured_move import random_walk_bars

K2 = MeasuredMoveConfig(swing_order=2)


def legs(sig: pd.DataFrame) -> list[tuple[int, int, int, str]]:
    return sorted(zip(sig["a_idx"], sig["b_idx"], sig["c_idx"], sig["direction"], strict=True))


def flip(rows: list[tuple[int, int, int, str]]) -> list[tuple[int, int, int, str]]:
    return sorted((a, b, c, "short" if d == "long" else "long") for a, b, c, d in rows)


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_mirror_image_gives_the_mirror_signals(seed: int) -> None:
    bars = random_walk_bars(3000, seed=seed)
    config = MeasuredMoveConfig(swing_order=2, min_rr=0.0)
    up = detect_measured_moves(bars, Timeframe.M5, config)
    down = detect_measured_moves(mirror(bars, pivot=20000.0), Timeframe.M5, config)
    assert len(up) > 20
    assert legs(down) == flip(legs(up))


def test_short_with_c_on_an_outside_bar_that_broke_b_is_not_emitted() -> None:
    bars = mirror(bullish_bars())  # short: A 200 (bar 3), B 190 (bar 8), C 195.5 (bar 12), confirmed bar 14
    bars.iloc[12, bars.columns.get_loc("low")] = 189.0  # bar 12 also trades below B: a swing low too
    piv = pivots(bars["high"].to_numpy(), bars["low"].to_numpy(), 2)
    assert {(12, True), (12, False)} <= set(zip(piv.index.tolist(), piv.is_high.tolist(), strict=True))
    assert detect_measured_moves(bars, Timeframe.M5, K2).empty
    up = bullish_bars()
    up.iloc[12, up.columns.get_loc("high")] = 111.0  # the mirror image
    assert detect_measured_moves(up, Timeframe.M5, K2).empty
    assert np.isfinite(bars["close"]).all()
