"""Forecast horizons: the seed's `5m,15m,60m,4h,24h,7d` as wall-clock durations.

A horizon is a wall-clock duration after the decision time. The target of horizon `h` at decision
time `t` (a bar close) is the percent return from the close at `t` to the last close known at
`t + h` (an as-of lookup), so session breaks and weekends are neither skipped nor invented: a 24h
forecast made at Friday 15:00 CT ends at the Friday 16:00 close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from mesdesk.errors import ConfigError

DEFAULT_HORIZONS = ("5m", "15m", "60m", "4h", "24h", "7d")

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_PATTERN = re.compile(r"^\s*(\d+)\s*(m|h|d)\s*$")


@dataclass(frozen=True, slots=True)
class Horizon:
    """One forecast horizon: its label as the user wrote it (`60m`) and its duration."""

    label: str
    duration: timedelta

    @property
    def ns(self) -> int:
        return int(self.duration.total_seconds()) * 1_000_000_000


def parse_horizon(text: str, *, param: str = "horizons") -> Horizon:
    """Parse `5m`, `60m`, `4h`, `24h`, `7d`; a bad value names the parameter and the accepted form."""
    match = _PATTERN.match(text.lower())
    if match is None or int(match.group(1)) <= 0:
        raise ConfigError(f"{param}: {text!r} is not a horizon; write a positive number then m, h or d (e.g. 60m, 7d)")
    return Horizon(
        label=f"{int(match.group(1))}{match.group(2)}", duration=int(match.group(1)) * _UNITS[match.group(2)]
    )


def parse_horizons(text: str | list[str] | tuple[str, ...], *, param: str = "horizons") -> tuple[Horizon, ...]:
    """Parse a comma-separated list (or a sequence) of horizons, sorted by duration, without duplicates."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    parsed = [parse_horizon(p, param=param) for p in parts if p.strip()]
    if not parsed:
        raise ConfigError(f"{param}: no horizon given (e.g. {','.join(DEFAULT_HORIZONS)})")
    unique: dict[timedelta, Horizon] = {}
    for h in parsed:
        unique.setdefault(h.duration, h)
    return tuple(sorted(unique.values(), key=lambda h: h.duration))


def format_pct(value: float) -> str:
    """A horizon return in percent as the front end shows it: `+0.123%` (three decimals, signed)."""
    return f"{value:+.3f}%"
