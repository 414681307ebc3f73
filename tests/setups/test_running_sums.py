"""The compiled session VWAP and volume multiple give exactly what their vectorised versions gave.

The vectorised versions (below, kept as the reference) are a whole-series cumsum minus its value
before each session, and bincount grids summed down the days. Random sessions (one-row sessions,
zero-volume rows, prices off the tick grid) and random day/slot layouts (missing slots, gaps of
days, repeated cells) must give the same bits.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mesdesk.indicators import group_starts, session_vwap, volume_multiple


def reference_vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, v: np.ndarray, keys: np.ndarray) -> np.ndarray:
    def cumsum_by_group(x: np.ndarray, first: np.ndarray, group: np.ndarray) -> np.ndarray:
        total = np.cumsum(x)
        before = np.concatenate(([0.0], total[:-1]))
        return np.asarray(total - before[first][group], dtype=np.float64)

    tp = (high + low + close) / 3.0
    starts = group_starts(keys)
    if tp.size == 0:
        return tp
    first, group = np.flatnonzero(starts), np.cumsum(starts) - 1
    pv = cumsum_by_group(tp * v, first, group)
    cv = cumsum_by_group(v, first, group)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(cv > 0, pv / np.where(cv > 0, cv, 1.0), tp), dtype=np.float64)


def reference_volume_multiple(
    volume: np.ndarray, day: np.ndarray, slot: np.ndarray, lookback_days: int, min_days: int
) -> np.ndarray:
    v = np.asarray(volume, dtype=np.float64)
    out = np.full(v.size, np.nan)
    if v.size == 0:
        return out
    d = day - day.min()
    s = slot - slot.min()
    n_days, n_slots = int(d.max()) + 1, int(s.max()) + 1
    cell = (d + 1) * n_slots + s
    size = (n_days + 1) * n_slots
    grid = np.bincount(cell, weights=v, minlength=size).reshape(n_days + 1, n_slots)
    count = np.bincount(cell, minlength=size).astype(np.float64).reshape(n_days + 1, n_slots)
    csum = np.cumsum(grid, axis=0).ravel()
    ccnt = np.cumsum(count, axis=0).ravel()
    before = cell - n_slots
    first = np.maximum(d - lookback_days, 0) * n_slots + s
    total = csum[before] - csum[first]
    n = ccnt[before] - ccnt[first]
    ok = (n >= min_days) & (n > 0)
    mean = np.where(ok, total / np.where(ok, n, 1.0), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(ok & (mean > 0), v / np.where(mean > 0, mean, 1.0), np.nan), dtype=np.float64)


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype == np.float64
    assert got.tobytes() == want.tobytes(), np.flatnonzero(got.view(np.int64) != want.view(np.int64))[:5]


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), n=st.integers(0, 400))
def test_compiled_session_vwap_equals_the_cumsum_version(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    close = 4000.0 + np.cumsum(rng.normal(0, 1.3, n))  # off the tick grid: rounding differences would show
    high = close + rng.random(n) * 2
    low = close - rng.random(n) * 2
    volume = np.where(rng.random(n) < 0.2, 0, rng.integers(1, 3000, n)).astype(np.float64)
    keys = np.cumsum(rng.random(n) < rng.choice([0.01, 0.1, 0.5]))
    same_bits(session_vwap(high, low, close, volume, keys), reference_vwap(high, low, close, volume, keys))


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(0, 600),
    lookback=st.integers(1, 25),
    min_days=st.integers(1, 5),
)
def test_compiled_volume_multiple_equals_the_bincount_version(seed: int, n: int, lookback: int, min_days: int) -> None:
    rng = np.random.default_rng(seed)
    day = np.sort(rng.integers(0, int(rng.integers(1, 40)), n)) + int(rng.integers(0, 5))
    slot = rng.integers(0, int(rng.integers(1, 30)), n) + int(rng.integers(0, 100))  # repeats and missing slots
    volume = np.where(rng.random(n) < 0.1, 0, rng.integers(1, 3000, n)) * rng.choice([1.0, 0.37])
    same_bits(
        volume_multiple(volume, day, slot, lookback, min_days),
        reference_volume_multiple(volume, day, slot, lookback, min_days),
    )
