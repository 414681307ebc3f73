"""LLM deciders under the guard: every failure is named, the fallback decides, the budget counts each request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from mesdesk.config import load_settings
from mesdesk.decide.anthropic_decider import AnthropicDecider
from mesdesk.decide.calibration import FixedThreshold
from mesdesk.decide.guard import guarded
from mesdesk.decide.llm_decider import LLMDecider
from mesdesk.decide.local import LocalDecider
from mesdesk.decide.openai_decider import OpenAIDecider
from mesdesk.errors import DecisionError, ProviderError
from mesdesk.llm.budget import Budget
from mesdesk.llm.cache import DecisionCache
from mesdesk.model import DecisionStatus
from mesdesk.store.budget import LLMCall

from .factories import T0, answer_all, candidate, context
from .fakes import FakeLLM

PROVIDERS = ["openai", "anthropic"]


def _decider(provider: str, fake: FakeLLM, retries: int = 0, threshold: float = 85.0) -> LLMDecider:
    settings = load_settings(
        OPENAI_API_KEY="sk-test",
        ANTHROPIC_API_KEY="sk-ant-test",
        MESDESK_LLM_MAX_RETRIES=retries,
        MESDESK_OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        MESDESK_ANTHROPIC_BASE_URL="http://127.0.0.1:9",
    )
    cls: Any = OpenAIDecider if provider == "openai" else AnthropicDecider
    decider: LLMDecider = cls(settings, http_client=fake.client(), policy=FixedThreshold(threshold))
    decider.client._sleep = lambda s: None  # type: ignore[attr-defined]  # no real waits in tests
    return decider


@pytest.mark.parametrize("provider", PROVIDERS)
def test_valid_answer_decides_the_whole_batch_in_one_call(provider: str, store: Engine) -> None:
    fake = FakeLLM(provider, answer=answer_all("take", 90))
    budget = Budget(store, 5)
    decider = guarded(_decider(provider, fake), LocalDecider(), budget, DecisionCache(store, "off"))
    batch = [candidate(), candidate(T0 - timedelta(seconds=20), score=91.0)]
    out = decider.decide(batch, context())
    assert len(fake.requests) == 1
    assert [d.status for d in out] == [DecisionStatus.TAKE, DecisionStatus.TAKE]
    assert [d.take for d in out] == [True, True]
    assert out[0].reason == "fake c1"
    assert out[0].source.startswith(provider)
    assert out[0].cost_usd > 0
    assert out[1].cost_usd == 0.0
    status = budget.status(T0)
    assert status.calls_used == 1
    assert status.cost_usd == pytest.approx(out[0].cost_usd)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_take_below_the_threshold_becomes_a_skip_that_says_why(provider: str) -> None:
    fake = FakeLLM(provider, answer=answer_all("take", 84))
    out = _decider(provider, fake, threshold=85.0).decide([candidate()], context())
    assert (out[0].take, out[0].status) == (False, DecisionStatus.SKIP)
    assert out[0].reason == "said take at 84 < threshold 85: fake c1"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("step", "status"),
    [
        ("off_schema", DecisionStatus.PARSE_ERROR),
        ("refusal", DecisionStatus.PROVIDER_ERROR),
        ("429", DecisionStatus.PROVIDER_ERROR),
        ("500", DecisionStatus.PROVIDER_ERROR),
        ("timeout", DecisionStatus.TIMEOUT),
        ("not_json", DecisionStatus.PROVIDER_ERROR),
    ],
)
def test_each_failure_is_named_and_the_fallback_decides(
    provider: str, step: str, status: DecisionStatus, store: Engine
) -> None:
    fake = FakeLLM(provider, answer=answer_all(), script=[step])
    budget = Budget(store, 5)
    local = LocalDecider()
    batch = [candidate(score=90.0), candidate(T0 - timedelta(seconds=5), score=60.0)]
    out = guarded(_decider(provider, fake), local, budget).decide(batch, context())
    expected = local.decide(batch, context())
    assert [d.status for d in out] == [status, status]
    assert [d.take for d in out] == [e.take for e in expected] == [True, False]  # the rule: score 90 vs 60
    assert all(d.fallback == "local" for d in out)
    assert all(d.source.startswith(provider) for d in out)
    assert out[0].reason.startswith(f"{status.value}: ")
    assert budget.status(T0).calls_used == 1  # the failed request was sent, so it counts
    answered = step in ("off_schema", "refusal", "not_json")  # an answer came back: its tokens were billed
    assert (out[0].cost_usd > 0) == answered
    assert (budget.status(T0).cost_usd > 0) == answered


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_retry_takes_a_budget_slot_and_is_settled(provider: str, store: Engine) -> None:
    fake = FakeLLM(provider, answer=answer_all("skip", 40), script=["429", "500", "ok"])
    budget = Budget(store, 5)
    out = guarded(_decider(provider, fake, retries=2), LocalDecider(), budget).decide([candidate()], context())
    assert out[0].status is DecisionStatus.SKIP
    assert budget.status(T0).calls_used == 3
    with store.connect() as conn:
        rows = [r.status for r in conn.execute(select(LLMCall.__table__).order_by(LLMCall.__table__.c.slot))]
    assert rows == ["rate_limit", "server", "ok"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_over_budget_sends_nothing_and_says_over_budget(provider: str, store: Engine) -> None:
    fake = FakeLLM(provider, answer=answer_all())
    budget = Budget(store, 2)
    decider = guarded(_decider(provider, fake), LocalDecider(), budget)
    for i in range(2):
        assert decider.decide([candidate(T0 - timedelta(minutes=i))], context())[0].status is DecisionStatus.TAKE
    out = decider.decide([candidate(T0 - timedelta(minutes=5))], context())
    assert out[0].status is DecisionStatus.OVER_BUDGET
    assert out[0].fallback == "local"
    assert "daily cap reached: 2/2" in out[0].reason
    assert len(fake.requests) == 2
    assert budget.status(T0).paused


def test_retries_stop_at_the_cap(store: Engine) -> None:
    fake = FakeLLM("openai", answer=answer_all(), script=["500"])
    budget = Budget(store, 2)
    out = guarded(_decider("openai", fake, retries=4), LocalDecider(), budget).decide([candidate()], context())
    assert out[0].status is DecisionStatus.OVER_BUDGET
    assert len(fake.requests) == 2
    assert budget.status(T0).calls_used == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unguarded_decider_raises_instead_of_skipping(provider: str) -> None:
    with pytest.raises(DecisionError, match="off the schema"):
        _decider(provider, FakeLLM(provider, answer=answer_all(), script=["off_schema"])).decide(
            [candidate()], context()
        )
    with pytest.raises(ProviderError):
        _decider(provider, FakeLLM(provider, answer=answer_all(), script=["500"])).decide([candidate()], context())


def test_answer_missing_a_candidate_is_a_parse_error(store: Engine) -> None:
    def one_only(body: dict[str, Any]) -> dict[str, Any]:
        return {"decisions": [{"id": "c1", "action": "take", "confidence": 95, "reason": "x"}]}

    fake = FakeLLM("openai", answer=one_only)
    batch = [candidate(), candidate(T0 - timedelta(seconds=3))]
    out = guarded(_decider("openai", fake), LocalDecider(), Budget(store, 5)).decide(batch, context())
    assert {d.status for d in out} == {DecisionStatus.PARSE_ERROR}
    assert "missing ['c2']" in out[0].reason
    assert out[0].cost_usd > 0  # the invalid answer was paid for, and the journal says so


def test_confidence_out_of_range_is_a_parse_error() -> None:
    fake = FakeLLM("anthropic", answer=answer_all("take", 140))
    with pytest.raises(DecisionError, match="confidence"):
        _decider("anthropic", fake).decide([candidate()], context())


def test_threshold_and_calibration_follow_the_outcomes_known_at_the_decision() -> None:
    from mesdesk.decide.calibration import Calibration
    from mesdesk.outcome import Outcome

    cal = Calibration()
    start = T0 - timedelta(days=10)
    # 30 trades at stated 90, 15 wins: trailing-20 win rate 0.5 -> threshold 91; bin 90-100 observed 50 %
    cal.observe(
        Outcome(
            f"o{i}",
            "",
            "",
            "",
            start + timedelta(hours=i),
            start + timedelta(hours=i, minutes=5),
            1.0 if i % 2 == 0 else -0.75,
            counterfactual=False,
            confidence=90.0,
        )
        for i in range(30)
    )
    fake = FakeLLM("openai", answer=answer_all("take", 90))
    decider = _decider("openai", fake)
    decider.policy = cal
    out = decider.decide([candidate()], context())
    assert out[0].take is False
    assert out[0].reason.startswith("said take at 90 < threshold 91: ")
    assert out[0].calibrated == pytest.approx(50.0)
    # at a time before those outcomes resolved, nothing is known: base threshold, no calibration
    early = T0 - timedelta(days=11)
    early_out = decider.decide([candidate(early - timedelta(seconds=30))], context(early))
    assert early_out[0].take is True
    assert early_out[0].calibrated is None


def test_an_unreachable_budget_store_sends_nothing(tmp_path: Any) -> None:
    from mesdesk.store.base import make_engine

    broken = make_engine(f"sqlite:///{tmp_path}/never-migrated.sqlite")  # no ledger table
    fake = FakeLLM("openai", answer=answer_all())
    out = guarded(_decider("openai", fake), LocalDecider(), Budget(broken, 5)).decide([candidate()], context())
    assert out[0].status is DecisionStatus.OVER_BUDGET
    assert "budget store unavailable, nothing sent" in out[0].reason
    assert fake.requests == []
