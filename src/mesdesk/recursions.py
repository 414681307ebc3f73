"""Running computations compiled with numba: first-order filters (the EMA, Wilder's smoothing, a
volatility AR(1)) and the running sums behind the session VWAP and the volume multiple.

`first_order(x, b0, a1, z0)` is bit for bit what ``scipy.signal.lfilter([b0], [1, a1], x, zi=[z0])``
gives: its transposed direct form II, ``y = z + b0 * x; z = x * 0 - y * a1``, in that order
(tests/foundation/test_recursions.py compares them exactly). It keeps scipy off the backtest's imports.
The running sums repeat the vectorised versions' operations in the same order (a whole-series running
sum minus its value before the session; day-by-day sums per slot), so they give the same bits
(tests/setups/test_running_sums.py compares them with those versions).
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
    return _njit(fn)


def inlined(fn: F) -> F:
    """`compiled`, and inlined where another compiled function calls it (numba's ``inline="always"``: its
    code goes into the caller's own library, not into a library of its own that the caller links). A
    fresh process then loads fewer symbols from numba's cache with the caller; called from Python it is
    an ordinary compiled function."""
    return _njit(fn, inline="always")


def _njit(fn: F, **options: Any) -> F:
    try:
        return cast(F, njit(cache=True, **options)(fn))
    except RuntimeError:  # numba found no writable cache location
        return cast(F, njit(**options)(fn))


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


@compiled
def session_vwap_kernel(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """`indicators.session_vwap` with the session starts given as a mask (True on each session's first row)."""
    n = high.shape[0]
    out = np.empty(n)
    total_pv = 0.0
    total_v = 0.0
    base_pv = 0.0
    base_v = 0.0
    for i in range(n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        if i == 0:
            total_pv = tp * volume[i]
            total_v = volume[i]
        else:
            if starts[i]:
                base_pv = total_pv
                base_v = total_v
            total_pv += tp * volume[i]
            total_v += volume[i]
        pv = total_pv - base_pv
        cv = total_v - base_v
        out[i] = pv / cv if cv > 0 else tp
    return out


@compiled
def volume_multiple_kernel(
    volume: np.ndarray, day: np.ndarray, slot: np.ndarray, n_days: int, n_slots: int, lookback_days: int, min_days: int
) -> np.ndarray:
    """`indicators.volume_multiple` for days 0..n_days-1 and slots 0..n_slots-1: per-slot running sums by day."""
    size = (n_days + 1) * n_slots
    total = np.zeros(size)  # row r (r = day + 1) sums the volume of that day's slot; row 0 stays empty
    count = np.zeros(size)
    for i in range(volume.shape[0]):
        cell = (day[i] + 1) * n_slots + slot[i]
        total[cell] += volume[i]
        count[cell] += 1.0
    for cell in range(n_slots, size):  # running sums down the days: row r holds days 0..r-1
        total[cell] = total[cell - n_slots] + total[cell]
        count[cell] = count[cell - n_slots] + count[cell]
    out = np.full(volume.shape[0], np.nan)
    for i in range(volume.shape[0]):
        before = day[i] * n_slots + slot[i]
        first = max(day[i] - lookback_days, 0) * n_slots + slot[i]
        n = count[before] - count[first]
        if n >= min_days and n > 0:
            mean = (total[before] - total[first]) / n
            if mean > 0:
                out[i] = volume[i] / mean
    return out
