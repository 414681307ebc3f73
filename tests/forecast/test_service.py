"""forecast_payload / full_payload with model=quant: the seed's fields, numbers behind strings, caching."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from mesdesk.config import Settings
from mesdesk.errors import ConfigError
from mesdesk.forecast.horizons import format_pct
from mesdesk.forecast.payload import SEED_FIELDS
from mesdesk.services.forecast import ForecastCache, ForecastRequest, forecast_payload, full_payload

REQUEST = ForecastRequest(horizons=("5m", "15m", "60m", "4h", "24h", "7d"))


class NoLLM:
    """An LLM client that fails the test if anything calls it."""

    provider = "openai"
    model = "none"

    def complete_json(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("model=quant must not call an LLM")


@pytest.fixture(name="quant", scope="module")
def fixture_quant(request: pytest.FixtureRequest) -> dict[str, Any]:
    from .conftest import session_bars

    bars = session_bars(25)
    settings = Settings(FRED_API_KEY=None)  # type: ignore[call-arg]
    return forecast_payload("quant", request=REQUEST, settings=settings, bars=bars, cache=ForecastCache(0))


def test_payload_has_every_seed_field(quant: dict[str, Any]) -> None:
    assert set(SEED_FIELDS) <= set(quant)
    extras = set(quant) - set(SEED_FIELDS)
    assert extras == {"model", "as_of", "permutation_importance", "diagnostics"}


def test_forecast_strings_are_the_numbers(quant: dict[str, Any]) -> None:
    nums = quant["forecast_numeric_pct"]
    assert list(quant["forecasts"]) == list(nums)
    assert all(quant["forecasts"][h] == format_pct(v) for h, v in nums.items())
    assert nums == quant["baseline_quant"]  # quant: the final numbers are the baseline
    assert quant["llm_metadata"]["fallback_used"] is False
    assert quant["llm_metadata"]["provider"] is None


def test_horizons_the_data_cannot_support_are_dropped_with_a_reason(quant: dict[str, Any]) -> None:
    # 25 trading days hold about 4 non-overlapping 7-day windows: too few
    assert "7d" not in quant["forecasts"]
    assert "non-overlapping" in quant["diagnostics"]["horizons_dropped"]["7d"]
    assert list(quant["forecasts"]) == ["5m", "15m", "60m", "4h", "24h"]


def test_diagnostics_are_real_figures(quant: dict[str, Any]) -> None:
    assert set(quant["correlations"]) == {"vix", "fed_rates", "usd_fx", "china"}
    assert set(quant["shap_proxy"]) == set(quant["features_last_row"]) == set(quant["permutation_importance"])
    assert quant["nn_mse"] > 0
    assert math.isfinite(quant["nn_mse"])
    assert -1 <= quant["nn_new_corr_example"] <= 1
    assert quant["diagnostics"]["holdout_mse"]["naive_zero"] > 0
    assert quant["diagnostics"]["macro_source"] == "synthetic"
    assert quant["diagnostics"]["sharpe_window"]["days"] >= 20
    assert math.isfinite(quant["sharpe"])


def test_quant_never_calls_an_llm_and_is_cached(bars_5m: pd.DataFrame, settings: Settings) -> None:
    cache = ForecastCache(60.0)
    first = forecast_payload("quant", request=REQUEST, settings=settings, bars=bars_5m, llm_client=NoLLM(), cache=cache)
    second = forecast_payload("quant", request=REQUEST, settings=settings, bars=bars_5m, cache=cache)
    assert first["llm_metadata"]["cached"] is False
    assert second["llm_metadata"]["cached"] is True
    assert second["forecast_numeric_pct"] == first["forecast_numeric_pct"]


def test_cache_expires_after_its_ttl() -> None:
    now = [100.0]
    cache = ForecastCache(10.0, clock=lambda: now[0])
    cache.put("k", {"a": 1})
    now[0] = 109.9
    assert cache.get("k") == {"a": 1}
    now[0] = 110.0
    assert cache.get("k") is None


def test_unknown_model_is_a_config_error(bars_5m: pd.DataFrame, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="model='claude'"):
        forecast_payload("claude", request=REQUEST, settings=settings, bars=bars_5m)


def test_autogluon_without_a_trained_model_is_a_clear_error(bars_5m: pd.DataFrame, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="train-autogluon|mesdesk\\[autogluon\\]"):
        forecast_payload("autogluon", request=REQUEST, settings=settings, bars=bars_5m, cache=ForecastCache(0))


def test_full_payload_joins_signals_and_forecast(bars_5m: pd.DataFrame, settings: Settings) -> None:
    cache = ForecastCache(60.0)
    full = full_payload("quant", request=REQUEST, settings=settings, bars=bars_5m, cache=cache)
    assert set(full) == {"signals", "forecast"}
    assert set(full["signals"]) == {"5m", "15m", "1h", "4h", "1d"}
    assert all(isinstance(v, list) for v in full["signals"].values())
    assert full["forecast"]["model"] == "quant"


def test_the_payload_made_at_t_does_not_change_when_later_bars_arrive(settings: Settings) -> None:
    from mesdesk.forecast.features import build_features
    from mesdesk.forecast.macro import synthetic_macro
    from mesdesk.timeframes import Timeframe

    from .conftest import session_bars

    bars = session_bars(14, seed=21)
    cut = bars.loc[: bars.index[len(bars) * 3 // 4]]
    early = forecast_payload("quant", request=REQUEST, settings=settings, bars=cut, cache=ForecastCache(0))
    as_of = pd.Timestamp(early["as_of"])
    assert as_of == cut.index[-1] + pd.Timedelta(minutes=5)  # decided at the close of the last bar
    later = build_features(bars, Timeframe.M5, synthetic_macro(bars)).frame.loc[as_of]
    assert early["features_last_row"] == pytest.approx(later.to_dict())
