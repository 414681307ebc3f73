"""Decisions are idempotent per candidate: a crash mid-request never costs a second slot or a trade."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from mesdesk.config import load_settings
from mesdesk.decide.calibration import FixedThreshold
from mesdesk.decide.guard import guarded, request_key
from mesdesk.decide.local import LocalDecider
from mesdesk.decide.openai_decider import OpenAIDecider
from mesdesk.llm.budget import Budget
from mesdesk.llm.cache import DecisionCache
from mesdesk.model import DecisionStatus
from mesdesk.runner.core import LATE_SOURCE, RecordingDecider
from mesdesk.store.budget import LLMCall
from mesdesk.store.runner_store import ServiceStore

from .factories import T0, answer_all, candidate, context
from .fakes import FakeLLM


def _openai(fake: FakeLLM) -> OpenAIDecider:
    settings = load_settings(OPENAI_API_KEY="sk-test", MESDESK_OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    return OpenAIDecider(settings, http_client=fake.client(), policy=FixedThreshold(85.0))


def _ledger(store: Engine) -> list[tuple[int, str, str, int]]:
    table = LLMCall.__table__
    with store.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.slot)).all()
    return [(r.slot, r.request_key, r.status, r.asks) for r in rows]


def _crash_mid_request(budget: Budget, key: str) -> None:
    """What a kill -9 between `mark_sending` and the answer leaves behind."""
    slot = budget.reserve(T0, provider="openai", model="gpt-5-mini", request_key=key)
    assert slot is not None
    budget.mark_sending(slot)


def test_a_restart_re_asks_in_the_slot_the_crash_left_in_flight(store: Engine) -> None:
    budget = Budget(store, 1)  # the crashed request holds the only slot of the day
    c = candidate()
    _crash_mid_request(budget, c.key)
    fake = FakeLLM("openai", answer=answer_all("take", 90))
    out = guarded(_openai(fake), LocalDecider(), budget, DecisionCache(store, "off")).decide([c], context())
    assert (out[0].status, out[0].take, out[0].fallback) == (DecisionStatus.TAKE, True, None)
    assert len(fake.requests) == 1
    assert _ledger(store) == [(1, c.key, "ok", 2)]  # one slot, asked twice in all


def test_a_slot_reserved_but_never_sent_is_released(store: Engine) -> None:
    budget = Budget(store, 1)
    crashed, other = candidate(), candidate(T0 + timedelta(minutes=5))
    assert budget.reserve(T0, request_key=crashed.key) is not None  # killed before mark_sending
    assert budget.release_unsent() == 1
    fake = FakeLLM("openai", answer=answer_all("take", 90))
    out = guarded(_openai(fake), LocalDecider(), budget).decide([other], context(other.ts))
    assert out[0].status is DecisionStatus.TAKE  # the freed slot was there to take
    assert _ledger(store) == [(1, other.key, "ok", 1)]


def test_an_unkeyed_reservation_is_never_released(store: Engine) -> None:
    budget = Budget(store, 2)
    assert budget.reserve(T0, purpose="forecast") is not None  # the forecast's own bookkeeping
    assert budget.release_unsent() == 0
    assert budget.status(T0).calls_used == 1


def test_an_answer_bought_before_the_crash_is_the_decision_not_a_cache_hit(store: Engine) -> None:
    c = candidate()
    fake = FakeLLM("openai", answer=answer_all("take", 90))
    first = guarded(_openai(fake), LocalDecider(), Budget(store, 5), DecisionCache(store, "record")).decide(
        [c], context()
    )
    # The kill came after the answer was cached and before its slot was settled.
    table = LLMCall.__table__
    with store.begin() as conn:
        conn.execute(table.update().values(status="sending", input_tokens=0, output_tokens=0, cost_usd=0.0))
    again = guarded(_openai(fake), LocalDecider(), Budget(store, 5), DecisionCache(store, "record")).decide(
        [c], context()
    )
    assert len(fake.requests) == 1  # nothing sent again
    # Same source (not "(cache)"), same cost: the journal cannot tell; only the latency is not kept.
    assert [replace(d, latency_ms=0.0) for d in again] == [replace(d, latency_ms=0.0) for d in first]
    assert [(s, k, st) for s, k, st, _ in _ledger(store)] == [(1, c.key, "ok")]
    assert Budget(store, 5).status(T0).cost_usd == pytest.approx(first[0].cost_usd)


def test_a_real_cache_hit_of_another_candidate_stays_a_cache_hit(store: Engine) -> None:
    fake = FakeLLM("openai", answer=answer_all("take", 90))
    guarded(_openai(fake), LocalDecider(), Budget(store, 5), DecisionCache(store, "record")).decide(
        [candidate()], context()
    )
    again = guarded(_openai(fake), LocalDecider(), Budget(store, 5, scope="other"), DecisionCache(store)).decide(
        [candidate()], context()
    )
    assert again[0].source.endswith("(cache)")


def test_a_decision_no_longer_due_is_a_late_skip_and_its_slot_is_settled_lost(store: Engine) -> None:
    budget = Budget(store, 3)
    c = candidate()
    _crash_mid_request(budget, c.key)
    fake = FakeLLM("openai", answer=answer_all("take", 90))
    inner = guarded(_openai(fake), LocalDecider(), budget)
    wall = T0 + timedelta(minutes=30)  # the restart came half an hour after the decision was due
    recorder = RecordingDecider(
        inner, ServiceStore(store), "paper", lambda: True, lambda: wall, max_lag_s=90.0, slots=budget
    )
    out = recorder.decide([c], context())
    assert (out[0].take, out[0].source) == (False, LATE_SOURCE)
    assert fake.requests == []
    assert _ledger(store) == [(1, c.key, "lost", 1)]
    assert budget.status(T0).calls_used == 1  # it may have reached the provider: it stays counted


def test_a_batch_key_names_its_first_candidate_and_covers_all() -> None:
    a, b = candidate(), candidate(T0 - timedelta(seconds=20))
    assert request_key([a]) == a.key
    key = request_key([a, b])
    assert key.startswith(f"{a.key}+1:")
    assert key != request_key([a, candidate(T0 - timedelta(seconds=30))])
