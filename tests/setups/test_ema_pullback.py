"""20-EMA pullback on a hand-built uptrend: +0.25 a minute from 07:00 CT, a wick to the EMA, a go bar."""

from __future__ import annotations

import pandas as pd
import pytest
from setup_bars import OHLC, ct_bars

from mesdesk.errors import ConfigError
from mesdesk.setups.ema_pullback import EmaPullbackConfig
from mesdesk.setups.orb_retest import OrbRetestConfig
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates
from mesdesk.setups.vwap_rejection import VwapRejectionConfig


def only_ema(**kwargs: object) -> ScalperSetupsConfig:
    return ScalperSetupsConfig(
        orb=OrbRetestConfig(enabled=False),
        ema_pullback=EmaPullbackConfig(**kwargs),  # type: ignore[arg-type]
        vwap_rejection=VwapRejectionConfig(enabled=False),
    )


TREND: list[OHLC] = [(100.0 + 0.25 * k, 100.25 + 0.25 * k, 100.0 + 0.25 * k, 100.25 + 0.25 * k) for k in range(100)]
# Bars 0-99 close at 100.25 ... 125.0; the 20 EMA lags about 2.4 points (122.6 at bar 99).
DIP: OHLC = (125.0, 125.0, 124.25, 124.5)  # bar 100, 08:40 CT
TOUCH: OHLC = (124.5, 124.5, 122.75, 123.75)  # bar 101: low 122.75 within a tick of the EMA (122.89)
HOLD: OHLC = (123.75, 124.0, 123.5, 124.0)  # bar 102: close 124.0 not above prior high 124.5
GO: OHLC = (124.0, 124.75, 123.75, 124.75)  # bar 103: close above prior high 124.0 -> the candidate
AFTER: list[OHLC] = [(124.75 + 0.25 * k, 125.0 + 0.25 * k, 124.5 + 0.25 * k, 125.0 + 0.25 * k) for k in range(10)]


def day(middle: list[OHLC]) -> pd.DataFrame:
    return ct_bars("2025-06-11", "07:00", [*TREND, *middle, *AFTER])


def test_pullback_to_the_ema_and_continuation_gives_one_long() -> None:
    cands = detect_candidates(day([DIP, TOUCH, HOLD, GO]), only_ema())
    assert list(cands["bar_index"]) == [103]  # the next bar (104) also closes higher but is not fresh
    row = cands.iloc[0]
    assert (row["setup_type"], row["direction"], row["ref_entry"]) == ("EMA20_pullback", "long", 124.75)
    assert row["timestamp_ct"] == "2025-06-11T08:44:00"
    assert row["setup_level"] == pytest.approx(123.166, abs=1e-3)
    assert row["dist_ema_atr"] > 0  # above the EMA, in the long's favour


def test_pullback_that_stops_short_of_the_ema_gives_nothing() -> None:
    shallow: OHLC = (124.5, 124.5, 123.5, 123.75)  # low 123.5 is 2+ points above the EMA
    assert detect_candidates(day([DIP, shallow, HOLD, GO]), only_ema()).empty


def test_continuation_too_long_after_the_touch_gives_nothing() -> None:
    assert detect_candidates(day([DIP, TOUCH, HOLD, GO]), only_ema(touch_lookback_bars=1)).empty
    assert len(detect_candidates(day([DIP, TOUCH, HOLD, GO]), only_ema(touch_lookback_bars=2))) == 1


def test_a_flat_ema_is_no_trend() -> None:
    # The EMA rose about 0.8 points over the last 5 bars; the 5m ATR is 1.25: 0.63 ATR of slope.
    assert detect_candidates(day([DIP, TOUCH, HOLD, GO]), only_ema(min_slope_atr=0.7)).empty
    assert len(detect_candidates(day([DIP, TOUCH, HOLD, GO]), only_ema(min_slope_atr=0.6))) == 1


def test_close_far_through_the_ema_is_not_a_touch() -> None:
    # Closes at 122.0, 0.75 below the EMA (122.75): more than 2 ticks. The next bar reclaims the EMA
    # from below (opens under it), which is not a pullback touch either.
    through: OHLC = (124.5, 124.5, 121.75, 122.0)
    bars = day([DIP, through, (122.0, 123.0, 122.0, 123.0), (123.5, 124.5, 123.5, 124.5)])
    assert detect_candidates(bars, only_ema(pierce_ticks=2)).empty
    assert list(detect_candidates(bars, only_ema(pierce_ticks=4))["bar_index"]) == [103]


def test_bad_pullback_parameter_is_named() -> None:
    with pytest.raises(ConfigError, match=r"ema_pullback\.touch_lookback_bars"):
        EmaPullbackConfig(touch_lookback_bars=0)
