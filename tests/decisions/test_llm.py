"""The LLM layer against fakes of both SDKs' wire formats: answers, errors, retries, usage and cost."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mesdesk.config import load_settings
from mesdesk.errors import ConfigError, ProviderError
from mesdesk.llm.client import make_llm_client

from .fakes import FakeLLM

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "required": ["x"],
    "additionalProperties": False,
}


def _client(provider: str, fake: FakeLLM, retries: int = 0, sleeps: list[float] | None = None) -> Any:
    settings = load_settings(
        OPENAI_API_KEY="sk-test",
        ANTHROPIC_API_KEY="sk-ant-test",
        MESDESK_LLM_MAX_RETRIES=retries,
        MESDESK_LLM_TIMEOUT_S=3.0,
        MESDESK_OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        MESDESK_ANTHROPIC_BASE_URL="http://127.0.0.1:9",
    )
    log = sleeps if sleeps is not None else []
    return make_llm_client(provider, settings, http_client=fake.client(), sleep=log.append)  # type: ignore[arg-type]


PROVIDERS = ["openai", "anthropic"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_valid_answer_comes_back_with_usage_and_cost(provider: str) -> None:
    fake = FakeLLM(provider, answer=lambda body: {"x": 7})
    reply = _client(provider, fake).complete_json("sys", "user", SCHEMA, "answer")
    assert reply.data == {"x": 7}
    assert reply.provider == provider
    if provider == "openai":
        # gpt-5-mini at 0.25 / 2.00 USD per 1M tokens: 120 in, 40 out
        assert (reply.input_tokens, reply.output_tokens) == (120, 40)
        assert reply.cost_usd == pytest.approx((120 * 0.25 + 40 * 2.0) / 1e6)
    else:
        # claude-opus-4-5 at 5 / 25 USD per 1M tokens: 130 in, 45 out
        assert (reply.input_tokens, reply.output_tokens) == (130, 45)
        assert reply.cost_usd == pytest.approx((130 * 5.0 + 45 * 25.0) / 1e6)


def test_openai_request_uses_a_strict_json_schema() -> None:
    fake = FakeLLM("openai", answer=lambda body: {"x": 1})
    _client("openai", fake).complete_json("sys", "user", SCHEMA, "answer")
    sent = fake.requests[0]
    assert sent["text"]["format"] == {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}
    assert (sent["instructions"], sent["input"], sent["model"]) == ("sys", "user", "gpt-5-mini")


def test_anthropic_request_forces_the_tool_call() -> None:
    fake = FakeLLM("anthropic", answer=lambda body: {"x": 1})
    _client("anthropic", fake).complete_json("sys", "user", SCHEMA, "answer")
    sent = fake.requests[0]
    assert sent["tool_choice"] == {"type": "tool", "name": "answer"}
    assert sent["tools"][0]["input_schema"] == SCHEMA
    assert sent["system"] == "sys"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("step", "kind"),
    [
        ("refusal", "refusal"),
        ("429", "rate_limit"),
        ("500", "server"),
        ("timeout", "timeout"),
        ("401", "auth"),
        ("not_json", "payload"),
    ],
)
def test_failures_raise_typed_provider_errors(provider: str, step: str, kind: str) -> None:
    fake = FakeLLM(provider, answer=lambda body: {"x": 1}, script=[step])
    with pytest.raises(ProviderError) as info:
        _client(provider, fake).complete_json("sys", "user", SCHEMA, "answer")
    assert info.value.kind == kind
    assert info.value.provider == provider
    assert len(fake.requests) == 1  # no retry configured: exactly one request reached the wire


@pytest.mark.parametrize("provider", PROVIDERS)
def test_off_schema_answer_is_returned_for_the_caller_to_reject(provider: str) -> None:
    fake = FakeLLM(provider, answer=lambda body: {"x": 1}, script=["off_schema"])
    reply = _client(provider, fake).complete_json("sys", "user", SCHEMA, "answer")
    assert reply.data == {"verdict": "buy everything"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retryable_errors_are_retried_and_each_attempt_passes_the_hook(provider: str) -> None:
    fake = FakeLLM(provider, answer=lambda body: {"x": 3}, script=["429", "500", "ok"])
    attempts: list[tuple[int, str | None]] = []
    sleeps: list[float] = []
    reply = _client(provider, fake, retries=2, sleeps=sleeps).complete_json(
        "sys", "user", SCHEMA, "answer", before_attempt=lambda n, err: attempts.append((n, err and err.kind))
    )
    assert reply.data == {"x": 3}
    assert reply.attempts == 3
    assert attempts == [(1, None), (2, "rate_limit"), (3, "server")]
    assert len(fake.requests) == 3
    assert sleeps == [0.0, 0.0]  # the fake's Retry-After: 0 wins over the default backoff


@pytest.mark.parametrize("provider", PROVIDERS)
def test_errors_that_cannot_improve_are_not_retried(provider: str) -> None:
    fake = FakeLLM(provider, answer=lambda body: {"x": 3}, script=["401", "ok"])
    with pytest.raises(ProviderError, match="401"):
        _client(provider, fake, retries=3).complete_json("sys", "user", SCHEMA, "answer")
    assert len(fake.requests) == 1


def test_a_hook_that_refuses_stops_before_anything_is_sent() -> None:
    fake = FakeLLM("openai", answer=lambda body: {"x": 3})

    def refuse(attempt: int, previous: object) -> None:
        raise RuntimeError("no budget")

    with pytest.raises(RuntimeError, match="no budget"):
        _client("openai", fake).complete_json("sys", "user", SCHEMA, "answer", before_attempt=refuse)
    assert fake.requests == []


def test_missing_key_and_missing_price_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_llm_client("openai", load_settings(OPENAI_API_KEY=None))
    with pytest.raises(ConfigError, match="MESDESK_LLM_PRICES"):
        make_llm_client("anthropic", load_settings(ANTHROPIC_API_KEY="k", MESDESK_ANTHROPIC_MODEL="claude-new"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_timeout_setting_is_enforced_over_a_real_socket(provider: str) -> None:
    from .fake_server import serve

    fakes = {p: FakeLLM(p, answer=lambda body: {"x": 1}, script=["slow"], slow_s=1.5) for p in PROVIDERS}
    with serve(fakes["openai"], fakes["anthropic"]) as base:
        settings = load_settings(
            OPENAI_API_KEY="sk-test",
            ANTHROPIC_API_KEY="sk-ant-test",
            MESDESK_LLM_TIMEOUT_S=0.3,
            MESDESK_LLM_MAX_RETRIES=0,
            MESDESK_OPENAI_BASE_URL=f"{base}/v1",
            MESDESK_ANTHROPIC_BASE_URL=base,
        )
        started = time.perf_counter()
        with pytest.raises(ProviderError) as info:
            make_llm_client(provider, settings).complete_json("sys", "user", SCHEMA, "answer")  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
    assert info.value.kind == "timeout"
    assert elapsed < 1.4  # gave up at the 0.3 s timeout, not after the server's 1.5 s
