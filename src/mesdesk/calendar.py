"""CME Globex time: the trading day (17:00-16:00 CT), RTH, the seeds' windows rth_a and rth_b.

All inputs are timezone-aware; Central Time is used only to place times in sessions.
A trading day is named by the calendar date on which it ends: the session that opens Sunday
17:00 CT is Monday's. Vectorised helpers take a UTC `DatetimeIndex`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mesdesk.errors import ConfigError

CT = ZoneInfo("America/Chicago")
DAY_OPEN_CT = time(17, 0)
DAY_CLOSE_CT = time(16, 0)
RTH_OPEN_CT = time(8, 30)
RTH_END_CHOICES = (time(15, 0), time(15, 15))


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
    return datetime.combine(prev, DAY_OPEN_CT, tzinfo=CT).astimezone(UTC)


def trading_day_close(day: date) -> datetime:
    """16:00 CT on the day itself (regular close; early closes come from the holiday table)."""
    return datetime.combine(day, DAY_CLOSE_CT, tzinfo=CT).astimezone(UTC)


_NS_HOUR = 3_600_000_000_000
_PROBE_HOURS = 7 * 24  # Central Time changes its offset at most once a week (months apart; tested 1900-2100)


def _ct_offset_s(hour: int) -> int:
    """Central Time's UTC offset (seconds) at the start of UTC hour `hour` (hours since the epoch)."""
    offset = datetime.fromtimestamp(hour * 3600, tz=CT).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def ct_hour_runs(first_hour: int, last_hour: int) -> tuple[np.ndarray, np.ndarray]:
    """Central Time's UTC offset from UTC hour `first_hour` to `last_hour` (hours since the epoch) as runs:
    the hours at which it changes and the offset (ns) of each run, one more than the changes. Hour
    ``h`` has offset ``run_offset[np.searchsorted(change_hours, h, side="right")]``.

    The offset is asked of `CT` (the tz database) once a week of hours and, where two answers differ,
    by bisection down to the hour: a few hundred lookups a year instead of pandas' conversion of every
    hour, whose first use in a process also builds a second, pure-Python copy of the zone (~5 ms).
    Exact while the offset changes at most once a week and on the hour (tests/foundation/test_calendar.py
    holds it equal to pandas' conversion of every hour from 1900 to 2100).
    """
    last_hour = max(last_hour, first_hour)
    probes = list(range(first_hour, last_hour, _PROBE_HOURS)) + [last_hour]
    offsets = [_ct_offset_s(h) for h in probes]
    change_hours: list[int] = []
    run_offsets = [offsets[0]]
    for k in range(1, len(probes)):
        if offsets[k] == offsets[k - 1]:
            continue
        lo, hi = probes[k - 1], probes[k]  # offset(lo) differs from offset(hi): the change is in (lo, hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _ct_offset_s(mid) == offsets[k - 1]:
                lo = mid
            else:
                hi = mid
        change_hours.append(hi)
        run_offsets.append(offsets[k])
    return np.array(change_hours, dtype=np.int64), np.array(run_offsets, dtype=np.int64) * 1_000_000_000


