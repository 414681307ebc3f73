"""LLM-adjusted forecasts: the model sees the quant baseline and the features and answers numbers.

The request carries, per horizon, the ridge baseline (% return), the historical standard deviation
of that horizon's returns, the measured-move adjustment, the latest feature row, the hold-out record
of the ridge and the MLP against the naive zero forecast, and the macro correlations. The answer is
one JSON object through a strict schema: ``{"forecasts": {"5m": number, ...}, "rationale": str}``.

An answer is accepted only when every horizon is present, finite, and within `max_sigmas` standard
deviations of that horizon's returns; anything else is an `InvalidForecast` and the caller falls
back to the quant baseline. Every request sent takes a budget slot first (`BudgetGate`); none left
raises `BudgetExceeded` before anything is sent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mesdesk.errors import BudgetExceeded, DecisionError, ProviderError
from mesdesk.llm.budget import Budget, Reservation
from mesdesk.llm.client import LLMClient, LLMReply

SCHEMA_NAME = "mes_forecast"
SYSTEM_PROMPT = (
    "You are a quantitative analyst forecasting MES (Micro E-mini S&P 500 futures) returns. "
    "You receive a ridge-regression baseline per horizon, its out-of-sample record, point-in-time "
    "features and a measured-move adjustment. Intraday returns are close to unpredictable: the naive "
    "zero-return forecast is hard to beat, so move away from the baseline only for a reason you can "
    "state. Answer, for every horizon given, the expected percent return from the last close to the "
    "close at that horizon (0.10 means +0.10 %), and a rationale of at most three sentences."
)


class InvalidForecast(DecisionError):
    """The model answered, but not numbers the forecast can use (`reply` holds what it cost)."""

    def __init__(self, message: str, reply: LLMReply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


def forecast_schema(horizons: list[str]) -> dict[str, Any]:
    """Strict JSON schema of the answer: every horizon required, no other key."""
    return {
        "type": "object",
        "properties": {
            "forecasts": {
                "type": "object",
                "properties": {h: {"type": "number"} for h in horizons},
                "required": list(horizons),
                "additionalProperties": False,
            },
            "rationale": {"type": "string"},
        },
        "required": ["forecasts", "rationale"],
        "additionalProperties": False,
    }


def build_user_prompt(context: dict[str, Any]) -> str:
    """The request as indented JSON (stable key order, so equal inputs give equal prompts)."""
    return "Forecast inputs (percent returns unless named otherwise):\n" + json.dumps(
        context, indent=1, sort_keys=True, default=str
    )


def validate_answer(data: dict[str, Any], sigma_pct: dict[str, float], max_sigmas: float) -> dict[str, float]:
    """Numbers per horizon, checked (see the module docstring); raises `InvalidForecast`."""
    raw = data.get("forecasts")
    if not isinstance(raw, dict):
        raise InvalidForecast(f"answer has no 'forecasts' object: {str(data)[:120]}")
    out: dict[str, float] = {}
    for h, sigma in sigma_pct.items():
        value = raw.get(h)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidForecast(f"horizon {h}: {value!r} is not a finite number")
        limit = max_sigmas * sigma
        if abs(value) > limit:
            raise InvalidForecast(f"horizon {h}: {value:+.4f}% is beyond {max_sigmas:g} sigma ({limit:.4f}%)")
        out[h] = float(value)
    return out


class BudgetGate:
    """The `before_attempt` hook: takes a budget slot for each request, settles the previous one."""

    def __init__(self, budget: Budget | None, now: datetime, provider: str, model: str) -> None:
        self._budget = budget
        self._now = now
        self._provider = provider
        self._model = model
        self._last: Reservation | None = None
        self.attempts = 0

    def __call__(self, attempt: int, previous: ProviderError | None = None) -> None:
        self.attempts = attempt
        if self._budget is None:
            return
        if self._last is not None:
            failed = previous or ProviderError(
                "attempt failed and was retried", provider=self._provider, kind="retried"
            )
            self.settle(error=failed)
        slot = self._budget.reserve(self._now, provider=self._provider, model=self._model, purpose="forecast")
        if slot is None:
            raise BudgetExceeded(self._budget.status(self._now).paused_reason or "daily cap reached")
        self._last = slot

    def settle(self, *, reply: LLMReply | None = None, error: ProviderError | None = None) -> None:
        if self._budget is None or self._last is None:
            return
        if reply is not None:
            self._budget.settle(
                self._last,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost_usd=reply.cost_usd,
                latency_ms=reply.latency_ms,
            )
        else:
            self._budget.settle(self._last, error=error)
        self._last = None


@dataclass(frozen=True, slots=True)
class LLMForecast:
    forecast_pct: dict[str, float]
    rationale: str
    reply: LLMReply


def ask_llm(
    client: LLMClient,
    context: dict[str, Any],
    sigma_pct: dict[str, float],
    *,
    budget: Budget | None,
    now: datetime,
    max_sigmas: float = 3.0,
) -> LLMForecast:
    """One forecast from the model; raises ProviderError, BudgetExceeded or InvalidForecast."""
    horizons = list(sigma_pct)
    gate = BudgetGate(budget, now, client.provider, client.model)
    try:
        reply = client.complete_json(
            SYSTEM_PROMPT, build_user_prompt(context), forecast_schema(horizons), SCHEMA_NAME, before_attempt=gate
        )
    except ProviderError as exc:
        gate.settle(error=exc)
        raise
    gate.settle(reply=reply)
    try:
        numbers = validate_answer(reply.data, sigma_pct, max_sigmas)
    except InvalidForecast as exc:
        raise InvalidForecast(str(exc), reply) from None
    rationale = reply.data.get("rationale")
    return LLMForecast(forecast_pct=numbers, rationale=str(rationale or "")[:1000], reply=reply)
