"""The optimize job: load bars as `mesdesk backtest` does, sweep, judge out of sample, write the outputs.

With no `--param`, `DEFAULT_GRID` (bracket and prefilter threshold, 36 configurations) runs on
`DEFAULT_DAYS` synthetic trading days, so `mesdesk optimize` alone shows what the command does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from mesdesk.config import Settings, load_settings
from mesdesk.errors import ConfigError
from mesdesk.research.evaluate import Evaluator, parameter_kinds, validate_values
from mesdesk.research.executors import make_executor
from mesdesk.research.objectives import check_objective
from mesdesk.research.optimize import OptimizeResult, OptimizeSpec, optimize
from mesdesk.research.params import MAX_GRID, grid_size, parse_params
from mesdesk.research.report import summary, trials_frame
from mesdesk.research.results import TrialStore
from mesdesk.research.walkforward import WalkForwardSpec
from mesdesk.services.backtest import BacktestRequest, load_path_bars
from mesdesk.services.root import Root
from mesdesk.setups.registry import SetupSet, resolve_setups
from mesdesk.timeframes import Timeframe

DEFAULT_GRID = (
    "bracket.tp_pts=1,1.25,1.5,2",
    "bracket.sl_pts=0.5,0.75,1",
    "prefilter.threshold=65,75,85",
)
DEFAULT_DAYS = 60


@dataclass(frozen=True)
class OptimizeRequest:
    """The data options of `mesdesk backtest` plus the search and validation options."""

    source: str = "synthetic"
    file: Path | None = None
    start: date | None = None
    end: date | None = None
    days: int = DEFAULT_DAYS
    timeframe: str = "1m"
    sub_bars: str | None = None
    seed: int = 7  # the synthetic market's seed
    slippage_ticks: int = 1
    params: tuple[str, ...] = ()
    search: str = "grid"
    trials: int = 50
    search_seed: int = 7
    objective: str = "sharpe"
    min_trades: int = 10
    walk_forward: str | None = None
    anchored: bool = False
    groups: int = 10
    out: Path | None = None
    yes: bool = False
    setups: tuple[str, ...] = ()  # --setup: built-in names or user setups (default: the three built-ins)
    setup_params: tuple[str, ...] = ()  # --setup-param <setup>.<param>=<value>: the base values
    executor: str = "local"  # local (worker processes on this machine) or ray
    ray_address: str | None = None  # --ray-address (else RAY_ADDRESS; else a local Ray)
    workers: int | None = None  # local worker processes or CPUs of a local Ray (default: every CPU)


@dataclass(frozen=True)
class OptimizeReport:
    """The result, its summary and what was written."""

    result: OptimizeResult
    summary: dict[str, Any]
    bars: int
    first_bar: pd.Timestamp
    last_bar: pd.Timestamp
    files: tuple[Path, ...] = field(default_factory=tuple)


def load_data(req: OptimizeRequest, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame | None, Timeframe]:
    """Decision bars, optional sub-bars and the timeframe, exactly as the backtest loads them."""
    timeframe = Timeframe.parse(req.timeframe)
    if timeframe not in (Timeframe.M1, Timeframe.M5):
        raise ConfigError(f"--timeframe {req.timeframe}: the scalper decides on 1m or 5m bars")
    breq = BacktestRequest(source=req.source, file=req.file, start=req.start, end=req.end, days=req.days, seed=req.seed)
    bars = load_path_bars(breq, settings, timeframe)
    if len(bars) < 2:
        raise ConfigError("no bars in the requested range")
    sub_bars = None
    if req.sub_bars is not None:
        sub_tf = Timeframe.parse(req.sub_bars)
        if sub_tf.span >= timeframe.span:
            raise ConfigError(f"--sub-bars {req.sub_bars} must be finer than --timeframe {req.timeframe}")
        sub_bars = load_path_bars(breq, settings, sub_tf)
    return bars, sub_bars, timeframe


def build_spec(req: OptimizeRequest, kinds: dict[str, Any]) -> OptimizeSpec:
    """The typed search spec of a request; every bad option is a one-line ConfigError."""
    try:
        specs = parse_params(req.params or DEFAULT_GRID, kinds)
        objective = check_objective(req.objective)
        wf = None if req.walk_forward is None else WalkForwardSpec.parse(req.walk_forward, req.anchored)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if req.search not in ("grid", "tpe"):
        raise ConfigError(f"--search {req.search!r}: choose grid or tpe")
    size = grid_size(specs)
    if req.search == "grid" and size > MAX_GRID and not req.yes:
        raise ConfigError(f"the grid has {size:,} configurations (over {MAX_GRID:,}); narrow it or pass --yes")
    if req.min_trades < 1:
        raise ConfigError(f"--min-trades must be >= 1, got {req.min_trades}")
    if req.groups < 2 or req.groups % 2:
        raise ConfigError(f"--groups must be an even number >= 2, got {req.groups}")
    return OptimizeSpec(
        params=specs,
        search=req.search,
        trials=req.trials,
        seed=req.search_seed,
        objective=objective,
        min_trades=req.min_trades,
        walk_forward=wf,
        groups=req.groups,
    )


def _meta(req: OptimizeRequest, settings: Settings, bars: pd.DataFrame, setups: SetupSet) -> dict[str, Any]:
    """What the trials depend on: a folder with other data or costs is refused, not mixed."""
    return {
        "source": req.source,
        "file": None if req.file is None else str(req.file),
        "timeframe": req.timeframe,
        "sub_bars": req.sub_bars,
        "seed": req.seed if req.source == "synthetic" else None,
        "slippage_ticks": req.slippage_ticks,
        "daily_point_stop": settings.daily_point_stop,
        "rth_end": settings.rth_end,
        "bars": len(bars),
        "first_bar": str(pd.Timestamp(bars.index[0])),
        "last_bar": str(pd.Timestamp(bars.index[-1])),
        "setups": list(setups.names),
        "setup_params": {k: repr(v) for k, v in sorted(setups.parameters().items())},
    }


def run_optimize_job(
    req: OptimizeRequest,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OptimizeReport:
    """Load, sweep (resuming from `req.out` when it holds finished trials), judge, write."""
    settings = settings or load_settings()
    setups = resolve_setups(req.setups, req.setup_params)
    executor = make_executor(req.executor, req.ray_address, req.workers)  # refused before any data is loaded
    spec = build_spec(req, parameter_kinds(None, setups))  # bad options fail before any data is loaded
    bars, sub_bars, timeframe = load_data(req, settings)
    base = Root(settings).engine_config(slippage_ticks=req.slippage_ticks)
    try:
        validate_values(spec.params, base, setups)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    evaluator = Evaluator(bars, timeframe, base, sub_bars, setups)
    if spec.walk_forward is None and req.anchored:
        spec = OptimizeSpec(**{**spec.__dict__, "walk_forward": WalkForwardSpec.auto(evaluator.days.size, True)})
    store = None if req.out is None else TrialStore(req.out, _meta(req, settings, bars, setups), evaluator.days)
    try:
        result = optimize(evaluator, spec, store, progress, executor)
    finally:
        executor.close()
    summ = summary(result)
    summ["data"] = {
        "source": req.source,
        "bars": len(bars),
        "first_bar_utc": str(pd.Timestamp(bars.index[0])),
        "last_bar_utc": str(pd.Timestamp(bars.index[-1])),
        "trading_days": int(evaluator.days.size),
        "timeframe": req.timeframe,
        "sub_bars": req.sub_bars,
    }
    report = OptimizeReport(result, summ, len(bars), pd.Timestamp(bars.index[0]), pd.Timestamp(bars.index[-1]))
    if req.out is None:
        return report
    return OptimizeReport(**{**report.__dict__, "files": write_outputs(report, req.out)})


def write_outputs(report: OptimizeReport, out: Path) -> tuple[Path, ...]:
    """trials.parquet, oos_trades.csv, summary.json and report.html under `out`."""
    from mesdesk.services.optimize_report import write_report

    out.mkdir(parents=True, exist_ok=True)
    trials = out / "trials.parquet"
    trials_frame(report.result).to_parquet(trials, index=False)
    oos = out / "oos_trades.csv"
    report.result.oos_trades.to_csv(oos, index=False)
    summ = out / "summary.json"
    summ.write_text(json.dumps(report.summary, indent=2, sort_keys=True))
    return (trials, oos, summ, *write_report(report.result, report.summary, out))
