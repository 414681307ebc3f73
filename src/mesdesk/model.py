"""Domain value types shared by the engine, the deciders, learning and the service.

Each type checks its own invariants when it is built. The hot loops work on arrays
(see `bars.py`); these types document the contract and travel between layers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from mesdesk.errors import DataError

# ---------------------------------------------------------------- contracts


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A futures contract: tick size and value of one point in USD, its listed months."""

    symbol: str
    tick_size: float
    point_value_usd: float
    months: str = "HMUZ"

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.point_value_usd <= 0:
            raise ValueError(f"{self.symbol}: tick size and point value must be positive")

    @property
    def tick_value_usd(self) -> float:
        return self.tick_size * self.point_value_usd

    def round_to_tick(self, price: float) -> float:
        return round(round(price / self.tick_size) * self.tick_size, 10)

    def usd_to_points(self, usd: float) -> float:
        return usd / self.point_value_usd


MES = ContractSpec("MES", tick_size=0.25, point_value_usd=5.0)
ES = ContractSpec("ES", tick_size=0.25, point_value_usd=50.0)
MNQ = ContractSpec("MNQ", tick_size=0.25, point_value_usd=2.0)
NQ = ContractSpec("NQ", tick_size=0.25, point_value_usd=20.0)
CONTRACTS: Mapping[str, ContractSpec] = MappingProxyType({c.symbol: c for c in (MES, ES, MNQ, NQ)})

# ---------------------------------------------------------------- bars


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar keyed by its open time (UTC); it is known only at `ts + span`."""

    ts: datetime
    span: timedelta
    open: float
    high: float
    low: float
    close: float
    volume: int

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise DataError(f"naive timestamp {self.ts}")
        prices = (self.open, self.high, self.low, self.close)
        if any(math.isnan(p) for p in prices):
            raise DataError(f"bar at {self.ts}: NaN price")
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise DataError(f"bar at {self.ts}: inconsistent OHLC {prices}")
        if self.volume < 0:
            raise DataError(f"bar at {self.ts}: negative volume {self.volume}")

    @property
    def ts_close(self) -> datetime:
        return self.ts + self.span


# ---------------------------------------------------------------- setups and candidates


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.LONG else -1


class SetupType(StrEnum):
    """The seed's three built-in setups, named as /metrics/live and /metrics/trades show them.

    A setup's identity is a plain string (`Candidate.setup_type`): these three, or the name of a
    user setup (see `mesdesk.setups.registry`).
    """

    ORB_RETEST_GO = "ORB_retest_go"
    EMA20_PULLBACK = "EMA20_pullback"
    VWAP_REJECTION = "VWAP_rejection"


def candidate_key(ts: datetime, setup: str, direction: str) -> str:
    """A candidate's identity across the journal, the decision record and learning: time|setup|direction."""
    return f"{ts.isoformat()}|{setup}|{direction}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A setup seen at `ts` (the close of the bar that completed it, UTC).

    `ref_entry` is the reference price at that close; the fill happens later (next bar's open).
    `features` holds the numbers learning and the deciders use (all known at `ts`).
    """

    ts: datetime
    setup_type: str
    direction: Direction
    ref_entry: float
    prefilter_score: float
    volume_multiple: float
    atr_5m: float
    session_label: str
    trading_day: date
    features: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"candidate time must be timezone-aware: {self.ts}")
        if not self.setup_type or "|" in self.setup_type:
            raise ValueError(f"setup name must be a non-empty string without '|', got {self.setup_type!r}")
        if not 0.0 <= self.prefilter_score <= 100.0:
            raise ValueError(f"prefilter_score must be in 0..100, got {self.prefilter_score}")

    @property
    def key(self) -> str:
        """Stable identity: time, setup and direction."""
        return candidate_key(self.ts, str(self.setup_type), self.direction.value)


# ---------------------------------------------------------------- decisions


class DecisionStatus(StrEnum):
    """What happened when a decider was asked. Only TAKE and SKIP are the model's own answers."""

    TAKE = "take"
    SKIP = "skip"
    PARSE_ERROR = "parse_error"
    PROVIDER_ERROR = "provider_error"
    TIMEOUT = "timeout"
    OVER_BUDGET = "over_budget"
    CACHE_MISS = "cache_miss"  # replay mode found no stored answer; nothing was sent


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one candidate.

    `take` is what the engine acts on. `status` says how it came about: when the primary decider
    failed (parse_error, provider_error, timeout, over_budget), `fallback` names the decider whose
    answer `take` carries. `confidence` is 0-100 as stated, or None when the decider states none
    (the rule decider): then no confidence gate applies and the journal says so; `calibrated` is the
    observed win rate for that confidence when calibration applies.
    """

    take: bool
    confidence: float | None
    reason: str
    source: str
    status: DecisionStatus
    fallback: str | None = None
    calibrated: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.confidence is not None and not 0.0 <= self.confidence <= 100.0:
            raise ValueError(f"confidence must be in 0..100, got {self.confidence}")
        model_answer = self.status in (DecisionStatus.TAKE, DecisionStatus.SKIP)
        if not model_answer and self.fallback is None:
            raise ValueError(f"a {self.status.value} decision must name the fallback that decided")
