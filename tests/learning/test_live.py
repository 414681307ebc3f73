from __future__ import annotations

import pandas as pd

from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.decide.rules import RuleDecider
from mesdesk.decider import DecisionContext
from mesdesk.engine import EngineConfig
from mesdesk.engine.candidates import candidate_from_row, decision_times
from mesdesk.learn.counterfactual import follow
from mesdesk.learn.live import LiveLearningDecider, OutcomeFollower
from mesdesk.learn.memory import LearningMemory
from mesdesk.outcome import Outcome
from mesdesk.pathbars import PathBars
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates


def _market() -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = generate_days(3, SyntheticConfig(seed=5))
    return bars, detect_candidates(bars, ScalperSetupsConfig())


def test_live_outcome_matches_the_backtest_counterfactual_and_waits_for_its_exit() -> None:
    bars, cands = _market()
    config = EngineConfig()
    expected = {o.key: o for o in follow(cands, PathBars.from_frame(bars, pd.Timedelta(minutes=1)), config)}
    decided_ns = decision_times(cands, config.execution.batch_window_s)
    row = next(i for i in range(len(cands)) if candidate_from_row(cands, i).key in expected)
    cand = candidate_from_row(cands, row)
    want = expected[cand.key]
    decided = pd.Timestamp(int(decided_ns[row]), unit="ns", tz="UTC").to_pydatetime()
    follower = OutcomeFollower(config)
    follower.watch([cand], decided, taken=[])
    before_exit = want.resolved_at - pd.Timedelta(minutes=1)
    known = bars.loc[: pd.Timestamp(before_exit) - pd.Timedelta(minutes=1)]
    assert follower.update(known.iloc[-300:], before_exit) == []  # the exit bar has not closed yet
    assert len(follower) == 1
    known = bars.loc[: pd.Timestamp(want.resolved_at) - pd.Timedelta(minutes=1)]
    [got] = follower.update(known.iloc[-300:], want.resolved_at)
    assert got.pnl_pts == want.pnl_pts
    assert got.resolved_at == want.resolved_at
    assert got.counterfactual
    assert len(follower) == 0


def test_live_decider_stores_what_it_learns_and_forwards_attach() -> None:
    bars, cands = _market()
    config = EngineConfig()
    stored: list[Outcome] = []
    decider = LiveLearningDecider(RuleDecider(), LearningMemory(), config, on_outcomes=stored.extend)
    decided_ns = decision_times(cands, config.execution.batch_window_s)
    for i in range(len(cands)):
        now = pd.Timestamp(int(decided_ns[i]), unit="ns", tz="UTC")
        recent = bars.loc[: now - pd.Timedelta(minutes=1)].iloc[-240:]
        decider.decide([candidate_from_row(cands, i)], DecisionContext(now=now.to_pydatetime(), recent_bars=recent))
    assert stored, "candidates shown earlier resolve while later ones are decided"
    assert all(o.resolved_at <= pd.Timestamp(int(decided_ns[-1]), unit="ns", tz="UTC") for o in stored)
    assert decider.learning.memory.resolved_count == len(stored)
    assert decider.name == "rules+learning"
    decider.attach(object())  # a base without attach: nothing to forward, no error
