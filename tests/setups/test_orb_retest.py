"""ORB retest-go on hand-built days: the range is 100-102 from 08:30 to 08:44 CT."""

from __future__ import annotations

import pandas as pd
import pytest
from setup_bars import OHLC, ct_bars, flat

from mesdesk.errors import ConfigError
from mesdesk.setups.ema_pullback import EmaPullbackConfig
from mesdesk.setups.orb_retest import OrbRetestConfig
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates
from mesdesk.setups.vwap_rejection import VwapRejectionConfig
from mesdesk.timeframes import Timeframe

ONLY_ORB = ScalperSetupsConfig(
    ema_pullback=EmaPullbackConfig(enabled=False), vwap_rejection=VwapRejectionConfig(enabled=False)
)

RANGE: list[OHLC] = [(101.0, 102.0, 100.0, 101.0)] * 15  # 08:30-08:44 CT: H = 102, L = 100
INSIDE: OHLC = (101.0, 101.5, 100.5, 101.0)  # 08:45
BREAKOUT: OHLC = (101.0, 103.0, 101.0, 102.75)  # 08:46: close 102.75 > H + 1 tick
AWAY: OHLC = (102.75, 103.5, 102.75, 103.25)  # 08:47: low 102.75 is 3 ticks above H: no retest yet
RETEST: OHLC = (103.25, 103.25, 102.25, 102.5)  # 08:48: low within 2 ticks of H, close holds
PAUSE: OHLC = (102.5, 103.0, 102.25, 102.75)  # 08:49: close 102.75 not above prior high 103.25
GO: OHLC = (102.75, 103.75, 102.75, 103.5)  # 08:50: close above prior high 103.0 and its open


def orb_day(day: str, after_range: list[OHLC]) -> pd.DataFrame:
    """Flat pre-open from 08:00, the range, `after_range` from 08:45, then flat bars to 09:30."""
    rows = flat(101.0, 30) + RANGE + after_range
    tail_price = after_range[-1][3] if after_range else 101.0
    rows += flat(tail_price, 90 - len(rows))
    return ct_bars(day, "08:00", rows)


def test_clear_retest_go_day_gives_one_long_at_the_go_bar() -> None:
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO])
    cands = detect_candidates(bars, ONLY_ORB)
    assert len(cands) == 1
    row = cands.iloc[0]
    assert row["setup_type"] == "ORB_retest_go"
    assert row["direction"] == "long"
    assert row["bar_index"] == 50  # 30 pre-open bars + 15 range bars + 5 -> the 08:50 bar
    assert row["timestamp_ct"] == "2025-06-11T08:51:00"  # decided at the go bar's close
    assert row["ts"] == pd.Timestamp("2025-06-11 13:51", tz="UTC")
    assert row["ref_entry"] == 103.5
    assert row["setup_level"] == 102.0
    assert row["session_label"] == "rth_a"
    assert row["minutes_since_open"] == 21.0


def test_mirror_day_gives_one_short_at_the_same_bar() -> None:
    def mirror(bar: OHLC) -> OHLC:
        o, h, lo, c = bar
        return (202.0 - o, 202.0 - lo, 202.0 - h, 202.0 - c)

    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO])
    mirrored = bars.copy()
    mirrored["open"], mirrored["high"] = 202.0 - bars["open"], 202.0 - bars["low"]
    mirrored["low"], mirrored["close"] = 202.0 - bars["high"], 202.0 - bars["close"]
    cands = detect_candidates(mirrored, ONLY_ORB)
    assert list(cands["direction"]) == ["short"]
    assert cands["bar_index"].iloc[0] == 50
    assert cands["ref_entry"].iloc[0] == mirror(GO)[3]
    assert cands["setup_level"].iloc[0] == 100.0


def test_breakout_that_never_comes_back_to_the_edge_gives_nothing() -> None:
    run_away = [(103.25 + k, 104.5 + k, 103.0 + k, 104.25 + k) for k in range(5)]
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, *run_away])
    assert detect_candidates(bars, ONLY_ORB).empty


def test_close_back_inside_the_range_kills_the_setup() -> None:
    back_inside: OHLC = (102.75, 102.75, 101.0, 101.25)  # closes 3 ticks below H: failure
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, back_inside, RETEST, PAUSE, GO])
    assert detect_candidates(bars, ONLY_ORB).empty


