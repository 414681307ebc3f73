"""Research: parameter search judged out of sample (walk-forward, CSCV/PBO, Deflated Sharpe).

The public API for notebooks. Sharpe ratios are per observation (per day), never annualised.
See docs/research.md.
"""

from mesdesk.research.cscv import PboResult, pbo_cscv
from mesdesk.research.optimize import OptimizeResult, OptimizeSpec, optimize
from mesdesk.research.stats import deflated_sharpe_ratio, expected_max_sharpe, probabilistic_sharpe_ratio

__all__ = [
    "OptimizeResult",
    "OptimizeSpec",
    "PboResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "optimize",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
]
