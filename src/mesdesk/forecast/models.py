"""The quant baseline (ridge on standardised lagged features) and the small MLP, with their walk-forward.

Both models are fitted per horizon on the rows whose outcome is known. Targets of neighbouring rows
overlap (a 4h return starting every 5 minutes), so every split is **purged**: a training row is used
only when its whole target window ended at or before the first decision time of the test block
(`t + h <= t_test_start`). Nothing of the test block, nor any outcome that ends inside it, reaches
the fit.

Scores are against the naive zero-return forecast (which is the martingale guess for a future
price): `r2_oos = 1 - mse / mse_naive` is positive only when the model beats it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mesdesk.errors import ConfigError, DataError


def fit_quietly(model: Any, X: np.ndarray, y: np.ndarray) -> Any:  # noqa: N803
    """Fit, silencing the MLP's max_iter warning (a regularised fit that ran its iterations is still valid)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


class Regressor(Protocol):
    def fit(self, X: np.ndarray, y: np.ndarray) -> Any: ...  # noqa: N803 (sklearn's names)

    def predict(self, X: np.ndarray) -> np.ndarray: ...  # noqa: N803


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Model and validation settings (frozen). Penalties are on standardised features."""

    prior_r2: float = 1e-3
    mlp_hidden: tuple[int, ...] = (8,)
    mlp_alpha: float = 10.0
    mlp_max_iter: int = 200
    n_folds: int = 5
    holdout_fraction: float = 0.2
    min_train_rows: int = 200
    min_independent_windows: int = 10
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.n_folds < 1:
            raise ConfigError(f"n_folds={self.n_folds}: need at least 1 walk-forward fold")
        if not 0.05 <= self.holdout_fraction <= 0.5:
            raise ConfigError(f"holdout_fraction={self.holdout_fraction}: choose between 0.05 and 0.5")
        if not 0 < self.prior_r2 < 1:
            raise ConfigError(f"prior_r2={self.prior_r2}: must be between 0 and 1 (e.g. 0.001)")


def make_ridge(cfg: ModelConfig, n_features: int, overlap: float = 1.0) -> Pipeline:
    """Standardise features, then ridge: its coefficients are % return per standard deviation.

    The penalty is a prior, fixed before any evaluation: the features together are expected to explain
    about `prior_r2` of a horizon's return variance, which for standardised features gives
    ``alpha = n_features / prior_r2`` per independent observation. Overlapping targets (a 4h return
    starting every 5 minutes) carry fewer independent observations than rows, so the penalty is
    multiplied by `overlap` (rows per independent window, horizon / bar span): long horizons on few
    independent windows are shrunk hard towards the zero forecast instead of fitting noise.

    No intercept: the mean return of a few weeks of history is noise, not drift (a 24h mean of +0.3 %
    over one month would be a 100 % a year trend), so the model departs from the zero (martingale)
    forecast only through the features, which are centred by the scaler.
    """
    alpha = n_features / cfg.prior_r2 * max(overlap, 1.0)
    return Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=alpha, fit_intercept=False))])


def make_mlp(cfg: ModelConfig) -> TransformedTargetRegressor:
    """A small MLP (one hidden layer of 8 ReLU units, Adam, strong L2, early stopping on a 10 % validation
    split), features standardised, target scaled but not centred (as the ridge: no fitted drift; the
    network's output bias can still learn one, under the same L2 penalty)."""
    net = MLPRegressor(
        hidden_layer_sizes=cfg.mlp_hidden,
        alpha=cfg.mlp_alpha,
        max_iter=cfg.mlp_max_iter,
        early_stopping=True,
        validation_fraction=0.1,
        shuffle=False,
        n_iter_no_change=10,
        random_state=cfg.random_state,
    )
    return TransformedTargetRegressor(
        regressor=Pipeline([("scale", StandardScaler()), ("mlp", net)]), transformer=StandardScaler(with_mean=False)
    )


@dataclass(frozen=True, slots=True)
class Score:
    """Out-of-sample scores of one model on one horizon (returns in %, so MSE in %^2)."""

    n_test: int
    mse: float
    mae: float
    mse_naive: float
    mae_naive: float
    dir_acc: float
    dir_always_up: float

    @property
    def r2_oos(self) -> float:
        return 1.0 - self.mse / self.mse_naive if self.mse_naive > 0 else float("nan")


def score(pred: np.ndarray, y: np.ndarray) -> Score:
    """Scores of predictions against outcomes; directional accuracy over rows where both are non-zero."""
    if pred.size == 0:
        raise DataError("no out-of-sample rows to score")
    moved = (y != 0) & (pred != 0)
    up = y != 0
    return Score(
        n_test=int(y.size),
        mse=float(np.mean((pred - y) ** 2)),
        mae=float(np.mean(np.abs(pred - y))),
        mse_naive=float(np.mean(y**2)),
        mae_naive=float(np.mean(np.abs(y))),
        dir_acc=float(np.mean(np.sign(pred[moved]) == np.sign(y[moved]))) if moved.any() else float("nan"),
        dir_always_up=float(np.mean(y[up] > 0)) if up.any() else float("nan"),
    )


def purged_train_mask(t_ns: np.ndarray, horizon_ns: int, test_start_ns: int) -> np.ndarray:
    """Rows whose target window ends at or before the test block starts."""
    mask: np.ndarray = t_ns + horizon_ns <= test_start_ns
    return mask


@dataclass(frozen=True)
class WalkForward:
    """Out-of-sample predictions (NaN where a row was never in a test block) and their score."""

    pred: np.ndarray
    tested: np.ndarray
    score: Score
    n_folds: int
    n_train_last: int


def walk_forward(
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    t_ns: np.ndarray,
    horizon_ns: int,
    factory: Callable[[], Regressor],
    *,
    n_folds: int,
    min_train_rows: int,
) -> WalkForward:
    """Expanding-window walk-forward: rows split in time into n_folds + 1 blocks; fold k trains on
    blocks before k (purged) and predicts block k. Folds with too few training rows are skipped."""
    n = len(y)
    edges = np.linspace(0, n, n_folds + 2).astype(int)
    pred = np.full(n, np.nan)
    folds, n_train = 0, 0
    for k in range(1, n_folds + 1):
        lo, hi = edges[k], edges[k + 1]
        if hi <= lo:
            continue
        train = purged_train_mask(t_ns, horizon_ns, int(t_ns[lo]))
        train[lo:] = False
        if train.sum() < min_train_rows:
            continue
        model = factory()
        fit_quietly(model, X[train], y[train])
        pred[lo:hi] = model.predict(X[lo:hi])
        folds, n_train = folds + 1, int(train.sum())
    tested = np.isfinite(pred)
    if not tested.any():
        raise DataError(f"walk-forward: no fold had {min_train_rows} purged training rows ({n} rows in all)")
    return WalkForward(
        pred=pred, tested=tested, score=score(pred[tested], y[tested]), n_folds=folds, n_train_last=n_train
    )


@dataclass(frozen=True)
class Holdout:
    """One purged split: train on the first part, test on the last `fraction` of rows."""

    train: np.ndarray
    test: np.ndarray


def holdout_split(t_ns: np.ndarray, horizon_ns: int, fraction: float, min_train_rows: int) -> Holdout:
    n = len(t_ns)
    start = int(n * (1.0 - fraction))
    if start <= 0 or start >= n:
        raise DataError(f"holdout: {n} rows cannot be split at {fraction:.0%}")
    train = purged_train_mask(t_ns, horizon_ns, int(t_ns[start]))
    train[start:] = False
    if train.sum() < min_train_rows:
        raise DataError(f"holdout: {int(train.sum())} purged training rows < {min_train_rows}")
    test = np.zeros(n, dtype=bool)
    test[start:] = True
    return Holdout(train=train, test=test)
