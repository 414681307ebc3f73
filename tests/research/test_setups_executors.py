"""Setups in the optimizer (a user setup's keyword parameter searched) and executors giving identical sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.config import Settings
from mesdesk.engine import EngineConfig
from mesdesk.errors import ConfigError
from mesdesk.research import OptimizeSpec, optimize
from mesdesk.research.evaluate import Evaluator, engine_config, parameter_kinds
from mesdesk.research.executors import LocalExecutor, make_executor
from mesdesk.research.params import parse_params
from mesdesk.research.report import summary
from mesdesk.research.walkforward import WalkForwardSpec
from mesdesk.services.backtest import backtest
from mesdesk.services.root import Root
from mesdesk.setups.registry import resolve_setups
from mesdesk.timeframes import Timeframe

USER_SETUP = '''
import pandas as pd


def breakout(bars, lookback=20, score=80.0):
    """Long on the first close above the highest high of the previous `lookback` bars (causal)."""
    prior = bars["high"].rolling(lookback).max().shift(1)
    hit = (bars["close"] > prior).to_numpy()
    first = hit & ~pd.Series(hit).shift(1, fill_value=False).to_numpy()
    ts = bars.index[first] + pd.Timedelta(minutes=1)
    return pd.DataFrame({"ts": ts, "direction": "long", "score": score})
'''


@pytest.fixture(name="user_spec")
def fixture_user_spec(tmp_path: Path) -> str:
    path = tmp_path / "my_setups.py"
    path.write_text(USER_SETUP)
    return f"{path}:breakout"


def _spec(grid: list[str], kinds: dict[str, object]) -> OptimizeSpec:
    return OptimizeSpec(
        params=parse_params(grid, kinds),  # type: ignore[arg-type]
        min_trades=2,
        walk_forward=WalkForwardSpec.parse("4:2"),
        groups=4,
    )


def test_every_setup_parameter_is_searchable_under_the_registry_names(user_spec: str) -> None:
    kinds = parameter_kinds(None, resolve_setups(["ORB_retest_go", user_spec]))
    assert kinds["setup.breakout.lookback"] == "int"
    assert kinds["setup.breakout.score"] == "float"
    assert kinds["setup.ORB_retest_go.range_minutes"] == "int"
    assert kinds["prefilter.threshold"] == "float"
    assert "setup.prefilter.threshold" not in kinds  # one pass threshold: prefilter.threshold
    assert not any(k.startswith("setup.EMA20_pullback.") for k in kinds)  # not in this run


def test_a_user_setup_parameter_is_optimised_and_equals_a_plain_backtest(
    bars: pd.DataFrame, base: EngineConfig, user_spec: str
) -> None:
    setups = resolve_setups([user_spec])
    evaluator = Evaluator(bars, Timeframe.M1, base, setups=setups)
    grid = ["setup.breakout.lookback=10,30", "bracket.tp_pts=1,2", "bracket.sl_pts=0.75,1"]
    result = optimize(evaluator, _spec(grid, parameter_kinds(base, setups)))
    assert result.ran == 8
    assert evaluator.detections == 2  # candidates detected once per distinct lookback
    root = Root(Settings())
    totals = set()
    for row, assignment in enumerate(result.assignments):
        lookback = assignment["setup.breakout.lookback"]
        plain_setups = resolve_setups([user_spec], [f"breakout.lookback={lookback}"])
        config = engine_config(base, assignment)
        report = backtest(bars, plain_setups, root.backtest_decider("rules", config), config, timeframe=Timeframe.M1)
        trades = result.matrix.stop_first.trades[row].sum()
        assert trades == report.stats.trades > 3
        assert result.matrix.stop_first.net[row].sum() == pytest.approx(report.stats.net_pts)
        totals.add((lookback, int(trades)))
    assert len({t for _, t in totals}) > 1  # the parameter changes the trades


def test_cli_takes_setup_and_setup_param(user_spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "optimize",
            "--days",
            "12",
            "--groups",
            "4",
            "--min-trades",
            "2",
            "--setup",
            user_spec,
            "--setup-param",
            "breakout.score=90",
            "--param",
            "setup.breakout.lookback=10,30",
            "--json",
        ]
    )
    summ = json.loads(capsys.readouterr().out)
    assert summ["trials"] == 2
    assert set(summ["best_params"]) == {"setup.breakout.lookback"}


def test_a_setup_parameter_of_another_run_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["optimize", "--days", "12", "--setup", "VWAP_rejection", "--param", "setup.ORB_retest_go.hold_ticks=1,2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown parameter" in err
    assert "setup.VWAP_rejection.fresh_bars" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_executor_is_refused() -> None:
    with pytest.raises(ConfigError, match="--executor 'dask': choose local or ray"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("local", "127.0.0.1:6379")


def test_ray_missing_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"--executor ray needs Ray: pip install 'mesdesk\[ray\]'"):
        make_executor("ray")


@pytest.mark.slow
def test_ray_gives_the_same_sweep_as_the_local_executor(bars: pd.DataFrame, base: EngineConfig) -> None:
    pytest.importorskip("ray")
    grid = ["setup.VWAP_rejection.fresh_bars=3,5", "bracket.tp_pts=1,1.5,2", "prefilter.threshold=60,75"]
    spec = _spec(grid, parameter_kinds(base))
    local = optimize(Evaluator(bars, Timeframe.M1, base), spec, executor=LocalExecutor())
    ray_executor = make_executor("ray", workers=2)
    try:
        remote_evaluator = Evaluator(bars, Timeframe.M1, base)
        remote = optimize(remote_evaluator, spec, executor=ray_executor)
    finally:
        ray_executor.close()
    assert remote.ran == local.ran == 12
    assert remote.keys == local.keys
    assert remote_evaluator.detections == 2  # in the driver, once per setup-parameter set
    for a, b in (
        (local.matrix.stop_first, remote.matrix.stop_first),
        (local.matrix.target_first, remote.matrix.target_first),
    ):
        assert np.array_equal(a.net, b.net)
        assert np.array_equal(a.trades, b.trades)
    assert json.dumps(summary(local), sort_keys=True, default=str) == json.dumps(
        summary(remote), sort_keys=True, default=str
    )


@pytest.mark.slow
def test_tpe_on_ray_asks_the_same_trials_as_local(bars: pd.DataFrame, base: EngineConfig) -> None:
    pytest.importorskip("ray")
    spec = OptimizeSpec(
        params=parse_params(["bracket.tp_pts=1,1.5,2", "bracket.sl_pts=0.5,0.75,1"], parameter_kinds(base)),
        search="tpe",
        trials=4,
        min_trades=2,
        walk_forward=WalkForwardSpec.parse("6:3"),
        groups=4,
    )
    local = optimize(Evaluator(bars, Timeframe.M1, base), spec)
    ray_executor = make_executor("ray", workers=2)
    try:
        remote = optimize(Evaluator(bars, Timeframe.M1, base), spec, executor=ray_executor)
    finally:
        ray_executor.close()
    assert remote.keys == local.keys
    assert np.array_equal(remote.matrix.stop_first.net, local.matrix.stop_first.net)


@pytest.mark.slow
def test_a_ray_sweep_resumes_a_folder_and_streams_into_it(tmp_path: Path) -> None:
    """Trials finished before (here by the local executor) are read back, the rest stream in from Ray."""
    pytest.importorskip("ray")
    from mesdesk.services.optimize import OptimizeRequest, run_optimize_job

    common = {"days": 12, "groups": 4, "min_trades": 2}
    first = ("bracket.tp_pts=1,1.5", "bracket.sl_pts=0.5,1")
    full = ("bracket.tp_pts=1,1.5,2", "bracket.sl_pts=0.5,1")
    run_optimize_job(OptimizeRequest(params=first, out=tmp_path / "sweep", **common))  # type: ignore[arg-type]
    resumed = run_optimize_job(
        OptimizeRequest(params=full, out=tmp_path / "sweep", executor="ray", workers=2, **common)  # type: ignore[arg-type]
    )
    assert (resumed.result.reused, resumed.result.ran) == (4, 2)
    lines = (tmp_path / "sweep" / "configs.csv").read_text().splitlines()
    assert len(lines) == 1 + 6  # each configuration stored once
    run_optimize_job(OptimizeRequest(params=full, out=tmp_path / "whole", **common))  # type: ignore[arg-type]
    assert json.loads((tmp_path / "sweep" / "summary.json").read_text()) == json.loads(
        (tmp_path / "whole" / "summary.json").read_text()
    )


def _dies_once(*args: object) -> list[object]:
    """A Ray task body that kills its own worker process the first time any batch runs (marker file)."""
    import os

    from mesdesk.research.executors import evaluate_batch

    marker = os.environ["MESDESK_TEST_KILL_MARKER"]
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return evaluate_batch(*args)  # type: ignore[arg-type]
    os._exit(1)  # the worker dies mid-sweep


@pytest.mark.slow
def test_a_killed_ray_worker_loses_no_trial_and_counts_none_twice(
    bars: pd.DataFrame, base: EngineConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    import sys

    import ray.cloudpickle

    from mesdesk.research.executors import RayExecutor
    from mesdesk.research.results import TrialStore

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    marker = tmp_path / "killed"
    monkeypatch.setenv("MESDESK_TEST_KILL_MARKER", str(marker))  # workers inherit the driver's environment
    spec = _spec(["bracket.tp_pts=1,1.5,2", "bracket.sl_pts=0.5,0.75,1"], parameter_kinds(base))
    local = optimize(Evaluator(bars, Timeframe.M1, base), spec)
    executor = RayExecutor(workers=2, task=_dies_once)
    evaluator = Evaluator(bars, Timeframe.M1, base)
    store = TrialStore(tmp_path / "sweep", {"test": 1}, evaluator.days)
    try:
        remote = optimize(evaluator, spec, store, executor=executor)
    finally:
        executor.close()
    assert marker.exists()  # a worker did die
    assert remote.ran == 9
    lines = (tmp_path / "sweep" / "configs.csv").read_text().splitlines()[1:]
    assert sorted(line.split(",")[0] for line in lines) == sorted(local.keys)  # each once, none lost
    assert np.array_equal(remote.matrix.stop_first.net, local.matrix.stop_first.net)


def test_a_ray_address_nothing_listens_on_is_a_one_line_error() -> None:
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a free port on 127.0.0.1, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    executor = make_executor("ray", f"127.0.0.1:{port}")
    with pytest.raises(ConfigError, match=rf"--ray-address 127.0.0.1:{port}: no Ray head answers there"):
        list(executor.run(Evaluator.__new__(Evaluator), [{}]))
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        list(make_executor("ray", "nowhere").run(Evaluator.__new__(Evaluator), [{}]))


POOL_GRID = [
    "setup.VWAP_rejection.fresh_bars=3,5",
    "bracket.tp_pts=1,1.5,2",
    "bracket.sl_pts=0.5,1",
    "prefilter.threshold=60,75",
]


def test_the_local_pool_gives_the_same_sweep_as_one_process(
    bars: pd.DataFrame, base: EngineConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from mesdesk.research import executors

    spec = _spec(POOL_GRID, parameter_kinds(base))
    inline = optimize(Evaluator(bars, Timeframe.M1, base), spec, executor=LocalExecutor(workers=1))
    pids = tmp_path / "pids"
    timed = executors._timed

    def recorded(*args: object) -> object:
        with pids.open("a") as fh:  # the workers are forked: they run this patched function
            fh.write(f"{os.getpid()}\n")
        return timed(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(executors, "_timed", recorded)
    pool = LocalExecutor(workers=2, min_batch=1)
    try:
        pooled = optimize(Evaluator(bars, Timeframe.M1, base), spec, executor=pool)
    finally:
        pool.close()
    ran_in = set(pids.read_text().split())
    assert str(os.getpid()) not in ran_in
    assert len(ran_in) == 2
    assert pooled.ran == inline.ran == 24
    assert pooled.keys == inline.keys
    for a, b in (
        (inline.matrix.stop_first, pooled.matrix.stop_first),
        (inline.matrix.target_first, pooled.matrix.target_first),
    ):
        assert np.array_equal(a.net, b.net)
        assert np.array_equal(a.trades, b.trades)
        assert np.array_equal(a.gains, b.gains)
    assert json.dumps(summary(inline), sort_keys=True, default=str) == json.dumps(
        summary(pooled), sort_keys=True, default=str
    )


def test_a_killed_pool_worker_is_a_one_line_error_and_the_sweep_resumes(
    bars: pd.DataFrame, base: EngineConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from mesdesk.research import executors
    from mesdesk.research.results import TrialStore

    spec = _spec(POOL_GRID, parameter_kinds(base))
    inline = optimize(Evaluator(bars, Timeframe.M1, base), spec, executor=LocalExecutor(workers=1))
    marker, driver = tmp_path / "killed", os.getpid()
    timed = executors._timed

    def dies_once(evaluator: Evaluator, i: int, assignment: dict[str, object]) -> object:
        if os.getpid() != driver and i == 5:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os._exit(1)  # the worker dies mid-sweep
        return timed(evaluator, i, assignment)  # type: ignore[arg-type]

    monkeypatch.setattr(executors, "_timed", dies_once)
    folder = tmp_path / "sweep"
    evaluator = Evaluator(bars, Timeframe.M1, base)
    pool = LocalExecutor(workers=2, min_batch=1)
    try:
        with pytest.raises(ConfigError, match="a sweep worker process died") as err:
            optimize(evaluator, spec, TrialStore(folder, {"test": 1}, evaluator.days), executor=pool)
    finally:
        pool.close()
    assert marker.exists()
    assert "\n" not in str(err.value)
    kept = len((folder / "configs.csv").read_text().splitlines()) - 1
    assert kept < 24
    evaluator = Evaluator(bars, Timeframe.M1, base)
    pool = LocalExecutor(workers=2, min_batch=1)
    try:
        resumed = optimize(evaluator, spec, TrialStore(folder, {"test": 1}, evaluator.days), executor=pool)
    finally:
        pool.close()
    assert (resumed.reused, resumed.ran) == (kept, 24 - kept)
    lines = (folder / "configs.csv").read_text().splitlines()[1:]
    assert sorted(line.split(",")[0] for line in lines) == sorted(inline.keys)  # each once, none lost
    assert np.array_equal(resumed.matrix.stop_first.net, inline.matrix.stop_first.net)
