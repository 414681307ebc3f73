"""Indicators: values a trader can check by hand, and point-in-time (truncation invariance)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from mesdesk.calendar import minutes_of_ct_day, trading_days
from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.data.synthetic import SyntheticConfig, generate_bars
from mesdesk.indicators import (
    align_asof,
    atr,
    ema,
    opening_range,
    pivots,
    session_vwap,
    true_range,
    volume_multiple,
    wilder,
)
from mesdesk.timeframes import Timeframe


@pytest.fixture(scope="module", name="bars")
def fixture_bars() -> pd.DataFrame:
    return generate_bars(date(2025, 9, 22), date(2025, 10, 3), SyntheticConfig(seed=21))


def test_ema_by_hand() -> None:
    out = ema([10.0, 11.0, 12.0], period=3)  # alpha = 0.5
    np.testing.assert_allclose(out, [10.0, 10.5, 11.25])
    with pytest.raises(ValueError, match="period"):
        ema([1.0], 0)


def test_wilder_and_atr_by_hand() -> None:
    np.testing.assert_allclose(wilder([4.0, 8.0], period=4), [4.0, 5.0])
    high, low, close = [10.0, 12.0, 11.0], [9.0, 10.0, 7.0], [9.5, 11.5, 8.0]
    np.testing.assert_allclose(true_range(high, low, close), [1.0, 2.5, 4.5])  # gap from 9.5, then 11.5 - 7
    np.testing.assert_allclose(atr(high, low, close, period=2), [1.0, 1.75, 3.125])


def test_session_vwap_resets_by_hand() -> None:
    high, low, close = [3.0, 6.0, 9.0], [3.0, 6.0, 9.0], [3.0, 6.0, 9.0]
    out = session_vwap(high, low, close, [1, 3, 1], [0, 0, 1])
    np.testing.assert_allclose(out, [3.0, (3 * 1 + 6 * 3) / 4, 9.0])
    zero = session_vwap([5.0], [5.0], [5.0], [0], [0])
    assert zero[0] == 5.0


def test_volume_multiple_uses_earlier_days_only() -> None:
    # three days, two slots; day 2 slot 0 sees days 0 and 1 (100, 300) -> mean 200
    volume = [100, 10, 300, 30, 400, 20]
    day = [0, 0, 1, 1, 2, 2]
    slot = [0, 1, 0, 1, 0, 1]
    out = volume_multiple(volume, day, slot, lookback_days=5, min_days=2)
    assert np.isnan(out[:4]).all()
    np.testing.assert_allclose(out[4:], [400 / 200, 20 / 20])
    lookback_one = volume_multiple(volume, day, slot, lookback_days=1, min_days=1)
    np.testing.assert_allclose(lookback_one[4:], [400 / 300, 20 / 30])


def test_opening_range_known_only_after_it_closes() -> None:
    high = [5.0, 7.0, 6.0, 8.0, 4.0]
    low = [4.0, 3.0, 5.0, 2.0, 1.0]
    day = [0, 0, 0, 1, 1]
    in_range = [True, True, False, True, False]
    after = [False, False, True, False, True]
    hi, lo = opening_range(high, low, day, in_range, after)
    assert np.isnan(hi[:2]).all()
    assert (hi[2], lo[2]) == (7.0, 3.0)
    assert np.isnan(hi[3])
    assert (hi[4], lo[4]) == (8.0, 2.0)


def test_pivots_known_k_bars_later() -> None:
    high = np.array([1, 2, 5, 3, 2, 4, 6, 7, 6, 5, 6], dtype=float)
    low = high - 1
    p = pivots(high, low, order=2)
    highs = p.index[p.is_high]
    assert list(highs) == [2, 7]
    assert list(p.known_at[p.is_high]) == [4, 9]
    assert list(p.price[p.is_high]) == [5.0, 7.0]
    lows = p.index[~p.is_high]
    assert list(lows) == [4]  # low 1 at bar 4; bar 9 (low 4) has only one bar after it
    with pytest.raises(ValueError, match="order"):
        pivots(high, low, 0)


def test_pivot_plateau_goes_to_the_earlier_bar() -> None:
    high = np.array([1, 3, 3, 1, 0], dtype=float)
    p = pivots(high, high - 1, order=1)
    assert list(p.index[p.is_high]) == [1]


def test_align_asof_reads_only_closed_bars() -> None:
    out = align_asof([100, 200], [1.0, 2.0], [99, 100, 150, 200, 300])
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [1.0, 1.0, 2.0, 2.0])


def _per_bar_indicators(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every per-bar indicator over 1m bars, with the keys the seeds use (trading day, slot, RTH range)."""
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    v = bars["volume"].to_numpy()
    idx = pd.DatetimeIndex(bars.index)
    days = trading_days(idx).astype(np.int64)
    minutes = minutes_of_ct_day(idx)
    slot = ((minutes - 17 * 60) % (24 * 60)).astype(np.int64)
    rth_key = np.where((minutes >= 510) & (minutes < 900), days, -days)
    or_high, or_low = opening_range(h, lo, days, (minutes >= 510) & (minutes < 525), minutes >= 524)
    five = resample(bars, Timeframe.M5, source_span=pd.Timedelta(minutes=1))
    atr5 = atr(five["high"], five["low"], five["close"], 14)
    atr5_on_1m = align_asof(bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5), atr5, idx.asi8 + 60 * 10**9)
    return {
        "ema20": ema(c, 20),
        "wilder": wilder(c, 14),
        "atr": atr(h, lo, c, 14),
        "vwap_day": session_vwap(h, lo, c, v, days),
        "vwap_rth": session_vwap(h, lo, c, v, rth_key),
        "volume_multiple": volume_multiple(v, days - days.min(), slot, lookback_days=5, min_days=2),
        "or_high": or_high,
        "or_low": or_low,
        "atr_5m": atr5_on_1m,
    }


