"""CME Globex time: the trading day (17:00-16:00 CT), RTH, the seeds' windows rth_a and rth_b.

All inputs are timezone-aware; Central Time is used only to place times in sessions.
A trading day is named by the calendar date on which it ends: the session that opens Sunday
17:00 CT is Monday's. Vectorised helpers take a UTC `DatetimeIndex`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

CT = ZoneInfo("America/Chicago")
DAY_OPEN_CT = time(17, 0)
DAY_CLOSE_CT = time(16, 0)
RTH_OPEN_CT = time(8, 30)


@dataclass(frozen=True, slots=True)
class Window:
    """A named entry window in Central Time, [start, end)."""

    label: str
    start: time
    end: time


RTH_A = Window("rth_a", time(8, 30), time(10, 30))
RTH_B = Window("rth_b", time(13, 0), time(15, 0))
SEED_WINDOWS = (RTH_A, RTH_B)


def trading_day(ts: datetime) -> date:
    """The CME trading day a moment belongs to: 17:00 CT starts the next day's session."""
    if ts.tzinfo is None:
        raise ValueError(f"naive timestamp {ts}")
    return (ts.astimezone(CT) + timedelta(hours=7)).date()


def trading_day_open(day: date) -> datetime:
    """17:00 CT on the previous calendar day (UTC-aware result)."""
    prev = day - timedelta(days=1)
    return datetime.combine(prev, DAY_OPEN_CT, tzinfo=CT).astimezone(ZoneInfo("UTC"))


def trading_day_close(day: date) -> datetime:
    """16:00 CT on the day itself (regular close; early closes come from the holiday table)."""
    return datetime.combine(day, DAY_CLOSE_CT, tzinfo=CT).astimezone(ZoneInfo("UTC"))


def ct_wall(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Central wall-clock times (naive) of UTC instants."""
    return index.tz_convert(CT).tz_localize(None)


def trading_days(index: pd.DatetimeIndex) -> np.ndarray:
    """Trading day of each instant as numpy datetime64[D]."""
    wall = (ct_wall(index) + pd.Timedelta(hours=7)).to_numpy()
    days: np.ndarray = wall.astype("datetime64[D]")
    return days


def minutes_of_ct_day(index: pd.DatetimeIndex) -> np.ndarray:
    """Minutes after CT midnight (wall clock), as int64."""
    wall = ct_wall(index).to_numpy()
    minutes: np.ndarray = ((wall - wall.astype("datetime64[D]")) // np.timedelta64(1, "m")).astype(np.int64)
    return minutes


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def in_window(index: pd.DatetimeIndex, window: Window) -> np.ndarray:
    """True where the instant falls in [window.start, window.end) CT."""
    m = minutes_of_ct_day(index)
    return (m >= _minutes(window.start)) & (m < _minutes(window.end))


def session_labels(index: pd.DatetimeIndex, rth_end: time = time(15, 0)) -> np.ndarray:
    """Label each instant: rth_a, rth_b, rth (other regular hours), break (16-17 CT), or globex."""
    m = minutes_of_ct_day(index)
    labels = np.full(len(index), "globex", dtype=object)
    rth = (m >= _minutes(RTH_OPEN_CT)) & (m < _minutes(rth_end))
    labels[rth] = "rth"
    labels[in_window(index, RTH_A)] = "rth_a"
    labels[in_window(index, RTH_B)] = "rth_b"
    labels[(m >= _minutes(DAY_CLOSE_CT)) & (m < _minutes(DAY_OPEN_CT))] = "break"
    return labels


def session_label(ts: datetime, rth_end: time = time(15, 0)) -> str:
    """Label of one instant (see `session_labels`)."""
    return str(session_labels(pd.DatetimeIndex([pd.Timestamp(ts)]), rth_end)[0])
