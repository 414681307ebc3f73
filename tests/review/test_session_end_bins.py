"""4h and 1d bins end at the session close: a bar printed after it must not change a closed bin.

Real ES minute files carry a bar opening at 16:00 CT on some days (a settlement print, after the
16:00 close), and a vendor may print after an early close. Such a bar closes after its 4h/1d bin's
end, so folding it into that bin changed the bin after it had closed (a truncation break), and the
scanner then entered a 1d signal at the open of a bar that was part of the confirming bin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.setups.measured_move import MeasuredMoveConfig
from mesdesk.setups.measured_move_outcomes import OUTCOME_COLUMNS
from mesdesk.setups.measured_move_scan import ScanConfig, scan_bars
from mesdesk.timeframes import Timeframe

from .bars import ct_minutes, globex_days

WALL = (Timeframe.H4, Timeframe.D1)


@pytest.mark.parametrize("timeframe", WALL, ids=[t.value for t in WALL])
def test_settlement_bar_after_the_close_does_not_change_the_closed_bin(timeframe: Timeframe) -> None:
    bars = ct_minutes("2025-09-18T17:00", "2025-09-19T16:00", seed=3)  # last bar opens 16:00 CT
    before = bars.iloc[:-1]  # data up to the 16:00 CT close
    part = resample(before, timeframe)
    full = resample(bars, timeframe)
    assert pd.Timestamp(bin_close_ns(pd.DatetimeIndex(part.index), timeframe)[-1], tz="UTC") == pd.Timestamp(
        "2025-09-19 21:00", tz="UTC"
    )
    pd.testing.assert_frame_equal(full.iloc[: len(part)], part, check_freq=False)


@pytest.mark.parametrize("timeframe", WALL, ids=[t.value for t in WALL])
def test_bars_after_an_early_close_do_not_change_the_closed_bin(timeframe: Timeframe) -> None:
    # 2025-11-28 closes at 12:15 CT; a file with prints up to 12:40 must give the same closed bins.
    bars = ct_minutes("2025-11-27T17:00", "2025-11-28T12:40", seed=4)
    before = bars[bars.index < pd.Timestamp("2025-11-28 18:15", tz="UTC")]
    part = resample(before, timeframe)
    full = resample(bars, timeframe)
    assert pd.Timestamp(bin_close_ns(pd.DatetimeIndex(full.index), timeframe)[-1], tz="UTC") == pd.Timestamp(
        "2025-11-28 18:15", tz="UTC"
    )
    pd.testing.assert_frame_equal(full, part, check_freq=False)


DAYS = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2025-09-02", "2025-10-10")]


@pytest.fixture(scope="module", name="sessions")
def fixture_sessions() -> pd.DataFrame:
    return globex_days(DAYS, seed=21, minutes=5)


def test_scan_on_4h_and_1d_is_point_in_time_with_settlement_bars(sessions: pd.DataFrame) -> None:
    config = ScanConfig(timeframes=WALL, rules=MeasuredMoveConfig(swing_order=2, min_rr=0.5))
    vix = pd.Series(17.0, index=pd.date_range("2025-08-01", "2025-10-31", freq="D"))
    full = scan_bars(sessions, config, vix)
    assert set(full["timeframe"]) == {"4h", "1d"}
    settle = np.flatnonzero(sessions.index.tz_convert("America/Chicago").strftime("%H:%M") == "16:00")
    checked = 0
    for stop in settle[3::4]:  # cut just before a settlement bar: the day's bins are closed there
        part_bars = sessions.iloc[:stop]
        part = scan_bars(part_bars, config, vix)
        cutoff = part_bars.index[-1] + pd.Timedelta(minutes=5)
        known = full[full["confirmed_at"] <= cutoff].reset_index(drop=True)
        cols = [c for c in part.columns if c not in OUTCOME_COLUMNS]
        # an empty frame has object columns where pandas 3 infers strings: compare values then
        pd.testing.assert_frame_equal(part[cols], known[cols], check_dtype=len(part) > 0)
        checked += len(part)
    assert checked > 0
    # the entry bar is never a bar of the confirming bin
    for tf in WALL:
        sub = full[(full["timeframe"] == tf.value) & full["entry_at"].notna()]
        assert (sub["entry_at"] >= sub["confirmed_at"]).all()


def test_scanner_bars_leave_out_prints_after_the_close_on_every_timeframe() -> None:
    # 2025-11-28 closes at 12:15 CT: a print at 12:15 CT (like the 16:00 CT settlement bar on a regular
    # day) must not reach the 4h/1d bins through the hourly chain, nor form a one-minute "1h bar".
    from mesdesk.setups.measured_move_scan import timeframe_bars
    from mesdesk.timeframes import SCAN_TIMEFRAMES

    day = ct_minutes("2025-11-27T17:00", "2025-11-28T12:14", seed=6)
    settle = ct_minutes("2025-11-28T12:15", "2025-11-28T12:15", seed=7, price=float(day["close"].iloc[-1]))
    monday = ct_minutes("2025-11-30T17:00", "2025-12-01T16:00", seed=8, price=float(day["close"].iloc[-1]))
    bars = pd.concat([day, settle, monday])
    built = timeframe_bars(bars, SCAN_TIMEFRAMES, pd.Timedelta(minutes=1))
    clean = pd.concat([day, monday.iloc[:-1]])  # without the two prints after a close
    for tf in SCAN_TIMEFRAMES:
        pd.testing.assert_frame_equal(built[tf], resample(clean, tf), check_freq=False)
