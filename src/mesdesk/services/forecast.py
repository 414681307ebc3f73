"""The forecast as an application service: ``GET /mes/forecast?model=``, ``GET /mes/full`` and the CLI.

- `forecast_payload(model)`: the seed's /mes/forecast JSON (see `mesdesk.forecast.payload`).
  ``quant`` sends nothing anywhere; ``gpt`` (OpenAI) and ``opus`` (Anthropic) ask the model to adjust
  the quant baseline, through the decisions area's LLM clients and daily budget (ledger scope
  ``forecast``, cap DAILY_GPT_CALL_CAP, kept apart from the trading decisions' ledger), and fall back to
  the quant numbers on any failure, saying why in ``llm_metadata``; ``autogluon`` uses the model trained
  by ``mesdesk train-autogluon`` (ConfigError when there is none).
- Payloads are cached per (model, request) for MESDESK_FORECAST_CACHE_S seconds (default 900), so a
  front end polling every few seconds spends at most one paid call per model per period.
- `full_payload(model)`: ``{"signals": {timeframe: [...]}, "forecast": {...}}`` for ``GET /mes/full``.
- `evaluate_forecast(request)`: the purged walk-forward of the ridge and the MLP per horizon.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx2
import pandas as pd
from sqlalchemy import Engine

from mesdesk.config import Settings, load_settings
from mesdesk.data.registry import SOURCES
from mesdesk.data.resample import resample
from mesdesk.errors import BudgetExceeded, ConfigError, DataError, MesdeskError, ProviderError, StoreError
from mesdesk.forecast.autogluon_trainer import TrainConfig as TrainConfig  # re-exported for the CLI
from mesdesk.forecast.features import FeatureSet, build_features
from mesdesk.forecast.horizons import DEFAULT_HORIZONS, Horizon, parse_horizons
from mesdesk.forecast.llm_forecast import InvalidForecast, ask_llm
from mesdesk.forecast.macro import MacroData, fred_macro, synthetic_macro
from mesdesk.forecast.mm_adjust import MM_TIMEFRAMES, measured_move_adjustment
from mesdesk.forecast.models import ModelConfig
from mesdesk.forecast.payload import assemble, daily_sharpe, quant_numbers
from mesdesk.forecast.quant import HorizonEvaluation, QuantResult, evaluate, quant_forecast
from mesdesk.llm.budget import Budget
from mesdesk.llm.client import LLMClient, make_llm_client
from mesdesk.services.scan import ScanRequest, load_scan_bars, signal_records
from mesdesk.setups.measured_move_scan import ScanConfig, base_span, scan_bars
from mesdesk.timeframes import SCAN_TIMEFRAMES, Timeframe

log = logging.getLogger(__name__)

ModelName = Literal["quant", "gpt", "opus", "autogluon"]
MODELS: tuple[str, ...] = ("quant", "gpt", "opus", "autogluon")
LLM_PROVIDERS: dict[str, Literal["openai", "anthropic"]] = {"gpt": "openai", "opus": "anthropic"}
BUDGET_SCOPE = "forecast"
_BASE_TIMEFRAMES = {tf.span: tf for tf in (Timeframe.M5, Timeframe.M15, Timeframe.H1)}


@dataclass(frozen=True, slots=True)
class ForecastRequest:
    """Where the bars come from and what to forecast. Bars finer than 5m are resampled to 5m."""

    source: str = "synthetic"
    file: Path | None = None
    days_back: int = 90
    symbol: str = "MES"
    seed: int = 7
    horizons: tuple[str, ...] = DEFAULT_HORIZONS
    reference_horizon: str = "60m"
    models: ModelConfig = field(default_factory=ModelConfig)
    max_sigmas: float = 3.0

    def __post_init__(self) -> None:
        SOURCES.get(self.source, param="--source")
        parse_horizons(self.horizons)
        if self.max_sigmas <= 0:
            raise ConfigError(f"max_sigmas={self.max_sigmas}: must be > 0")

    @property
    def parsed_horizons(self) -> tuple[Horizon, ...]:
        return parse_horizons(self.horizons)

    def scan_request(self) -> ScanRequest:
        return ScanRequest(
            days_back=self.days_back, source=self.source, file=self.file, symbol=self.symbol, seed=self.seed
        )


class ForecastCache:
    """Payloads by key for `ttl_s` seconds (monotonic clock); thread-safe.

    `computing(key)` is a lock per key: concurrent requests for the same payload wait for the first
    one instead of each paying for a model call.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[float, dict[str, Any]]] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def computing(self, key: Hashable) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: Hashable) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or self._clock() - item[0] >= self.ttl_s:
                return None
            return item[1]

    def put(self, key: Hashable, payload: dict[str, Any]) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._items[key] = (self._clock(), payload)


