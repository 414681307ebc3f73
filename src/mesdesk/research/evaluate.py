"""The one adapter between the optimizer and the engine: a parameter assignment in, trades out.

Parameter names (the optimizer's vocabulary) map onto the typed configs:
- ``bracket.<field>``: `BracketConfig` (``tp_pts``, ``sl_pts``, ``breakeven_at_pts``, ...);
- ``limits.<field>``: `RiskLimits` (``max_trades``, ``stop_after_losses``, ``daily_point_stop``);
- ``session.<window>.start|end`` and ``session.flat_at``: `SessionConfig` (CT wall clock, ``HH:MM``);
- ``prefilter.threshold``: the score a candidate needs to reach the decider;
- ``decider.threshold``: the rule decider's confidence threshold (default: the prefilter threshold
  when that is searched, as ``mesdesk backtest --min-score`` sets both, else 75);
- ``setup.<setup>.<param>``: every keyword parameter of every setup of the run's `SetupSet`
  (`mesdesk.setups.registry`), built-in (``setup.ORB_retest_go.range_minutes``) or user
  (``setup.opening_range_breakout.range_minutes``), named as ``--setup-param`` names them. The
  registry's ``setup.prefilter.threshold`` is not searched under that name: ``prefilter.threshold``
  is the one pass threshold (``--setup-param prefilter.threshold=V`` sets its default).

Why one engine run per configuration covers every fold: the engine is day-local. Daily limits live
in a `DayState` per CME trading day (engine/risk.py) and start from zero each day; the daily point
floor of an entry reads only that day's net; an entry is allowed only inside the day's CT entry
windows, and an open position is closed at the day's flat time (`SessionConfig.close_on`, early
closes included; engine/loop.py `_settle`), so no position is carried into the next trading day.
The rule decider keeps no state. Candidates are computed once per distinct setup-parameter set over
the whole span: the setups are causal (a candidate at t reads bars closed by t, tests/setups prove
it), so a candidate of a test day is the same whether or not later days exist. A trade of day d
therefore depends only on day d's bars and earlier ones; slicing a whole-span run by day equals
running that day alone. The one exception is a position still open when the data ends: it has no
exit, and like the backtest's summary the optimizer leaves it out.

Only candidates that pass the prefilter go to the engine: the others are never decided, so the
trades are the same as with the whole frame (tests/research prove it) and the journal is smaller.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import time
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.calendar import Window, trading_days
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import BracketConfig, EngineConfig, RiskLimits, run_backtest
from mesdesk.engine import fast as fast_path
from mesdesk.engine import kernel as kernel_codes
from mesdesk.engine.loop import infer_span, run_end_ns, uses_kernel
from mesdesk.errors import ConfigError
from mesdesk.pathbars import PathBars
from mesdesk.research.objectives import day_sums
from mesdesk.research.params import Kind, ParamSpec, Value, config_key
from mesdesk.research.results import ConfigSums
from mesdesk.setups.registry import PREFILTER, SetupSet, resolve_setups
from mesdesk.timeframes import Timeframe

_SCALAR_KINDS: dict[type, Kind] = {bool: "bool", int: "int", float: "float", str: "str", type(None): "any"}
_SETUP_PREFILTER = f"setup.{PREFILTER}.threshold"  # searched as prefilter.threshold


def _dataclass_kinds(prefix: str, cls: Any) -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for f in dataclasses.fields(cls):
        default = f.default
        kind = _SCALAR_KINDS.get(type(default))
        if kind is None:
            continue
        if kind == "float" and "None" in str(f.type):
            kind = "optional_float"
        out[f"{prefix}.{f.name}"] = kind
    return out


def setup_kinds(setups: SetupSet) -> dict[str, Kind]:
    """``setup.<setup>.<param>`` -> value type (from the value in use) for every setup parameter of `setups`."""
    kinds: dict[str, Kind] = {}
    for name, value in setups.parameters().items():
        kind = _SCALAR_KINDS.get(type(value))
        if name != _SETUP_PREFILTER and kind is not None:
            kinds[name] = kind
    return kinds


def parameter_kinds(base: EngineConfig | None = None, setups: SetupSet | None = None) -> dict[str, Kind]:
    """Every parameter name the optimizer accepts, with its value type."""
    base = base or EngineConfig()
    setups = setups or resolve_setups()
    kinds: dict[str, Kind] = {}
    kinds.update(_dataclass_kinds("bracket", BracketConfig))
    kinds.update(_dataclass_kinds("limits", RiskLimits))
    kinds["prefilter.threshold"] = "float"
    kinds["decider.threshold"] = "float"
    kinds["session.flat_at"] = "time"
    for w in base.session.windows:
        kinds[f"session.{w.label}.start"] = "time"
        kinds[f"session.{w.label}.end"] = "time"
    kinds.update(setup_kinds(setups))
    return kinds


def is_setup_param(name: str) -> bool:
    """True when the parameter changes the candidates (they are detected again for it)."""
    return name.startswith("setup.")


def _section(assignment: Mapping[str, Value], prefix: str) -> dict[str, Value]:
    return {k[len(prefix) :]: v for k, v in assignment.items() if k.startswith(prefix)}


def setups_with(base: SetupSet, assignment: Mapping[str, Value]) -> SetupSet:
    """`base` with the ``setup.<setup>.<param>`` values of `assignment` (the registry checks them)."""
    params = {k: v for k, v in assignment.items() if is_setup_param(k)}
    return base.with_params(params) if params else base


def _session(base: EngineConfig, assignment: Mapping[str, Value]) -> EngineConfig:
    windows = []
    for w in base.session.windows:
        start = assignment.get(f"session.{w.label}.start", w.start)
        end = assignment.get(f"session.{w.label}.end", w.end)
        assert isinstance(start, time)
        assert isinstance(end, time)
        windows.append(Window(w.label, start, end))
    flat = assignment.get("session.flat_at", base.session.flat_at)
    assert isinstance(flat, time)
    return replace(base, session=replace(base.session, windows=tuple(windows), flat_at=flat))


def engine_config(base: EngineConfig, assignment: Mapping[str, Value]) -> EngineConfig:
    """`base` with the bracket, limits and session values of `assignment` (typed configs validate them)."""
    config = base
    bracket = _section(assignment, "bracket.")
    if bracket:
        config = replace(config, bracket=replace(config.bracket, **bracket))  # type: ignore[arg-type]
    limits = _section(assignment, "limits.")
    if limits:
        config = replace(config, limits=replace(config.limits, **limits))  # type: ignore[arg-type]
    if any(k.startswith("session.") for k in assignment):
        config = _session(config, assignment)
    threshold = assignment.get("prefilter.threshold")
    if threshold is not None:
        assert isinstance(threshold, float | int)
        config = replace(config, prefilter_threshold=float(threshold))
    return config


def validate_values(specs: tuple[ParamSpec, ...], base: EngineConfig, setups: SetupSet) -> None:
    """Build each value alone on the base configs: a value the configs refuse is a one-line ValueError."""
    for spec in specs:
        for value in spec.values:
            one = {spec.name: value}
            try:
                if is_setup_param(spec.name):
                    setups_with(setups, one)
                elif spec.name == "decider.threshold":
                    assert isinstance(value, float | int)
                    RuleDecider(threshold=float(value))
                else:
                    engine_config(base, one)
                    if spec.name == "prefilter.threshold":
                        assert isinstance(value, float | int)
                        RuleDecider(threshold=float(value))
            except (ConfigError, ValueError, TypeError) as exc:
                reason = str(exc).split(": ", 1)[-1] if str(exc).startswith("--setup-param ") else str(exc)
                raise ValueError(f"--param {spec.name}={value}: {reason}") from None


def trading_day_axis(bars: pd.DataFrame) -> np.ndarray:
    """The sorted trading days (datetime64[D]) that `bars` touch: the day axis of every matrix."""
    return np.unique(trading_days(pd.DatetimeIndex(bars.index)))


@dataclass(frozen=True)
class RunTrades:
    """Closed trades of one configuration, stop-first (the result) and target-first (the bound)."""

    stop_first: pd.DataFrame
    target_first: pd.DataFrame


def day_index(trades: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """Index into `days` of each trade's trading day."""
    values = pd.to_datetime(trades["trading_day"]).to_numpy().astype("datetime64[D]")
    idx = np.searchsorted(days, values)
    if idx.size and (idx.max() >= days.size or not np.array_equal(days[idx], values)):
        raise ConfigError("a trade's trading day is not on the bars' day axis")
    return np.asarray(idx, dtype=np.int64)