def test_every_indicator_is_truncation_invariant(bars: pd.DataFrame) -> None:
    full = _per_bar_indicators(bars)
    for cut in (300, 1380 * 3 + 517, 1380 * 6 + 900, len(bars) - 7):
        part = _per_bar_indicators(bars.iloc[:cut])
        for name, values in part.items():
            np.testing.assert_array_equal(values, full[name][:cut], err_msg=f"{name} changed at cut {cut}")


@pytest.mark.parametrize("order", [1, 3, 5])
def test_pivots_are_truncation_invariant(bars: pd.DataFrame, order: int) -> None:
    h, lo = bars["high"].to_numpy(), bars["low"].to_numpy()
    full = pivots(h, lo, order)
    for cut in (500, 2000, 7777):
        part = pivots(h[:cut], lo[:cut], order)
        known = full.known_at < cut
        np.testing.assert_array_equal(part.index, full.index[known])
        np.testing.assert_array_equal(part.known_at, full.known_at[known])
        np.testing.assert_array_equal(part.price, full.price[known])
        assert (part.known_at == part.index + order).all()


def test_indicators_accept_empty_input() -> None:
    empty = np.array([], dtype=float)
    calls: list[Callable[[], object]] = [
        lambda: ema(empty, 5),
        lambda: atr(empty, empty, empty),
        lambda: session_vwap(empty, empty, empty, empty, empty),
        lambda: volume_multiple(empty, empty, empty),
        lambda: pivots(empty, empty, 2),
    ]
    for call in calls:
        call()


def test_vwap_anchor_day_or_rth() -> None:
    from mesdesk.calendar import vwap_session_keys
    from mesdesk.errors import ConfigError

    idx = pd.DatetimeIndex(
        pd.to_datetime(["2025-10-01 13:28", "2025-10-01 13:29", "2025-10-01 13:30", "2025-10-01 13:31"], utc=True)
    )  # 08:28, 08:29, 08:30, 08:31 CDT
    price = np.array([100.0, 102.0, 110.0, 112.0])
    volume = np.array([1, 1, 1, 1])
    day = session_vwap(price, price, price, volume, vwap_session_keys(idx, "day"))
    rth = session_vwap(price, price, price, volume, vwap_session_keys(idx, "rth"))
    np.testing.assert_allclose(day, [100.0, 101.0, 104.0, 106.0])
    np.testing.assert_allclose(rth[2:], [110.0, 111.0])  # reset at 08:30 CT
    with pytest.raises(ConfigError, match="anchor"):
        vwap_session_keys(idx, "week")
