"""Every bar the scanner builds is a whole bin: data that start mid-bin must not give a partial first bar.

`mesdesk scan --days-back N` cuts the base bars N days back from the last bar, at whatever minute that
is; resampling then labelled the few minutes left of the first bin as a full 1h/4h/1d bar (one minute
of a day as that day's "daily bar"), a fake bar that pivots and ABC legs then read.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mesdesk.data.resample import resample
from mesdesk.setups.measured_move_scan import timeframe_bars
from mesdesk.timeframes import SCAN_TIMEFRAMES, Timeframe

from .bars import globex_days

DAYS = ["2025-09-15", "2025-09-16", "2025-09-17", "2025-09-18"]


@pytest.mark.parametrize("skip", [1, 37, 300, 1000])
def test_every_scanned_bar_is_the_whole_bin(skip: int) -> None:
    bars = globex_days(DAYS, seed=2, minutes=1, settlement_bar=False)
    part = bars.iloc[skip:]
    built = timeframe_bars(part, SCAN_TIMEFRAMES, pd.Timedelta(minutes=1))
    for tf in SCAN_TIMEFRAMES:
        whole = resample(bars, tf)
        got = built[tf]
        assert len(got) > 0 or tf is Timeframe.D1
        pd.testing.assert_frame_equal(got, whole.loc[got.index], check_freq=False)


def test_data_starting_on_a_bin_edge_keep_the_first_bin() -> None:
    bars = globex_days(DAYS, seed=2, minutes=1, settlement_bar=False)  # starts 17:00 CT
    built = timeframe_bars(bars, SCAN_TIMEFRAMES, pd.Timedelta(minutes=1))
    assert built[Timeframe.D1].index[0] == bars.index[0]
    assert built[Timeframe.H4].index[0] == bars.index[0]


def test_early_close_day_bins_exist_at_the_early_close_on_the_hourly_chain() -> None:
    # 2025-11-28 closes at 12:15 CT. Directly from minutes, its last 4h bin (09:00-12:15) and the day
    # are complete at 12:15; the chain built them from the 12:00 hourly bar, complete only at 13:00, so
    # they (and any ABC they confirm) appeared at the next session instead of at the close.
    bars = globex_days(["2025-11-26"], seed=3, minutes=1, settlement_bar=False)
    from .bars import ct_minutes

    short_day = ct_minutes("2025-11-27T17:00", "2025-11-28T12:14", seed=4, price=float(bars["close"].iloc[-1]))
    bars = pd.concat([bars, short_day])
    built = timeframe_bars(bars, SCAN_TIMEFRAMES, pd.Timedelta(minutes=1))
    for tf in (Timeframe.H4, Timeframe.D1):
        pd.testing.assert_frame_equal(built[tf], resample(bars, tf), check_freq=False)
    assert built[Timeframe.D1].index[-1] == pd.Timestamp("2025-11-27 23:00", tz="UTC")  # 17:00 CT, day 11-28