class Evaluator:
    """Run one configuration over the whole span; candidates are cached per setup-parameter set."""

    def __init__(
        self,
        bars: pd.DataFrame,
        timeframe: Timeframe,
        base: EngineConfig,
        sub_bars: pd.DataFrame | None = None,
        setups: SetupSet | None = None,
        cache_size: int = 8,
        days: np.ndarray | None = None,
    ) -> None:
        self.bars = bars
        self.timeframe = timeframe
        self.base = base
        self.sub_bars = sub_bars
        self.setups = setups if setups is not None else resolve_setups()
        self.days = trading_day_axis(bars) if days is None else days
        self._cache: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._cache_size = cache_size
        self.detections = 0  # how many times candidates were detected (one per distinct setup set)
        self._fast: KernelSums | None = None

    @property
    def default_prefilter(self) -> float:
        """The pass threshold when ``prefilter.threshold`` is not searched (``--setup-param`` may set it)."""
        return float(self.setups.config.prefilter.threshold)

    def candidates(self, assignment: Mapping[str, Value]) -> pd.DataFrame:
        """All candidates of the assignment's setup parameters (prefilter not applied yet)."""
        key = setup_key(assignment)
        frame = self._cache.get(key)
        if frame is None:
            frame = setups_with(self.setups, assignment).detect(self.bars, self.timeframe)
            self.detections += 1
            self._cache[key] = frame
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return frame

    def sums(self, assignment: Mapping[str, Value]) -> ConfigSums:
        """Per-day sums of the configuration: the compiled sweep path (`KernelSums`), else its trades."""
        if self._fast is None:
            self._fast = KernelSums(self.bars, self.sub_bars, self.timeframe, self.base, self.days)
        key = setup_key(assignment)
        frame = self.candidates(assignment)
        out = self._fast.sums(key, frame, assignment, self.default_prefilter)
        return out if out is not None else config_sums(self.run(assignment), self.days)

    def run(self, assignment: Mapping[str, Value]) -> RunTrades:
        """Closed trades of the configuration, stop-first and target-first, over the whole span."""
        return run_on_candidates(
            self.bars,
            self.sub_bars,
            self.timeframe,
            self.base,
            self.candidates(assignment),
            assignment,
            self.default_prefilter,
        )


