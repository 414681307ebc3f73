from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from mesdesk.decide.rules import RuleDecider
from mesdesk.decider import DecisionContext
from mesdesk.engine.config import EngineConfig
from mesdesk.learn.counterfactual import follow
from mesdesk.learn.decider import LearningDecider
from mesdesk.learn.evaluate import Scored, walk_forward
from mesdesk.learn.memory import LearningMemory
from mesdesk.model import Candidate, Direction, SetupType
from mesdesk.outcome import Outcome
from mesdesk.pathbars import PathBars
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates


def random_walk_rth(days: int, seed: int) -> pd.DataFrame:
    """1-minute RTH bars (08:30-15:00 CT) of a driftless random walk on the tick: no edge anywhere."""
    rng = np.random.default_rng(seed)
    frames = []
    day = pd.Timestamp("2025-09-15")
    price = 6600.0
    made = 0
    while made < days:
        if day.dayofweek < 5:
            idx = pd.date_range(day + pd.Timedelta(hours=8, minutes=30), periods=390, freq="1min", tz="America/Chicago")
            steps = rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=390, p=[0.1, 0.25, 0.3, 0.25, 0.1])
            close = price + np.cumsum(steps)
            open_ = np.concatenate(([price], close[:-1]))
            wick = rng.choice([0.0, 0.25, 0.5], size=(2, 390), p=[0.4, 0.4, 0.2])
            volume = rng.integers(50, 500, size=390) * np.where(np.arange(390) < 30, 3, 1)
            frames.append(
                pd.DataFrame(
                    {
                        "open": open_,
                        "high": np.maximum(open_, close) + wick[0],
                        "low": np.minimum(open_, close) - wick[1],
                        "close": close,
                        "volume": volume,
                    },
                    index=idx.tz_convert("UTC").rename("ts"),
                )
            )
            price = float(close[-1])
            made += 1
        day += pd.Timedelta(days=1)
    out = pd.concat(frames)
    out.index = out.index.as_unit("ns")
    return out


@pytest.fixture(scope="module", name="market")
def fixture_market() -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = random_walk_rth(24, seed=11)
    return bars, detect_candidates(bars, ScalperSetupsConfig())


def test_counterfactuals_use_the_engines_bracket_and_resolve_at_the_exit(
    market: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    bars, cands = market
    path = PathBars.from_frame(bars, pd.Timedelta(minutes=1))
    outs = follow(cands, path, EngineConfig())
    assert outs, "a random walk still produces setups"
    for o in outs:
        assert o.resolved_at > o.decided_at
        assert o.counterfactual
        # a loss is at most the stop plus a tick of slippage and costs; a win at most the target
        assert -1.3 <= o.pnl_pts <= 1.25
    cut = outs[len(outs) // 2].decided_at
    cut_ns = int(pd.Timestamp(cut).value)
    early = follow(cands, path, EngineConfig(), known_until_ns=cut_ns)
    assert all(o.resolved_at <= cut for o in early)
    assert {o.key for o in early} <= {o.key for o in outs}


def test_taken_candidates_are_not_counterfactual(market: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, cands = market
    path = PathBars.from_frame(bars, pd.Timedelta(minutes=1))
    first = follow(cands, path, EngineConfig())[0]
    again = follow(cands, path, EngineConfig(), taken=[first.key])
    assert next(o for o in again if o.key == first.key).counterfactual is False


def test_learning_cannot_invent_an_edge_on_a_market_without_one(market: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, cands = market
    report = walk_forward(bars, cands, RuleDecider, train_days=8, test_days=4)
    assert report.folds >= 3
    assert report.off.trades > 0
    # Out of sample, with learning on, no significant positive expectancy may appear.
    assert report.on.trades == 0 or report.on.expectancy_low <= 0.0
    assert report.on.trades <= report.off.trades + report.folds * 4 * 6


def test_vetoed_candidate_is_answered_by_learning_and_never_reaches_the_model() -> None:
    t0 = datetime(2025, 9, 16, 14, 0, tzinfo=UTC)
    feats = {"dist_vwap_atr": 0.1, "dist_ema_atr": 0.1, "minutes_since_open": 30.0}
    mem = LearningMemory()
    for i in range(12):
        mem.add(
            Outcome(
                f"o{i}",
                "VWAP_rejection",
                "short",
                "rth_a",
                t0 - timedelta(hours=30, minutes=i),
                t0 - timedelta(hours=29, minutes=i),
                -1.2,
                True,
                {**feats, "prefilter_score": 80.0, "volume_multiple": 1.0},
            )
        )

    class Counting(RuleDecider):
        asked = 0

        def decide(self, candidates, context):  # type: ignore[no-untyped-def]
            Counting.asked += len(candidates)
            return super().decide(candidates, context)

    cand = Candidate(t0, SetupType.VWAP_REJECTION, Direction.SHORT, 6600.0, 80.0, 1.0, 3.0, "rth_a", t0.date(), feats)
    wrapped = LearningDecider(Counting(), mem)
    [d] = wrapped.decide([cand], DecisionContext(now=t0, recent_bars=pd.DataFrame()))
    assert not d.take
    assert d.source == "learning"
    assert "hard negative o" in d.reason
    assert Counting.asked == 0


def test_scored_intervals_are_hand_checkable() -> None:
    s = Scored.of(np.array([1.0, -1.0, 1.0, -1.0]))
    assert s.trades == 4
    assert s.win_rate == 50.0
    assert s.expectancy == 0.0
    assert s.expectancy_low == pytest.approx(-1.8371, abs=1e-3)  # t(0.975, 3) * 1.1547 / 2
    assert s.net_pts == 0.0
