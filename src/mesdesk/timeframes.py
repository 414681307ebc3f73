"""Bar timeframes: the seeds' 1m..1d, with their span and pandas offset."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from mesdesk.errors import ConfigError


class Timeframe(StrEnum):
    S1 = "1s"
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def span(self) -> timedelta:
        return _SPANS[self]

    @property
    def minutes(self) -> float:
        return self.span.total_seconds() / 60.0

    @classmethod
    def parse(cls, text: str, *, param: str = "timeframe") -> Timeframe:
        """Parse '5m', '15m', '1h', '60m', '4h', '1d'; a bad value names the parameter and the choices."""
        key = text.strip().lower()
        key = {"60m": "1h", "240m": "4h", "24h": "1d", "1min": "1m", "5min": "5m"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise ConfigError(f"{param}={text!r} is not a timeframe; choose one of {choices}") from None


_SPANS = {
    Timeframe.S1: timedelta(seconds=1),
    Timeframe.M1: timedelta(minutes=1),
    Timeframe.M5: timedelta(minutes=5),
    Timeframe.M15: timedelta(minutes=15),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.H4: timedelta(hours=4),
    Timeframe.D1: timedelta(days=1),
}

SCAN_TIMEFRAMES = (Timeframe.M5, Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1)
