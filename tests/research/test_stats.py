"""PSR and DSR against the papers' definitions and their numerical example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesdesk.research import deflated_sharpe_ratio, probabilistic_sharpe_ratio
from mesdesk.research.stats import expected_max_sharpe, mean_interval, sharpe_moments


def test_deflated_sharpe_reproduces_the_papers_numerical_example() -> None:
    # Bailey and Lopez de Prado (2014), section 4: annualised SR 2.5 over 5 years of daily returns
    # (1250 observations, 250 a year), 100 trials whose annualised Sharpe variance is 0.5, skew -3,
    # kurtosis 10: SR0 = 0.1132 per day and DSR = 0.9004.
    sr = 2.5 / math.sqrt(250)
    var_sr = 0.5 / 250
    assert expected_max_sharpe(100, var_sr) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(sr, 100, var_sr, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-5)


def test_psr_is_one_half_when_the_sharpe_equals_the_benchmark() -> None:
    assert probabilistic_sharpe_ratio(0.1, 0.1, 250, -1.0, 6.0) == pytest.approx(0.5)


def test_psr_of_normal_returns_by_hand() -> None:
    # SR 0.1, n 101, normal moments: z = 0.1 * 10 / sqrt(1 + 2/4 * 0.01) = 0.997509; Phi(z) = 0.840741
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101) == pytest.approx(0.840741, abs=1e-6)


def test_negative_skew_and_fat_tails_lower_the_psr() -> None:
    normal = probabilistic_sharpe_ratio(0.1, 0.0, 250)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 250, -2.0, 9.0) < normal


def test_one_trial_has_no_selection_bias() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert deflated_sharpe_ratio(0.1, 1, 0.3, 101) == pytest.approx(probabilistic_sharpe_ratio(0.1, 0.0, 101))


def test_more_trials_deflate_more() -> None:
    values = [deflated_sharpe_ratio(0.15, n, 0.002, 500) for n in (2, 10, 100, 1000)]
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1] + 0.1


def test_sharpe_moments_of_a_constant_series_is_no_data() -> None:
    assert math.isnan(sharpe_moments(np.zeros(20)).sr)


def test_sharpe_moments_by_hand() -> None:
    m = sharpe_moments(np.array([1.0, -1.0, 2.0, 0.0]))
    # mean 0.5, sample std sqrt(5/3) = 1.290994
    assert m.sr == pytest.approx(0.5 / 1.290994, abs=1e-6)
    assert m.n_obs == 4
    assert m.kurtosis == pytest.approx(1.64, abs=1e-9)  # Pearson: mean((x-0.5)^4) / 1.25^2 = 2.5625/1.5625


def test_mean_interval_by_hand() -> None:
    mean, lo, hi = mean_interval(np.array([1.0, 2.0, 3.0]))
    # t(0.975, 2) = 4.302653, sd = 1, half = 4.302653 / sqrt(3) = 2.484138
    assert mean == 2.0
    assert lo == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert hi == pytest.approx(2.0 + 2.484138, abs=1e-6)


def test_psr_refuses_fewer_than_two_observations() -> None:
    with pytest.raises(ValueError, match="n_obs"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)


def test_sharpe_ratio_is_the_sharpe_of_sharpe_moments_bit_for_bit() -> None:
    from mesdesk.research.stats import sharpe_ratio

    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 5, 250):
        for series in (rng.normal(0.1, 1.0, n), np.round(rng.normal(0, 2, n), 2), np.zeros(n)):
            want = sharpe_moments(series).sr
            got = sharpe_ratio(series)
            assert (math.isnan(want) and math.isnan(got)) or got == want
