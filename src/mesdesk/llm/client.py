"""A small LLM layer: one JSON answer per call, through the official OpenAI and Anthropic SDKs.

`LLMClient.complete_json(system, user, schema, schema_name)` returns the answer as a dict with its
usage (tokens), cost in USD (from the price table in settings) and latency. Failures raise
`ProviderError` whose `kind` is one of:

- ``auth``: 401/403, a missing key;
- ``rate_limit``: 429;
- ``server``: 5xx, a connection failure;
- ``timeout``: no answer within the timeout (seconds, a setting);
- ``payload``: 400/404/422, an answer that is not a JSON object, an incomplete answer;
- ``refusal``: the model declined to answer.

Retries are done here, not in the SDK (its own retries are switched off), so that every attempt
sent to the provider passes through `before_attempt`: the budget counts each one (see budget.py).
Only rate_limit, server and timeout are retried, at most `max_retries` times.
The answer is checked to be a JSON object; its fields are checked by the caller (a pydantic model).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mesdesk.config import Settings
from mesdesk.errors import ConfigError, ProviderError

if TYPE_CHECKING:  # the SDKs are imported when a client is built (they take seconds to import)
    import httpx2

ProviderName = Literal["openai", "anthropic"]
AttemptHook = Callable[[int, ProviderError | None], None]
"""Called right before each request is sent with the attempt number (1, 2, ...) and the error that
ended the previous attempt (None on the first); it may raise to stop (e.g. `BudgetExceeded`)."""

RETRYABLE_KINDS = frozenset({"rate_limit", "server", "timeout"})
MAX_BACKOFF_S = 8.0


class BilledProviderError(ProviderError):
    """A failure on an answer that did come back (refusal, incomplete, not JSON): its tokens were billed."""

    def __init__(
        self, message: str, *, provider: str, kind: str, input_tokens: int, output_tokens: int, cost_usd: float
    ) -> None:
        super().__init__(message, provider=provider, kind=kind)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost_usd = cost_usd


@dataclass(frozen=True, slots=True)
class LLMReply:
    """One JSON answer with what it cost. `latency_ms` is the wall time of the successful attempt."""

    data: dict[str, Any]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    model: str
    provider: str
    attempts: int = 1


class LLMClient(Protocol):
    """Asks a model for one JSON object that follows `schema` (a JSON Schema, objects closed)."""

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    def complete_json(
        self,
        system: str,
        user: str,
        schema: Mapping[str, Any],
        schema_name: str,
        *,
        before_attempt: AttemptHook | None = None,
    ) -> LLMReply: ...


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """What one client needs: model, timeout (s), retries, output cap and price (USD per 1M tokens)."""

    model: str
    api_key: str
    timeout_s: float
    max_retries: int
    max_output_tokens: int
    usd_per_mtok_in: float
    usd_per_mtok_out: float
    base_url: str | None = None

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.usd_per_mtok_in + output_tokens * self.usd_per_mtok_out) / 1_000_000


def llm_settings(provider: ProviderName, settings: Settings) -> LLMSettings:
    """The client settings of `provider`; ConfigError naming the variable when a key or price is missing."""
    if provider == "openai":
        key, key_var, model, base_url = (
            settings.openai_api_key,
            "OPENAI_API_KEY",
            settings.openai_model,
            settings.openai_base_url,
        )
    elif provider == "anthropic":
        key, key_var, model, base_url = (
            settings.anthropic_api_key,
            "ANTHROPIC_API_KEY",
            settings.anthropic_model,
            settings.anthropic_base_url,
        )
    else:
        raise ConfigError(f"unknown LLM provider {provider!r} (openai or anthropic)")
    if key is None or not key.get_secret_value():
        raise ConfigError(f"{key_var} is not set: the {provider} decider needs it (or use the local decider)")
    if model not in settings.llm_prices:
        raise ConfigError(
            f"MESDESK_LLM_PRICES has no price for model {model!r}: add it as USD per 1M tokens [input, output]"
        )
    usd_in, usd_out = settings.llm_prices[model]
    return LLMSettings(
        model=model,
        api_key=key.get_secret_value(),
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_output_tokens=settings.llm_max_output_tokens,
        usd_per_mtok_in=usd_in,
        usd_per_mtok_out=usd_out,
        base_url=base_url,
    )


def make_llm_client(
    provider: ProviderName,
    settings: Settings,
    http_client: httpx2.Client | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> LLMClient:
    """An `LLMClient` for `provider` configured from settings (`http_client` lets tests fake the wire)."""
    cfg = llm_settings(provider, settings)
    if provider == "openai":
        return OpenAIJSONClient(cfg, http_client=http_client, sleep=sleep)
    return AnthropicJSONClient(cfg, http_client=http_client, sleep=sleep)


# ---------------------------------------------------------------- shared retry loop


def _status_kind(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    return "payload"


def _with_retries(
    provider: str,
    max_retries: int,
    attempt_once: Callable[[], LLMReply],
    before_attempt: AttemptHook | None,
    sleep: Callable[[float], None],
) -> LLMReply:
    """Run `attempt_once` up to 1 + max_retries times; back off between retryable failures."""
    attempt = 0
    previous: ProviderError | None = None
    while True:
        attempt += 1
        if before_attempt is not None:
            before_attempt(attempt, previous)
        try:
            reply = attempt_once()
        except ProviderError as exc:
            if exc.kind not in RETRYABLE_KINDS or attempt > max_retries:
                raise
            previous = exc
            hinted = exc.retry_after_s
            sleep(min(MAX_BACKOFF_S, hinted if hinted is not None else 0.5 * 2 ** (attempt - 1)))
            continue
        return LLMReply(
            data=reply.data,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost_usd=reply.cost_usd,
            latency_ms=reply.latency_ms,
            model=reply.model,
            provider=provider,
            attempts=attempt,
        )


def _provider_error(provider: str, message: str, kind: str, retry_after_s: float | None = None) -> ProviderError:
    return ProviderError(message, provider=provider, kind=kind, retry_after_s=retry_after_s)


def _billed(
    provider: str, exc: ProviderError, input_tokens: int, output_tokens: int, cfg: LLMSettings
) -> BilledProviderError:
    message = str(exc).removeprefix(f"{provider}: ")
    return BilledProviderError(
        message,
        provider=provider,
        kind=exc.kind,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cfg.cost_usd(input_tokens, output_tokens),
    )


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _json_object(provider: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _provider_error(
            provider, f"answer is not JSON ({exc.msg} at {exc.pos}): {text[:120]!r}", "payload"
        ) from exc
    if not isinstance(data, dict):
        raise _provider_error(provider, f"answer is JSON but not an object: {text[:120]!r}", "payload")
    return data


# ---------------------------------------------------------------- OpenAI


class _SDKJSONClient:
    """What both SDK clients share: the SDK built with explicit timeout and no SDK retries (ours go
    through the budget hook), the retry loop, and the billing of answers that came back unusable."""

    provider = ""

    def __init__(
        self,
        cfg: LLMSettings,
        sdk: Any,
        sdk_class: str,
        *,
        http_client: httpx2.Client | None,
        sleep: Callable[[float], None],
    ) -> None:
        self._cfg = cfg
        self._sleep = sleep
        self._errors = sdk
        self._sdk = getattr(sdk, sdk_class)(
            api_key=cfg.api_key,
            base_url=cfg.base_url,
            timeout=cfg.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    @property
    def model(self) -> str:
        return self._cfg.model

    def complete_json(
        self,
        system: str,
        user: str,
        schema: Mapping[str, Any],
        schema_name: str,
        *,
        before_attempt: AttemptHook | None = None,
    ) -> LLMReply:
        def once() -> LLMReply:
            return self._once(system, user, schema, schema_name)

        return _with_retries(self.provider, self._cfg.max_retries, once, before_attempt, self._sleep)

    def _billed(self, exc: ProviderError, input_tokens: int, output_tokens: int) -> BilledProviderError:
        return _billed(self.provider, exc, input_tokens, output_tokens, self._cfg)

    def _once(self, system: str, user: str, schema: Mapping[str, Any], schema_name: str) -> LLMReply:
        raise NotImplementedError


class OpenAIJSONClient(_SDKJSONClient):
    """OpenAI Responses API with a strict JSON schema (`text.format = json_schema, strict=True`)."""

    provider = "openai"

    def __init__(
        self,
        cfg: LLMSettings,
        *,
        http_client: httpx2.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        super().__init__(cfg, openai, "OpenAI", http_client=http_client, sleep=sleep)

    def _once(self, system: str, user: str, schema: Mapping[str, Any], schema_name: str) -> LLMReply:
        started = time.perf_counter()
        try:
            response = self._sdk.responses.create(
                model=self._cfg.model,
                instructions=system,
                input=user,
                max_output_tokens=self._cfg.max_output_tokens,
                text={"format": {"type": "json_schema", "name": schema_name, "schema": dict(schema), "strict": True}},
                store=False,
            )
        except self._errors.APITimeoutError as exc:
            raise _provider_error(self.provider, f"no answer within {self._cfg.timeout_s} s", "timeout") from exc
        except self._errors.APIConnectionError as exc:
            raise _provider_error(self.provider, f"connection failed: {exc}", "server") from exc
        except self._errors.APIStatusError as exc:
            kind = _status_kind(exc.status_code)
            retry_after = _retry_after_header(exc.response.headers)
            raise _provider_error(self.provider, f"HTTP {exc.status_code}: {exc.message}", kind, retry_after) from exc
        except self._errors.APIError as exc:  # a malformed response body
            raise _provider_error(self.provider, f"bad response: {exc}", "payload") from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        usage = response.usage
        input_tokens = usage.input_tokens if usage is not None else 0
        output_tokens = usage.output_tokens if usage is not None else 0
        try:
            for item in response.output:
                if item.type == "message":
                    for content in item.content:
                        if content.type == "refusal":
                            raise _provider_error(self.provider, f"model refused: {content.refusal[:200]}", "refusal")
            if response.status not in (None, "completed"):
                detail = response.incomplete_details.reason if response.incomplete_details else None
                raise _provider_error(self.provider, f"answer {response.status} ({detail})", "payload")
            data = _json_object(self.provider, response.output_text)
        except ProviderError as exc:
            raise self._billed(exc, input_tokens, output_tokens) from exc
        return LLMReply(
            data=data,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=self._cfg.cost_usd(input_tokens, output_tokens),
            latency_ms=latency_ms,
            model=response.model or self._cfg.model,
            provider=self.provider,
        )


# ---------------------------------------------------------------- Anthropic


class AnthropicJSONClient(_SDKJSONClient):
    """Anthropic Messages API with one tool whose input schema is `schema`, its use forced."""

    provider = "anthropic"

    def __init__(
        self,
        cfg: LLMSettings,
        *,
        http_client: httpx2.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import anthropic

        super().__init__(cfg, anthropic, "Anthropic", http_client=http_client, sleep=sleep)

    def _tool_input(self, message: Any, schema_name: str) -> dict[str, Any]:
        if message.stop_reason == "refusal":
            raise _provider_error(self.provider, "model refused (stop_reason=refusal)", "refusal")
        if message.stop_reason == "max_tokens":
            raise _provider_error(self.provider, "answer cut at max_tokens: incomplete", "payload")
        tool_inputs = [b.input for b in message.content if b.type == "tool_use" and b.name == schema_name]
        if not tool_inputs:
            texts = " ".join(b.text for b in message.content if b.type == "text")
            raise _provider_error(
                self.provider,
                f"no {schema_name} tool call (stop_reason={message.stop_reason}): {texts[:120]!r}",
                "payload",
            )
        data = tool_inputs[0]
        if not isinstance(data, dict):
            raise _provider_error(self.provider, f"tool input is not an object: {data!r:.120}", "payload")
        return dict(data)

    def _once(self, system: str, user: str, schema: Mapping[str, Any], schema_name: str) -> LLMReply:
        started = time.perf_counter()
        try:
            message = self._sdk.messages.create(
                model=self._cfg.model,
                max_tokens=self._cfg.max_output_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
                tools=[
                    {
                        "name": schema_name,
                        "description": "Record the answer. Always answer through this tool.",
                        "input_schema": dict(schema),
                    }
                ],
                tool_choice={"type": "tool", "name": schema_name},
            )
        except self._errors.APITimeoutError as exc:
            raise _provider_error(self.provider, f"no answer within {self._cfg.timeout_s} s", "timeout") from exc
        except self._errors.APIConnectionError as exc:
            raise _provider_error(self.provider, f"connection failed: {exc}", "server") from exc
        except self._errors.APIStatusError as exc:
            kind = _status_kind(exc.status_code)
            retry_after = _retry_after_header(exc.response.headers)
            raise _provider_error(self.provider, f"HTTP {exc.status_code}: {exc.message}", kind, retry_after) from exc
        except self._errors.APIError as exc:
            raise _provider_error(self.provider, f"bad response: {exc}", "payload") from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        input_tokens = message.usage.input_tokens
        output_tokens = message.usage.output_tokens
        try:
            data = self._tool_input(message, schema_name)
        except ProviderError as exc:
            raise self._billed(exc, input_tokens, output_tokens) from exc
        return LLMReply(
            data=dict(data),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=self._cfg.cost_usd(input_tokens, output_tokens),
            latency_ms=latency_ms,
            model=message.model or self._cfg.model,
            provider=self.provider,
        )
