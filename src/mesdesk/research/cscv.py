"""Combinatorially symmetric cross-validation (CSCV) and the Probability of Backtest Overfitting.

Bailey, Borwein, López de Prado and Zhu (2015), "The Probability of Backtest Overfitting", Journal
of Computational Finance 20(4), section 2 (the CSCV algorithm):

1. The performance matrix M has T rows (observations: days) and N columns (configurations). Its rows
   are cut into S contiguous blocks (`n_groups`; S even). Here the blocks are as equal as the row
   count allows (`numpy.array_split`), where the paper asks T divisible by S.
2. For each of the C(S, S/2) ways to pick S/2 blocks as the training set J (the rest, J-bar, is the
   test set): score every column on J and on J-bar (default: the Sharpe ratio per row).
3. n* = the column that scores best on J. Its relative rank on J-bar is w = rank / (N + 1) (rank 1 =
   worst, N = best; ties share their average rank) and its logit is lambda = ln(w / (1 - w)).
4. PBO = the share of splits with lambda <= 0: how often the in-sample winner lands at or below the
   median out of sample.

A column whose training score is NaN ("not enough trades") is never the winner; a NaN test score
of another column ranks below every number. A split where no column has a training score, or where
the winner has no test score, is left out and counted in `skipped`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.stats import rankdata

ScoreFn = Callable[[np.ndarray], np.ndarray]
"""Scores of every configuration over the given row (day) indices: an array of length N, NaN = none."""


@dataclass(frozen=True)
class PboResult:
    """PBO, the logits of every split and which configuration won each split in sample."""

    pbo: float
    logits: np.ndarray
    winners: np.ndarray  # column index of the in-sample winner per split (-1: split left out)
    n_splits: int
    skipped: int  # splits without an in-sample winner or without its out-of-sample score
    n_groups: int

    @property
    def median_logit(self) -> float:
        return float(np.median(self.logits)) if self.logits.size else math.nan


def sharpe_columns(rows: np.ndarray) -> np.ndarray:
    """Sharpe ratio per column (mean / sample std over rows); NaN for a constant column."""
    if rows.shape[0] < 2:
        return np.full(rows.shape[1], np.nan)
    mean = rows.mean(axis=0)
    sd = rows.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(sd > 1e-12, mean / np.where(sd > 1e-12, sd, 1.0), np.nan), dtype=np.float64)


def group_blocks(n_rows: int, n_groups: int) -> list[np.ndarray]:
    """Row indices of `n_groups` contiguous, near-equal blocks; refuses odd S or fewer rows than S."""
    if n_groups < 2 or n_groups % 2:
        raise ValueError(f"--groups must be an even number >= 2, got {n_groups}")
    if n_rows < n_groups:
        raise ValueError(f"--groups {n_groups} needs at least {n_groups} trading days, got {n_rows}")
    return [np.asarray(b, dtype=np.int64) for b in np.array_split(np.arange(n_rows), n_groups)]


def _relative_rank(test: np.ndarray, winner: int) -> float:
    filled = np.where(np.isnan(test), -np.inf, test)
    ranks = rankdata(filled, method="average")
    return float(ranks[winner]) / (test.size + 1.0)


def cscv(n_rows: int, n_groups: int, score: ScoreFn, n_configs: int) -> PboResult:
    """Run CSCV over `n_rows` rows with a score function over row indices (see the module docstring)."""
    blocks = group_blocks(n_rows, n_groups)
    logits: list[float] = []
    winners: list[int] = []
    skipped = 0
    splits = list(combinations(range(n_groups), n_groups // 2))
    for train_groups in splits:
        train = np.concatenate([blocks[g] for g in train_groups])
        test = np.concatenate([blocks[g] for g in range(n_groups) if g not in train_groups])
        is_score = np.asarray(score(train), dtype=np.float64)
        if is_score.shape != (n_configs,):
            raise ValueError(f"score function returned shape {is_score.shape}, expected ({n_configs},)")
        if np.all(np.isnan(is_score)):
            skipped += 1
            winners.append(-1)
            continue
        best = int(np.nanargmax(is_score))  # first of equal scores: deterministic
        oos = np.asarray(score(test), dtype=np.float64)
        if np.isnan(oos[best]):  # the winner has no out-of-sample score: no evidence either way
            skipped += 1
            winners.append(best)
            continue
        w = _relative_rank(oos, best)
        logits.append(math.log(w / (1.0 - w)))
        winners.append(best)
    arr = np.asarray(logits, dtype=np.float64)
    pbo = float(np.mean(arr <= 0.0)) if arr.size else math.nan
    return PboResult(pbo, arr, np.asarray(winners, dtype=np.int64), len(splits), skipped, n_groups)


def pbo_cscv(
    performance_matrix: np.ndarray | Sequence[Sequence[float]],
    n_groups: int = 10,
    metric: Callable[[np.ndarray], np.ndarray] | None = None,
) -> PboResult:
    """Probability of Backtest Overfitting of a T x N matrix (rows: days or time blocks, columns: configs).

    `metric(rows)` maps a (t x N) slice to N scores; default: the Sharpe ratio per observation (not
    annualised) of each column. See the module docstring for the algorithm and its source.
    """
    m = np.asarray(performance_matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"performance_matrix must be 2-D with at least 2 configurations, got shape {m.shape}")
    fn = metric or sharpe_columns
    return cscv(m.shape[0], n_groups, lambda rows: fn(m[rows]), m.shape[1])
