"""The compiled first-order filter is bit for bit scipy's lfilter (the EMA, Wilder, the synthetic AR(1))."""

from __future__ import annotations

import numpy as np
import pytest

from mesdesk.indicators import ema, wilder
from mesdesk.recursions import first_order

signal = pytest.importorskip("scipy.signal")


def test_first_order_equals_lfilter_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for trial in range(120):
        n = int(rng.integers(1, 5000))
        prices = np.round(rng.normal(5000, 30, n) * 4) / 4
        x = prices if trial % 2 else rng.normal(0, 1, n) * 10 ** rng.uniform(-5, 5)
        alpha = 2.0 / (int(rng.integers(1, 300)) + 1.0) if trial % 3 else 1.0 / int(rng.integers(1, 300))
        want, _ = signal.lfilter([alpha], [1.0, alpha - 1.0], x, zi=[(1.0 - alpha) * x[0]])
        got = first_order(x, alpha, alpha - 1.0, (1.0 - alpha) * x[0])
        assert np.array_equal(want.view(np.int64), got.view(np.int64))
        phi = 0.5 ** (1.0 / rng.uniform(5, 500))
        assert np.array_equal(
            signal.lfilter([1.0], [1.0, -phi], x).view(np.int64), first_order(x, 1.0, -phi).view(np.int64)
        )


def test_ema_and_wilder_by_hand() -> None:
    # alpha 0.5 from 10: 10, 0.5*12 + 0.5*10 = 11, 0.5*8 + 0.5*11 = 9.5
    assert ema([10.0, 12.0, 8.0], 3).tolist() == [10.0, 11.0, 9.5]
    # alpha 1/2 (Wilder period 2) is the same recursion
    assert wilder([10.0, 12.0, 8.0], 2).tolist() == [10.0, 11.0, 9.5]


def test_compiled_without_a_writable_cache_compiles_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import numba

    from mesdesk import recursions

    def njit(*args: object, **kwargs: object) -> object:
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return numba.njit(*args, **kwargs)

    monkeypatch.setattr(recursions, "njit", njit)

    def add_one(x: float) -> float:
        return x + 1.0

    fn = recursions.compiled(add_one)
    assert isinstance(fn, numba.core.registry.CPUDispatcher)
    assert fn(1.5) == 2.5
