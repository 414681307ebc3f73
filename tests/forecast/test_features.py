"""Horizons, features and targets: hand-checked values and point-in-time truncation."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from mesdesk.errors import ConfigError
from mesdesk.forecast.features import FEATURES, build_features, forward_returns_pct
from mesdesk.forecast.horizons import format_pct, parse_horizons
from mesdesk.forecast.macro import MacroData, synthetic_macro
from mesdesk.timeframes import Timeframe

from .conftest import session_bars


def test_horizons_parse_sort_and_dedupe() -> None:
    hs = parse_horizons("7d, 5m,60m,1h,4h")
    assert [h.label for h in hs] == ["5m", "60m", "4h", "7d"]  # 1h duplicates 60m: the first spelling stays
    assert hs[-1].duration == timedelta(days=7)


@pytest.mark.parametrize("bad", ["", "5x", "0m", "-5m", "m"])
def test_bad_horizon_names_the_parameter(bad: str) -> None:
    with pytest.raises(ConfigError, match="horizons"):
        parse_horizons(bad)


def test_format_pct_is_signed_with_three_decimals() -> None:
    assert format_pct(0.1234) == "+0.123%"
    assert format_pct(-0.0004) == "-0.000%"
    assert format_pct(0.0) == "+0.000%"


def test_forward_return_reads_the_close_known_at_t_plus_h() -> None:
    minute = 60 * 10**9
    t = np.array([0, 5, 10, 15, 60], dtype=np.int64) * minute  # a gap between 15 and 60
    close = np.array([100.0, 101.0, 102.0, 103.0, 110.0])
    out = forward_returns_pct(t, close, 15 * minute)
    # t=0 -> close at 15 (103); t=5 -> close known at 20 is still 103; t=15 -> 30: still 103 (gap)
    assert out[0] == pytest.approx(3.0)
    assert out[1] == pytest.approx(100 * (103 / 101 - 1))
    assert out[3] == pytest.approx(0.0)
    assert np.isnan(out[4])  # 60 + 15 is past the data: outcome unknown


def _macro_for(bars: pd.DataFrame) -> MacroData:
    return synthetic_macro(bars)


def test_features_do_not_change_when_later_bars_arrive() -> None:
    bars = session_bars(12, seed=5)
    cut = bars.index[len(bars) * 2 // 3]
    full = build_features(bars, Timeframe.M5, _macro_for(bars)).frame
    part = build_features(bars.loc[:cut], Timeframe.M5, _macro_for(bars.loc[:cut])).frame
    pd.testing.assert_frame_equal(full.loc[part.index], part)
    assert part.notna().all(axis=1).sum() > 100  # the comparison covers complete rows, not only warm-up NaN


def test_daily_return_is_the_last_complete_session() -> None:
    bars = session_bars(4, seed=2)
    fs = build_features(bars, Timeframe.M5, _macro_for(bars))
    days = (bars.index.tz_convert("America/Chicago") + pd.Timedelta(hours=7)).date
    day_close = bars["close"].groupby(days).last()
    # a decision in the middle of the third session sees the second session's return, not the third's
    third = sorted(set(days))[2]
    t = pd.Timestamp(f"{third} 10:00", tz="America/Chicago").tz_convert("UTC")
    value = fs.frame.loc[t, "ret_1d"]
    second, first = day_close.iloc[1], day_close.iloc[0]
    assert value == pytest.approx(100 * (second / first - 1))


def test_session_return_starts_at_the_first_open_of_the_trading_day() -> None:
    bars = session_bars(3, seed=4)
    fs = build_features(bars, Timeframe.M5, _macro_for(bars))
    t_close = bars.index[300] + pd.Timedelta(minutes=5)
    day_open = bars["open"].iloc[276]  # 276 five-minute bars per 23h session
    assert fs.frame.loc[t_close, "ret_session"] == pytest.approx(100 * (bars["close"].iloc[300] / day_open - 1))


def test_macro_value_is_used_only_once_published() -> None:
    bars = session_bars(6, seed=3)
    vix = pd.Series([20.0, 30.0], index=pd.DatetimeIndex(["2025-03-03", "2025-03-04"], name="date"), name="VIXCLS")
    flat = pd.Series([1.0], index=pd.DatetimeIndex(["2025-02-01"], name="date"))
    macro = MacroData(series={"VIXCLS": vix, "DFF": flat, "DTWEXBGS": flat, "DEXCHUS": flat}, source="test")
    fs = build_features(bars, Timeframe.M5, macro)
    at = lambda text: fs.frame["vix"].asof(pd.Timestamp(text, tz="America/New_York"))  # noqa: E731
    assert at("2025-03-04 23:55") == 20.0  # the close of 03-04 is not yet published
    assert at("2025-03-05 00:05") == 30.0  # from 03-05 00:00 New York
    assert np.isnan(at("2025-03-03 23:55"))


def test_feature_columns_are_the_documented_ones(bars_5m: pd.DataFrame) -> None:
    fs = build_features(bars_5m, Timeframe.M5, _macro_for(bars_5m))
    assert tuple(fs.frame.columns) == FEATURES
    # decision time is the bar close: open + 5 minutes
    assert fs.frame.index[0] == bars_5m.index[0] + pd.Timedelta(minutes=5)