def setup_key(assignment: Mapping[str, Value]) -> str:
    """The key of the assignment's setup parameters: one key, one candidate frame."""
    return config_key({k: v for k, v in assignment.items() if is_setup_param(k)})


def run_on_candidates(
    bars: pd.DataFrame,
    sub_bars: pd.DataFrame | None,
    timeframe: Timeframe,
    base: EngineConfig,
    frame: pd.DataFrame,
    assignment: Mapping[str, Value],
    default_prefilter: float,
) -> RunTrades:
    """Closed trades of one configuration on its candidate frame `frame`, stop-first and target-first.

    The target-first run is made only over the trading days whose stop-first run met an
    ambiguous bar: the fill walk reads `ambiguous_policy` only at a bar it flags ambiguous
    (engine/fills.py) and a run is day-local, so every other day trades the same either way.
    """
    config = engine_config(base, assignment)
    prefilter = assignment.get("prefilter.threshold", default_prefilter)
    threshold = assignment.get("decider.threshold", assignment.get("prefilter.threshold"))
    assert threshold is None or isinstance(threshold, float | int)
    assert isinstance(prefilter, float | int)
    passed = frame[frame["prefilter_score"].to_numpy(dtype=np.float64) >= float(prefilter)]
    passed = passed.assign(passed_prefilter=True)
    span = pd.Timedelta(timeframe.span)

    def trades(candidates: pd.DataFrame, cfg: EngineConfig) -> pd.DataFrame:
        decider = RuleDecider() if threshold is None else RuleDecider(threshold=float(threshold))
        out = run_backtest(bars, candidates, decider, cfg, sub_bars, bar_span=span).trades
        return out[out["result"] != "open"].reset_index(drop=True)

    stop_first = trades(passed, config)
    ambiguous = stop_first["ambiguous"].astype(bool).to_numpy()
    if not ambiguous.any():
        return RunTrades(stop_first, stop_first)
    days = _days_of(stop_first["trading_day"])
    redo = np.unique(days[ambiguous])
    optimistic = replace(config, execution=replace(config.execution, ambiguous_policy="target_first"))
    again = trades(passed[np.isin(_days_of(passed["trading_day"]), redo)], optimistic)
    kept = stop_first[~np.isin(days, redo)]
    target_first = pd.concat([kept, again]).sort_values("entry_ts", kind="stable").reset_index(drop=True)
    return RunTrades(stop_first, target_first)


