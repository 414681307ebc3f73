"""The engine adapter: same trades as the backtest, parameters land on the right fields, runs are day-local."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import numpy as np
import pandas as pd
import pytest

from mesdesk.config import Settings
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import EngineConfig, run_backtest
from mesdesk.research.evaluate import (
    Evaluator,
    day_index,
    engine_config,
    parameter_kinds,
    setups_with,
    validate_values,
)
from mesdesk.research.params import parse_params
from mesdesk.services.backtest import BacktestReport, backtest
from mesdesk.services.root import Root
from mesdesk.setups.registry import resolve_setups
from mesdesk.timeframes import Timeframe


def _backtest(bars: pd.DataFrame, min_score: float | None = None) -> BacktestReport:
    """`mesdesk backtest`'s run of the bars (the rule decider, the root's config)."""
    root = Root(Settings())
    config = root.engine_config()
    rules = root.backtest_decider("rules", config, min_score=min_score)
    return backtest(bars, root.setups(min_score=min_score), rules, config, timeframe=Timeframe.M1)


def test_no_parameters_gives_the_backtest_trades(bars: pd.DataFrame, evaluator: Evaluator) -> None:
    report = _backtest(bars)
    run = evaluator.run({})
    assert len(run.stop_first) == report.stats.trades > 5
    assert run.stop_first["pnl_pts"].sum() == pytest.approx(report.stats.net_pts)
    assert run.target_first["pnl_pts"].sum() == pytest.approx(report.optimistic.net_pts)


def test_prefilter_threshold_matches_backtest_min_score(bars: pd.DataFrame, evaluator: Evaluator) -> None:
    report = _backtest(bars, min_score=65.0)
    run = evaluator.run({"prefilter.threshold": 65.0})
    assert len(run.stop_first) == report.stats.trades
    assert run.stop_first["pnl_pts"].sum() == pytest.approx(report.stats.net_pts)


def test_dropping_below_prefilter_candidates_changes_no_trade(bars: pd.DataFrame, base: EngineConfig) -> None:
    candidates = Evaluator(bars, Timeframe.M1, base).candidates({})
    span = pd.Timedelta(minutes=1)
    whole = run_backtest(bars, candidates, RuleDecider(), base, bar_span=span).trades
    passed = candidates[candidates["passed_prefilter"]]
    assert len(passed) < len(candidates)
    only = run_backtest(bars, passed, RuleDecider(), base, bar_span=span).trades
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), only.reset_index(drop=True))


def test_a_day_alone_gives_the_same_trades_as_in_the_whole_run(bars: pd.DataFrame, base: EngineConfig) -> None:
    """The engine is day-local: the candidates of one day, run alone, trade as they did in the whole run."""
    candidates = Evaluator(bars, Timeframe.M1, base).candidates({})
    tight = EngineConfig(bracket=base.bracket, limits=base.limits.__class__(max_trades=2, stop_after_losses=1))
    span = pd.Timedelta(minutes=1)
    whole = run_backtest(bars, candidates, RuleDecider(60.0), tight, bar_span=span).trades
    checked = 0
    for day, group in candidates.groupby("trading_day"):
        alone = run_backtest(bars, group, RuleDecider(60.0), tight, bar_span=span).trades
        expected = whole[pd.to_datetime(whole["trading_day"]) == day].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone.reset_index(drop=True), expected, check_dtype=False)
        checked += len(alone)
    assert checked == len(whole) > 5


def test_parameters_land_on_their_config_fields(base: EngineConfig) -> None:
    cfg = engine_config(
        base,
        {
            "bracket.tp_pts": 2.0,
            "bracket.breakeven_at_pts": None,
            "limits.max_trades": 3,
            "session.rth_a.end": time(10, 0),
            "prefilter.threshold": 70.0,
        },
    )
    assert cfg.bracket.tp_pts == 2.0
    assert cfg.bracket.breakeven_at_pts is None
    assert cfg.limits.max_trades == 3
    assert cfg.session.windows[0].end == time(10, 0)
    assert cfg.session.early_closes == base.session.early_closes  # early closes survive
    assert cfg.prefilter_threshold == 70.0
    setups = setups_with(resolve_setups(), {"setup.ORB_retest_go.range_minutes": 30, "bracket.tp_pts": 1.0})
    assert setups.config.orb.range_minutes == 30


def test_candidates_are_detected_once_per_setup_parameter_set(evaluator: Evaluator) -> None:
    for tp in (1.0, 1.5):
        for fresh in (3, 5):
            evaluator.run({"bracket.tp_pts": tp, "setup.VWAP_rejection.fresh_bars": fresh})
    assert evaluator.detections == 2


def test_a_setup_parameter_changes_the_candidates(evaluator: Evaluator) -> None:
    a = evaluator.candidates({"setup.ORB_retest_go.range_minutes": 15})
    b = evaluator.candidates({"setup.ORB_retest_go.range_minutes": 45})
    orb_a = a[a["setup_type"] == "ORB_retest_go"]
    orb_b = b[b["setup_type"] == "ORB_retest_go"]
    assert len(orb_a) > 0
    assert list(orb_a["ts"]) != list(orb_b["ts"])
    cols = ["ts", "setup_type", "direction"]  # the other setups' candidates stay (their features read the range)
    others = a.loc[a["setup_type"] != "ORB_retest_go", cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(others, b.loc[b["setup_type"] != "ORB_retest_go", cols].reset_index(drop=True))


def test_a_value_the_config_refuses_names_the_parameter(base: EngineConfig) -> None:
    specs = parse_params(["bracket.tp_pts=1,-1"], parameter_kinds(base))
    with pytest.raises(ValueError, match=r"--param bracket.tp_pts=-1.0: tp_pts must be a positive"):
        validate_values(specs, base, resolve_setups())


def test_day_index_maps_trades_onto_the_day_axis(evaluator: Evaluator) -> None:
    trades = evaluator.run({}).stop_first
    idx = day_index(trades, evaluator.days)
    assert np.array_equal(evaluator.days[idx], pd.to_datetime(trades["trading_day"]).to_numpy().astype("datetime64[D]"))


@pytest.mark.parametrize("tp_sl", [(1.25, 0.75), (0.25, 0.25)])
def test_target_first_equals_a_real_target_first_run(
    bars: pd.DataFrame, base: EngineConfig, tp_sl: tuple[float, float]
) -> None:
    """The shortcut (no ambiguous bar: the same run) and the real run agree, with and without ambiguity."""
    evaluator = Evaluator(bars, Timeframe.M1, base)
    assignment = {"bracket.tp_pts": tp_sl[0], "bracket.sl_pts": tp_sl[1]}
    run = evaluator.run(assignment)
    cfg = engine_config(base, assignment)
    optimistic = replace(cfg, execution=replace(cfg.execution, ambiguous_policy="target_first"))
    candidates = evaluator.candidates(assignment)
    real = run_backtest(bars, candidates, RuleDecider(), optimistic, bar_span=pd.Timedelta(minutes=1)).trades
    real = real[real["result"] != "open"]
    assert len(run.target_first) == len(real)
    assert np.allclose(run.target_first["pnl_pts"].to_numpy(float), real["pnl_pts"].to_numpy(float))
    assert list(run.target_first["entry_ts"]) == list(real["entry_ts"])
    if tp_sl == (0.25, 0.25):
        assert run.stop_first["ambiguous"].astype(bool).any()  # this case exercises the real second run
        assert run.target_first["pnl_pts"].sum() > run.stop_first["pnl_pts"].sum()
