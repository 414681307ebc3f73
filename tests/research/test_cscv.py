"""CSCV's Probability of Backtest Overfitting on cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesdesk.research import pbo_cscv
from mesdesk.research.cscv import cscv, group_blocks


def test_pure_noise_configurations_overfit_about_half_the_time() -> None:
    # One noise matrix gives a PBO anywhere in ~0.1..0.8 (its 252 splits share the same days);
    # over many independent matrices it centres on 0.5.
    results = [pbo_cscv(np.random.default_rng(s).normal(size=(500, 50)), n_groups=10) for s in range(20)]
    assert all(r.n_splits == 252 for r in results)
    assert 0.4 <= float(np.mean([r.pbo for r in results])) <= 0.6
    assert abs(float(np.median(np.concatenate([r.logits for r in results])))) < 0.3


def test_one_configuration_with_a_real_edge_is_not_overfit() -> None:
    rng = np.random.default_rng(4)
    m = rng.normal(0.0, 1.0, size=(1000, 50))
    m[:, 17] += 0.5  # a daily Sharpe of about 0.5 among zero-edge noise
    result = pbo_cscv(m, n_groups=10)
    assert result.pbo == 0.0
    assert np.all(result.winners == 17)
    assert result.logits.min() > 2.0  # always ranked first out of sample: logit ln(50/1)


def test_logit_by_hand_for_a_reversing_market() -> None:
    # Two configurations, four blocks: A wins blocks 0 and 1, B wins blocks 2 and 3.
    m = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    result = pbo_cscv(m, n_groups=4, metric=lambda rows: rows.sum(axis=0))
    # 6 splits. {0,1} picks A, which is last out of sample (rank 1 of 2: w = 1/3, logit ln(1/2)).
    # {0,2}: A=1, B=1 tie -> A (first); test {1,3}: A=2, B=2, tie: average rank 1.5, w = 0.5, logit 0.
    assert result.n_splits == 6
    assert math.log(0.5) == pytest.approx(result.logits[0])
    assert result.pbo == pytest.approx(np.mean(result.logits <= 0))


def test_a_split_without_an_in_sample_winner_or_its_oos_score_is_left_out() -> None:
    special = {frozenset({0, 1}): [math.nan, math.nan], frozenset({1, 3}): [math.nan, 1.0]}

    def score(rows: np.ndarray) -> np.ndarray:
        return np.array(special.get(frozenset(rows.tolist()), [1.0, 0.0]))

    result = cscv(4, 4, score, 2)
    # train {0,1}: no winner; {0,2}: winner 0 has no score on {1,3}; {2,3}: nothing scored on {0,1}.
    assert result.skipped == 3
    # {0,3} and {1,2}: winner 0 ranks 2 of 2 -> ln 2; {1,3}: winner 1 ranks 1 of 2 -> ln 1/2.
    assert sorted(result.logits.tolist()) == pytest.approx(sorted([math.log(2), math.log(2), math.log(0.5)]))
    assert result.pbo == pytest.approx(1 / 3)


def test_groups_must_be_even_and_fit_the_days() -> None:
    with pytest.raises(ValueError, match="even"):
        group_blocks(100, 5)
    with pytest.raises(ValueError, match="at least 10 trading days"):
        group_blocks(8, 10)
    blocks = group_blocks(23, 4)
    assert [b.size for b in blocks] == [6, 6, 6, 5]
    assert np.array_equal(np.concatenate(blocks), np.arange(23))
