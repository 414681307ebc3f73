"""Sharpe-ratio statistics: the Probabilistic and the Deflated Sharpe Ratio, and a mean's interval.

Every Sharpe ratio here is **per observation** (per trading day in the optimizer), never annualised:
an annualised figure must be divided by sqrt(observations per year) first. Kurtosis is the plain
(Pearson) kurtosis, 3 for a normal distribution, as in the papers.

Sources:
- Bailey, D. H. and López de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk
  15(2): the Probabilistic Sharpe Ratio (their eq. for PSR).
- Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for Selection
  Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5): DSR (eq. 2)
  and the expected maximum Sharpe ratio of N trials (eq. 3 / Appendix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

EULER_GAMMA = 0.5772156649015329


def _check_obs(n_obs: int) -> None:
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2, got {n_obs}")


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability that the true Sharpe ratio exceeds `sr_benchmark`, given the observed `sr`.

    PSR(SR*) = Phi( (SR - SR*) * sqrt(n - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2) )
    (Bailey and López de Prado 2012; the denominator is the standard error of the Sharpe estimate
    under non-normal, i.i.d. returns, after Mertens 2002).

    Parameters
    ----------
    sr, sr_benchmark : Sharpe ratios per observation (not annualised).
    n_obs : number of return observations behind `sr` (days).
    skew : skewness g3 of the returns.
    kurtosis : Pearson kurtosis g4 of the returns (3 for normal returns, not the excess).
    """
    _check_obs(n_obs)
    variance = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not math.isfinite(sr) or variance <= 0:
        return math.nan
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(variance)
    return float(_st.norm.cdf(z))


def expected_max_sharpe(n_trials: int, var_sr: float) -> float:
    """SR0: the expected maximum Sharpe ratio of `n_trials` independent trials whose true Sharpe is 0.

    E[max SR] ~ sqrt(V[SR]) * ((1 - gamma) * Z^-1(1 - 1/N) + gamma * Z^-1(1 - 1/(N e)))
    (Bailey and López de Prado 2014, eq. 3; gamma is the Euler-Mascheroni constant). One trial: 0.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if var_sr < 0 or not math.isfinite(var_sr):
        raise ValueError(f"var_sr must be a finite variance >= 0, got {var_sr}")
    if n_trials == 1:
        return 0.0
    z1 = float(_st.norm.ppf(1.0 - 1.0 / n_trials))
    z2 = float(_st.norm.ppf(1.0 - 1.0 / (n_trials * math.e)))
    return math.sqrt(var_sr) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe_ratio(
    sr: float, n_trials: int, var_sr: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability that the selected strategy's true Sharpe ratio beats the best of `n_trials` lucky ones.

    DSR = PSR(SR0) with SR0 = `expected_max_sharpe(n_trials, var_sr)` (Bailey and López de Prado 2014,
    eq. 2). `sr` and `var_sr` (the variance of the trials' Sharpe ratios) are per observation, not
    annualised; `kurtosis` is Pearson's (3 for normal). Read it like a p-value's complement: above
    0.95, the selection is unlikely to be a product of the number of trials alone.
    """
    return probabilistic_sharpe_ratio(sr, expected_max_sharpe(n_trials, var_sr), n_obs, skew, kurtosis)


@dataclass(frozen=True, slots=True)
class SharpeMoments:
    """The per-observation Sharpe ratio of a return series with the moments the PSR needs."""

    sr: float
    n_obs: int
    skew: float
    kurtosis: float


def sharpe_moments(returns: np.ndarray) -> SharpeMoments:
    """Sharpe (mean / sample std, ddof=1), skewness and Pearson kurtosis of `returns`.

    A constant series has no Sharpe ratio (NaN): a configuration that never trades is "no data",
    not a zero. Skewness and kurtosis of a constant series are taken as normal (0, 3).
    """
    r = np.asarray(returns, dtype=np.float64)
    n = int(r.size)
    if n < 2:
        return SharpeMoments(math.nan, n, 0.0, 3.0)
    sd = float(r.std(ddof=1))
    if not sd > 1e-12:
        return SharpeMoments(math.nan, n, 0.0, 3.0)
    return SharpeMoments(
        sr=float(r.mean()) / sd,
        n_obs=n,
        skew=float(_st.skew(r, bias=True)),
        kurtosis=float(_st.kurtosis(r, fisher=False, bias=True)),
    )


def sharpe_ratio(returns: np.ndarray) -> float:
    """`sharpe_moments(returns).sr` without the higher moments: the same arithmetic, a fraction of the cost."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return math.nan
    sd = float(r.std(ddof=1))
    if not sd > 1e-12:
        return math.nan
    return float(r.mean()) / sd


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of `values` with its two-sided Student-t interval (NaN bounds for fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size < 2:
        return mean, math.nan, math.nan
    half = float(_st.t.ppf(0.5 + level / 2.0, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return mean, mean - half, mean + half
