"""VIX regime: filter edges, point-in-time lookup, CSV loading, the synthetic series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.vix import load_vix_csv, synthetic_vix, vix_asof, vix_filter_passed
from mesdesk.errors import DataError


def test_longs_pass_up_to_18_and_shorts_from_16_inclusive() -> None:
    directions = ["long", "long", "long", "short", "short", "short", "long", "short"]
    vix = [17.99, 18.0, 18.01, 16.01, 16.0, 15.99, np.nan, np.nan]
    assert vix_filter_passed(directions, vix).tolist() == [True, True, False, True, True, False, False, False]


def test_filter_thresholds_are_configurable() -> None:
    assert vix_filter_passed(["long", "short"], [25.0, 25.0], long_max=30.0, short_min=26.0).tolist() == [True, False]


def test_a_close_is_usable_only_from_the_next_day_midnight_new_york() -> None:
    closes = pd.Series([20.0, 30.0], index=pd.DatetimeIndex(["2025-03-10", "2025-03-11"]), name="VIXCLS")
    # 2025-03-11 00:00 EDT = 04:00 UTC (DST began on 2025-03-09)
    at = pd.DatetimeIndex(
        ["2025-03-11 03:59:59", "2025-03-11 04:00:00", "2025-03-11 21:00", "2025-03-12 04:00"], tz="UTC"
    )
    got = vix_asof(closes, at)
    assert np.isnan(got[0])
    assert got[1:].tolist() == [20.0, 20.0, 30.0]


def test_missing_days_carry_the_last_published_close() -> None:
    closes = pd.Series([20.0, np.nan], index=pd.DatetimeIndex(["2025-03-10", "2025-03-11"]))
    assert vix_asof(closes, pd.DatetimeIndex(["2025-03-13 12:00"], tz="UTC")).tolist() == [20.0]


def test_fred_download_csv_loads_with_dots_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "VIXCLS.csv"
    path.write_text("observation_date,VIXCLS\n2025-03-10,27.86\n2025-03-11,.\n2025-03-12,24.23\n")
    series = load_vix_csv(path)
    assert series.index.tolist() == list(pd.DatetimeIndex(["2025-03-10", "2025-03-11", "2025-03-12"]))
    assert series.iloc[0] == 27.86
    assert np.isnan(series.iloc[1])


def test_bad_vix_value_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "vix.csv"
    path.write_text("date,close\n2025-03-10,27.86\n2025-03-11,abc\n")
    with pytest.raises(DataError, match=r"vix.csv: line 3: close 'abc'"):
        load_vix_csv(path)


def test_vix_csv_without_known_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vix.csv"
    path.write_text("when,level\n2025-03-10,27.86\n")
    with pytest.raises(DataError, match="date column"):
        load_vix_csv(path)


def test_synthetic_vix_is_annualized_realized_vol_plus_premium() -> None:
    # one trading day of 10 bars with a constant log return of 0.001: 9 returns, RV = 9e-6
    idx = pd.date_range("2025-03-11 14:00", periods=10, freq="1min", tz="UTC", name="ts")
    close = 5000.0 * np.exp(0.001 * np.arange(10))
    bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1}, index=idx)
    vix = synthetic_vix(bars)
    assert vix.index.tolist() == [pd.Timestamp("2025-03-11")]
    assert vix.iloc[0] == pytest.approx(round(100 * np.sqrt(252 * 9e-6) + 3.0, 2))
    pd.testing.assert_series_equal(synthetic_vix(bars), vix)  # deterministic
