"""CME time: trading days, DST change days, holidays, early closes, RTH end, contract rolls."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
import pytest

from mesdesk.calendar import (
    CALENDAR_OVERRIDES,
    CT,
    ct_hour_runs,
    ct_wall,
    early_closes,
    expiry,
    front_month_symbol,
    holidays,
    in_maintenance_break,
    is_trading_day,
    market_open_mask,
    next_trading_day,
    parse_rth_end,
    roll_date,
    session_close_ct,
    session_hours,
    session_labels,
    trading_day,
    trading_day_open,
)
from mesdesk.errors import ConfigError


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_spring_forward_sunday_2025_03_09_opens_at_17_ct_which_is_22_utc() -> None:
    hours = session_hours(date(2025, 3, 10))
    assert hours is not None
    assert hours.open == utc(2025, 3, 9, 22, 0)  # 17:00 CDT
    assert hours.rth_open == utc(2025, 3, 10, 13, 30)  # 08:30 CDT
    assert hours.close == utc(2025, 3, 10, 21, 0)
    friday = session_hours(date(2025, 3, 7))
    assert friday is not None
    assert friday.close == utc(2025, 3, 7, 22, 0)  # 16:00 CST, the week before
    assert friday.rth_open == utc(2025, 3, 7, 14, 30)
    assert not is_trading_day(date(2025, 3, 9))
    assert trading_day(utc(2025, 3, 9, 22, 0)) == date(2025, 3, 10)
    assert trading_day(utc(2025, 3, 9, 21, 59)) == date(2025, 3, 9)  # before the open: Sunday itself


def test_fall_back_sunday_2025_11_02_opens_at_17_ct_which_is_23_utc() -> None:
    hours = session_hours(date(2025, 11, 3))
    assert hours is not None
    assert hours.open == utc(2025, 11, 2, 23, 0)  # 17:00 CST
    assert hours.rth_open == utc(2025, 11, 3, 14, 30)
    friday = session_hours(date(2025, 10, 31))
    assert friday is not None
    assert friday.close == utc(2025, 10, 31, 21, 0)  # 16:00 CDT
    assert trading_day_open(date(2025, 11, 3)) == utc(2025, 11, 2, 23, 0)
    labels = session_labels(pd.DatetimeIndex([utc(2025, 11, 3, 14, 30), utc(2025, 11, 3, 14, 29)]))
    assert list(labels) == ["rth_a", "globex"]


def test_christmas_and_good_friday_2025_have_no_session() -> None:
    assert session_close_ct(date(2025, 12, 25)) is None
    assert session_hours(date(2025, 12, 25)) is None
    assert holidays(date(2025, 1, 1), date(2025, 12, 31)) == [date(2025, 1, 1), date(2025, 4, 18), date(2025, 12, 25)]
    assert next_trading_day(date(2025, 12, 24)) == date(2025, 12, 26)


def test_early_closes_2025_include_the_days_the_library_gets_wrong() -> None:
    closes = early_closes(date(2025, 1, 1), date(2025, 12, 31))
    assert closes[date(2025, 1, 9)] == time(8, 30)  # day of mourning: library says closed
    assert closes[date(2025, 6, 19)] == time(12, 0)  # Juneteenth: library says a full day
    assert closes[date(2025, 7, 3)] == time(12, 15)  # July 3: library says a full day
    assert closes[date(2025, 7, 4)] == time(12, 0)
    assert closes[date(2025, 11, 27)] == time(12, 0)  # Thanksgiving
    assert closes[date(2025, 11, 28)] == time(12, 15)  # library says 12:00
    assert closes[date(2025, 12, 24)] == time(12, 15)  # library says 12:00
    assert date(2025, 12, 23) not in closes


def test_every_fixed_override_is_applied() -> None:
    for day, fix in CALENDAR_OVERRIDES.items():
        assert session_close_ct(day) == fix.close_ct, fix.why


def test_early_close_cuts_rth_and_the_open_mask() -> None:
    hours = session_hours(date(2025, 12, 24), rth_end="15:15")
    assert hours is not None
    assert hours.early_close
    assert hours.close == utc(2025, 12, 24, 18, 15)  # 12:15 CST
    assert hours.rth_end == hours.close
    idx = pd.DatetimeIndex([utc(2025, 12, 24, 18, 14), utc(2025, 12, 24, 18, 15), utc(2025, 12, 25, 23, 0)])
    assert list(market_open_mask(idx)) == [True, False, True]  # Dec 25 17:00 CT opens Dec 26


def test_rth_end_is_configurable_to_15_15_and_refuses_others() -> None:
    hours = session_hours(date(2025, 10, 1), rth_end="15:15")
    assert hours is not None
    assert hours.rth_end == utc(2025, 10, 1, 20, 15)
    labels = session_labels(pd.DatetimeIndex([utc(2025, 10, 1, 20, 5)]), rth_end=parse_rth_end("15:15"))
    assert labels[0] == "rth"
    assert session_labels(pd.DatetimeIndex([utc(2025, 10, 1, 20, 5)]))[0] == "globex"
    with pytest.raises(ConfigError, match="MESDESK_RTH_END"):
        parse_rth_end("16:00")


def test_maintenance_break_is_16_to_17_ct_across_dst() -> None:
    idx = pd.DatetimeIndex(
        [utc(2025, 3, 10, 21, 0), utc(2025, 3, 10, 21, 59), utc(2025, 3, 10, 22, 0), utc(2025, 3, 7, 21, 59)]
    )
    assert list(in_maintenance_break(idx)) == [True, True, False, False]
    assert list(market_open_mask(idx)) == [False, False, True, True]


def test_weekend_is_closed() -> None:
    idx = pd.DatetimeIndex([utc(2025, 3, 8, 15, 0), utc(2025, 3, 9, 21, 59), utc(2025, 3, 9, 22, 0)])
    assert list(market_open_mask(idx)) == [False, False, True]


def test_expiry_is_third_friday_and_roll_eight_days_before() -> None:
    assert expiry(2025, 12) == date(2025, 12, 19)
    assert roll_date(2025, 12) == date(2025, 12, 11)
    assert expiry(2008, 3) == date(2008, 3, 20)  # third Friday was Good Friday
    with pytest.raises(ConfigError, match="month=4"):
        expiry(2025, 4)


@pytest.mark.parametrize(
    ("day", "symbol"),
    [
        (date(2025, 9, 10), "MESU5"),
        (date(2025, 9, 11), "MESZ5"),  # roll date: the December contract is front
        (date(2025, 11, 3), "MESZ5"),
        (date(2025, 12, 10), "MESZ5"),
        (date(2025, 12, 11), "MESH6"),
        (date(2025, 12, 31), "MESH6"),
        (date(2026, 3, 12), "MESM6"),
    ],
)
def test_front_month_symbol(day: date, symbol: str) -> None:
    assert front_month_symbol(day) == symbol


def test_calendar_outside_its_years_is_refused() -> None:
    with pytest.raises(ConfigError, match="covers"):
        is_trading_day(date(1990, 1, 2))


def test_shipped_library_days_match_the_installed_calendar_library() -> None:
    pytest.importorskip("exchange_calendars")
    from mesdesk._cme_library_days import LIBRARY_DAYS
    from mesdesk.calendar import library_days

    assert library_days() == LIBRARY_DAYS  # regenerate: python -m mesdesk._cme_library_days


def test_ct_wall_of_sorted_and_shuffled_instants_reads_the_zone_across_both_changes() -> None:
    """Sorted instants take the runs path, shuffled ones np.unique: both equal pandas' conversion."""
    spring = pd.date_range("2025-03-09 06:00", "2025-03-09 10:00", freq="7min", tz="UTC")
    fall = pd.date_range("2025-11-02 05:00", "2025-11-02 09:00", freq="7min", tz="UTC")
    sorted_ = spring.append(fall)
    expected = sorted_.tz_convert("America/Chicago").tz_localize(None)
    assert ct_wall(sorted_).equals(expected)
    order = np.random.default_rng(1).permutation(len(sorted_))
    assert ct_wall(sorted_[order]).equals(expected[order])
    # 07:59 UTC is 01:59 CST, 08:00 UTC is 03:00 CDT; 06:59 and 07:00 UTC on 2025-11-02 are 01:59 CDT and 01:00 CST
    edges = pd.DatetimeIndex(["2025-03-09 07:59", "2025-03-09 08:00", "2025-11-02 06:59", "2025-11-02 07:00"], tz="UTC")
    assert [t.strftime("%H:%M") for t in ct_wall(edges)] == ["01:59", "03:00", "01:59", "01:00"]


