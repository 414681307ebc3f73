"""`optimize`: search configurations, then judge the search out of sample (walk-forward, CSCV, DSR).

The sweep runs each configuration once over the whole span (`Evaluator.run`) and keeps its daily
sums in a configurations x days matrix; walk-forward folds, CSCV splits and the full-span figures
are all slices of that matrix (see `mesdesk.research.evaluate` for why that is exact). The best
in-sample figure is reported only beside the walk-forward out-of-sample result, the PBO and the
Deflated Sharpe Ratio of the number of configurations tried.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mesdesk.errors import ConfigError
from mesdesk.research.cscv import PboResult, cscv
from mesdesk.research.evaluate import Evaluator, day_index, is_setup_param
from mesdesk.research.executors import Executor, LocalExecutor
from mesdesk.research.objectives import (
    DayMatrix,
    DaySums,
    Objective,
    objective_values,
)
from mesdesk.research.params import Assignment, ParamSpec, Value, config_key, grid, grid_size
from mesdesk.research.results import ConfigSums, TrialStore
from mesdesk.research.search import make_search
from mesdesk.research.stats import (
    SharpeMoments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    mean_interval,
    probabilistic_sharpe_ratio,
    sharpe_moments,
    sharpe_ratio,
)
from mesdesk.research.walkforward import WalkForwardResult, WalkForwardSpec, folds, walk_forward

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OptimizeSpec:
    """What to search and how to judge it (see docs/research.md)."""

    params: tuple[ParamSpec, ...]
    search: str = "grid"
    trials: int = 50  # TPE: trials per walk-forward fold
    seed: int = 7
    objective: Objective = "sharpe"
    min_trades: int = 10
    walk_forward: WalkForwardSpec | None = None  # None: WalkForwardSpec.auto
    groups: int = 10


@dataclass(frozen=True)
class DeflatedSharpe:
    """DSR and PSR of the selected configuration's daily net P&L (per day, not annualised)."""

    value: float
    sr0: float
    n_trials: int
    var_sr: float
    sharpe: SharpeMoments
    probabilistic: float  # PSR against a zero Sharpe


@dataclass(frozen=True)
class Stability:
    """How the objective moves one grid step away from the best value of one parameter."""

    param: str
    best_value: Value
    neighbours: tuple[tuple[Value, float], ...]  # (value, objective), NaN: not enough trades
    worst_drop: float  # best objective - the worst neighbour's (NaN: no neighbour evaluated)


@dataclass(frozen=True)
class OptimizeResult:
    """Everything the report shows; row i of the matrix is configuration `assignments[i]`."""

    spec: OptimizeSpec
    walk_forward_spec: WalkForwardSpec
    assignments: list[Assignment]
    keys: list[str]
    matrix: DayMatrix
    in_sample: np.ndarray  # full-span objective per configuration, stop-first (NaN: not enough trades)
    in_sample_target_first: np.ndarray
    best: int  # -1 when no configuration has enough trades
    walk_forward: WalkForwardResult
    pbo: PboResult | None
    pbo_note: str
    deflated: DeflatedSharpe | None
    stability: list[Stability]
    oos_trades: pd.DataFrame
    oos_trades_target_first: pd.DataFrame
    oos_expectancy_ci: tuple[float, float, float]
    ran: int  # configurations run in this call
    reused: int  # configurations read back from the output folder
    detections: int  # candidate detections (one per distinct setup-parameter set)
    seconds: float

    @property
    def n_configs(self) -> int:
        return len(self.keys)


