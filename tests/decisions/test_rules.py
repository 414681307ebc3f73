"""The rule decider: its answer per score, one Decision per distinct answer, and a changed threshold."""

from __future__ import annotations

import math

import numpy as np

from mesdesk.decide.rules import NO_GATE, RuleDecider
from mesdesk.model import DecisionStatus


def test_each_score_gets_the_rule_and_its_reason() -> None:
    rules = RuleDecider(75.0)
    for score in np.linspace(0.0, 100.0, 401).tolist() + [74.49, 74.5, 75.0, -0.0, math.nan]:
        answer = rules.decide_score(score)
        take = score >= 75.0
        assert answer.take is take
        assert answer.status is (DecisionStatus.TAKE if take else DecisionStatus.SKIP)
        assert answer.reason == f"prefilter {score:.0f} {'>=' if take else '<'} 75; {NO_GATE}"
        assert answer.confidence is None
        assert answer.source == "rules"


def test_scores_with_the_same_reason_share_one_decision() -> None:
    rules = RuleDecider(75.0)
    assert rules.decide_score(80.2) is rules.decide_score(79.7)  # both read "prefilter 80 >= 75"
    assert rules.decide_score(74.6) is not rules.decide_score(75.2)  # "75 <" (a skip) and "75 >=" (a take)
    assert rules.decide_score(74.6).take is False
    assert rules.decide_score(75.2).take is True


def test_a_changed_threshold_is_not_answered_from_the_old_one() -> None:
    rules = RuleDecider(75.0)
    assert rules.decide_score(80.0).take
    rules.threshold = 85.0
    answer = rules.decide_score(80.0)
    assert not answer.take
    assert answer.reason == f"prefilter 80 < 85; {NO_GATE}"
