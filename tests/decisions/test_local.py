"""The local decider: rule start, point-in-time fit, refit once per trading day, hard negatives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mesdesk.decide.local import LocalDecider, LocalDeciderConfig, candidate_features
from mesdesk.model import DecisionStatus
from mesdesk.outcome import Outcome

from .factories import T0, candidate, context

DAY0 = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)


def _history(n: int, *, start: datetime = DAY0, flip: bool = False) -> list[Outcome]:
    """Outcomes where a high prefilter score wins (or loses, with flip), one every 30 minutes."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        score = float(rng.uniform(60, 100))
        win = (score > 80) != flip
        c = candidate(start + timedelta(minutes=30 * i), score=score)
        out.append(
            Outcome(
                key=f"h{i}",
                setup="",
                direction="",
                session="",
                decided_at=c.ts,
                resolved_at=c.ts + timedelta(minutes=10),
                pnl_pts=1.0 if win else -0.75,
                counterfactual=False,
                features=candidate_features(c),
            )
        )
    return out


def test_rule_decides_without_history() -> None:
    local = LocalDecider()
    out = local.decide(
        [candidate(score=82.0, volume_multiple=1.3), candidate(score=82.0, volume_multiple=1.0)], context()
    )
    assert [d.take for d in out] == [True, False]
    assert out[0].reason.startswith("rule (no history, n=0): prefilter 82 >= 80, volume x1.30 >= 1.20")
    assert out[1].status is DecisionStatus.SKIP
    assert not local.fitted


def test_model_learns_from_resolved_outcomes() -> None:
    local = LocalDecider()
    local.observe(_history(200))
    out = local.decide([candidate(score=97.0), candidate(score=62.0)], context())
    assert local.fitted
    assert [d.take for d in out] == [True, False]
    assert out[0].confidence > 80.0 > 20.0 > out[1].confidence
    assert out[0].reason.startswith("model P(win)=")


def test_outcomes_resolved_after_the_decision_are_not_used() -> None:
    # the same history, all resolved after T0: the decider must still be on its rule
    late = [replace(o, resolved_at=T0 + timedelta(days=1), confidence=None, source="") for o in _history(200)]
    with_future = LocalDecider()
    with_future.observe(late)
    without = LocalDecider()
    batch = [candidate(score=97.0), candidate(score=62.0, volume_multiple=1.5)]
    assert with_future.decide(batch, context()) == without.decide(batch, context())
    assert not with_future.fitted


def test_refit_once_per_trading_day() -> None:
    local = LocalDecider()
    local.observe(_history(200))
    local.decide([candidate()], context())
    # flipped evidence arrives the same day: the fit of the day stays
    local.observe(_history(400, start=DAY0 + timedelta(days=5), flip=True))
    same_day = local.decide([candidate(score=97.0)], context(T0 + timedelta(minutes=10)))
    assert same_day[0].take is True
    next_day = T0 + timedelta(days=1)
    flipped = local.decide([candidate(next_day - timedelta(seconds=30), score=97.0)], context(next_day))
    assert flipped[0].take is False


def test_hard_negative_is_skipped_with_its_reason() -> None:
    c = candidate(score=95.0)
    out = LocalDecider().decide([c], context(memory={c.key: {"hard_negative": True, "hard_negative_id": "hn_007"}}))
    assert out[0].take is False
    assert out[0].reason.startswith("hard negative hn_007; rule")


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="min_win_prob"):
        LocalDeciderConfig(min_win_prob=1.5)
