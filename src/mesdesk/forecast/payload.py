"""The /mes/forecast JSON: the seed's field names, filled from the quant result and the model used.

Field by field (percent returns unless named otherwise):

- ``forecasts``: per horizon, the final forecast as a signed string (``"+0.012%"``);
- ``forecast_numeric_pct``: the same numbers;
- ``baseline_quant``: the quant forecast (ridge plus the measured-move adjustment on 4h and longer);
  for model=quant it equals ``forecast_numeric_pct``;
- ``sharpe``: annualised Sharpe ratio of MES daily close-to-close returns (mean / sd x sqrt(252),
  no risk-free rate) over the last up to 252 complete trading days of the data; the window is in
  ``diagnostics.sharpe_window``;
- ``correlations``, ``shap_proxy``, ``permutation_importance``, ``nn_mse``, ``nn_new_corr_example``:
  see `mesdesk.forecast.quant`; the horizon they describe is ``diagnostics.reference_horizon``;
- ``mm_adjust_1d_4h_points``: see `mesdesk.forecast.mm_adjust`;
- ``features_last_row``: the feature row the forecast was made from (time: ``as_of``);
- ``llm_metadata``: provider, model, whether the fallback was used and why, tokens, cost, latency,
  whether the answer came from the cache.

NaN never reaches the JSON: an undefined figure is ``null``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.data.resample import resample
from mesdesk.forecast.horizons import format_pct
from mesdesk.forecast.mm_adjust import MeasuredMoveAdjustment
from mesdesk.forecast.quant import QuantResult
from mesdesk.timeframes import Timeframe

TRADING_DAYS_PER_YEAR = 252
SEED_FIELDS = (
    "forecasts",
    "forecast_numeric_pct",
    "sharpe",
    "correlations",
    "shap_proxy",
    "nn_new_corr_example",
    "nn_mse",
    "mm_adjust_1d_4h_points",
    "features_last_row",
    "llm_metadata",
    "baseline_quant",
)


def clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python, timestamps -> ISO 8601, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    return value


def daily_sharpe(bars: pd.DataFrame, max_days: int = TRADING_DAYS_PER_YEAR) -> tuple[float, dict[str, Any]]:
    """Annualised Sharpe of daily close-to-close returns over the last `max_days` complete trading days."""
    daily = resample(bars, Timeframe.D1)
    closes = daily["close"].to_numpy(dtype=np.float64)[-(max_days + 1) :]
    returns = closes[1:] / closes[:-1] - 1.0
    window: dict[str, Any] = {"days": int(returns.size), "first_day": None, "last_day": None}
    if returns.size < 2 or np.std(returns, ddof=1) == 0:
        return float("nan"), window
    days = pd.DatetimeIndex(daily.index)[-returns.size :]
    # a daily bin is labelled by its 17:00 CT open; the trading day is the next calendar day in CT
    labels = (days.tz_convert("America/Chicago") + pd.Timedelta(hours=7)).strftime("%Y-%m-%d")
    window.update(first_day=labels[0], last_day=labels[-1])
    value = float(np.mean(returns) / np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))
    return value, window


def quant_numbers(
    qr: QuantResult, mm: MeasuredMoveAdjustment, price: float, horizons_ns: dict[str, int]
) -> dict[str, float]:
    """Ridge forecast per horizon plus the measured-move adjustment on horizons of 4h and longer."""
    from mesdesk.forecast.mm_adjust import MIN_FOLD_HORIZON_NS

    mm_pct = mm.pct_of(price)
    return {h: v + (mm_pct if horizons_ns[h] >= MIN_FOLD_HORIZON_NS else 0.0) for h, v in qr.forecast_pct.items()}


def assemble(
    *,
    model: str,
    qr: QuantResult,
    mm: MeasuredMoveAdjustment,
    baseline: dict[str, float],
    final: dict[str, float],
    sharpe: tuple[float, dict[str, Any]],
    llm_metadata: dict[str, Any],
    diagnostics: dict[str, Any],
) -> dict[str, Any]:
    """The payload dict (JSON-safe), seed fields plus model, as_of, permutation_importance, diagnostics."""
    d = qr.diagnostics
    payload: dict[str, Any] = {
        "model": model,
        "as_of": qr.as_of,
        "forecasts": {h: format_pct(v) for h, v in final.items()},
        "forecast_numeric_pct": final,
        "sharpe": sharpe[0],
        "correlations": d.correlations,
        "shap_proxy": d.shap_proxy,
        "permutation_importance": d.permutation_importance,
        "nn_new_corr_example": d.nn_new_corr_example,
        "nn_mse": d.nn_mse,
        "mm_adjust_1d_4h_points": mm.points,
        "features_last_row": qr.features_last_row,
        "llm_metadata": llm_metadata,
        "baseline_quant": baseline,
        "diagnostics": {
            "reference_horizon": d.horizon,
            "holdout_rows": {"train": d.n_train, "test": d.n_test},
            "holdout_mse": {"ridge": d.ridge_mse, "mlp": d.nn_mse, "naive_zero": d.naive_mse},
            "horizons_dropped": qr.dropped,
            "sharpe_window": sharpe[1],
            "measured_moves": [
                {
                    "timeframe": m.timeframe,
                    "direction": m.direction,
                    "confirmed_at": m.confirmed_at,
                    "target_100": m.target_100,
                    "stop": m.stop,
                    "hit_rate": m.hit_rate,
                    "resolved_before": m.resolved_before,
                    "expected_points": m.expected_points,
                }
                for m in mm.moves
            ],
            **diagnostics,
        },
    }
    out: dict[str, Any] = clean(payload)
    return out
