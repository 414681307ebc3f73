"""Summary statistics of a run's trades: what a trader reads first (all points net of costs)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mesdesk.model import MES, ContractSpec


@dataclass(frozen=True, slots=True)
class Stats:
    """Closed trades only; `win_rate` in percent; drawdown on the closed-trade equity curve (points)."""

    trades: int
    wins: int
    losses: int
    scratches: int
    win_rate: float
    avg_win_pts: float
    avg_loss_pts: float
    expectancy_pts: float
    net_pts: float
    net_usd: float
    gross_pts: float
    commission_usd: float
    profit_factor: float
    max_drawdown_pts: float
    ambiguous: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def max_drawdown(pnl_pts: np.ndarray) -> float:
    """Largest fall of cumulative points from a previous peak (starting at 0), as a negative number."""
    if pnl_pts.size == 0:
        return 0.0
    equity = np.concatenate(([0.0], np.cumsum(pnl_pts)))
    return float((equity - np.maximum.accumulate(equity)).min())


def trade_stats(trades: pd.DataFrame, contract: ContractSpec = MES) -> Stats:
    """Statistics of the closed trades in a trades frame (TRADE_COLUMNS)."""
    closed = trades[trades["result"] != "open"]
    pnl = closed["pnl_pts"].to_numpy(dtype=np.float64)
    result = closed["result"].to_numpy()
    wins, losses = pnl[result == "win"], pnl[result == "loss"]
    gains, pains = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    n = int(pnl.size)
    commission = float(closed["commission_pts"].sum()) * contract.point_value_usd
    return Stats(
        trades=n,
        wins=int(wins.size),
        losses=int(losses.size),
        scratches=int((result == "scratch").sum()),
        win_rate=100.0 * wins.size / n if n else math.nan,
        avg_win_pts=_mean(wins),
        avg_loss_pts=_mean(losses),
        expectancy_pts=_mean(pnl),
        net_pts=float(pnl.sum()),
        net_usd=float(pnl.sum()) * contract.point_value_usd,
        gross_pts=float(closed["gross_pts"].sum()),
        commission_usd=commission,
        profit_factor=float(gains / pains) if pains > 0 else (math.inf if gains > 0 else math.nan),
        max_drawdown_pts=max_drawdown(pnl),
        ambiguous=int(closed["ambiguous"].astype(bool).sum()),
    )


def breakdown(trades: pd.DataFrame, by: str) -> pd.DataFrame:
    """Trades, win rate (%), net and average points per value of `by` (e.g. setup, session)."""
    closed = trades[trades["result"] != "open"]
    if closed.empty:
        return pd.DataFrame(columns=[by, "trades", "win_rate", "net_pts", "expectancy_pts"])
    grouped = closed.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "trades": grouped.size(),
            "win_rate": grouped["result"].apply(lambda r: 100.0 * float((r == "win").mean())),
            "net_pts": grouped["pnl_pts"].sum(),
            "expectancy_pts": grouped["pnl_pts"].mean(),
        }
    )
    return out.reset_index()