def test_retest_after_the_time_limit_does_not_count() -> None:
    cfg = ScalperSetupsConfig(
        orb=OrbRetestConfig(max_retest_minutes=2),
        ema_pullback=EmaPullbackConfig(enabled=False),
        vwap_rejection=VwapRejectionConfig(enabled=False),
    )
    late = [INSIDE, BREAKOUT, AWAY, AWAY, AWAY, RETEST, PAUSE, GO]  # retest 4 bars after the breakout
    bars = orb_day("2025-06-11", late)
    assert detect_candidates(bars, cfg).empty
    assert len(detect_candidates(bars, ONLY_ORB)) == 1


def test_a_second_go_bar_the_same_day_gives_no_second_candidate() -> None:
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO, RETEST, PAUSE, GO])
    assert list(detect_candidates(bars, ONLY_ORB)["bar_index"]) == [50]


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        ("2025-03-07", 14),  # Friday before the spring change: CST, UTC-6
        ("2025-03-10", 13),  # Monday after it: CDT, UTC-5
        ("2025-10-31", 13),  # Friday before the autumn change: CDT
        ("2025-11-03", 14),  # Monday after it: CST
    ],
)
def test_dst_days_keep_the_range_on_central_time(day: str, utc_hour: int) -> None:
    bars = orb_day(day, [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO])
    cands = detect_candidates(bars, ONLY_ORB)
    assert len(cands) == 1
    assert cands["timestamp_ct"].iloc[0] == f"{day}T08:51:00"
    assert cands["ts"].iloc[0] == pd.Timestamp(f"{day} {utc_hour}:51", tz="UTC")
    assert str(cands["trading_day"].iloc[0].date()) == day


def test_five_minute_bars_use_a_three_bar_range() -> None:
    rows = flat(101.0, 6) + [(101.0, 102.0, 100.0, 101.0)] * 3 + [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO]
    rows += flat(103.5, 6)
    bars = ct_bars("2025-06-11", "08:00", rows, minutes=5)
    cands = detect_candidates(bars, ONLY_ORB, Timeframe.M5)
    assert list(cands["bar_index"]) == [14]  # 6 pre-open + 3 range + 5
    assert cands["timestamp_ct"].iloc[0] == "2025-06-11T09:15:00"  # the 09:10 go bar closes at 09:15 CT


def test_bad_orb_parameter_is_named() -> None:
    with pytest.raises(ConfigError, match=r"orb\.range_minutes"):
        OrbRetestConfig(range_minutes=0)
    with pytest.raises(ConfigError, match=r"orb\.hold_ticks"):
        OrbRetestConfig(hold_ticks=-1)


def test_failure_between_retest_and_go_kills_the_setup() -> None:
    back_inside: OHLC = (102.5, 102.75, 101.0, 101.25)  # after the retest, closes 3 ticks below H
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, AWAY, RETEST, back_inside, GO])
    assert detect_candidates(bars, ONLY_ORB).empty


def test_breakout_after_the_window_does_not_arm_the_day() -> None:
    cfg = ScalperSetupsConfig(
        orb=OrbRetestConfig(breakout_window_minutes=1),
        ema_pullback=EmaPullbackConfig(enabled=False),
        vwap_rejection=VwapRejectionConfig(enabled=False),
    )
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO])  # breakout at 08:46
    assert detect_candidates(bars, cfg).empty
    early = orb_day("2025-06-11", [BREAKOUT, AWAY, RETEST, PAUSE, GO])  # breakout at 08:45
    assert list(detect_candidates(early, cfg)["bar_index"]) == [49]


def test_failure_after_the_go_bar_keeps_the_candidate() -> None:
    # The go bar was decided at its close; a later close back inside the range cannot undo it.
    later_fail: OHLC = (103.5, 103.5, 101.0, 101.25)  # 08:51: closes 3 ticks below H
    bars = orb_day("2025-06-11", [INSIDE, BREAKOUT, AWAY, RETEST, PAUSE, GO, later_fail])
    cands = detect_candidates(bars, ONLY_ORB)
    assert list(cands["bar_index"]) == [50]
    pd.testing.assert_frame_equal(cands, detect_candidates(bars.iloc[:51], ONLY_ORB))
