"""Objectives over day slices, by hand; too few trades is NaN, never zero."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesdesk.research.objectives import DaySums, check_objective, day_sums, objective_values


def _one_config(day_index: list[int], pnl: list[float], n_days: int) -> DaySums:
    net, trades, gains, losses = day_sums(np.array(day_index), np.array(pnl), n_days)
    return DaySums(net[None], trades[None], gains[None], losses[None])


def test_objectives_by_hand() -> None:
    # day 0: +2, -1; day 1: no trade; day 2: -0.5; day 3: +1.5
    sums = _one_config([0, 0, 2, 3], [2.0, -1.0, -0.5, 1.5], 4)
    days = np.arange(4)
    assert objective_values(sums, days, "net")[0] == pytest.approx(2.0)
    assert objective_values(sums, days, "expectancy")[0] == pytest.approx(0.5)
    assert objective_values(sums, days, "profit_factor")[0] == pytest.approx(3.5 / 1.5)
    daily = np.array([1.0, 0.0, -0.5, 1.5])  # the no-trade day counts as zero
    assert objective_values(sums, days, "sharpe")[0] == pytest.approx(daily.mean() / daily.std(ddof=1))


def test_a_slice_sees_only_its_days() -> None:
    sums = _one_config([0, 0, 2, 3], [2.0, -1.0, -0.5, 1.5], 4)
    assert objective_values(sums, np.array([2, 3]), "net")[0] == pytest.approx(1.0)
    assert objective_values(sums, np.array([1]), "expectancy", 0)[0] != 0.0


def test_too_few_trades_is_nan_not_zero() -> None:
    sums = _one_config([0, 0, 2, 3], [2.0, -1.0, -0.5, 1.5], 4)
    for name in ("net", "expectancy", "sharpe", "profit_factor"):
        assert math.isnan(objective_values(sums, np.arange(4), name, min_trades=5)[0])
        assert math.isnan(objective_values(sums, np.array([1]), name)[0])  # no trade at all


def test_profit_factor_without_losses_is_infinite() -> None:
    sums = _one_config([0, 1], [1.0, 0.5], 2)
    assert objective_values(sums, np.arange(2), "profit_factor")[0] == math.inf


def test_unknown_objective_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="sharpe, expectancy, net, profit_factor"):
        check_objective("sortino")
