"""Typed, frozen configuration of the engine: bracket, execution, daily risk limits, sessions.

All distances are index points from the entry fill price; all times of day are Central Time wall
clock (the only place CT appears); everything else in the engine is UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from mesdesk.calendar import RTH_A, RTH_B, Window
from mesdesk.errors import ConfigError
from mesdesk.model import MES, ContractSpec

if TYPE_CHECKING:
    from mesdesk.config import Settings

TargetFill = Literal["through", "touch"]
AmbiguousPolicy = Literal["stop_first", "target_first"]


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number of points, got {value!r}")


@dataclass(frozen=True, slots=True)
class BracketConfig:
    """The seed's bracket: TP +1.25, SL -0.75, stop to breakeven at +0.50, trail after +1.00.

    Trailing: once the best price reached `trail_after_pts` beyond the entry, the stop sits at
    best - `trail_distance_pts` (long; mirrored for a short), rounded to the tick against us, and it
    moves only in whole `trail_step_pts` steps and only in our favour. The target stays in place.
    """

    tp_pts: float = 1.25
    sl_pts: float = 0.75
    breakeven_at_pts: float | None = 0.50
    trail_after_pts: float | None = 1.00
    trail_distance_pts: float = 0.50
    trail_step_pts: float = 0.25

    def __post_init__(self) -> None:
        for name in ("tp_pts", "sl_pts", "trail_distance_pts", "trail_step_pts"):
            _positive(name, getattr(self, name))
        if self.breakeven_at_pts is not None:
            _positive("breakeven_at_pts", self.breakeven_at_pts)
        if self.trail_after_pts is not None:
            _positive("trail_after_pts", self.trail_after_pts)


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """How orders fill: slippage, commission, the target rule and the ambiguous-bar rule.

    Slippage (`slippage_ticks`, adverse) applies to market orders: the entry, a stop exit and the
    session-end exit. The target is a resting limit and fills at its price without slippage.
    `batch_window_s`: candidates whose time falls in the same epoch-aligned window are decided
    together at the window's end (0: each candidate is decided at its own time).
    """

    slippage_ticks: int = 1
    commission_usd_per_side: float = 0.62
    target_fill: TargetFill = "through"
    ambiguous_policy: AmbiguousPolicy = "stop_first"
    contract: ContractSpec = MES
    batch_window_s: int = 30

    def __post_init__(self) -> None:
        if self.slippage_ticks < 0:
            raise ConfigError(f"slippage_ticks must be >= 0, got {self.slippage_ticks}")
        if not (math.isfinite(self.commission_usd_per_side) and self.commission_usd_per_side >= 0):
            raise ConfigError(f"commission_usd_per_side must be >= 0, got {self.commission_usd_per_side}")
        if self.target_fill not in ("through", "touch"):
            raise ConfigError(f"target_fill must be 'through' or 'touch', got {self.target_fill!r}")
        if self.ambiguous_policy not in ("stop_first", "target_first"):
            raise ConfigError(f"ambiguous_policy must be 'stop_first' or 'target_first', got {self.ambiguous_policy!r}")
        if self.batch_window_s < 0:
            raise ConfigError(f"batch_window_s must be >= 0, got {self.batch_window_s}")

    @property
    def slippage_pts(self) -> float:
        return self.slippage_ticks * self.contract.tick_size

    @property
    def commission_pts_round_trip(self) -> float:
        """Both sides' commission in points (MES: 2 x 0.62 / 5 = 0.248)."""
        return 2.0 * self.commission_usd_per_side / self.contract.point_value_usd


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Daily limits per CME trading day (17:00 CT boundary); exact at their edges.

    `daily_point_stop`: no entry once the day's net points are <= this value (-3.0 exactly stops);
    an open trade is closed at the price where the day's net would reach it.
    A loss is a trade whose net pnl is < 0 and that did not exit at breakeven.
    """

    max_trades: int = 6
    stop_after_losses: int = 2
    daily_point_stop: float = -3.0

    def __post_init__(self) -> None:
        if self.max_trades < 0 or self.stop_after_losses < 1:
            raise ConfigError(
                f"max_trades must be >= 0 and stop_after_losses >= 1, got {self.max_trades}, {self.stop_after_losses}"
            )
        if not (math.isfinite(self.daily_point_stop) and self.daily_point_stop < 0):
            raise ConfigError(f"DAILY_POINT_STOP must be a negative number of points, got {self.daily_point_stop}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskLimits:
        return cls(daily_point_stop=settings.daily_point_stop)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Entry windows and the flat time, Central Time wall clock.

    `early_closes` maps a trading day to its CT close; entry windows end and the flat time falls at
    it when it is earlier than theirs.
    """

    windows: tuple[Window, ...] = (RTH_A, RTH_B)
    flat_at: time = time(15, 0)
    early_closes: Mapping[date, time] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.flat_at not in (time(15, 0), time(15, 15)) and not time(8, 30) < self.flat_at <= time(16, 0):
            raise ConfigError(f"flat_at must be a CT time of regular hours, got {self.flat_at}")
        for w in self.windows:
            if not w.start < w.end:
                raise ConfigError(f"window {w.label}: start {w.start} must be before end {w.end}")

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionConfig:
        hh, mm = settings.rth_end.split(":")
        return cls(flat_at=time(int(hh), int(mm)))

    def close_on(self, day: date) -> time:
        """The time of day by which the position is flat on `day` (early close aware)."""
        early = self.early_closes.get(day)
        return min(self.flat_at, early) if early is not None else self.flat_at


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the loop needs; `prefilter_threshold` only labels rows the candidate frame did not."""

    bracket: BracketConfig = field(default_factory=BracketConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    limits: RiskLimits = field(default_factory=RiskLimits)
    session: SessionConfig = field(default_factory=SessionConfig)
    prefilter_threshold: float = 75.0
