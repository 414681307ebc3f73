"""Resampling against bars computed by hand, CME-anchored bins, DST days, and truncation invariance."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.data.synthetic import SyntheticConfig, generate_bars
from mesdesk.timeframes import Timeframe


def make_bars(start: str, closes: np.ndarray | list[float], *, freq: str = "1min") -> pd.DataFrame:
    """Bars from closes: open = previous close, high/low = max/min +- 0.25, volume 100 (UTC start).

    (A local copy of the shared factory: importing `conftest` by name breaks when another test folder
    without an __init__.py has its own conftest.)
    """
    c = np.asarray(closes, dtype=float)
    o = np.concatenate(([c[0]], c[:-1]))
    idx = pd.date_range(start, periods=len(c), freq=freq, tz="UTC", name="ts").as_unit("ns")
    return pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(o, c) + 0.25,
            "low": np.minimum(o, c) - 0.25,
            "close": c,
            "volume": np.full(len(c), 100, dtype=np.int64),
        },
        index=idx,
    )


ALL = (Timeframe.M5, Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1)


def by_hand(bars: pd.DataFrame) -> tuple[float, float, float, float, int]:
    return (
        float(bars["open"].iloc[0]),
        float(bars["high"].max()),
        float(bars["low"].min()),
        float(bars["close"].iloc[-1]),
        int(bars["volume"].sum()),
    )


def row(frame: pd.DataFrame, i: int) -> tuple[float, float, float, float, int]:
    r = frame.iloc[i]
    return (float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]), int(r["volume"]))


@pytest.fixture(scope="module", name="week")
def fixture_week() -> pd.DataFrame:
    """Synthetic 1m bars over the March 2025 DST change (trading days 2025-03-06..2025-03-12)."""
    return generate_bars(date(2025, 3, 6), date(2025, 3, 12), SyntheticConfig(seed=9))


def test_five_minutes_by_hand() -> None:
    bars = make_bars("2025-10-01 13:30", [10, 11, 9, 12, 13, 14, 15, 13, 12, 11, 10])
    bars["volume"] = np.arange(1, 12, dtype=np.int64)
    out = resample(bars, Timeframe.M5)
    assert len(out) == 2  # the 11th bar starts a bin that is not complete
    assert out.index[0] == pd.Timestamp("2025-10-01 13:30", tz="UTC")
    assert row(out, 0) == (10.0, 13.25, 8.75, 13.0, 15)  # open = first open, high 13 + 0.25
    assert row(out, 1) == by_hand(bars.iloc[5:10])


def test_incomplete_last_bin_is_emitted_once_complete() -> None:
    bars = make_bars("2025-10-01 13:30", np.arange(14, dtype=float) + 100)
    assert len(resample(bars, Timeframe.M5)) == 2
    assert len(resample(bars, Timeframe.M5, complete_only=False)) == 3


def test_gaps_stay_gaps() -> None:
    bars = make_bars("2025-10-01 13:30", np.arange(20, dtype=float) + 100)
    holed = bars.drop(bars.index[5:10])  # one whole 5-minute bin missing
    out = resample(holed, Timeframe.M5)
    assert list(out.index.strftime("%H:%M")) == ["13:30", "13:40", "13:45"]


def test_four_hour_bins_run_17_21_01_05_09_13_ct(week: pd.DataFrame) -> None:
    out = resample(week, Timeframe.H4)
    day = out[(out.index >= "2025-03-10 22:00") & (out.index < "2025-03-11 22:00")]  # trading day 03-11, CDT
    wall = day.index.tz_convert("America/Chicago").strftime("%H:%M")
    assert list(wall) == ["17:00", "21:00", "01:00", "05:00", "09:00", "13:00"]
    edges = pd.to_datetime(
        ["2025-03-10 22:00", "2025-03-11 02:00", "2025-03-11 06:00", "2025-03-11 10:00", "2025-03-11 14:00",
         "2025-03-11 18:00", "2025-03-11 21:00"], utc=True
    )  # fmt: skip
    for i in range(6):
        part = week[(week.index >= edges[i]) & (week.index < edges[i + 1])]
        assert len(part) == (180 if i == 5 else 240)
        assert row(day, i) == by_hand(part)
    closes = bin_close_ns(day.index, Timeframe.H4)
    assert pd.Timestamp(closes[-1], tz="UTC") == pd.Timestamp("2025-03-11 21:00", tz="UTC")  # 16:00 CDT


def test_daily_bars_are_trading_days_labelled_by_their_17_ct_open_across_dst(week: pd.DataFrame) -> None:
    out = resample(week, Timeframe.D1)
    labels = list(out.index.strftime("%Y-%m-%d %H:%M"))
    assert labels == [
        "2025-03-05 23:00",  # trading day 03-06: 17:00 CST
        "2025-03-06 23:00",
        "2025-03-09 22:00",  # trading day 03-10 opens Sunday 17:00 CDT (the DST day)
        "2025-03-10 22:00",
        "2025-03-11 22:00",
    ]
    monday = week[(week.index >= "2025-03-09 22:00") & (week.index < "2025-03-10 21:00")]
    assert len(monday) == 1380
    assert row(out, 2) == by_hand(monday)


def test_fall_back_day_2025_11_02() -> None:
    bars = generate_bars(date(2025, 10, 31), date(2025, 11, 3), SyntheticConfig(seed=4))
    daily = resample(bars, Timeframe.D1)
    assert list(daily.index.strftime("%Y-%m-%d %H:%M")) == ["2025-10-30 22:00", "2025-11-02 23:00"]
    hourly = resample(bars, Timeframe.H1)
    monday = hourly[hourly.index >= "2025-11-02 23:00"]
    assert len(monday) == 23
    assert monday.index[0].tz_convert("America/Chicago").hour == 17


def test_early_close_day_completes_at_the_early_close() -> None:
    bars = generate_bars(date(2025, 12, 23), date(2025, 12, 24), SyntheticConfig(seed=4))
    assert bars.index[-1] == pd.Timestamp("2025-12-24 18:14", tz="UTC")  # 12:14 CST, last bar before 12:15
    daily = resample(bars, Timeframe.D1)
    assert len(daily) == 2  # the short day is complete at 12:15 CT without waiting for more data
    assert pd.Timestamp(bin_close_ns(daily.index, Timeframe.D1)[-1], tz="UTC") == pd.Timestamp(
        "2025-12-24 18:15", tz="UTC"
    )


@pytest.mark.parametrize("timeframe", ALL, ids=[t.value for t in ALL])
def test_truncation_invariance(week: pd.DataFrame, timeframe: Timeframe) -> None:
    full = resample(week, timeframe)
    closes = bin_close_ns(pd.DatetimeIndex(full.index), timeframe)
    rng = np.random.default_rng(1)
    for cut in rng.integers(100, len(week), 12):
        part = resample(week.iloc[:cut], timeframe, source_span=pd.Timedelta(minutes=1))
        known_at = week.index[cut - 1].value + 60 * 10**9
        expected = full[closes <= known_at]
        pd.testing.assert_frame_equal(part, expected, check_freq=False)


def test_from_five_minute_bars_to_hours() -> None:
    bars = make_bars("2025-10-01 14:00", np.arange(24, dtype=float) + 50, freq="5min")
    out = resample(bars, Timeframe.H1)
    assert len(out) == 2
    assert row(out, 1) == by_hand(bars.iloc[12:24])
