"""Ridge, MLP and the purged walk-forward: leakage, skill on a planted signal, none on noise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mesdesk.errors import ConfigError, DataError
from mesdesk.forecast.models import (
    ModelConfig,
    holdout_split,
    make_mlp,
    make_ridge,
    purged_train_mask,
    score,
    walk_forward,
)

MIN = 60 * 10**9


def _planted(n: int, beta: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = beta * x[:, 0] + rng.normal(scale=1.0, size=n)
    return x, y, np.arange(n, dtype=np.int64) * 5 * MIN


def test_purge_drops_rows_whose_outcome_ends_inside_the_test_block() -> None:
    t = np.arange(10, dtype=np.int64) * 5 * MIN
    mask = purged_train_mask(t, 15 * MIN, int(t[6]))
    # a 15-minute outcome starting at 15 ends at 30 = test start (allowed); from 20 on it overlaps
    assert mask.tolist() == [True] * 4 + [False] * 6


def test_walk_forward_never_trains_on_an_outcome_that_overlaps_its_test_block() -> None:
    x, y, t = _planted(600, 0.5)
    horizon = 60 * MIN
    seen: list[tuple[int, int]] = []

    class Spy:
        def __init__(self) -> None:
            self.inner = make_ridge(ModelConfig(), 4)

        def fit(self, X: np.ndarray, yy: np.ndarray) -> Any:  # noqa: N803
            self.last_t = int(t[np.flatnonzero(np.isin(x[:, 0], X[:, 0]))].max())
            return self.inner.fit(X, yy)

        def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
            first_test = int(t[np.flatnonzero(np.isin(x[:, 0], X[:, 0]))].min())
            seen.append((self.last_t, first_test))
            return np.asarray(self.inner.predict(X))

    walk_forward(x, y, t, horizon, Spy, n_folds=4, min_train_rows=50)
    assert len(seen) == 4
    assert all(last + horizon <= first for last, first in seen)


def test_ridge_finds_a_planted_signal_out_of_sample() -> None:
    x, y, t = _planted(3000, 0.5)
    wf = walk_forward(x, y, t, 5 * MIN, lambda: make_ridge(ModelConfig(), 4), n_folds=5, min_train_rows=200)
    assert wf.score.r2_oos > 0.05  # shrunk by the prior, still clearly above zero
    assert wf.score.dir_acc > 0.6
    assert wf.n_folds == 5


def test_ridge_does_not_beat_zero_on_pure_noise() -> None:
    x, y, t = _planted(3000, 0.0, seed=3)
    wf = walk_forward(x, y, t, 5 * MIN, lambda: make_ridge(ModelConfig(), 4), n_folds=5, min_train_rows=200)
    assert wf.score.r2_oos < 0.01
    assert abs(wf.score.dir_acc - 0.5) < 0.05


def test_mlp_is_a_real_fitted_network() -> None:
    x, y, t = _planted(1500, 0.8, seed=1)
    wf = walk_forward(x, y, t, 5 * MIN, lambda: make_mlp(ModelConfig()), n_folds=3, min_train_rows=200)
    assert np.isfinite(wf.score.mse)
    assert wf.score.r2_oos > 0.05  # it learns the planted linear signal
    preds = wf.pred[wf.tested]
    assert np.std(preds) > 0  # not a constant


def test_score_by_hand() -> None:
    s = score(np.array([1.0, -1.0, 0.5, 0.0]), np.array([2.0, 1.0, -1.0, 3.0]))
    assert s.mse == pytest.approx((1 + 4 + 2.25 + 9) / 4)
    assert s.mse_naive == pytest.approx((4 + 1 + 1 + 9) / 4)
    assert s.mae == pytest.approx((1 + 2 + 1.5 + 3) / 4)
    assert s.dir_acc == pytest.approx(1 / 3)  # the zero prediction has no direction: 1 right of 3
    assert s.dir_always_up == pytest.approx(3 / 4)
    assert s.r2_oos == pytest.approx(1 - s.mse / s.mse_naive)


def test_holdout_and_walk_forward_refuse_too_little_history() -> None:
    x, y, t = _planted(100, 0.5)
    with pytest.raises(DataError, match="purged training rows"):
        holdout_split(t, 5 * MIN, 0.2, min_train_rows=200)
    with pytest.raises(DataError, match="no fold"):
        walk_forward(x, y, t, 5 * MIN, lambda: make_ridge(ModelConfig(), 4), n_folds=3, min_train_rows=500)


def test_ridge_penalty_grows_with_overlap_so_long_horizons_shrink_towards_zero() -> None:
    x, y, _ = _planted(3000, 0.5)
    short = make_ridge(ModelConfig(), 4, overlap=1).fit(x, y).named_steps["ridge"].coef_[0]
    long = make_ridge(ModelConfig(), 4, overlap=288).fit(x, y).named_steps["ridge"].coef_[0]
    assert 0.2 < short < 0.5  # shrunk from the true 0.5, not erased
    assert 0 < long < short / 20


def test_model_config_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="n_folds"):
        ModelConfig(n_folds=0)
    with pytest.raises(ConfigError, match="holdout_fraction"):
        ModelConfig(holdout_fraction=0.9)
