"""The shipped example user setup runs end to end: registry, engine, journal, learning and lookahead."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import EngineConfig, run_backtest
from mesdesk.learn.counterfactual import follow
from mesdesk.pathbars import PathBars
from mesdesk.services.lookahead import lookahead_setups
from mesdesk.setups.registry import resolve_setups
from mesdesk.timeframes import Timeframe

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "setups" / "opening_range_breakout.py"
SPEC = f"{EXAMPLE}:opening_range_breakout"


@pytest.fixture(scope="module", name="bars")
def fixture_bars() -> pd.DataFrame:
    return generate_days(10, SyntheticConfig(seed=7))


def test_example_candidates_are_first_closes_beyond_the_opening_range(bars: pd.DataFrame) -> None:
    frame = resolve_setups([SPEC], ["opening_range_breakout.range_minutes=15"]).detect(bars)
    assert len(frame) > 0
    assert set(frame["setup_type"]) == {"opening_range_breakout"}
    assert frame.groupby(["trading_day", "direction"]).size().max() == 1  # once per direction per day
    closes = bars["close"].to_numpy()
    for row in frame.itertuples():
        beyond = closes[row.bar_index] - row.setup_level
        assert beyond > 0 if row.direction == "long" else beyond < 0
        assert row.range_width_pts > 0


def test_example_runs_through_the_engine_with_the_builtins(bars: pd.DataFrame) -> None:
    setups = resolve_setups(["ORB_retest_go", SPEC], ["prefilter.threshold=60"])
    candidates = setups.detect(bars, Timeframe.M1)
    result = run_backtest(bars, candidates, RuleDecider(threshold=60.0), EngineConfig())
    journal, trades = result.journal, result.trades
    assert len(journal) == len(candidates)  # every candidate leaves a journal row
    mine = journal[journal["setup"] == "opening_range_breakout"]
    assert len(mine) > 0
    assert "range_width_pts" in journal.columns  # its own feature travels with it
    assert (trades["setup"] == "opening_range_breakout").sum() > 0
    taken = trades[trades["setup"] == "opening_range_breakout"].iloc[0]
    assert taken["entry_ts"] > taken["ts"]  # filled after the candidate was known


def test_example_outcomes_feed_learning(bars: pd.DataFrame) -> None:
    candidates = resolve_setups([SPEC]).detect(bars)
    outcomes = follow(candidates, PathBars.from_frame(bars, pd.Timedelta(minutes=1)), EngineConfig())
    assert len(outcomes) == len(candidates)
    assert {o.setup for o in outcomes} == {"opening_range_breakout"}
    assert all(o.resolved_at > o.decided_at for o in outcomes)
    assert all(o.key.endswith(("|opening_range_breakout|long", "|opening_range_breakout|short")) for o in outcomes)


def test_example_is_clean_under_lookahead(bars: pd.DataFrame) -> None:
    report = lookahead_setups(bars, resolve_setups([SPEC]), Timeframe.M1, cuts=20, seed=0)
    assert report.candidates > 5
    assert report.clean, report.leaks[:3]
