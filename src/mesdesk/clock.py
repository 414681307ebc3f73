"""Clocks: the engine asks a `Clock` for the time, so backtest and live run the same code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (timezone-aware UTC)."""

    def now(self) -> datetime: ...


class SimClock:
    """A simulated clock that only moves forward (raises on any attempt to go back)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"clock start must be timezone-aware: {start}")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance_to(self, ts: datetime) -> None:
        if ts.tzinfo is None:
            raise ValueError(f"clock time must be timezone-aware: {ts}")
        ts = ts.astimezone(UTC)
        if ts < self._now:
            raise ValueError(f"clock must be monotonic: {ts} < {self._now}")
        self._now = ts


class WallClock:
    """The real time, UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
