"""ABC detection: hand-checkable examples, the retracement band, alternation, volume, truncation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.errors import ConfigError
from mesdesk.setups.measured_move import MeasuredMoveConfig, alternating_triples, detect_measured_moves
from mesdesk.timeframes import Timeframe

from .builders import BULL_MIDS, BULL_XS, bullish_bars, mirror, path_bars

K2 = MeasuredMoveConfig(swing_order=2)


def test_bullish_abc_values_can_be_checked_by_hand() -> None:
    bars = bullish_bars()
    sig = detect_measured_moves(bars, Timeframe.M5, K2)
    assert len(sig) == 1
    s = sig.iloc[0]
    ts = bars.index
    assert s["direction"] == "long"
    assert (s["a_time"], s["a_price"]) == (ts[3], 100.0)
    assert (s["b_time"], s["b_price"]) == (ts[8], 110.0)
    assert (s["c_time"], s["c_price"]) == (ts[12], 104.5)
    # known at the close of bar 12 + 2 = 14, i.e. its open + 5 minutes
    assert s["confirmed_at"] == ts[14] + pd.Timedelta(minutes=5)
    assert s["retrace_pct"] == pytest.approx(55.0)
    assert s["ref_price"] == 106.5
    assert s["stop"] == 104.25  # one tick below C
    assert s["target_100"] == 114.5  # C + (B - A)
    assert s["target_123_6"] == 116.75  # C + 12.36 = 116.86, nearest tick
    assert s["rr"] == pytest.approx((114.5 - 106.5) / (106.5 - 104.25), abs=1e-4)


def test_bearish_abc_is_the_mirror_image() -> None:
    bars = mirror(bullish_bars())
    sig = detect_measured_moves(bars, Timeframe.M5, K2)
    assert len(sig) == 1
    s = sig.iloc[0]
    assert s["direction"] == "short"
    assert (s["a_price"], s["b_price"], s["c_price"]) == (200.0, 190.0, 195.5)
    assert s["retrace_pct"] == pytest.approx(55.0)
    assert s["stop"] == 195.75  # one tick above C
    assert s["target_100"] == 185.5
    assert s["target_123_6"] == 183.25  # 195.5 - 12.36 = 183.14 -> 183.25
    assert s["rr"] == pytest.approx((193.5 - 185.5) / (195.75 - 193.5), abs=1e-4)


@pytest.mark.parametrize(
    ("c_low", "expected"),
    [(105.0, 1), (103.82, 1), (105.25, 0), (103.75, 0), (104.5, 1)],
    ids=["50.0%", "61.8%", "47.5%", "62.5%", "55%"],
)
def test_retracement_band_is_50_to_61_8_percent_inclusive(c_low: float, expected: int) -> None:
    mids = list(BULL_MIDS)
    mids[3] = c_low + 0.5  # the C corner (low = mid - 0.5)
    mids[4] = c_low + 2.0  # keep the confirmation close 1.5 above C so R:R stays above 2
    bars = path_bars(BULL_XS, mids)
    assert len(detect_measured_moves(bars, Timeframe.M5, K2)) == expected


def test_min_rr_is_measured_to_target_100_from_the_confirmation_close() -> None:
    bars = bullish_bars()
    rr = (114.5 - 106.5) / (106.5 - 104.25)  # 3.556
    assert len(detect_measured_moves(bars, Timeframe.M5, MeasuredMoveConfig(swing_order=2, min_rr=rr - 0.01))) == 1
    assert detect_measured_moves(bars, Timeframe.M5, MeasuredMoveConfig(swing_order=2, min_rr=rr + 0.01)).empty


def test_no_signal_before_c_is_confirmed() -> None:
    bars = bullish_bars()
    assert detect_measured_moves(bars.iloc[:14], Timeframe.M5, K2).empty  # bar 14 not closed yet
    assert len(detect_measured_moves(bars.iloc[:15], Timeframe.M5, K2)) == 1


def test_same_type_pivots_keep_the_more_extreme_and_each_tail_change_is_a_candidate() -> None:
    index = np.array([1, 3, 5, 7, 9, 11], dtype=np.int64)
    price = np.array([100.0, 110.0, 105.0, 104.0, 104.0, 112.0])
    is_high = np.array([False, True, False, False, False, True])
    triples = alternating_triples(index, price, is_high)
    # L100 H110 L105 -> (0,1,2); L104 is lower and replaces L105 -> (0,1,3); the tie L104 is ignored;
    # H112 -> (1,3,5)
    assert triples.tolist() == [[0, 1, 2], [0, 1, 3], [1, 3, 5]]


def test_volume_confirmation_compares_mean_volume_of_the_two_legs() -> None:
    n = BULL_XS[-1] + 1
    light_pullback = np.full(n, 100)
    light_pullback[4:9] = 300  # A->B leg: bars 4..8
    light_pullback[9:13] = 200  # B->C leg: bars 9..12, lighter
    heavy_pullback = light_pullback.copy()
    heavy_pullback[9:13] = 300  # equal is not lighter

    sig = detect_measured_moves(bullish_bars(volume=light_pullback), Timeframe.M5, K2)
    assert bool(sig["volume_confirmed"].iloc[0])
    assert sig["leg_ab_mean_volume"].iloc[0] == 300.0
    assert sig["leg_bc_mean_volume"].iloc[0] == 200.0

    heavy = bullish_bars(volume=heavy_pullback)
    assert not bool(detect_measured_moves(heavy, Timeframe.M5, K2)["volume_confirmed"].iloc[0])
    required = MeasuredMoveConfig(swing_order=2, require_volume_confirmation=True)
    assert detect_measured_moves(heavy, Timeframe.M5, required).empty
    assert len(detect_measured_moves(bullish_bars(volume=light_pullback), Timeframe.M5, required)) == 1


def test_bad_config_names_the_parameter() -> None:
    with pytest.raises(ConfigError, match="swing_order"):
        MeasuredMoveConfig(swing_order=0)
    with pytest.raises(ConfigError, match="retracement band"):
        MeasuredMoveConfig(min_retrace=0.7, max_retrace=0.6)


def random_walk_bars(n: int, seed: int, freq: str = "5min") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 5000.0 + np.cumsum(rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=n))
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = rng.choice([0.0, 0.25, 0.5], size=(2, n))
    idx = pd.date_range("2025-03-03 00:00", periods=n, freq=freq, tz="UTC", name="ts").as_unit("ns")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick[0],
            "low": np.minimum(open_, close) - wick[1],
            "close": close,
            "volume": rng.integers(50, 500, size=n),
        },
        index=idx,
    )


@pytest.mark.parametrize("cut", [400, 777, 1500, 2222])
def test_signals_never_change_when_later_bars_arrive(cut: int) -> None:
    bars = random_walk_bars(3000, seed=11)
    full = detect_measured_moves(bars, Timeframe.M5)
    assert len(full) > 10  # the walk does produce setups
    part = detect_measured_moves(bars.iloc[:cut], Timeframe.M5)
    known_by_cut = bars.index[cut - 1] + pd.Timedelta(minutes=5)
    expected = full[full["confirmed_at"] <= known_by_cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected)
