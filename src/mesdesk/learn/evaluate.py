"""Walk-forward proof of what learning adds, out of sample.

Folds roll over trading days: each fold learns from `train_days` days and is scored on the next
`test_days` days, then rolls forward by `test_days`. "Off" is the base decider alone; "on" wraps it
with `LearningDecider`, whose memory holds the as-if-taken outcomes of every candidate from the
fold's train start onward, but (point-in-time) uses each only once it has resolved: learning keeps
learning inside the test window, never from its future. Only test-window trades are scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.decider import Decider
from mesdesk.engine.config import EngineConfig
from mesdesk.engine.loop import infer_span, run_backtest
from mesdesk.learn.counterfactual import follow
from mesdesk.learn.decider import LearningDecider
from mesdesk.learn.memory import LearningConfig, LearningMemory
from mesdesk.learn.stats import t_quantile
from mesdesk.pathbars import PathBars


@dataclass(frozen=True, slots=True)
class Scored:
    """Out-of-sample figures with 95% intervals (win rate: Wilson; expectancy and net: Student t)."""

    trades: int
    win_rate: float
    win_rate_low: float
    win_rate_high: float
    expectancy: float
    expectancy_low: float
    expectancy_high: float
    net_pts: float
    net_low: float
    net_high: float

    @classmethod
    def of(cls, pnl: np.ndarray) -> Scored:
        n = int(pnl.size)
        if n == 0:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan, nan, 0.0, 0.0, 0.0)
        wins = int((pnl > 0).sum())
        p = wins / n
        z = 1.959963984540054
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half_w = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        mean = float(pnl.mean())
        half = t_quantile(0.975, n - 1) * float(pnl.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
        return cls(
            trades=n,
            win_rate=100 * p,
            win_rate_low=100 * (centre - half_w),
            win_rate_high=100 * (centre + half_w),
            expectancy=mean,
            expectancy_low=mean - half,
            expectancy_high=mean + half,
            net_pts=float(pnl.sum()),
            net_low=n * (mean - half),
            net_high=n * (mean + half),
        )


@dataclass(frozen=True)
class WalkForwardReport:
    folds: int
    test_days: list[date]
    off: Scored
    on: Scored
    vetoes: int
    off_trades: pd.DataFrame
    on_trades: pd.DataFrame


def _days_of(candidates: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.to_datetime(candidates["trading_day"]).dt.date.to_numpy())


def walk_forward(
    bars: pd.DataFrame,
    candidates: pd.DataFrame,
    make_decider: Callable[[], Decider],
    *,
    config: EngineConfig | None = None,
    learning: LearningConfig | None = None,
    train_days: int = 10,
    test_days: int = 5,
    sub_bars: pd.DataFrame | None = None,
) -> WalkForwardReport:
    """Run the folds and score learning on and off over the union of the test windows."""
    if train_days < 1 or test_days < 1:
        raise ValueError("train_days and test_days must be >= 1")
    config = config or EngineConfig()
    span = infer_span(pd.DatetimeIndex(bars.index))
    path_frame = bars if sub_bars is None else sub_bars
    path_span = span if sub_bars is None else infer_span(pd.DatetimeIndex(sub_bars.index))
    path = PathBars.from_frame(path_frame, path_span)
    outcomes = follow(candidates, path, config)
    cand_days = _days_of(candidates)
    days = sorted(set(cand_days.tolist()))
    off_parts, on_parts, tested, vetoes, folds = [], [], [], 0, 0
    start = 0
    while start + train_days < len(days):
        train = days[start : start + train_days]
        test = days[start + train_days : start + train_days + test_days]
        in_test = np.isin(cand_days, test)
        test_cands = candidates.loc[in_test].reset_index(drop=True)
        folds += 1
        tested.extend(test)
        start += test_days
        if len(test_cands) == 0:
            continue
        off = run_backtest(bars, test_cands, make_decider(), config, sub_bars, bar_span=span)
        memory = LearningMemory(learning)
        memory.extend(o for o in outcomes if trading_day(o.decided_at) >= train[0])
        wrapped = LearningDecider(make_decider(), memory)
        on = run_backtest(bars, test_cands, wrapped, config, sub_bars, bar_span=span)
        vetoes += sum(a.veto for a in wrapped.assessments.values())
        off_parts.append(off.trades)
        on_parts.append(on.trades)
    off_trades = pd.concat(off_parts, ignore_index=True) if off_parts else pd.DataFrame()
    on_trades = pd.concat(on_parts, ignore_index=True) if on_parts else pd.DataFrame()
    return WalkForwardReport(
        folds=folds,
        test_days=tested,
        off=Scored.of(_pnl(off_trades)),
        on=Scored.of(_pnl(on_trades)),
        vetoes=vetoes,
        off_trades=off_trades,
        on_trades=on_trades,
    )


def _pnl(trades: pd.DataFrame) -> np.ndarray:
    if len(trades) == 0 or "pnl_pts" not in trades.columns:
        return np.empty(0)
    return np.asarray(trades["pnl_pts"].to_numpy(dtype=float))
