"""The quant forecast: which horizons the data supports, the ridge forecast per horizon, and diagnostics.

- `forecast_pct`: per horizon, the ridge fitted on every row whose outcome is known, applied to the
  latest complete feature row (the decision time `as_of`).
- diagnostics on the reference horizon (default 60m; the shortest supported one otherwise), all on a
  purged hold-out (the last 20 % of rows): `shap_proxy` (the ridge's standardised coefficients,
  % return per standard deviation of the feature), `permutation_importance` (increase of the hold-out
  MSE, in %^2, when the feature is shuffled), `nn_mse` (the MLP's hold-out MSE) and
  `nn_new_corr_example` (correlation of the MLP's hold-out predictions with the outcomes), beside the
  ridge's and the naive zero forecast's hold-out MSE.
- `correlations`: Pearson correlation of each macro feature at decision time with the forward return
  of the reference horizon, over all rows whose outcome is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from mesdesk.errors import DataError
from mesdesk.forecast.features import FEATURES, MACRO_FEATURES, FeatureSet
from mesdesk.forecast.horizons import Horizon
from mesdesk.forecast.models import (
    ModelConfig,
    Score,
    fit_quietly,
    holdout_split,
    make_mlp,
    make_ridge,
    walk_forward,
)


@dataclass(frozen=True)
class Rows:
    """Complete-feature rows with a known outcome for one horizon."""

    X: np.ndarray
    y: np.ndarray
    t_ns: np.ndarray


def training_rows(fs: FeatureSet, horizon: Horizon) -> Rows:
    x = fs.frame.to_numpy(dtype=np.float64)
    y = fs.targets(horizon)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
    return Rows(X=x[ok], y=y[ok], t_ns=fs.t_ns[ok])


def overlap(fs: FeatureSet, horizon: Horizon) -> float:
    """Rows per independent outcome window: horizon / bar span (at least 1)."""
    return max(1.0, horizon.duration / fs.timeframe.span)


def unsupported_reason(fs: FeatureSet, horizon: Horizon, cfg: ModelConfig) -> str | None:
    """Why the data cannot support `horizon` (None when it can)."""
    span_ns = int(fs.timeframe.span.total_seconds()) * 1_000_000_000
    if horizon.ns < span_ns:
        return f"shorter than one {fs.timeframe.value} bar"
    rows = training_rows(fs, horizon)
    if len(rows.y) < cfg.min_train_rows:
        return f"{len(rows.y)} rows with a known outcome < {cfg.min_train_rows}"
    windows = (rows.t_ns[-1] - rows.t_ns[0]) / horizon.ns
    if windows < cfg.min_independent_windows:
        return f"{windows:.1f} non-overlapping windows of history < {cfg.min_independent_windows}"
    return None


@dataclass(frozen=True)
class Diagnostics:
    horizon: str
    shap_proxy: dict[str, float]
    permutation_importance: dict[str, float]
    nn_mse: float
    nn_new_corr_example: float
    ridge_mse: float
    naive_mse: float
    n_train: int
    n_test: int
    correlations: dict[str, float]


@dataclass(frozen=True)
class QuantResult:
    as_of: pd.Timestamp
    forecast_pct: dict[str, float]
    dropped: dict[str, str]
    features_last_row: dict[str, float]
    diagnostics: Diagnostics
    residual_std_pct: dict[str, float] = field(default_factory=dict)


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else float("nan")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def diagnose(fs: FeatureSet, horizon: Horizon, cfg: ModelConfig) -> Diagnostics:
    """Hold-out diagnostics of both models on one horizon (see the module docstring)."""
    rows = training_rows(fs, horizon)
    split = holdout_split(rows.t_ns, horizon.ns, cfg.holdout_fraction, cfg.min_train_rows)
    x_tr, y_tr, x_te, y_te = rows.X[split.train], rows.y[split.train], rows.X[split.test], rows.y[split.test]
    ridge = fit_quietly(make_ridge(cfg, x_tr.shape[1], overlap(fs, horizon)), x_tr, y_tr)
    coefs = ridge.named_steps["ridge"].coef_
    perm = permutation_importance(
        ridge, x_te, y_te, scoring="neg_mean_squared_error", n_repeats=5, random_state=cfg.random_state
    )
    mlp = fit_quietly(make_mlp(cfg), x_tr, y_tr)
    nn_pred = mlp.predict(x_te)
    correlations = {name: _corr(rows.X[:, FEATURES.index(name)], rows.y) for name in MACRO_FEATURES}
    return Diagnostics(
        horizon=horizon.label,
        shap_proxy={name: float(c) for name, c in zip(FEATURES, coefs, strict=True)},
        permutation_importance={name: float(v) for name, v in zip(FEATURES, perm.importances_mean, strict=True)},
        nn_mse=float(np.mean((nn_pred - y_te) ** 2)),
        nn_new_corr_example=_corr(nn_pred, y_te),
        ridge_mse=float(np.mean((ridge.predict(x_te) - y_te) ** 2)),
        naive_mse=float(np.mean(y_te**2)),
        n_train=int(split.train.sum()),
        n_test=int(split.test.sum()),
        correlations=correlations,
    )


def latest_row(fs: FeatureSet) -> tuple[pd.Timestamp, np.ndarray]:
    """The latest decision time whose features are all known, and its feature vector."""
    values = fs.frame.to_numpy(dtype=np.float64)
    complete = np.flatnonzero(np.isfinite(values).all(axis=1))
    if complete.size == 0:
        raise DataError("no bar has every forecast feature yet (too little history)")
    i = int(complete[-1])
    return pd.Timestamp(fs.frame.index[i]), values[i]


def quant_forecast(
    fs: FeatureSet, horizons: tuple[Horizon, ...], cfg: ModelConfig, reference: str = "60m"
) -> QuantResult:
    """Ridge forecasts for every supported horizon, diagnostics on the reference horizon."""
    dropped: dict[str, str] = {}
    supported: list[Horizon] = []
    for h in horizons:
        reason = unsupported_reason(fs, h, cfg)
        if reason is None:
            supported.append(h)
        else:
            dropped[h.label] = reason
    if not supported:
        detail = "; ".join(f"{k}: {v}" for k, v in dropped.items())
        raise DataError(f"the data supports none of the horizons ({detail})")
    as_of, last = latest_row(fs)
    forecast: dict[str, float] = {}
    resid: dict[str, float] = {}
    for h in supported:
        rows = training_rows(fs, h)
        model = fit_quietly(make_ridge(cfg, rows.X.shape[1], overlap(fs, h)), rows.X, rows.y)
        forecast[h.label] = float(model.predict(last.reshape(1, -1))[0])
        resid[h.label] = float(np.std(rows.y))
    ref = next((h for h in supported if h.label == reference), supported[0])
    return QuantResult(
        as_of=as_of,
        forecast_pct=forecast,
        dropped=dropped,
        features_last_row={name: _finite(v) for name, v in zip(FEATURES, last, strict=True)},
        diagnostics=diagnose(fs, ref, cfg),
        residual_std_pct=resid,
    )


@dataclass(frozen=True)
class HorizonEvaluation:
    horizon: str
    ridge: Score
    mlp: Score
    n_rows: int
    n_folds: int


def evaluate(
    fs: FeatureSet, horizons: tuple[Horizon, ...], cfg: ModelConfig
) -> tuple[list[HorizonEvaluation], dict[str, str]]:
    """Purged walk-forward of the ridge and the MLP per supported horizon (same folds for both)."""
    results: list[HorizonEvaluation] = []
    dropped: dict[str, str] = {}
    for h in horizons:
        reason = unsupported_reason(fs, h, cfg)
        if reason is not None:
            dropped[h.label] = reason
            continue
        rows = training_rows(fs, h)
        kw = {"n_folds": cfg.n_folds, "min_train_rows": cfg.min_train_rows}
        ridge_factory = partial(make_ridge, cfg, rows.X.shape[1], overlap(fs, h))
        ridge = walk_forward(rows.X, rows.y, rows.t_ns, h.ns, ridge_factory, **kw)
        mlp = walk_forward(rows.X, rows.y, rows.t_ns, h.ns, lambda: make_mlp(cfg), **kw)
        results.append(HorizonEvaluation(h.label, ridge.score, mlp.score, len(rows.y), ridge.n_folds))
    return results, dropped
