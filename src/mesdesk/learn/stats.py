"""Small statistics helpers shared by learning (cached: scipy's ppf costs ~100 us a call)."""

from __future__ import annotations

from functools import lru_cache

from scipy.stats import t as student_t


@lru_cache(maxsize=4096)
def t_quantile(q: float, dof: int) -> float:
    """Student-t quantile (e.g. q=0.975 for a two-sided 95% interval)."""
    return float(student_t.ppf(q, dof))
