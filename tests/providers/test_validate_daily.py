"""Daily OHLC from intraday bars against Yahoo daily bars."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from conftest import make_bars
from mesdesk.data.validate_daily import compare_daily, daily_from_intraday
from mesdesk.errors import ConfigError


def _hours(days: int) -> pd.DataFrame:
    """`days` whole trading days of 1h bars from Tue 2025-03-11 (17:00 CT Mar 10 = 22:00 UTC), weekdays."""
    frames = []
    day_open = pd.Timestamp("2025-03-10 22:00", tz="UTC")
    for i in range(days):
        closes = 5700.0 + 5 * i + np.sin(np.arange(23))
        frames.append(make_bars(str(day_open + pd.Timedelta(days=i)), closes, freq="1h"))
    return pd.concat(frames)


def test_matching_days_report_nothing() -> None:
    built = daily_from_intraday(_hours(3), pd.Timedelta(hours=1))
    assert len(built) == 3
    report = compare_daily(built, built.copy())
    assert report.ok
    assert report.days_compared == 3


def test_a_day_beyond_tolerance_is_reported_with_its_field() -> None:
    built = daily_from_intraday(_hours(3), pd.Timedelta(hours=1))
    yahoo = built.copy()
    yahoo.iloc[1, yahoo.columns.get_loc("close")] -= 2.5  # settlement vs last trade
    report = compare_daily(built, yahoo, tolerance_pts=1.0)
    (diff,) = report.differences
    assert diff.trading_day == dt.date(2025, 3, 12)
    assert diff.fields == ("close",)
    assert diff.max_diff_pts == pytest.approx(2.5)
    assert report.field_counts == {"open": 0, "high": 0, "low": 0, "close": 1}


def test_yahoo_labelled_one_day_late_is_detected_and_reported() -> None:
    built = daily_from_intraday(_hours(4), pd.Timedelta(hours=1))
    yahoo = built.copy()
    yahoo.index = yahoo.index + pd.Timedelta(days=1)  # each bar labelled with the next trading day
    report = compare_daily(built, yahoo)
    assert report.shift_days == -1
    assert report.differences == ()
    assert not report.ok
    assert report.days_compared == 4


def test_missing_days_on_either_side_are_listed() -> None:
    built = daily_from_intraday(_hours(3), pd.Timedelta(hours=1))
    report = compare_daily(built.iloc[:2], built.iloc[1:])
    assert report.only_intraday == (dt.date(2025, 3, 11),)
    assert report.only_yahoo == (dt.date(2025, 3, 13),)


def test_negative_tolerance_is_refused() -> None:
    built = daily_from_intraday(_hours(1), pd.Timedelta(hours=1))
    with pytest.raises(ConfigError, match="tolerance"):
        compare_daily(built, built, tolerance_pts=-1)