_SHARED: dict[float, ForecastCache] = {}
_SHARED_LOCK = threading.Lock()


def shared_cache(ttl_s: float) -> ForecastCache:
    """The process-wide cache used when the caller passes none (one per TTL value)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(ttl_s, ForecastCache(ttl_s))


@dataclass(frozen=True)
class Prepared:
    """Everything computed from the bars before any model is asked."""

    bars: pd.DataFrame
    features: FeatureSet
    macro: MacroData
    bars_from: str


def _base_bars(bars: pd.DataFrame) -> tuple[pd.DataFrame, Timeframe]:
    span = base_span(bars).to_pytimedelta()
    if span < Timeframe.M5.span:
        return resample(bars, Timeframe.M5, source_span=pd.Timedelta(span)), Timeframe.M5
    tf = _BASE_TIMEFRAMES.get(span)
    if tf is None:
        raise DataError(f"forecast: bars of {span} are not supported (use 1m, 5m, 15m or 1h bars)")
    return bars, tf


def _macro(bars: pd.DataFrame, request: ForecastRequest, settings: Settings) -> MacroData:
    if settings.fred_api_key is not None and request.source != "synthetic":
        from mesdesk.data.fred import FredClient

        client = FredClient(settings.fred_api_key.get_secret_value(), settings.fred_base_url)
        return fred_macro(client, bars.index[0].date(), bars.index[-1].date())
    return synthetic_macro(bars)


def prepare(request: ForecastRequest, settings: Settings, bars: pd.DataFrame | None = None) -> Prepared:
    """Load the bars (or take the given validated ones), the macro series and the features."""
    if bars is None:
        bars, origin = load_scan_bars(request.scan_request(), settings)
    else:
        origin = "given bars"
    base, tf = _base_bars(bars)
    macro = _macro(bars, request, settings)
    return Prepared(bars=bars, features=build_features(base, tf, macro), macro=macro, bars_from=origin)


def _scan(bars: pd.DataFrame, macro: MacroData, timeframes: tuple[Timeframe, ...]) -> pd.DataFrame:
    """The scanner's signals on `timeframes` (those not finer than the bars), VIX from `macro`."""
    usable = tuple(tf for tf in timeframes if pd.Timedelta(tf.span) >= base_span(bars))
    return scan_bars(bars, ScanConfig(timeframes=usable), macro.series["VIXCLS"])


def _quant_metadata() -> dict[str, Any]:
    return {
        "provider": None,
        "model": "quant",
        "fallback_used": False,
        "fallback_reason": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "latency_ms": 0.0,
        "cached": False,
    }


def _llm_context(qr: QuantResult, baseline: dict[str, float], mm_points: float, price: float) -> dict[str, Any]:
    d = qr.diagnostics
    return {
        "instrument": "MES (Micro E-mini S&P 500 futures)",
        "as_of_utc": qr.as_of.isoformat(),
        "last_price": price,
        "baseline_pct": baseline,
        "horizon_return_sd_pct": qr.residual_std_pct,
        "measured_move_adjustment_points": mm_points,
        "features_last_row": qr.features_last_row,
        "holdout_mse_pct2": {"ridge": d.ridge_mse, "mlp": d.nn_mse, "naive_zero": d.naive_mse, "horizon": d.horizon},
        "macro_correlations": d.correlations,
    }