def _days_of(values: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_datetime(values).to_numpy().astype("datetime64[D]"))


def config_sums(trades: RunTrades, days: np.ndarray) -> ConfigSums:
    """Per-day net, trades, gains and losses of one configuration's trades, both fill policies."""
    sides = []
    for frame in (trades.stop_first, trades.target_first):
        idx = day_index(frame, days)
        sides.append(np.vstack(day_sums(idx, frame["pnl_pts"].to_numpy(dtype=np.float64), days.size)))
    return ConfigSums(sides[0], sides[1])


@dataclass(frozen=True)
class _Prepared:
    inputs: fast_path.KernelInputs
    day: np.ndarray  # index into the day axis of each kernel row's trading day


class KernelSums:
    """`config_sums(run_on_candidates(...))` straight from the compiled kernel: no journal, no trade frame.

    A sweep changes, between most configurations, only the bracket, the limits and the fill rules,
    which the kernel takes as parameters: everything else it reads (decision batches, entry windows,
    flat times, the rule decider's answers) is prepared once per candidate frame, prefilter and
    decider threshold and session (`fast.prepare`) and reused. The kernel is the one the backtest's
    fast path runs (tests/engine hold it equal to the loop); the sums are formed as `config_sums`
    forms them, trade for trade in the same order, so they are equal bit for bit
    (tests/research/test_kernel_sums.py). `sums` returns None wherever the backtest itself would not
    run the kernel (MESDESK_ENGINE=reference, prices beyond its exact rounding, a kernel status, a
    decider whose answers it cannot vouch for, a trading day off the axis); the caller then runs the
    configuration through `run_on_candidates`.
    """

    def __init__(
        self,
        bars: pd.DataFrame,
        sub_bars: pd.DataFrame | None,
        timeframe: Timeframe,
        base: EngineConfig,
        days: np.ndarray,
        cache_size: int = 64,
    ) -> None:
        span = pd.Timedelta(timeframe.span)
        path_frame = bars if sub_bars is None else sub_bars
        path_span = span if sub_bars is None else infer_span(pd.DatetimeIndex(sub_bars.index))
        self.path = PathBars.from_frame(path_frame, path_span)
        self.now_ns = run_end_ns(bars, sub_bars, span, path_span)
        self.base = base
        self.days = days
        self._prepared: OrderedDict[tuple[Any, ...], _Prepared | None] = OrderedDict()
        self._cache_size = cache_size

    def sums(
        self, key: str, frame: pd.DataFrame, assignment: Mapping[str, Value], default_prefilter: float
    ) -> ConfigSums | None:
        """The configuration's sums on candidate frame `frame` (whose setup key is `key`), or None."""
        if not uses_kernel():
            return None
        config = engine_config(self.base, assignment)
        prefilter = assignment.get("prefilter.threshold", default_prefilter)
        threshold = assignment.get("decider.threshold", assignment.get("prefilter.threshold"))
        assert threshold is None or isinstance(threshold, float | int)
        assert isinstance(prefilter, float | int)
        prepared = self._prepare(key, frame, config, float(prefilter), threshold)
        if prepared is None:
            return None
        stop_first = self._closed(prepared, config)
        if stop_first is None:
            return None
        ambiguous = stop_first[3]
        sf = self._day_sums(prepared, stop_first)
        if not ambiguous.any():
            return ConfigSums(sf, sf)
        # As run_on_candidates: target-first only on the days whose stop-first run met an ambiguous bar.
        optimistic = replace(config, execution=replace(config.execution, ambiguous_policy="target_first"))
        target_first = self._closed(prepared, optimistic)
        if target_first is None:
            return None
        redo = np.zeros(self.days.size, dtype=bool)
        redo[prepared.day[stop_first[0][ambiguous]]] = True
        keep_sf = ~redo[prepared.day[stop_first[0]]]
        take_tf = redo[prepared.day[target_first[0]]]
        # Per day, every trade comes from one run, in entry order: the bins sum in the same order.
        merged = tuple(np.concatenate([a[keep_sf], b[take_tf]]) for a, b in zip(stop_first, target_first, strict=True))
        return ConfigSums(sf, self._day_sums(prepared, merged))

    def _prepare(
        self, key: str, frame: pd.DataFrame, config: EngineConfig, prefilter: float, threshold: float | None
    ) -> _Prepared | None:
        session = config.session  # its early closes are the base's, the same for every configuration
        ck = (key, prefilter, threshold, session.windows, session.flat_at, config.execution.batch_window_s)
        if ck in self._prepared:
            self._prepared.move_to_end(ck)
            return self._prepared[ck]
        prepared = self._build(frame, config, prefilter, threshold)
        self._prepared[ck] = prepared
        while len(self._prepared) > self._cache_size:
            self._prepared.popitem(last=False)
        return prepared

    def _build(
        self, frame: pd.DataFrame, config: EngineConfig, prefilter: float, threshold: float | None
    ) -> _Prepared | None:
        passed = frame[frame["prefilter_score"].to_numpy(dtype=np.float64) >= prefilter]
        passed = passed.assign(passed_prefilter=True)
        decider = RuleDecider() if threshold is None else RuleDecider(threshold=float(threshold))
        inputs = fast_path.prepare(self.path, passed, decider, config, self.now_ns)
        if "trading_day" not in passed.columns:
            return None
        rows = inputs.rows
        if not fast_path.answers_agree(decider, inputs.scores[rows], inputs.take, inputs.rank):
            return None
        values = pd.to_datetime(passed["trading_day"].iloc[rows]).to_numpy().astype("datetime64[D]")
        day = np.searchsorted(self.days, values)
        if day.size and (day.max() >= self.days.size or not np.array_equal(self.days[day], values)):
            return None  # the trade path raises the day-axis error
        return _Prepared(inputs, np.asarray(day, dtype=np.int64))

    @staticmethod
    def _closed(
        prepared: _Prepared, config: EngineConfig
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(kernel row, pnl, exit code, ambiguous) of the closed trades, in entry order; None: use the loop."""
        if prepared.inputs.n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.astype(np.float64), empty, empty.astype(bool)
        result = fast_path.run(prepared.inputs, config)
        if result is None:
            return None
        out_f, out_i = result[2], result[3]
        reason = out_i[:, 2]
        closed = np.flatnonzero((reason != kernel_codes.EXIT_NONE) & (reason != kernel_codes.EXIT_OPEN))
        return closed, out_f[closed, 2], reason[closed], out_i[closed, 3].astype(bool)

    def _day_sums(self, prepared: _Prepared, trades: tuple[np.ndarray, ...]) -> np.ndarray:
        return np.vstack(day_sums(prepared.day[trades[0]], trades[1], self.days.size))
