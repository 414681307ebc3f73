"""The risk gate: an order either passes or comes back `Refused(reason)`; nothing raises.

Daily counters belong to one CME trading day (17:00 CT boundary) and hold exactly at their edges:
the 7th entry is refused with ``max_trades=6``, the 2nd loss stops the day with
``stop_after_losses=2``, and a day whose net points are <= ``daily_point_stop`` (-3.00 exactly
included) takes no further entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from mesdesk.calendar import CT
from mesdesk.engine.config import RiskLimits, SessionConfig


@dataclass(frozen=True, slots=True)
class Order:
    """A request to enter one contract at the next path bar's open after `decided_at` (UTC)."""

    row: int
    direction: int
    decided_at: datetime
    trading_day: date


@dataclass(frozen=True, slots=True)
class Refused:
    """Why an order was not placed, in words the journal shows (e.g. 'max trades 6 reached')."""

    reason: str


@dataclass(slots=True)
class DayState:
    """Counters of one trading day: entries, losing trades, net points after costs."""

    day: date
    trades: int = 0
    losses: int = 0
    net_pts: float = 0.0
    position_open: bool = False

    def for_day(self, day: date) -> DayState:
        """This state when `day` is the same trading day, else a fresh one (the reset)."""
        if day == self.day:
            return self
        return DayState(day=day, position_open=self.position_open)


def in_entry_window(ts: datetime, day: date, session: SessionConfig) -> bool:
    """True when `ts` (UTC) lies in one of the entry windows [start, end) CT, clipped to the day's close."""
    wall = ts.astimezone(CT)
    if wall.date() != day:  # the evening part of a trading day is never an entry window
        return False
    close = session.close_on(day)
    t = wall.time()
    return any(w.start <= t < min(w.end, close) for w in session.windows)


def limit_refusal(day: DayState, limits: RiskLimits) -> Refused | None:
    """The daily limit that blocks a new entry, if any (checked in this order)."""
    if day.net_pts <= limits.daily_point_stop + 1e-9:
        return Refused(f"daily stop {limits.daily_point_stop:.2f} reached")
    if day.losses >= limits.stop_after_losses:
        return Refused(f"stop after {limits.stop_after_losses} losses")
    if day.trades >= limits.max_trades:
        return Refused(f"max trades {limits.max_trades} reached")
    return None


def gate(order: Order, day: DayState, limits: RiskLimits, session: SessionConfig) -> Order | Refused:
    """Pass `order` or refuse it: outside window, a daily limit, or a position already open."""
    if not in_entry_window(order.decided_at, order.trading_day, session):
        return Refused("outside window")
    refusal = limit_refusal(day.for_day(order.trading_day), limits)
    if refusal is not None:
        return refusal
    if day.position_open:
        return Refused("position open")
    return order


def close_time_utc(day: date, close_ct: time) -> datetime:
    """The UTC instant of `close_ct` (CT wall clock) on calendar date `day` (DST-correct)."""
    return datetime.combine(day, close_ct, tzinfo=CT).astimezone(UTC)
