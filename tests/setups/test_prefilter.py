"""Prefilter components on hand-set inputs, and the candidate frame contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from setup_bars import random_walk_days

from mesdesk.errors import ConfigError, DataError
from mesdesk.model import Candidate, Direction
from mesdesk.prefilter import PF_COLUMNS, PrefilterConfig, PrefilterInputs, components, score
from mesdesk.setups.orb_retest import OrbRetestConfig
from mesdesk.setups.scalper import (
    CANDIDATE_COLUMNS,
    ScalperSetupsConfig,
    _second_text,
    candidate_from_row,
    detect_candidates,
)
from mesdesk.timeframes import Timeframe


def inputs(n: int = 1, **over: object) -> PrefilterInputs:
    """A long at 100.0 on a 2-point ATR bar: every component full unless overridden."""
    base: dict[str, object] = {
        "sign": np.ones(n, dtype=np.int64),
        "open": np.full(n, 99.0),
        "high": np.full(n, 100.0),
        "low": np.full(n, 99.0),
        "close": np.full(n, 100.0),
        "level": np.full(n, 100.0),
        "ema_fast": np.full(n, 99.5),
        "ema_slow": np.full(n, 99.0),
        "ema_slope": np.full(n, 0.5),
        "vwap": np.full(n, 99.0),
        "atr_5m": np.full(n, 2.0),
        "volume_multiple": np.full(n, 2.0),
        "in_window": np.ones(n, dtype=bool),
    }
    base.update({k: np.asarray(v) for k, v in over.items()})
    return PrefilterInputs(**base)  # type: ignore[arg-type]


def test_all_components_full_scores_100() -> None:
    total, points = score(inputs(), PrefilterConfig())
    assert total[0] == 100.0
    assert set(points) == set(PF_COLUMNS)


def test_volume_multiple_ramps_from_0_8_to_1_5_and_nan_earns_nothing() -> None:
    vm = np.array([0.5, 0.8, 1.15, 1.5, 3.0, np.nan])
    got = components(inputs(6, volume_multiple=vm), PrefilterConfig())["volume"]
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 1.0, 1.0, 0.0])


def test_trend_counts_agreeing_checks() -> None:
    # A long with the EMA falling but EMA20 > EMA50 and close above VWAP: 2 of 3.
    got = components(inputs(ema_slope=[-0.5]), PrefilterConfig())["trend"]
    assert got[0] == pytest.approx(2 / 3)
    short = components(inputs(sign=[-1]), PrefilterConfig())["trend"]
    assert short[0] == 0.0


def test_location_falls_with_distance_from_the_level_in_atrs() -> None:
    # ATR 2: 0.5 pt = 0.25 ATR (full), 1.75 pt = 0.875 ATR (half), 3 pt = 1.5 ATR (none).
    close = np.array([100.5, 101.75, 103.0])
    got = components(inputs(3, close=close, high=close), PrefilterConfig())["location"]
    np.testing.assert_allclose(got, [1.0, 0.5, 0.0])


def test_atr_regime_is_a_band() -> None:
    a = np.array([0.25, 0.75, 1.0, 3.0, 4.0, 6.0, 9.0, np.nan])
    got = components(inputs(8, atr_5m=a), PrefilterConfig())["atr_regime"]
    np.testing.assert_allclose(got, [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0])


def test_time_and_bar_quality() -> None:
    parts = components(inputs(2, in_window=[True, False], open=[99.5, 100.0]), PrefilterConfig())
    np.testing.assert_allclose(parts["time"], [1.0, 0.0])
    np.testing.assert_allclose(parts["bar_quality"], [0.5, 0.0])  # half-range body; a doji


def test_threshold_is_inclusive_at_75() -> None:
    # Volume missing (20) and half the bar quality (5): 75 exactly.
    total, _ = score(inputs(volume_multiple=[np.nan], open=[99.5]), PrefilterConfig())
    assert total[0] == pytest.approx(75.0)


def test_weights_must_sum_to_100() -> None:
    with pytest.raises(ConfigError, match="sum to 100"):
        PrefilterConfig(w_trend=30.0)
    with pytest.raises(ConfigError, match=r"prefilter\.threshold"):
        PrefilterConfig(threshold=120.0)


@pytest.fixture(scope="module", name="cands")
def fixture_cands() -> pd.DataFrame:
    bars = random_walk_days(["2025-06-09", "2025-06-10", "2025-06-11", "2025-06-12", "2025-06-13"], seed=3)
    return detect_candidates(bars)


def test_frame_has_the_contract_columns_and_types(cands: pd.DataFrame) -> None:
    assert tuple(cands.columns) == CANDIDATE_COLUMNS
    assert str(cands["ts"].dtype) == "datetime64[ns, UTC]"
    assert cands["bar_index"].dtype == np.int64
    assert cands["passed_prefilter"].dtype == bool
    assert cands["ts"].is_monotonic_increasing
    pf = cands[list(PF_COLUMNS)].sum(axis=1)
    np.testing.assert_allclose(pf, cands["prefilter_score"])
    assert ((cands["prefilter_score"] >= 75) == cands["passed_prefilter"]).all()
    assert set(cands["direction"]) <= {"long", "short"}
    assert (cands["minutes_since_open"] > 0).all()


def test_threshold_is_configurable(cands: pd.DataFrame) -> None:
    bars = random_walk_days(["2025-06-09", "2025-06-10", "2025-06-11", "2025-06-12", "2025-06-13"], seed=3)
    low = detect_candidates(bars, ScalperSetupsConfig(prefilter=PrefilterConfig(threshold=50.0)))
    assert (low["passed_prefilter"] == (low["prefilter_score"] >= 50)).all()
    assert low["passed_prefilter"].sum() > cands["passed_prefilter"].sum()


def test_candidate_from_row_carries_the_fields(cands: pd.DataFrame) -> None:
    row = cands.iloc[0]
    cand = candidate_from_row(row)
    assert isinstance(cand, Candidate)
    assert cand.ts == row["ts"].to_pydatetime()
    assert cand.setup_type == row["setup_type"]
    assert cand.direction is Direction(row["direction"])
    assert cand.prefilter_score == row["prefilter_score"]
    assert cand.trading_day == row["trading_day"].date()
    assert cand.features["dist_vwap_atr"] == row["dist_vwap_atr"] or np.isnan(row["dist_vwap_atr"])
    assert "pf_trend" in cand.features


def test_no_candidates_gives_an_empty_frame_with_the_columns() -> None:
    idx = pd.date_range("2025-06-11 13:30", periods=30, freq="1min", tz="UTC", name="ts")
    flat = pd.DataFrame({"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1}, index=idx)
    got = detect_candidates(flat)
    assert got.empty
    assert tuple(got.columns) == CANDIDATE_COLUMNS
    assert str(got["ts"].dtype) == "datetime64[ns, UTC]"


def test_timeframes_above_5m_are_refused() -> None:
    bars = random_walk_days(["2025-06-10"], seed=1, minutes=15)
    with pytest.raises(ConfigError, match="15m"):
        detect_candidates(bars, timeframe=Timeframe.M15)


def test_broken_input_is_refused_with_the_reason() -> None:
    bars = random_walk_days(["2025-06-10"], seed=2)
    with pytest.raises(DataError, match="strictly increasing"):
        detect_candidates(bars.iloc[::-1])
    repeated = bars.iloc[[*range(10), 9, *range(10, len(bars))]]  # one timestamp twice
    with pytest.raises(DataError, match="strictly increasing"):
        detect_candidates(repeated)
    disordered = bars.iloc[::-1].copy()
    disordered.iloc[3, disordered.columns.get_loc("low")] = np.nan  # the price is named before the order
    with pytest.raises(DataError, match="low is not a finite price at row 3 "):
        detect_candidates(disordered)
    naive = bars.copy()
    naive.index = naive.index.tz_localize(None)
    with pytest.raises(DataError, match="timezone-aware"):
        detect_candidates(naive)
    holed = bars.copy()
    holed.iloc[5, holed.columns.get_loc("close")] = np.nan
    with pytest.raises(DataError, match="close is not a finite price at row 5"):
        detect_candidates(holed)
    for column, row, bad in (("high", 7, np.inf), ("low", 0, -np.inf), ("open", len(bars) - 1, np.nan)):
        broken = bars.copy()
        broken.iloc[row, broken.columns.get_loc(column)] = bad
        with pytest.raises(DataError, match=f"{column} is not a finite price at row {row} "):
            detect_candidates(broken)
    with pytest.raises(DataError, match="volume"):
        detect_candidates(bars.drop(columns="volume"))


def test_opening_range_must_be_whole_bars() -> None:
    bars = random_walk_days(["2025-06-10"], seed=2, minutes=5)
    cfg = ScalperSetupsConfig(orb=OrbRetestConfig(range_minutes=7))
    with pytest.raises(ConfigError, match=r"orb\.range_minutes=7"):
        detect_candidates(bars, cfg, Timeframe.M5)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), n=st.integers(0, 3000))
def test_candidate_ct_times_are_numpy_s_text(seed: int, n: int) -> None:
    """`timestamp_ct` formats each distinct date and time once: the same text as numpy's, before 1970 too."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(-(10**9), 3 * 10**9, n))
    seconds[: n // 2] = seconds[: n // 2] // 60 * 60  # many on whole minutes, as bar closes are
    wall = np.sort(seconds).astype("datetime64[s]")
    got = pd.Series(_second_text(wall))
    want = pd.Series(np.datetime_as_string(wall, unit="s").astype(object))  # as the frame would store it
    assert got.dtype == want.dtype
    assert got.tolist() == want.tolist()