def _ask(
    model: str,
    qr: QuantResult,
    baseline: dict[str, float],
    context: dict[str, Any],
    settings: Settings,
    request: ForecastRequest,
    *,
    llm_client: LLMClient | None,
    http_client: httpx2.Client | None,
    budget: Budget | None,
    now: datetime,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The model's numbers and metadata, or the baseline and the reason it was used."""
    provider = LLM_PROVIDERS[model]
    configured = settings.openai_model if provider == "openai" else settings.anthropic_model
    meta = _quant_metadata() | {"provider": provider, "model": configured}
    try:
        client = llm_client or make_llm_client(provider, settings, http_client)
        meta["model"] = client.model
        gate_budget = budget if budget is not None else _store_budget(settings)
        answer = ask_llm(
            client, context, qr.residual_std_pct, budget=gate_budget, now=now, max_sigmas=request.max_sigmas
        )
    except InvalidForecast as exc:
        if exc.reply is not None:
            meta |= _usage(exc.reply)
        return baseline, meta | {"fallback_used": True, "fallback_reason": f"invalid answer: {exc}"}
    except BudgetExceeded as exc:
        return baseline, meta | {"fallback_used": True, "fallback_reason": f"over budget: {exc}"}
    except ProviderError as exc:
        return baseline, meta | {"fallback_used": True, "fallback_reason": f"provider error ({exc.kind}): {exc}"}
    except (ConfigError, StoreError) as exc:
        return baseline, meta | {"fallback_used": True, "fallback_reason": f"not configured: {exc}"}
    except MesdeskError as exc:
        return baseline, meta | {"fallback_used": True, "fallback_reason": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # noqa: BLE001 - "any failure falls back": a database or SDK surprise included
        log.exception("LLM forecast failed unexpectedly; serving the quant numbers")
        return baseline, meta | {"fallback_used": True, "fallback_reason": f"unexpected {type(exc).__name__}: {exc}"}
    meta |= _usage(answer.reply) | {"rationale": answer.rationale}
    return answer.forecast_pct, meta


def _usage(reply: Any) -> dict[str, Any]:
    return {
        "model": reply.model,
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cost_usd": reply.cost_usd,
        "latency_ms": reply.latency_ms,
        "attempts": reply.attempts,
    }


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _store_budget(settings: Settings) -> Budget:
    """The forecast's budget in the settings' store (one engine per URL, migrated once per process)."""
    from mesdesk.store.base import make_engine, migrate

    url = settings.resolved_database_url
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            try:
                engine = make_engine(url)
                migrate(engine)
            except Exception as exc:  # noqa: BLE001 - any store failure means no budget: fall back
                raise StoreError(f"budget store unavailable: {exc}") from exc
            _ENGINES[url] = engine
    return Budget(engine, settings.daily_gpt_call_cap, scope=BUDGET_SCOPE)


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ConfigError(f"model={model!r}: choose one of {', '.join(MODELS)}")


def _compute(
    model: str,
    request: ForecastRequest,
    settings: Settings,
    prep: Prepared,
    signals: pd.DataFrame,
    *,
    llm_client: LLMClient | None,
    http_client: httpx2.Client | None,
    budget: Budget | None,
    now: datetime,
) -> dict[str, Any]:
    horizons = request.parsed_horizons
    qr = quant_forecast(prep.features, horizons, request.models, request.reference_horizon)
    price = float(prep.features.close[prep.features.frame.index.get_loc(qr.as_of)])
    mm = measured_move_adjustment(signals, qr.as_of, price)
    ns = {h.label: h.ns for h in horizons}
    baseline = quant_numbers(qr, mm, price, ns)
    if model == "quant":
        final, meta = baseline, _quant_metadata()
    elif model == "autogluon":
        from mesdesk.forecast.autogluon_trainer import forecast_from_trained

        trained = forecast_from_trained(settings.autogluon_models_dir, prep.bars, list(baseline))
        final = trained.returns_pct
        meta = _quant_metadata() | {"provider": "autogluon", "model": f"{trained.model_dir.name}/{trained.best_model}"}
    else:
        context = _llm_context(qr, baseline, mm.points, price)
        final, meta = _ask(
            model, qr, baseline, context, settings, request,
            llm_client=llm_client, http_client=http_client, budget=budget, now=now,
        )  # fmt: skip
    return assemble(
        model=model,
        qr=qr,
        mm=mm,
        baseline=baseline,
        final=final,
        sharpe=daily_sharpe(prep.bars),
        llm_metadata=meta,
        diagnostics={
            "bars_from": prep.bars_from,
            "base_timeframe": prep.features.timeframe.value,
            "macro_source": prep.macro.source,
            "last_price": price,
        },
    )


def forecast_payload(
    model: str = "quant",
    *,
    request: ForecastRequest | None = None,
    settings: Settings | None = None,
    bars: pd.DataFrame | None = None,
    now: datetime | None = None,
    llm_client: LLMClient | None = None,
    http_client: httpx2.Client | None = None,
    budget: Budget | None = None,
    cache: ForecastCache | None = None,
) -> dict[str, Any]:
    """The /mes/forecast JSON for `model` (quant, gpt, opus or autogluon); see the module docstring.

    A bad model or request raises `ConfigError`, unusable data `DataError` (the API maps both to 4xx);
    a failing LLM never raises: the quant numbers are served and ``llm_metadata`` says why.
    """
    _check_model(model)
    cfg = settings or load_settings()
    req = request or ForecastRequest(days_back=cfg.forecast_days_back)
    if model == "autogluon":  # fail fast, before any data is loaded
        from mesdesk.forecast.autogluon_trainer import find_model_dir, require_autogluon

        require_autogluon()
        find_model_dir(cfg.autogluon_models_dir)
    store = cache if cache is not None else shared_cache(cfg.forecast_cache_s)
    key = (model, req, None if bars is None else (len(bars), bars.index[-1]))
    with store.computing(key):
        hit = store.get(key)
        if hit is not None:
            return hit | {"llm_metadata": hit["llm_metadata"] | {"cached": True}}
        prep = prepare(req, cfg, bars)
        signals = _scan(prep.bars, prep.macro, MM_TIMEFRAMES)
        payload = _compute(
            model, req, cfg, prep, signals,
            llm_client=llm_client, http_client=http_client, budget=budget, now=now or datetime.now(tz=UTC),
        )  # fmt: skip
        store.put(key, payload)
        return payload


def full_payload(
    model: str = "quant",
    *,
    request: ForecastRequest | None = None,
    settings: Settings | None = None,
    bars: pd.DataFrame | None = None,
    now: datetime | None = None,
    llm_client: LLMClient | None = None,
    http_client: httpx2.Client | None = None,
    budget: Budget | None = None,
    cache: ForecastCache | None = None,
) -> dict[str, Any]:
    """``GET /mes/full``: the signals of every scanned timeframe (oldest first) and the forecast."""
    cfg = settings or load_settings()
    req = request or ForecastRequest(days_back=cfg.forecast_days_back)
    forecast = forecast_payload(
        model,
        request=req,
        settings=cfg,
        bars=bars,
        now=now,
        llm_client=llm_client,
        http_client=http_client,
        budget=budget,
        cache=cache,
    )
    scan_source = bars if bars is not None else load_scan_bars(req.scan_request(), cfg)[0]
    signals = _scan(scan_source, _macro(scan_source, req, cfg), SCAN_TIMEFRAMES)
    by_tf = {tf.value: signal_records(signals[signals["timeframe"] == tf.value]) for tf in SCAN_TIMEFRAMES}
    return {"signals": by_tf, "forecast": forecast}


@dataclass(frozen=True)
class EvaluationReport:
    results: list[HorizonEvaluation]
    dropped: dict[str, str]
    bars_from: str
    base_timeframe: str
    macro_source: str
    first_decision: pd.Timestamp
    last_decision: pd.Timestamp


def evaluate_forecast(
    request: ForecastRequest | None = None, settings: Settings | None = None, *, bars: pd.DataFrame | None = None
) -> EvaluationReport:
    """Purged walk-forward of the ridge and the MLP on every supported horizon (see `quant.evaluate`)."""
    cfg = settings or load_settings()
    req = request or ForecastRequest(days_back=cfg.forecast_days_back)
    prep = prepare(req, cfg, bars)
    results, dropped = evaluate(prep.features, req.parsed_horizons, req.models)
    index = prep.features.frame.index
    return EvaluationReport(
        results=results,
        dropped=dropped,
        bars_from=prep.bars_from,
        base_timeframe=prep.features.timeframe.value,
        macro_source=prep.macro.source,
        first_decision=pd.Timestamp(index[0]),
        last_decision=pd.Timestamp(index[-1]),
    )


def train_autogluon(request: ForecastRequest, config: TrainConfig, settings: Settings | None = None) -> dict[str, Any]:
    """``mesdesk train-autogluon``: load the request's bars and train (see `forecast.autogluon_trainer`)."""
    from mesdesk.forecast.autogluon_trainer import require_autogluon, train

    require_autogluon()  # fail before loading data when the extra is missing
    cfg = settings or load_settings()
    bars, origin = load_scan_bars(request.scan_request(), cfg)
    return train(bars, config, bars_from=origin)
