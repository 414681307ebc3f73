"""optimize() end to end on a few synthetic days: consistency, resume, seeded TPE, honesty."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.engine import EngineConfig
from mesdesk.errors import ConfigError
from mesdesk.research import OptimizeSpec, optimize
from mesdesk.research.evaluate import Evaluator, parameter_kinds
from mesdesk.research.params import parse_params
from mesdesk.research.report import summary, trials_frame
from mesdesk.research.results import TrialStore
from mesdesk.research.walkforward import WalkForwardSpec
from mesdesk.timeframes import Timeframe

GRID = ["bracket.tp_pts=1,1.5,2", "bracket.sl_pts=0.5,1", "prefilter.threshold=60,75"]


def _spec(**kw: object) -> OptimizeSpec:
    params = parse_params(kw.pop("grid", GRID), parameter_kinds())  # type: ignore[arg-type]
    defaults: dict[str, object] = {
        "min_trades": 2,
        "walk_forward": WalkForwardSpec.parse("4:2"),
        "groups": 4,
    }
    return OptimizeSpec(params=params, **{**defaults, **kw})  # type: ignore[arg-type]


def test_grid_runs_each_configuration_once_and_slices_match_runs(evaluator: Evaluator) -> None:
    result = optimize(evaluator, _spec())
    assert result.n_configs == result.ran == 12
    assert evaluator.detections == 1
    # The stitched OOS trades are the chosen configurations' trades on the test days, from fresh runs.
    assert result.oos_trades["pnl_pts"].sum() == pytest.approx(result.walk_forward.oos_daily_net.sum())
    assert len(result.oos_trades) == sum(c.oos_trades for c in result.walk_forward.choices)
    # A matrix row equals the configuration's own run.
    row = 5
    run = evaluator.run(result.assignments[row])
    assert result.matrix.stop_first.net[row].sum() == pytest.approx(run.stop_first["pnl_pts"].sum())
    assert result.matrix.target_first.trades[row].sum() == len(run.target_first)


def test_summary_has_the_issue_keys_and_never_the_in_sample_alone(evaluator: Evaluator) -> None:
    s = summary(optimize(evaluator, _spec()))
    for key in ("trials", "best_params", "in_sample", "walk_forward", "pbo", "deflated_sharpe", "probabilistic_sharpe"):
        assert key in s
    assert set(s["in_sample"]) >= {"objective", "trades"}
    assert set(s["walk_forward"]) >= {"oos_trades", "oos_expectancy_pts", "oos_ci95", "efficiency"}
    assert set(s["deflated_sharpe"]) >= {"value", "sr0", "n_trials"}
    assert s["deflated_sharpe"]["n_trials"] == 12
    json.dumps(s, allow_nan=False)  # JSON-safe: NaN and inf became null


def test_trials_frame_has_every_configuration_and_window(evaluator: Evaluator) -> None:
    result = optimize(evaluator, _spec())
    frame = trials_frame(result)
    n_folds = len(result.walk_forward.choices)
    assert len(frame) == 12 * (1 + 2 * n_folds)
    chosen = frame[frame["chosen"] & (frame["window"] == "test")]
    assert len(chosen) == sum(1 for c in result.walk_forward.choices if c.chosen >= 0)
    assert set(frame["window"]) == {"all", "train", "test"}
    assert not frame.loc[frame["window"] == "test", "in_sample"].any()


def test_stability_reads_the_neighbours_of_the_best(evaluator: Evaluator) -> None:
    result = optimize(evaluator, _spec())
    assert [s.param for s in result.stability] == ["bracket.tp_pts", "bracket.sl_pts", "prefilter.threshold"]
    for s in result.stability:
        assert 1 <= len(s.neighbours) <= 2
        finite = [o for _, o in s.neighbours if math.isfinite(o)]
        if finite and len(finite) == len(s.neighbours):
            assert s.worst_drop == pytest.approx(result.in_sample[result.best] - min(finite))


def test_resume_skips_finished_configurations_and_gives_the_same_summary(
    evaluator: Evaluator, bars: pd.DataFrame, base: EngineConfig, tmp_path: Path
) -> None:
    meta = {"data": "synthetic-11"}
    first = optimize(evaluator, _spec(), TrialStore(tmp_path / "a", meta, evaluator.days))
    # Simulate a kill: keep 5 finished configurations, plus a sixth whose daily rows were written but
    # whose line in configs.csv was not, plus a line cut in half.
    folder = tmp_path / "b"
    store = TrialStore(folder, meta, evaluator.days)
    part = optimize(Evaluator(bars, Timeframe.M1, base), _spec(grid=[*GRID[:2], "prefilter.threshold=60"]), store)
    assert part.ran == 6
    lines = (folder / "configs.csv").read_text().splitlines()
    (folder / "configs.csv").write_text("\n".join(lines[:6]) + "\n" + lines[6][:10])
    again = optimize(Evaluator(bars, Timeframe.M1, base), _spec(), TrialStore(folder, meta, evaluator.days))
    assert again.reused == 5
    assert again.ran == 7
    assert summary(again) == summary(first)
    with (folder / "configs.csv").open() as fh:
        assert len(list(csv.reader(fh))) == 1 + 12


def test_a_folder_of_other_data_is_refused(evaluator: Evaluator, tmp_path: Path) -> None:
    TrialStore(tmp_path, {"data": "one"}, evaluator.days)
    with pytest.raises(ConfigError, match="holds a sweep of other data"):
        TrialStore(tmp_path, {"data": "two"}, evaluator.days)


def test_tpe_is_seeded(evaluator: Evaluator) -> None:
    grid = ["bracket.tp_pts=0.75:2.5:0.25", "bracket.sl_pts=0.5:1.5:0.25"]
    a = optimize(evaluator, _spec(grid=grid, search="tpe", trials=6, seed=3))
    b = optimize(evaluator, _spec(grid=grid, search="tpe", trials=6, seed=3))
    assert a.keys == b.keys
    assert summary(a) == summary(b)
    assert 1 < a.n_configs <= 6 * len(a.walk_forward.choices)


def test_too_few_trades_is_never_chosen(evaluator: Evaluator) -> None:
    result = optimize(evaluator, _spec(min_trades=10_000))
    assert result.best == -1
    assert all(c.chosen == -1 for c in result.walk_forward.choices)
    assert result.deflated is None
    assert summary(result)["in_sample"]["objective"] is None


def test_more_groups_than_days_is_refused(evaluator: Evaluator) -> None:
    with pytest.raises(ConfigError, match="more CSCV groups"):
        optimize(evaluator, _spec(groups=40))


def test_the_synthetic_martingale_shows_no_significant_edge(evaluator: Evaluator) -> None:
    s = summary(optimize(evaluator, _spec()))
    assert s["deflated_sharpe"]["value"] is None or s["deflated_sharpe"]["value"] < 0.95
    lo, hi = s["walk_forward"]["oos_ci95"]
    assert lo is None or lo <= 0.0  # the interval contains zero or lies below it
    assert np.isfinite(s["walk_forward"]["oos_trades"])
