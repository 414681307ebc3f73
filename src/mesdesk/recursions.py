"""First-order recursive filters compiled with numba (the EMA, Wilder's smoothing, a volatility AR(1)).

`first_order(x, b0, a1, z0)` is bit for bit what ``scipy.signal.lfilter([b0], [1, a1], x, zi=[z0])``
gives: its transposed direct form II, ``y = z + b0 * x; z = x * 0 - y * a1``, in that order
(tests/foundation/test_recursions.py compares them exactly). It keeps scipy off the backtest's imports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit

F = TypeVar("F", bound=Callable[..., Any])


def compiled(fn: F) -> F:
    """`fn` compiled with numba, its machine code cached on disk (beside the module, else the user's cache
    directory, or NUMBA_CACHE_DIR) so a second process pays no JIT; compiled per process when no cache
    location is writable."""
    try:
        return cast(F, njit(cache=True)(fn))
    except RuntimeError:  # numba found no writable cache location
        return cast(F, njit(fn))


@compiled
def _first_order(x: np.ndarray, b0: float, a1: float, z0: float) -> np.ndarray:
    out = np.empty_like(x)
    z = z0
    for i in range(x.shape[0]):
        y = z + b0 * x[i]
        z = x[i] * 0.0 - y * a1
        out[i] = y
    return out


def first_order(x: npt.NDArray[np.float64], b0: float, a1: float, z0: float = 0.0) -> npt.NDArray[np.float64]:
    """y[n] = b0 * x[n] - a1 * y[n-1], the state before x[0] being `z0` (lfilter's `zi`)."""
    out: npt.NDArray[np.float64] = _first_order(np.ascontiguousarray(x, dtype=np.float64), b0, a1, z0)
    return out
