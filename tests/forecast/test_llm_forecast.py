"""model=gpt|opus against fakes of the OpenAI and Anthropic wire formats: adjusted numbers, budget, fallbacks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from mesdesk.config import Settings, load_settings
from mesdesk.forecast.llm_forecast import InvalidForecast, forecast_schema, validate_answer
from mesdesk.llm.budget import Budget
from mesdesk.services.forecast import BUDGET_SCOPE, ForecastCache, ForecastRequest, forecast_payload

from .fakes import FakeProvider, horizons_of

REQUEST = ForecastRequest(horizons=("5m", "60m", "4h"))
NOW = datetime(2025, 4, 2, 15, 0, tzinfo=UTC)
MODELS = [("gpt", "openai"), ("opus", "anthropic")]


def _ask(
    model: str, fake: FakeProvider, bars: pd.DataFrame, settings: Settings, budget: Budget | None, **kw: Any
) -> Any:
    return forecast_payload(
        model,
        request=REQUEST,
        settings=settings,
        bars=bars,
        now=NOW,
        http_client=fake.client(),
        budget=budget,
        cache=kw.pop("cache", ForecastCache(0)),
        **kw,
    )


def _tilt(body: dict[str, Any]) -> dict[str, Any]:
    return {"forecasts": dict.fromkeys(horizons_of(body), 0.01), "rationale": "slight upward drift"}


@pytest.mark.parametrize(("model", "provider"), MODELS)
def test_llm_numbers_replace_the_baseline_and_usage_is_reported(
    model: str, provider: str, bars_5m: pd.DataFrame, settings: Settings, store: Engine
) -> None:
    fake = FakeProvider(provider, _tilt)
    budget = Budget(store, cap=5, scope=BUDGET_SCOPE)
    out = _ask(model, fake, bars_5m, settings, budget)
    assert out["forecast_numeric_pct"] == {"5m": 0.01, "60m": 0.01, "4h": 0.01}
    assert out["forecasts"]["60m"] == "+0.010%"
    assert out["baseline_quant"] != out["forecast_numeric_pct"]  # the quant numbers stay beside them
    meta = out["llm_metadata"]
    assert meta["provider"] == provider
    assert meta["fallback_used"] is False
    assert meta["input_tokens"] > 0
    assert meta["output_tokens"] > 0
    assert meta["latency_ms"] >= 0
    assert meta["rationale"] == "slight upward drift"
    assert len(fake.requests) == 1
    assert budget.status(NOW).calls_used == 1


def test_the_prompt_carries_the_baseline_and_a_strict_schema(bars_5m: pd.DataFrame, settings: Settings) -> None:
    fake = FakeProvider("openai", _tilt)
    out = _ask("gpt", fake, bars_5m, settings, None)
    body = fake.requests[0]
    assert body["text"]["format"]["strict"] is True
    assert body["text"]["format"]["schema"] == forecast_schema(["5m", "60m", "4h"])
    assert "baseline_pct" in body["input"]
    assert "features_last_row" in body["input"]
    assert f"{out['baseline_quant']['60m']}" in body["input"]


@pytest.mark.parametrize(("model", "provider"), MODELS)
def test_provider_error_falls_back_to_quant_and_says_why(
    model: str, provider: str, bars_5m: pd.DataFrame, settings: Settings
) -> None:
    fake = FakeProvider(provider, _tilt, status=500)
    out = _ask(model, fake, bars_5m, settings, None)
    assert out["forecast_numeric_pct"] == out["baseline_quant"]
    assert out["llm_metadata"]["fallback_used"] is True
    assert out["llm_metadata"]["fallback_reason"].startswith("provider error (server)")


def test_an_answer_out_of_range_falls_back_but_its_tokens_are_counted(
    bars_5m: pd.DataFrame, settings: Settings
) -> None:
    fake = FakeProvider(
        "anthropic", lambda body: {"forecasts": dict.fromkeys(horizons_of(body), 25.0), "rationale": "moon"}
    )
    out = _ask("opus", fake, bars_5m, settings, None)
    meta = out["llm_metadata"]
    assert meta["fallback_used"] is True
    assert "invalid answer" in meta["fallback_reason"]
    assert "sigma" in meta["fallback_reason"]
    assert meta["input_tokens"] == 950
    assert out["forecast_numeric_pct"] == out["baseline_quant"]


def test_over_budget_sends_nothing(bars_5m: pd.DataFrame, settings: Settings, store: Engine) -> None:
    fake = FakeProvider("openai", _tilt)
    out = _ask("gpt", fake, bars_5m, settings, Budget(store, cap=0, scope=BUDGET_SCOPE))
    assert fake.requests == []
    assert out["llm_metadata"]["fallback_used"] is True
    assert out["llm_metadata"]["fallback_reason"].startswith("over budget")


def test_missing_key_falls_back_with_the_variable_named(bars_5m: pd.DataFrame, tmp_path: Any) -> None:
    settings = load_settings(OPENAI_API_KEY=None, MESDESK_DATA_DIR=str(tmp_path))
    fake = FakeProvider("openai", _tilt)
    out = _ask("gpt", fake, bars_5m, settings, None)
    assert "OPENAI_API_KEY" in out["llm_metadata"]["fallback_reason"]
    assert fake.requests == []


def test_polling_within_the_cache_period_spends_one_call(
    bars_5m: pd.DataFrame, settings: Settings, store: Engine
) -> None:
    fake = FakeProvider("openai", _tilt)
    budget = Budget(store, cap=5, scope=BUDGET_SCOPE)
    cache = ForecastCache(900.0)
    for _ in range(4):
        out = _ask("gpt", fake, bars_5m, settings, budget, cache=cache)
    assert len(fake.requests) == 1
    assert budget.status(NOW).calls_used == 1
    assert out["llm_metadata"]["cached"] is True


def test_concurrent_polls_at_a_cache_miss_spend_one_call(
    bars_5m: pd.DataFrame, settings: Settings, store: Engine
) -> None:
    fake = FakeProvider("openai", _tilt)
    budget = Budget(store, cap=5, scope=BUDGET_SCOPE)
    cache = ForecastCache(900.0)
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda _: _ask("gpt", fake, bars_5m, settings, budget, cache=cache), range(3)))
    assert len(fake.requests) == 1
    assert sorted(o["llm_metadata"]["cached"] for o in outs) == [False, True, True]


def test_a_broken_budget_store_falls_back_instead_of_failing(bars_5m: pd.DataFrame, settings: Settings) -> None:
    class BrokenBudget:
        def reserve(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database is locked")

    fake = FakeProvider("openai", _tilt)
    out = _ask("gpt", fake, bars_5m, settings, BrokenBudget())  # type: ignore[arg-type]
    assert fake.requests == []
    assert out["llm_metadata"]["fallback_reason"] == "unexpected RuntimeError: database is locked"


def test_default_budget_lives_in_the_settings_store(bars_5m: pd.DataFrame, settings: Settings) -> None:
    fake = FakeProvider("openai", _tilt)
    _ask("gpt", fake, bars_5m, settings, None)  # no budget given: the store of MESDESK_DATA_DIR
    from mesdesk.store.base import make_engine

    used = Budget(make_engine(settings.resolved_database_url), cap=5, scope=BUDGET_SCOPE).status(NOW).calls_used
    assert used == 1


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ({"forecasts": {"5m": 0.1}}, "60m"),
        ({"forecasts": {"5m": 0.1, "60m": float("nan")}}, "finite"),
        ({"forecasts": {"5m": True, "60m": 0.1}}, "finite"),
        ({"nothing": 1}, "forecasts"),
        ({"forecasts": {"5m": 0.1, "60m": 0.9}}, "sigma"),
    ],
)
def test_validate_answer_refuses_unusable_numbers(answer: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidForecast, match=match):
        validate_answer(answer, {"5m": 0.05, "60m": 0.2}, max_sigmas=3.0)
