"""Daily P&L matrices (configurations x trading days) and the objectives computed from them.

One engine run per configuration covers the whole span; a fold is a set of trading days, and every
objective of a fold is a sum or a moment of per-day aggregates, so no fold ever needs a second run
(see `mesdesk.research.evaluate` for why a run is day-local). All figures are points net of costs.

Objectives over a set of days D (stop-first fills; the same over the target-first fills beside them):
- ``expectancy``: sum of trade P&L / number of trades;
- ``net``: sum of trade P&L;
- ``sharpe``: mean / sample standard deviation of the daily net P&L over D, a day without a trade
  counting as 0 (per day, not annualised);
- ``profit_factor``: gross gains / gross losses (inf when there is no losing trade).
Fewer than `min_trades` trades in D is "not enough trades": NaN, never a zero, never chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Objective = Literal["expectancy", "net", "sharpe", "profit_factor"]
OBJECTIVES: tuple[Objective, ...] = ("sharpe", "expectancy", "net", "profit_factor")
NOT_ENOUGH = "not enough trades"


def check_objective(name: str) -> Objective:
    """The objective called `name`, or a ValueError listing the valid ones."""
    for o in OBJECTIVES:
        if o == name:
            return o
    raise ValueError(f"--objective {name!r}: choose one of {', '.join(OBJECTIVES)}")


@dataclass(frozen=True)
class DaySums:
    """Per-day aggregates of one fill policy: arrays of shape (configs, days)."""

    net: np.ndarray
    trades: np.ndarray
    gains: np.ndarray
    losses: np.ndarray  # sum of losing trades' P&L as a positive number

    @staticmethod
    def zeros(n_configs: int, n_days: int) -> DaySums:
        return DaySums(
            np.zeros((n_configs, n_days)),
            np.zeros((n_configs, n_days), dtype=np.int64),
            np.zeros((n_configs, n_days)),
            np.zeros((n_configs, n_days)),
        )


@dataclass(frozen=True)
class DayMatrix:
    """Stop-first (the result) and target-first (the optimistic bound) daily sums of every configuration."""

    days: np.ndarray  # trading days as datetime64[D], sorted
    stop_first: DaySums
    target_first: DaySums

    @property
    def n_configs(self) -> int:
        return int(self.stop_first.net.shape[0])

    @property
    def n_days(self) -> int:
        return int(self.days.size)


def day_sums(day_index: np.ndarray, pnl_pts: np.ndarray, n_days: int) -> tuple[np.ndarray, ...]:
    """Net, trade count, gains and losses per day of one configuration's trades (day_index per trade)."""
    idx = np.asarray(day_index, dtype=np.int64)
    pnl = np.asarray(pnl_pts, dtype=np.float64)
    net = np.bincount(idx, weights=pnl, minlength=n_days)
    trades = np.bincount(idx, minlength=n_days).astype(np.int64)
    gains = np.bincount(idx, weights=np.where(pnl > 0, pnl, 0.0), minlength=n_days)
    losses = np.bincount(idx, weights=np.where(pnl < 0, -pnl, 0.0), minlength=n_days)
    return net, trades, gains, losses


def objective_values(sums: DaySums, days: np.ndarray, objective: Objective, min_trades: int = 0) -> np.ndarray:
    """The objective of every configuration over the day indices `days` (NaN: not enough trades)."""
    cols = np.asarray(days, dtype=np.int64)
    trades = sums.trades[:, cols].sum(axis=1)
    net = sums.net[:, cols].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if objective == "net":
            out = net.astype(np.float64)
        elif objective == "expectancy":
            out = np.where(trades > 0, net / np.where(trades > 0, trades, 1), np.nan)
        elif objective == "profit_factor":
            gains = sums.gains[:, cols].sum(axis=1)
            losses = sums.losses[:, cols].sum(axis=1)
            out = np.where(losses > 0, gains / np.where(losses > 0, losses, 1.0), np.where(gains > 0, np.inf, np.nan))
        else:
            daily = sums.net[:, cols]
            if cols.size < 2:
                out = np.full(daily.shape[0], np.nan)
            else:
                sd = daily.std(axis=1, ddof=1)
                out = np.where(sd > 1e-12, daily.mean(axis=1) / np.where(sd > 1e-12, sd, 1.0), np.nan)
    out = np.asarray(out, dtype=np.float64)
    out[trades < max(1, min_trades)] = np.nan
    return out


def per_day(objective: Objective, value: float, n_days: int) -> float:
    """`value` made comparable across windows of different lengths (net per day; others unchanged)."""
    if objective == "net" and n_days > 0:
        return value / n_days
    return value


def finite_or_none(value: float) -> float | None:
    """A JSON-safe float: None for NaN, the value otherwise (inf kept as a large float is not wanted)."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return None
    return float(value)
