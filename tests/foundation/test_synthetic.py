"""The synthetic market: calendar-true sessions, deterministic, shaped like a market, and no edge."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
import pytest

from mesdesk.bars import validate_bars
from mesdesk.calendar import CT, in_maintenance_break, market_open_mask, minutes_of_ct_day, trading_days
from mesdesk.data.synthetic import SyntheticConfig, SyntheticSource, generate_bars, generate_days
from mesdesk.errors import ConfigError
from mesdesk.timeframes import Timeframe


@pytest.fixture(scope="module", name="year")
def fixture_year() -> pd.DataFrame:
    return generate_bars(date(2025, 1, 1), date(2025, 12, 31), SyntheticConfig(seed=11))


def session_returns(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"].to_numpy()
    days = trading_days(pd.DatetimeIndex(bars.index))
    same = np.r_[False, days[1:] == days[:-1]]
    r = np.diff(close, prepend=np.nan)
    return r, same


def test_bars_are_valid_on_the_tick_and_only_when_globex_trades(year: pd.DataFrame) -> None:
    validate_bars(year, source="synthetic")
    prices = year[["open", "high", "low", "close"]].to_numpy()
    assert np.all(np.mod(prices, 0.25) == 0.0)
    idx = pd.DatetimeIndex(year.index)
    assert market_open_mask(idx).all()
    assert not in_maintenance_break(idx).any()
    assert (year["volume"] >= 1).all()
    assert year["close"].min() > 4000
    assert year["close"].max() < 8000


def test_whole_globex_days_and_calendar_days(year: pd.DataFrame) -> None:
    days = pd.Series(trading_days(pd.DatetimeIndex(year.index))).value_counts()
    assert days[np.datetime64("2025-10-01")] == 1380  # 17:00-16:00 CT
    assert days[np.datetime64("2025-03-10")] == 1380  # DST Sunday evening open
    assert days[np.datetime64("2025-11-03")] == 1380
    assert np.datetime64("2025-12-25") not in days.index
    assert np.datetime64("2025-04-18") not in days.index  # Good Friday
    eve = year[trading_days(pd.DatetimeIndex(year.index)) == np.datetime64("2025-12-24")]
    assert eve.index[-1].tz_convert(CT).time() == time(12, 14)  # early close 12:15 CT
    first = year[trading_days(pd.DatetimeIndex(year.index)) == np.datetime64("2025-03-10")].index[0]
    assert first == pd.Timestamp("2025-03-09 22:00", tz="UTC")  # 17:00 CDT


def test_deterministic_by_seed_and_stable_when_more_days_are_generated() -> None:
    a = generate_bars(date(2025, 3, 3), date(2025, 3, 7), SyntheticConfig(seed=3))
    b = generate_bars(date(2025, 3, 3), date(2025, 3, 7), SyntheticConfig(seed=3))
    c = generate_bars(date(2025, 3, 3), date(2025, 3, 7), SyntheticConfig(seed=4))
    longer = generate_bars(date(2025, 3, 3), date(2025, 3, 14), SyntheticConfig(seed=3))
    pd.testing.assert_frame_equal(a, b)
    assert not a["close"].equals(c["close"])
    pd.testing.assert_frame_equal(longer.loc[: a.index[-1]], a)


def test_intraday_shape_quiet_night_open_spike_and_volume(year: pd.DataFrame) -> None:
    r, same = session_returns(year)
    m = minutes_of_ct_day(pd.DatetimeIndex(year.index))
    absr = np.abs(r)
    night = absr[same & (m >= 22 * 60)].mean()
    opening = absr[same & (m >= 510) & (m < 515)].mean()
    morning = absr[same & (m >= 570) & (m < 630)].mean()
    before = absr[same & (m >= 480) & (m < 510)].mean()
    assert morning > 2.5 * night
    assert opening > 1.3 * morning > before
    vol = year["volume"].to_numpy()
    assert vol[(m >= 510) & (m < 540)].mean() > 20 * vol[(m >= 22 * 60)].mean()


def test_fat_tails_and_volatility_clustering(year: pd.DataFrame) -> None:
    r, same = session_returns(year)
    rr = r[same]
    assert pd.Series(rr).kurt() > 10
    a = np.abs(rr)
    assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.2
    assert np.corrcoef(a[:-60], a[60:])[0, 1] > 0.1
    days = trading_days(pd.DatetimeIndex(year.index))
    ranges = year.groupby(days).agg({"high": "max", "low": "min"})
    width = (ranges["high"] - ranges["low"]).to_numpy()
    assert 20 < np.median(width) < 120  # points: ES-like daily ranges
    assert np.corrcoef(width[:-1], width[1:])[0, 1] > 0.2  # daily volatility persists


def test_signed_returns_are_not_autocorrelated(year: pd.DataFrame) -> None:
    r, same = session_returns(year)
    rr = r[same]
    for lag in (1, 2, 3, 5, 15):
        assert abs(np.corrcoef(rr[:-lag], rr[lag:])[0, 1]) < 0.015, lag
    five = np.add.reduceat(rr[: rr.size // 5 * 5], np.arange(0, rr.size // 5 * 5, 5))
    assert abs(np.corrcoef(five[:-1], five[1:])[0, 1]) < 0.02


def _trades(year: pd.DataFrame, rng: np.random.Generator, n: int, momentum: bool) -> tuple[np.ndarray, np.ndarray]:
    """Gross points and trading day of n trades: enter at the next bar's open, exit at a close 5-60 bars
    later on the same day; the side is random or follows the last 15 minutes."""
    m = minutes_of_ct_day(pd.DatetimeIndex(year.index))
    days = trading_days(pd.DatetimeIndex(year.index))
    o, c = year["open"].to_numpy(), year["close"].to_numpy()
    candidates = np.flatnonzero((m >= 510) & (m < 840))
    signal_bar = rng.choice(candidates[candidates > 15], n)
    hold = rng.integers(5, 61, n)
    exit_bar = np.minimum(signal_bar + 1 + hold, len(c) - 1)
    side = np.sign(c[signal_bar] - c[signal_bar - 15]) if momentum else rng.choice([-1.0, 1.0], n)
    ok = (days[exit_bar] == days[signal_bar]) & (side != 0)
    gross = side * (c[exit_bar] - o[signal_bar + 1])
    return np.asarray(gross[ok], dtype=np.float64), days[signal_bar][ok]


@pytest.mark.parametrize("momentum", [False, True], ids=["random", "momentum"])
def test_a_strategy_loses_its_costs(year: pd.DataFrame, momentum: bool) -> None:
    """Trades of one day overlap and share its path, so significance is judged on daily means."""
    cost_pts = 0.25 + 0.25  # round-trip commission (~$1.24) + one tick of slippage
    gross, day = _trades(year, np.random.default_rng(5), 20_000, momentum)
    daily = pd.Series(gross).groupby(day).mean().to_numpy()
    stderr = daily.std(ddof=1) / np.sqrt(daily.size)
    assert daily.mean() / stderr < 2.5  # not significantly positive before costs
    net = gross - cost_pts
    assert net.mean() < 0
    assert abs(net.mean() + cost_pts) < 3 * stderr  # it loses about its costs


def test_generate_days_counts_sessions_and_refuses_zero() -> None:
    bars = generate_days(3, SyntheticConfig(seed=1))
    assert len(np.unique(trading_days(pd.DatetimeIndex(bars.index)))) == 3
    with pytest.raises(ConfigError, match="days=0"):
        generate_days(0)
    with pytest.raises(ConfigError, match="tail_df"):
        SyntheticConfig(tail_df=2.0)


def test_synthetic_source_serves_windows_and_timeframes() -> None:
    source = SyntheticSource(SyntheticConfig(seed=2), origin=date(2025, 3, 3))
    start, end = datetime(2025, 3, 4, 14, 30, tzinfo=UTC), datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    one = source.bars("MES", Timeframe.M1, start, end)
    assert len(one) == 60
    assert one.index[0] == pd.Timestamp(start)
    later = source.bars("MES", Timeframe.M5, start, datetime(2025, 3, 12, tzinfo=UTC))
    assert later.index[0] == pd.Timestamp(start)
    again = source.bars("MES", Timeframe.M1, start, end)
    pd.testing.assert_frame_equal(one, again)  # extending the market did not change earlier bars
    assert five_minute_volume_matches(one, later)
    with pytest.raises(ConfigError, match="1-minute"):
        source.bars("MES", Timeframe.S1, start, end)


def five_minute_volume_matches(one: pd.DataFrame, five: pd.DataFrame) -> bool:
    first = five.iloc[0]
    return bool(first["volume"] == one["volume"].iloc[:5].sum() and first["close"] == one["close"].iloc[4])