class _Sweep:
    """Configurations evaluated so far (each once), as rows of the daily matrices."""

    def __init__(
        self,
        evaluator: Evaluator,
        store: TrialStore | None,
        progress: Progress | None,
        total: int,
        executor: Executor,
    ) -> None:
        self.evaluator = evaluator
        self.store = store
        self.progress = progress
        self.total = total
        self.executor = executor
        self.asked = 0
        self.rows: dict[str, int] = {}
        self.assignments: list[Assignment] = []
        # Row i of both blocks is configuration i's (4, days) sums, filled in place: the sweep holds one
        # copy of the day matrix. `total` bounds the rows (the grid's size; TPE asks at most one new
        # configuration per trial and fold); zeros are not touched, so unused rows cost no memory.
        n_days = int(evaluator.days.size)
        self._blocks = (np.zeros((max(1, total), 4, n_days)), np.zeros((max(1, total), 4, n_days)))
        self.ran = 0
        self.reused = 0

    def prepare(self, assignments: Sequence[Assignment]) -> None:
        """Give each new configuration of `assignments` its row (in order) and fill it: read back from
        the folder, or run and stored as it finishes. Results go straight into the day matrix."""
        todo: list[tuple[int, str, Assignment]] = []
        for assignment in assignments:
            key = config_key(assignment)
            if key in self.rows:
                continue
            row = self._new_row(key, assignment)
            if self.store is not None and key in self.store.finished:
                self._put(row, self.store.finished.pop(key))
                self.reused += 1
                continue
            todo.append((row, key, dict(assignment)))
        for i, sums, seconds in self.executor.run(self.evaluator, [a for _, _, a in todo]):
            row, key, _ = todo[i]
            self._put(row, sums)
            self.ran += 1
            if self.store is not None:
                self.store.add(key, sums, seconds)
            if self.progress is not None and len(todo) > 1:
                self.progress(min(self.total, self.asked + self.reused + self.ran), self.total)

    def _new_row(self, key: str, assignment: Assignment) -> int:
        row = self.rows[key] = len(self.assignments)
        self.assignments.append(dict(assignment))
        return row

    def _put(self, row: int, sums: ConfigSums) -> None:
        self._blocks[0][row] = sums.stop_first
        self._blocks[1][row] = sums.target_first

    def row(self, assignment: Assignment) -> int:
        key = config_key(assignment)
        if key not in self.rows:
            self.prepare([assignment])
        return self.rows[key]

    def tick(self) -> None:
        self.asked += 1
        if self.progress is not None:
            self.progress(self.asked, self.total)

    def one_row(self, i: int) -> tuple[DaySums, DaySums]:
        return _as_sums(self._blocks[0][i : i + 1]), _as_sums(self._blocks[1][i : i + 1])

    def matrix(self) -> DayMatrix:
        n = len(self.assignments)  # views of the filled rows, (configs, 4, days): no copy
        return DayMatrix(self.evaluator.days, _as_sums(self._blocks[0][:n]), _as_sums(self._blocks[1][:n]))


def _as_sums(block: np.ndarray) -> DaySums:
    """DaySums of a (configs, 4, days) block (rows: net, trades, gains, losses)."""
    return DaySums(block[:, 0, :], block[:, 1, :].astype(np.int64), block[:, 2, :], block[:, 3, :])


def _search_order(specs: Sequence[ParamSpec]) -> tuple[ParamSpec, ...]:
    """Setup parameters first, so a grid detects each candidate set once while it is cached."""
    return tuple(sorted(specs, key=lambda s: 0 if is_setup_param(s.name) else 1))


def _run_searches(sweep: _Sweep, spec: OptimizeSpec, day_sets: list[np.ndarray]) -> None:
    specs = _search_order(spec.params)
    if spec.search == "grid":
        sweep.prepare(list(grid(specs)))
        search = make_search("grid", specs, spec.trials, spec.seed)
        while (assignment := search.ask()) is not None:
            sweep.row(assignment)
        if sweep.progress is not None:
            sweep.progress(sweep.total, sweep.total)
        return
    for k, days in enumerate(day_sets):  # TPE: one study per fold, on its train days only
        search = make_search(spec.search, specs, spec.trials, spec.seed + k)
        while (assignment := search.ask()) is not None:
            sf, _ = sweep.one_row(sweep.row(assignment))
            search.tell(float(objective_values(sf, days, spec.objective, spec.min_trades)[0]))
            sweep.tick()


