"""How a screen shows a time: the display zone (`TIMEZONE`, Central Time by default) and its label.

Kept apart from `mesdesk.services.chart` on purpose: the CLI's tables need only these, and the chart
service loads the store (SQLAlchemy) and the runner, a quarter of a second that `mesdesk backtest`
and `mesdesk scan` would pay to print a date.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd


def zone_label(tz: ZoneInfo) -> str:
    """ "CT" for Central Time, else the zone's name."""
    return "CT" if tz.key == "America/Chicago" else tz.key


def display_zone() -> ZoneInfo:
    """The zone every screen shows (`TIMEZONE`, Central Time by default), read from the settings now."""
    from mesdesk.config import load_settings

    return load_settings().tz


def screen_time(ts: datetime | pd.Timestamp | None, tz: ZoneInfo) -> str:
    """A table cell: "2025-03-10 08:30 CT" (a dash when missing)."""
    if ts is None or pd.isna(ts):
        return "-"
    return f"{pd.Timestamp(ts).tz_convert(tz):%Y-%m-%d %H:%M} {zone_label(tz)}"
