"""The setups treat longs and shorts alike: a market and its mirror image give mirrored candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from setup_bars import random_walk_days

from mesdesk.setups.scalper import detect_candidates

DAYS = ["2025-03-05", "2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-03-12"]


def mirrored(bars: pd.DataFrame, pivot: float = 20000.0) -> pd.DataFrame:
    out = bars.copy()
    out["open"], out["close"] = pivot - bars["open"], pivot - bars["close"]
    out["high"], out["low"] = pivot - bars["low"], pivot - bars["high"]
    return out


@pytest.mark.parametrize("seed", [7, 8])
def test_mirror_image_gives_the_same_candidates_in_the_other_direction(seed: int) -> None:
    walk = random_walk_days(DAYS, seed=seed)
    up = detect_candidates(walk)
    down = detect_candidates(mirrored(walk))
    down["direction"] = np.where(down["direction"] == "long", "short", "long")
    key = ["bar_index", "setup_type", "direction"]
    up = up.sort_values(key).reset_index(drop=True)
    down = down.sort_values(key).reset_index(drop=True)
    assert len(up) > 30
    pd.testing.assert_frame_equal(up[key], down[key])
    for col in ("prefilter_score", "dist_vwap_atr", "dist_ema_atr", "dist_level_atr", "body_frac", "close_position"):
        np.testing.assert_allclose(up[col], down[col], atol=1e-6, err_msg=col)