def optimize(
    evaluator: Evaluator,
    spec: OptimizeSpec,
    store: TrialStore | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> OptimizeResult:
    """Search, then judge: walk-forward, CSCV/PBO, DSR/PSR, stability; see the module docstring.

    `executor` runs the configurations (default: `LocalExecutor`, in this process); the grid hands it
    every configuration at once, TPE one at a time (its ask/tell stays here, in the driver).
    """
    start = time.perf_counter()
    n_days = int(evaluator.days.size)
    wf_spec = spec.walk_forward or WalkForwardSpec.auto(n_days)
    try:
        fold_list = folds(n_days, wf_spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if spec.groups > n_days:
        raise ConfigError(f"--groups {spec.groups}: more CSCV groups than the {n_days} trading days of the data")
    total = grid_size(spec.params) if spec.search == "grid" else spec.trials * len(fold_list)
    sweep = _Sweep(evaluator, store, progress, total, executor or LocalExecutor())
    _run_searches(sweep, spec, [f.train_days for f in fold_list])
    matrix = sweep.matrix()
    all_days = np.arange(n_days)
    in_sample = objective_values(matrix.stop_first, all_days, spec.objective, spec.min_trades)
    in_sample_tf = objective_values(matrix.target_first, all_days, spec.objective, spec.min_trades)
    best = int(np.nanargmax(in_sample)) if not np.all(np.isnan(in_sample)) else -1
    wf = walk_forward(matrix, wf_spec, spec.objective, spec.min_trades)
    pbo, pbo_note = _pbo(matrix, spec)
    oos_sf, oos_tf = _oos_trades(evaluator, sweep, wf)
    return OptimizeResult(
        spec=spec,
        walk_forward_spec=wf_spec,
        assignments=sweep.assignments,
        keys=list(sweep.rows),
        matrix=matrix,
        in_sample=in_sample,
        in_sample_target_first=in_sample_tf,
        best=best,
        walk_forward=wf,
        pbo=pbo,
        pbo_note=pbo_note,
        deflated=_deflated(matrix, best, spec.min_trades),
        stability=stability(sweep.assignments, sweep.rows, in_sample, spec.params, best),
        oos_trades=oos_sf,
        oos_trades_target_first=oos_tf,
        oos_expectancy_ci=mean_interval(oos_sf["pnl_pts"].to_numpy(dtype=np.float64)),
        ran=sweep.ran,
        reused=sweep.reused,
        detections=evaluator.detections,
        seconds=time.perf_counter() - start,
    )


def _pbo(matrix: DayMatrix, spec: OptimizeSpec) -> tuple[PboResult | None, str]:
    if matrix.n_configs < 2:
        return None, "needs at least 2 configurations"
    result = cscv(
        matrix.n_days,
        spec.groups,
        lambda rows: objective_values(matrix.stop_first, rows, spec.objective, spec.min_trades),
        matrix.n_configs,
    )
    if result.logits.size == 0:
        return result, f"{NOT_ENOUGH_SPLITS} (every split had too few trades in or out of sample)"
    note = f"{result.n_splits - result.skipped} of {result.n_splits} splits"
    return result, note


NOT_ENOUGH_SPLITS = "no split with enough trades"


def _deflated(matrix: DayMatrix, best: int, min_trades: int) -> DeflatedSharpe | None:
    """DSR of the best in-sample configuration given the trials' daily Sharpe ratios.

    Every configuration tried counts in `n_trials`; the variance of the Sharpe ratios is taken over
    those with at least `min_trades` trades (a Sharpe of one or two trades estimates nothing).
    """
    if best < 0 or matrix.n_days < 2:
        return None
    daily = matrix.stop_first.net
    enough = matrix.stop_first.trades.sum(axis=1) >= max(1, min_trades)
    sharpes = np.array([sharpe_ratio(daily[i]) for i in np.flatnonzero(enough)])
    finite = sharpes[np.isfinite(sharpes)]
    moments = sharpe_moments(daily[best])
    if not math.isfinite(moments.sr):
        return None
    var_sr = float(finite.var(ddof=1)) if finite.size > 1 else 0.0
    n_trials = matrix.n_configs
    return DeflatedSharpe(
        value=deflated_sharpe_ratio(moments.sr, n_trials, var_sr, moments.n_obs, moments.skew, moments.kurtosis),
        sr0=expected_max_sharpe(n_trials, var_sr),
        n_trials=n_trials,
        var_sr=var_sr,
        sharpe=moments,
        probabilistic=probabilistic_sharpe_ratio(moments.sr, 0.0, moments.n_obs, moments.skew, moments.kurtosis),
    )


def stability(
    assignments: Sequence[Assignment],
    rows: dict[str, int],
    objective: np.ndarray,
    specs: Sequence[ParamSpec],
    best: int,
) -> list[Stability]:
    """Per searched parameter with 2+ values: the objective one grid step either side of the best."""
    if best < 0:
        return []
    base = assignments[best]
    out = []
    for spec in specs:
        if len(spec.values) < 2:
            continue
        i = spec.values.index(base[spec.name])
        neighbours: list[tuple[Value, float]] = []
        for j in (i - 1, i + 1):
            if 0 <= j < len(spec.values):
                row = rows.get(config_key({**base, spec.name: spec.values[j]}))
                if row is not None:
                    neighbours.append((spec.values[j], float(objective[row])))
        drops = [objective[best] - v if math.isfinite(v) else math.inf for _, v in neighbours]
        worst = float(max(drops)) if drops else math.nan
        out.append(Stability(spec.name, base[spec.name], tuple(neighbours), worst))
    return out


def _oos_trades(evaluator: Evaluator, sweep: _Sweep, wf: WalkForwardResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chosen configuration's trades on each fold's test days, stitched (both fill policies)."""
    runs: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    parts_sf: list[pd.DataFrame] = []
    parts_tf: list[pd.DataFrame] = []
    for c in wf.choices:
        if c.chosen < 0:
            continue
        if c.chosen not in runs:
            r = evaluator.run(sweep.assignments[c.chosen])
            runs[c.chosen] = (r.stop_first, r.target_first)
        for frame, parts in zip(runs[c.chosen], (parts_sf, parts_tf), strict=True):
            idx = day_index(frame, evaluator.days)
            keep = (idx >= c.fold.test_start) & (idx < c.fold.test_end)
            part = frame.loc[keep].assign(fold=c.fold.number, config=config_key(sweep.assignments[c.chosen]))
            parts.append(part)
    empty = pd.DataFrame({"pnl_pts": pd.Series(dtype="float64"), "fold": pd.Series(dtype="int64")})
    sf = pd.concat(parts_sf, ignore_index=True) if parts_sf else empty
    tf = pd.concat(parts_tf, ignore_index=True) if parts_tf else empty
    return sf, tf
