"""The decision cache: record reuses, replay never sends and is deterministic, off neither reads nor writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from mesdesk.decide.guard import guarded
from mesdesk.decide.local import LocalDecider
from mesdesk.errors import ConfigError
from mesdesk.llm.budget import Budget
from mesdesk.llm.cache import DecisionCache, prompt_key
from mesdesk.model import Decision, DecisionStatus

from .factories import T0, answer_all, candidate, context
from .fakes import FakeLLM
from .test_guard import _decider

BATCHES = [
    [candidate(T0 - timedelta(minutes=m), score=80.0 + m) for m in range(k)] for k in (1, 2, 3)
]  # three batches of 1, 2 and 3 candidates


def _run(decider: object, n: int = 3) -> list[list[Decision]]:
    return [decider.decide(BATCHES[i], context()) for i in range(n)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_replay_sends_nothing_and_repeats_the_recorded_decisions(provider: str, store: Engine) -> None:
    recorder = FakeLLM(provider, answer=answer_all("take", 88), script=["ok", "off_schema", "ok"])
    budget = Budget(store, 10)
    recorded = _run(guarded(_decider(provider, recorder), LocalDecider(), budget, DecisionCache(store, "record")))
    assert len(recorder.requests) == 3
    assert [d[0].status for d in recorded] == [DecisionStatus.TAKE, DecisionStatus.PARSE_ERROR, DecisionStatus.TAKE]

    silent = FakeLLM(provider, answer=answer_all("skip", 1))  # would answer differently if ever asked
    replays = [
        _run(
            guarded(
                _decider(provider, silent),
                LocalDecider(),
                Budget(store, 10, scope="bt"),
                DecisionCache(store, "replay"),
            )
        )
        for _ in range(2)
    ]
    assert silent.requests == []  # replay made no request at all
    assert Budget(store, 10, scope="bt").status(T0).calls_used == 0
    assert replays[0] == replays[1]  # two replays: identical decisions, field for field
    for rec, rep in zip(recorded, replays[0], strict=True):
        assert [(d.take, d.confidence, d.status) for d in rec] == [(d.take, d.confidence, d.status) for d in rep]
    assert all(d.cost_usd == 0.0 for batch in replays[0] for d in batch)  # replay is free
    assert replays[0][0][0].source.endswith("(cache)")


def test_replay_miss_is_named_and_decided_by_the_fallback(store: Engine) -> None:
    fake = FakeLLM("openai", answer=answer_all())
    out = guarded(_decider("openai", fake), LocalDecider(), Budget(store, 5), DecisionCache(store, "replay")).decide(
        [candidate(score=90.0)], context()
    )
    assert out[0].status is DecisionStatus.CACHE_MISS
    assert out[0].fallback == "local"
    assert out[0].take is True  # the local rule: prefilter 90 >= 80, volume 1.6 >= 1.2
    assert out[0].reason.startswith("cache_miss: replay: no cached answer for prompt ")
    assert fake.requests == []


def test_record_reuses_a_hit_without_paying_again(store: Engine) -> None:
    fake = FakeLLM("openai", answer=answer_all("take", 91))
    budget = Budget(store, 5)
    decider = guarded(_decider("openai", fake), LocalDecider(), budget, DecisionCache(store, "record"))
    first = decider.decide(BATCHES[1], context())
    again = decider.decide(BATCHES[1], context())
    assert len(fake.requests) == 1
    assert budget.status(T0).calls_used == 1
    assert [d.take for d in first] == [d.take for d in again]


def test_off_neither_reads_nor_writes(store: Engine) -> None:
    fake = FakeLLM("openai", answer=answer_all("take", 91))
    cache = DecisionCache(store, "off")
    decider = guarded(_decider("openai", fake), LocalDecider(), Budget(store, 5), cache)
    decider.decide(BATCHES[0], context())
    decider.decide(BATCHES[0], context())
    assert len(fake.requests) == 2
    assert DecisionCache(store, "record").count() == 0


def test_key_changes_with_anything_the_model_would_see() -> None:
    base = prompt_key("openai", "m", "sys", "user", {"type": "object"}, "n")
    assert base == prompt_key("openai", "m", "sys", "user", {"type": "object"}, "n")
    variants = [
        prompt_key("anthropic", "m", "sys", "user", {"type": "object"}, "n"),
        prompt_key("openai", "m2", "sys", "user", {"type": "object"}, "n"),
        prompt_key("openai", "m", "sys!", "user", {"type": "object"}, "n"),
        prompt_key("openai", "m", "sys", "user ", {"type": "object"}, "n"),
        prompt_key("openai", "m", "sys", "user", {"type": "array"}, "n"),
    ]
    assert all(v != base for v in variants)


def test_bad_mode_and_missing_store_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="cache mode 'save'"):
        DecisionCache(None, "save")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a store"):
        DecisionCache(None, "replay")


def test_an_unreadable_cache_is_a_miss_in_replay(tmp_path: object) -> None:
    from mesdesk.store.base import make_engine

    broken = make_engine(f"sqlite:///{tmp_path}/never-migrated.sqlite")
    fake = FakeLLM("openai", answer=answer_all())
    out = guarded(_decider("openai", fake), LocalDecider(), None, DecisionCache(broken, "replay")).decide(
        [candidate()], context()
    )
    assert out[0].status is DecisionStatus.CACHE_MISS
    assert fake.requests == []
