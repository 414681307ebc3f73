"""The prompt carries only what is known at the decision time, in canonical bytes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mesdesk.decide.prompt import build_prompt
from mesdesk.decider import DecisionContext

from .factories import T0, candidate, context


def test_prompt_holds_only_bars_closed_at_the_decision_time() -> None:
    ctx = context(now=T0 + timedelta(seconds=30))  # 15:45:30 UTC: the 15:44 bar closed at 15:45
    doc = json.loads(build_prompt([candidate()], ctx).user)
    market = doc["market"]
    assert market["recent_ohlcv_ct"][-1][0] == "09:44"  # CT open time of the last closed bar
    assert market["bars"] == 79  # the bar opened 15:45 UTC closes 15:46: not known yet


def test_prompt_is_identical_whatever_bars_follow() -> None:
    ctx = context()
    truncated = DecisionContext(now=ctx.now, recent_bars=ctx.recent_bars.iloc[:-1], memory={})
    assert build_prompt([candidate()], ctx).user == build_prompt([candidate()], truncated).user


def test_candidate_after_the_decision_time_is_refused() -> None:
    with pytest.raises(ValueError, match="after the decision time"):
        build_prompt([candidate(T0 + timedelta(minutes=5))], context())


def test_batch_gets_ids_features_and_memory() -> None:
    c1, c2 = candidate(score=90.0), candidate(T0 - timedelta(minutes=1), score=77.5)
    memory = {c1.key: {"fingerprint": {"status": "gold", "samples": 45, "win_rate": 84.44444}, "hard_negative": False}}
    prompt = build_prompt([c1, c2], context(memory=memory))
    doc = json.loads(prompt.user)
    assert prompt.ids == ("c1", "c2")
    assert [c["prefilter_score"] for c in doc["candidates"]] == [90.0, 77.5]
    assert doc["candidates"][0]["memory"]["fingerprint"]["win_rate"] == 84.4444
    assert doc["candidates"][1]["memory"] == {}
    assert doc["candidates"][0]["time_ct"] == "2025-01-20T09:45:00"
    assert doc["decision_time_ct"] == "2025-01-20T09:45:30"
