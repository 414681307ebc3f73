"""The setup registry: built-ins by name, parameters by `setup.<name>.<param>`, the default frame unchanged."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from mesdesk.candidates import CANDIDATE_COLUMNS, NON_FEATURES
from mesdesk.data.resample import resample
from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.engine.candidates import CandidateTable
from mesdesk.errors import ConfigError
from mesdesk.setups.orb_retest import OrbRetestConfig
from mesdesk.setups.registry import DEFAULT_SETUPS, builtin_names, parse_params, resolve_setups
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates
from mesdesk.setups.user import parse_value
from mesdesk.timeframes import Timeframe


@pytest.fixture(scope="module", name="bars")
def fixture_bars() -> pd.DataFrame:
    return generate_days(8, SyntheticConfig(seed=7))


def test_default_setups_give_exactly_todays_frame(bars: pd.DataFrame) -> None:
    got = resolve_setups().detect(bars, Timeframe.M1)
    pd.testing.assert_frame_equal(got, detect_candidates(bars, ScalperSetupsConfig(), Timeframe.M1))
    assert tuple(got.columns) == CANDIDATE_COLUMNS
    assert set(got["setup_type"]) == set(DEFAULT_SETUPS)


def test_default_setups_give_exactly_todays_frame_on_five_minute_bars(bars: pd.DataFrame) -> None:
    bars5 = resample(bars, Timeframe.M5, source_span=pd.Timedelta(minutes=1))
    got = resolve_setups(list(DEFAULT_SETUPS)).detect(bars5, Timeframe.M5)
    pd.testing.assert_frame_equal(got, detect_candidates(bars5, ScalperSetupsConfig(), Timeframe.M5))


def test_one_builtin_gives_its_rows_of_the_full_frame(bars: pd.DataFrame) -> None:
    full = detect_candidates(bars)
    got = resolve_setups(["ema20_PULLBACK"]).detect(bars)  # names are case-insensitive
    want = full[full["setup_type"] == "EMA20_pullback"].reset_index(drop=True)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want)


def test_builtin_param_reaches_its_config(bars: pd.DataFrame) -> None:
    setups = resolve_setups(["ORB_retest_go"], ["ORB_retest_go.range_minutes=30", "prefilter.threshold=80"])
    config = ScalperSetupsConfig(orb=OrbRetestConfig(range_minutes=30))
    config = replace(config, prefilter=replace(config.prefilter, threshold=80.0))
    full = detect_candidates(bars, config)
    want = full[full["setup_type"] == "ORB_retest_go"].reset_index(drop=True)
    pd.testing.assert_frame_equal(setups.detect(bars), want)
    params = setups.parameters()
    assert params["setup.ORB_retest_go.range_minutes"] == 30
    assert params["setup.prefilter.threshold"] == 80.0
    assert "setup.EMA20_pullback.touch_ticks" not in params  # not in this run


def test_parameters_name_every_builtin_field_with_its_default() -> None:
    params = resolve_setups().parameters()
    assert params["setup.prefilter.threshold"] == 75.0
    assert params["setup.ORB_retest_go.breakout_ticks"] == 1
    assert params["setup.EMA20_pullback.min_slope_atr"] == 0.2
    assert params["setup.VWAP_rejection.fresh_bars"] == 5
    assert not any(key.endswith(".enabled") for key in params)


def test_with_params_returns_a_new_set_and_keeps_the_old() -> None:
    base = resolve_setups()
    tuned = base.with_params({"setup.VWAP_rejection.fresh_bars": 8, "EMA20_pullback.min_slope_atr": 1})
    assert tuned.parameters()["setup.VWAP_rejection.fresh_bars"] == 8
    assert tuned.parameters()["setup.EMA20_pullback.min_slope_atr"] == 1.0  # an int is taken for a float
    assert base.parameters()["setup.VWAP_rejection.fresh_bars"] == 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["ORB_retest_go.range_minutes=2.5"], "expected int"),
        (["ORB_retest_go.enabled=False"], "ORB_retest_go has parameters"),
        (["ORB_retest_go.nope=1"], "ORB_retest_go has parameters"),
        (["EMA20_pullback.require_slow_ema=1"], "expected bool"),
        (["prefilter.w_trend=10"], "threshold"),
        (["prefilter.threshold=101"], "prefilter.threshold must be in 0..100"),
        (["nosuch.x=1"], "no setup 'nosuch'"),
        (["range_minutes=3"], "expected <setup>.<param>"),
        (["ORB_retest_go.range_minutes"], "expected <setup>.<param>=<value>"),
        (["ORB_retest_go.range_minutes=0"], "orb.range_minutes must be in 1..120"),
    ],
)
def test_bad_setup_param_is_a_config_error_naming_it(params: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_setups((), params)


def test_unknown_and_duplicate_setups_are_refused() -> None:
    with pytest.raises(ConfigError, match="no such setup; built-ins are ORB_retest_go"):
        resolve_setups(["ORB"])
    with pytest.raises(ConfigError, match="already in this run"):
        resolve_setups(["VWAP_rejection", "vwap_rejection"])


def test_builtin_names_are_the_journal_names() -> None:
    assert builtin_names() == ("ORB_retest_go", "EMA20_pullback", "VWAP_rejection")


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("2.5", 2.5), ("-1e-3", -0.001), ("true", True), ("False", False), ("'ab'", "ab"), ("abc", "abc")],
)
def test_param_values_are_typed_by_literal_parsing(text: str, value: object) -> None:
    got = parse_value(text)
    assert got == value
    assert type(got) is type(value)


def test_param_value_of_a_container_is_refused() -> None:
    with pytest.raises(ConfigError, match="int, a float, a bool or a string"):
        parse_value("[1, 2]")


def test_parse_params_names_and_later_flags_win() -> None:
    assert parse_params(["a.x=1", "a.x=2", "setup.b.y=z"]) == {"setup.a.x": 2, "setup.b.y": "z"}


def test_builtin_candidates_keep_plain_string_identity(bars: pd.DataFrame) -> None:
    frame = resolve_setups().detect(bars)
    cand = CandidateTable(frame).candidate(0)
    assert type(cand.setup_type) is str
    assert cand.key == f"{cand.ts.isoformat()}|{frame['setup_type'].iloc[0]}|{frame['direction'].iloc[0]}"
    assert NON_FEATURES.isdisjoint(cand.features)