def test_ct_hour_runs_equal_pandas_conversion_of_every_hour_from_1900_to_2100() -> None:
    """The weekly probes and the bisection find every change of the offset pandas finds, to the hour.

    pandas converts with mesdesk's zone object (`CT`, zoneinfo), as the code it replaced did: given the
    zone's name, pandas 2 takes pytz, whose data ends in 1901 and 2038 (local mean time before, no DST after).
    """
    first, last = -613_608, 1_148_687  # 1900-01-01 and 2100-12-31 in hours since the epoch
    hours = np.arange(first, last + 1, dtype=np.int64)
    ns = hours * 3_600_000_000_000
    want = np.asarray(pd.DatetimeIndex(ns, tz="UTC").tz_convert(CT).tz_localize(None).asi8) - ns
    change_hours, run_offset = ct_hour_runs(first, last)
    got = run_offset[np.searchsorted(change_hours, hours, side="right")]
    np.testing.assert_array_equal(got, want)
    assert change_hours.size == np.count_nonzero(want[1:] != want[:-1])  # no change reported twice
    rng = np.random.default_rng(5)
    for a, b in np.sort(rng.integers(first, last, size=(200, 2)), axis=1):  # any span: its own runs
        sub_changes, sub_offset = ct_hour_runs(int(a), int(b))
        span = hours[a - first : b - first + 1]
        np.testing.assert_array_equal(sub_offset[np.searchsorted(sub_changes, span, side="right")], want[span - first])
        assert sub_changes.size == np.count_nonzero(want[a - first + 1 : b - first + 1] != want[a - first : b - first])
    single = ct_hour_runs(500_000, 500_000)
    assert single[0].size == 0
    assert single[1].size == 1