def ct_wall_values(utc_ns: np.ndarray) -> np.ndarray:
    """Central wall-clock nanoseconds of UTC instants (epoch ns, int64, in any order): each instant plus
    the offset of its run (`ct_hour_runs` of the hours they span; offsets change on the hour)."""
    ns = np.asarray(utc_ns, dtype=np.int64)
    if ns.size == 0:
        return ns.copy()
    change_hours, run_offset = ct_hour_runs(int(ns.min()) // _NS_HOUR, int(ns.max()) // _NS_HOUR)
    wall: np.ndarray = ns + run_offset[np.searchsorted(change_hours * _NS_HOUR, ns, side="right")]
    return wall


def ct_wall(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Central wall-clock times (naive) of UTC instants (`ct_wall_values`: a year of minutes in a few ms)."""
    if index.tz is None:
        raise ValueError("ct_wall needs timezone-aware timestamps")
    wall = ct_wall_values(np.asarray(index.as_unit("ns").asi8))
    return pd.DatetimeIndex(wall.astype("datetime64[ns]"), name=index.name)


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
    return minute_labels(minutes_of_ct_day(index), rth_end)


def minute_labels(m: np.ndarray, rth_end: time = time(15, 0)) -> np.ndarray:
    """`session_labels` of CT wall minutes `m` (minutes after CT midnight): the label depends on the minute only."""
    labels = np.full(len(m), "globex", dtype=object)
    rth = (m >= _minutes(RTH_OPEN_CT)) & (m < _minutes(rth_end))
    labels[rth] = "rth"
    for window in (RTH_A, RTH_B):
        labels[(m >= _minutes(window.start)) & (m < _minutes(window.end))] = window.label
    labels[(m >= _minutes(DAY_CLOSE_CT)) & (m < _minutes(DAY_OPEN_CT))] = "break"
    return labels


def vwap_session_keys(index: pd.DatetimeIndex, anchor: str = "day", rth_end: time = time(15, 0)) -> np.ndarray:
    """Session keys for `mesdesk.indicators.session_vwap`: reset at 17:00 CT (`day`) or 08:30 CT (`rth`).

    With `rth`, bars outside RTH get a key of their own per day (negative), so the RTH VWAP starts fresh
    at 08:30 CT; mask the values outside RTH if they should not be shown.
    """
    days = trading_days(index).astype(np.int64)
    if anchor == "day":
        return days
    if anchor != "rth":
        raise ConfigError(f"anchor={anchor!r}: choose day or rth")
    m = minutes_of_ct_day(index)
    in_rth = (m >= _minutes(RTH_OPEN_CT)) & (m < _minutes(rth_end))
    keys: np.ndarray = np.where(in_rth, days, -days - 1)
    return keys


def session_label(ts: datetime, rth_end: time = time(15, 0)) -> str:
    """Label of one instant (see `session_labels`)."""
    return str(session_labels(pd.DatetimeIndex([pd.Timestamp(ts)]), rth_end)[0])


def in_maintenance_break(index: pd.DatetimeIndex) -> np.ndarray:
    """True inside the daily 16:00-17:00 CT maintenance break (Globex is closed)."""
    m = minutes_of_ct_day(index)
    return (m >= _minutes(DAY_CLOSE_CT)) & (m < _minutes(DAY_OPEN_CT))


def parse_rth_end(text: str | time) -> time:
    """The RTH end as a time: '15:00' (cash close) or '15:15' (the futures habit); anything else is refused."""
    if isinstance(text, time):
        value = text
    else:
        try:
            value = time.fromisoformat(text.strip())
        except ValueError:
            raise ConfigError(f"MESDESK_RTH_END={text!r}: expected 15:00 or 15:15") from None
    if value not in RTH_END_CHOICES:
        raise ConfigError(f"MESDESK_RTH_END={value.strftime('%H:%M')!r}: expected 15:00 or 15:15")
    return value


# ---------------------------------------------------------------- holidays and early closes

_CAL_FIRST_YEAR = 2005
_CAL_LAST_YEAR = 2040


@dataclass(frozen=True, slots=True)
class Override:
    """A day the calendar library gets wrong for CME equity futures: `close_ct` None = no session."""

    close_ct: time | None
    why: str


# Days fixed by hand (CME equity products). Rules for recurring fixes live in `_rule_overrides`.
CALENDAR_OVERRIDES: Mapping[date, Override] = MappingProxyType(
    {
        date(2018, 12, 5): Override(time(8, 30), "day of mourning (G.H.W. Bush): equities open until 08:30 CT"),
        date(2025, 1, 9): Override(time(8, 30), "day of mourning (Carter): equities open until 08:30 CT"),
        # Good Friday with a jobs report: Globex opens Thursday 17:00 CT and halts at 08:15 CT.
        # 2026: the real ES 5m bars show trading on the evening of 2026-04-02 for trade date 04-03.
        date(2015, 4, 3): Override(time(8, 15), "Good Friday with payrolls: abbreviated session"),
        date(2021, 4, 2): Override(time(8, 15), "Good Friday with payrolls: abbreviated session"),
        date(2026, 4, 3): Override(time(8, 15), "Good Friday with payrolls: abbreviated session"),
    }
)


def _juneteenth_observed(year: int) -> date:
    day = date(year, 6, 19)
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _rule_overrides(library_early: Mapping[date, time]) -> dict[date, Override]:
    """Recurring corrections: Juneteenth halts at 12:00 CT (from 2022), July 3 and the days after
    Thanksgiving and before Christmas close at 12:15 CT (the library says 12:00 or a full day)."""
    out: dict[date, Override] = {}
    for year in range(2022, _CAL_LAST_YEAR + 1):
        out[_juneteenth_observed(year)] = Override(time(12, 0), "Juneteenth: equities halt at 12:00 CT")
    for year in range(_CAL_FIRST_YEAR, _CAL_LAST_YEAR + 1):
        july3 = date(year, 7, 3)
        if july3.weekday() < 4 and july3 not in library_early:  # Mon-Thu: the eve of a weekday July 4
            out[july3] = Override(time(12, 15), "eve of Independence Day: equities close 12:15 CT")
    for day in library_early:
        after_thanksgiving = day.month == 11 and day.weekday() == 4
        if after_thanksgiving or (day.month == 12 and day.day == 24):
            out[day] = Override(time(12, 15), "CME equities close at 12:15 CT, not 12:00")
    return out


@dataclass(frozen=True, slots=True)
class _Table:
    sessions: frozenset[date]
    closes: Mapping[date, time]  # early closes only (CT wall time)


def library_days(first_year: int = _CAL_FIRST_YEAR, last_year: int = _CAL_LAST_YEAR) -> LibraryDays:
    """What exchange_calendars 'CMES' says: weekdays without a session and early closes (CT), uncorrected.

    Building the calendar takes a second or more, so mesdesk ships this result in `_cme_library_days`
    (regenerate with ``python -m mesdesk._cme_library_days``); a test checks the copy against the library.
    """
    import exchange_calendars as xcals

    cal = xcals.get_calendar("CMES", start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    schedule = cal.schedule
    sessions = {ts.date() for ts in schedule.index}
    weekdays = [d.date() for d in pd.bdate_range(f"{first_year}-01-01", f"{last_year}-12-31")]
    close_ct = schedule["close"].dt.tz_convert(CT)
    early = {
        ts.date(): c.strftime("%H:%M")
        for ts, c in close_ct.items()
        if (c.hour, c.minute) < (DAY_CLOSE_CT.hour, DAY_CLOSE_CT.minute)
    }
    return LibraryDays(tuple(d for d in weekdays if d not in sessions), tuple(sorted(early.items())))


@dataclass(frozen=True, slots=True)
class LibraryDays:
    """The calendar library's view: weekdays without a session, and (day, 'HH:MM' CT) early closes."""

    no_session: tuple[date, ...]
    early_closes: tuple[tuple[date, str], ...]


@lru_cache(maxsize=1)
def _table() -> _Table:
    """Sessions and early closes: the library's view (shipped copy) corrected by the overrides."""
    from mesdesk._cme_library_days import LIBRARY_DAYS

    closed = set(LIBRARY_DAYS.no_session)
    first, last = date(_CAL_FIRST_YEAR, 1, 1).toordinal(), date(_CAL_LAST_YEAR, 12, 31).toordinal()
    every_day = (date.fromordinal(n) for n in range(first, last + 1))
    sessions = {d for d in every_day if d.weekday() < 5 and d not in closed}
    early = {day: time.fromisoformat(hhmm) for day, hhmm in LIBRARY_DAYS.early_closes}
    fixes = {**_rule_overrides(early), **CALENDAR_OVERRIDES}
    for day, fix in fixes.items():
        if fix.close_ct is None:
            sessions.discard(day)
            early.pop(day, None)
        elif day.weekday() < 5:
            sessions.add(day)
            early[day] = fix.close_ct
    return _Table(frozenset(sessions), MappingProxyType(early))


def _check_year(day: date) -> None:
    if not _CAL_FIRST_YEAR <= day.year <= _CAL_LAST_YEAR:
        raise ConfigError(f"date {day}: the CME calendar covers {_CAL_FIRST_YEAR}-{_CAL_LAST_YEAR}")


def is_trading_day(day: date) -> bool:
    """True when CME equity futures hold a session for trading day `day` (weekends and holidays: False)."""
    _check_year(day)
    return day in _table().sessions


def session_close_ct(day: date) -> time | None:
    """The close of trading day `day` in CT: 16:00, an early close, or None when there is no session."""
    if not is_trading_day(day):
        return None
    return _table().closes.get(day, DAY_CLOSE_CT)


def early_closes(start: date, end: date) -> dict[date, time]:
    """Early closes (CT) of the trading days in [start, end]."""
    return {d: t for d, t in sorted(_table().closes.items()) if start <= d <= end}


def holidays(start: date, end: date) -> list[date]:
    """Weekdays in [start, end] without a session (full CME equity holidays)."""
    days = pd.bdate_range(start, end)
    return [d.date() for d in days if not is_trading_day(d.date())]


def sessions_between(start: date, end: date) -> list[date]:
    """Trading days in [start, end], in order."""
    _check_year(start)
    _check_year(end)
    return sorted(d for d in _table().sessions if start <= d <= end)


def next_trading_day(day: date, n: int = 1) -> date:
    """The n-th trading day after `day` (n >= 1)."""
    found = 0
    cur = day
    while found < n:
        cur += timedelta(days=1)
        if is_trading_day(cur):
            found += 1
    return cur


@dataclass(frozen=True, slots=True)
class SessionHours:
    """One trading day in UTC: Globex open (17:00 CT the evening before), close, and RTH [open, end)."""

    day: date
    open: datetime
    close: datetime
    rth_open: datetime
    rth_end: datetime

    @property
    def early_close(self) -> bool:
        return self.close.astimezone(CT).time() != DAY_CLOSE_CT


def session_hours(day: date, rth_end: time | str = time(15, 0)) -> SessionHours | None:
    """Hours of trading day `day` (None on weekends and holidays). An early close cuts RTH short."""
    close = session_close_ct(day)
    if close is None:
        return None
    end = parse_rth_end(rth_end)
    close_utc = datetime.combine(day, close, tzinfo=CT).astimezone(UTC)
    rth_open = datetime.combine(day, RTH_OPEN_CT, tzinfo=CT).astimezone(UTC)
    rth_close = min(datetime.combine(day, end, tzinfo=CT).astimezone(UTC), close_utc)
    return SessionHours(day, trading_day_open(day), close_utc, min(rth_open, close_utc), rth_close)


def market_open_mask(index: pd.DatetimeIndex) -> np.ndarray:
    """True where Globex trades CME equity futures at that instant (session day, before its close)."""
    days = trading_days(index)
    wall = ct_wall(index).to_numpy()
    minutes = (wall - wall.astype("datetime64[D]")) // np.timedelta64(1, "m")
    uniq, inverse = np.unique(days, return_inverse=True)
    closes = []
    for day in uniq.astype(object):
        close = session_close_ct(day)
        closes.append(-1 if close is None else _minutes(close))
    close_min = np.asarray(closes, dtype=np.int64)[inverse]
    evening = wall.astype("datetime64[D]") < days  # 17:00-24:00 CT belongs to the next day's session
    in_break = (minutes >= _minutes(DAY_CLOSE_CT)) & (minutes < _minutes(DAY_OPEN_CT))
    mask: np.ndarray = (close_min >= 0) & (evening | (minutes < close_min)) & ~in_break
    return mask


# ---------------------------------------------------------------- contract months and rolls

MONTH_CODES: Mapping[int, str] = MappingProxyType({3: "H", 6: "M", 9: "U", 12: "Z"})
ROLL_DAYS_BEFORE_EXPIRY = 8


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def expiry(year: int, month: int) -> date:
    """Last trading day of the quarterly contract: the third Friday, or the session before if closed."""
    if month not in MONTH_CODES:
        raise ConfigError(f"month={month}: equity index futures list only March, June, September, December")
    day = third_friday(year, month)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def roll_date(year: int, month: int) -> date:
    """CME roll date: 8 calendar days before expiry (the Thursday of the week before)."""
    return expiry(year, month) - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)


def contract_symbol(root: str, year: int, month: int) -> str:
    """Exchange symbol with a one-digit year, e.g. MESZ5 for December 2025."""
    if month not in MONTH_CODES:
        raise ConfigError(f"month={month}: not a quarterly contract month (3, 6, 9, 12)")
    return f"{root}{MONTH_CODES[month]}{year % 10}"


def front_month(day: date) -> tuple[int, int]:
    """(year, month) of the contract most traded on trading day `day`: the next expiry, switching
    to the following one on its roll date."""
    year, month = day.year, ((day.month - 1) // 3 + 1) * 3
    while day >= roll_date(year, month):
        year, month = (year + 1, 3) if month == 12 else (year, month + 3)
    return year, month


def front_month_symbol(day: date, root: str = "MES") -> str:
    """Symbol of the front contract on `day`, e.g. front_month_symbol(date(2025, 11, 3)) == 'MESZ5'."""
    return contract_symbol(root, *front_month(day))
