"""VWAP rejection on a hand-built morning: flat pre-open at 100, a rally to 105, a wick through VWAP."""

from __future__ import annotations

import pandas as pd
import pytest
from setup_bars import OHLC, ct_bars, flat

from mesdesk.errors import ConfigError
from mesdesk.setups.context import IndicatorConfig
from mesdesk.setups.ema_pullback import EmaPullbackConfig
from mesdesk.setups.orb_retest import OrbRetestConfig
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates
from mesdesk.setups.vwap_rejection import VwapRejectionConfig

ONLY_VWAP = ScalperSetupsConfig(orb=OrbRetestConfig(enabled=False), ema_pullback=EmaPullbackConfig(enabled=False))

# 07:30-08:29 flat at 100; from 08:30 (bar 60) +0.25 a minute to 105 (bar 79), then three bars down
# to 103.5. All bars trade 100 contracts, so RTH VWAP is the mean typical price: 102.75 at bar 82.
RALLY: list[OHLC] = [(100.0 + 0.25 * k, 100.25 + 0.25 * k, 100.0 + 0.25 * k, 100.25 + 0.25 * k) for k in range(20)]
DRIFT: list[OHLC] = [(105.0, 105.0, 104.5, 104.5), (104.5, 104.5, 104.0, 104.0), (104.0, 104.0, 103.5, 103.5)]
REJECT: OHLC = (103.5, 103.75, 102.5, 103.5)  # bar 83 (08:53 CT): wick to 102.5 through VWAP 102.77, close 103.5


def morning(test_bar: OHLC, tail: list[OHLC] | None = None) -> pd.DataFrame:
    return ct_bars("2025-06-11", "07:30", [*flat(100.0, 60), *RALLY, *DRIFT, test_bar, *(tail or flat(103.5, 10))])


def test_wick_through_vwap_and_close_back_above_gives_one_long() -> None:
    cands = detect_candidates(morning(REJECT), ONLY_VWAP)
    assert list(cands["bar_index"]) == [83]
    row = cands.iloc[0]
    assert (row["setup_type"], row["direction"], row["ref_entry"]) == ("VWAP_rejection", "long", 103.5)
    assert row["timestamp_ct"] == "2025-06-11T08:54:00"
    assert row["setup_level"] == pytest.approx(102.774, abs=1e-3)
    assert row["dist_vwap_atr"] > 0


def test_close_below_vwap_is_no_rejection() -> None:
    assert detect_candidates(morning((103.5, 103.75, 102.5, 102.75)), ONLY_VWAP).empty


def test_close_in_the_lower_half_of_the_bar_is_no_rejection() -> None:
    weak: OHLC = (103.5, 104.5, 102.5, 103.25)  # close position (103.25-102.5)/2 = 0.375
    assert detect_candidates(morning(weak), ONLY_VWAP).empty


def test_a_second_test_right_after_the_first_is_not_fresh() -> None:
    tail = [REJECT, *flat(103.5, 5)]  # bar 84 repeats the rejection one bar later
    assert list(detect_candidates(morning(REJECT, tail), ONLY_VWAP)["bar_index"]) == [83]


def test_trading_day_anchor_moves_vwap_away_from_the_wick() -> None:
    # Anchored at 17:00 CT, VWAP includes the flat hour at 100 (about 101.3): the wick no longer reaches it.
    cfg = ScalperSetupsConfig(
        indicators=IndicatorConfig(vwap_anchor="trading_day"),
        orb=OrbRetestConfig(enabled=False),
        ema_pullback=EmaPullbackConfig(enabled=False),
    )
    assert detect_candidates(morning(REJECT), cfg).empty


def test_bad_vwap_parameter_is_named() -> None:
    with pytest.raises(ConfigError, match=r"vwap_rejection\.min_close_position"):
        VwapRejectionConfig(min_close_position=1.5)
    with pytest.raises(ConfigError, match="vwap_anchor"):
        IndicatorConfig(vwap_anchor="weekly")  # type: ignore[arg-type]
