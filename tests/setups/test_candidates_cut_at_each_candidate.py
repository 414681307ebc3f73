"""Point in time, cut right after candidate bars of every setup and direction.

The cuts of test_candidates_point_in_time.py fall at a handful of bars; a peek at the bar after the
candidate (e.g. "the next close stays above VWAP") changes only a few rows and slipped through them.
Here the input ends exactly at the completing bar of up to 8 candidates per setup and direction: each
must already be there, with the same row, with no later bar in the input.
"""

from __future__ import annotations

import pandas as pd
import pytest
from setup_bars import random_walk_days

from mesdesk.setups.scalper import detect_candidates

DAYS = ["2025-03-05", "2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-03-12"]


@pytest.fixture(scope="module", name="walk")
def fixture_walk() -> pd.DataFrame:
    return random_walk_days(DAYS, seed=7)


@pytest.mark.parametrize("setup", ["ORB_retest_go", "EMA20_pullback", "VWAP_rejection"])
def test_each_candidate_exists_when_the_input_ends_at_its_bar(walk: pd.DataFrame, setup: str) -> None:
    full = detect_candidates(walk)
    rows = full[full["setup_type"] == setup]
    picks = pd.concat([g.iloc[:: max(1, len(g) // 8)].head(8) for _, g in rows.groupby("direction")])
    assert len(picks) >= 2
    for bar in sorted(set(picks["bar_index"])):
        part = detect_candidates(walk.iloc[: bar + 1])
        t = walk.index[bar] + pd.Timedelta(minutes=1)
        pd.testing.assert_frame_equal(part, full[full["ts"] <= t].reset_index(drop=True))
