"""User setups: load a plain function from a file or a module, run it safely, check what it returns.

A user setup is ``fn(bars, **params) -> DataFrame`` (docs/extending.md). `bars` is a copy of the bar
frame (UTC index = bar open; columns open, high, low, close, volume). The result has one row per
candidate with at least

- ``ts``: tz-aware UTC, the CLOSE of the bar that completed the candidate (bar open + bar length);
- ``direction``: ``"long"`` or ``"short"``;

and optionally ``ref_entry`` (default: that bar's close), ``score`` (0-100; absent: the prefilter
scores the candidate as it scores the built-ins), ``level`` (the setup's reference price, for the
prefilter's location points and the ``setup_level`` feature) and further numeric columns (features).

Loading code by path or module name is the one dynamic import in mesdesk; it happens only here.
Every way a user setup can go wrong becomes a `SetupError`: one line naming the setup and, for an
exception inside it, the setup's own file:line.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.bars import BAR_COLUMNS
from mesdesk.calendar import trading_days
from mesdesk.candidates import CANDIDATE_COLUMNS
from mesdesk.errors import ConfigError
from mesdesk.prefilter import PF_COLUMNS
from mesdesk.setups.context import BarContext
from mesdesk.setups.orb_retest import opening_range_edges
from mesdesk.setups.scalper import ScalperSetupsConfig, context_columns, scalper_context
from mesdesk.timeframes import Timeframe

SetupFn = Callable[..., object]

# Columns a user setup may return besides numeric features; every other schema column is ours.
INPUT_COLUMNS = ("ts", "direction", "ref_entry", "score", "level")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")  # the store keeps setup names in 32 characters


class SetupError(ConfigError):
    """A setup could not be loaded, raised, or returned something that breaks the setup contract."""


@dataclass(frozen=True)
class FunctionSetup:
    """A setup given as a plain function, with its keyword parameters.

    `defaults` are the keyword parameters the function declares with a default; `required` those it
    declares without one (they must be set); `params` the values set for this run; `open_params` is
    True when the function takes ``**kwargs`` (any parameter name is then accepted).
    """

    name: str
    fn: SetupFn
    origin: str
    defaults: Mapping[str, object] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict)
    open_params: bool = False

    def values(self) -> dict[str, object]:
        """Every parameter with the value this run uses (defaults overridden by `params`)."""
        return {**self.defaults, **self.params}


def check_name(name: str, origin: str) -> str:
    if not _NAME.match(name):
        raise SetupError(
            f"setup {origin}: name {name!r} must be a Python identifier of at most 32 characters "
            "(it names the setup in journals and the store)"
        )
    return name


def function_setup(fn: SetupFn, origin: str, name: str | None = None) -> FunctionSetup:
    """Describe `fn` as a setup: its name (the function's own unless given) and keyword parameters."""
    if not callable(fn):
        raise SetupError(f"setup {origin}: {type(fn).__name__} object is not callable")
    setup_name = name or getattr(fn, "__name__", None) or type(fn).__name__
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise SetupError(f"setup {origin}: cannot read its parameters ({exc})") from None
    positional = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional and not any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        raise SetupError(f"setup {origin}: it must take the bar frame as its first argument")
    defaults: dict[str, object] = {}
    required: list[str] = []
    for p in list(signature.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind is p.POSITIONAL_ONLY:
            raise SetupError(f"setup {origin}: parameter {p.name!r} is positional-only; make it a keyword")
        if p.default is p.empty:
            required.append(p.name)
        else:
            defaults[p.name] = p.default
    return FunctionSetup(
        name=check_name(setup_name, origin),
        fn=fn,
        origin=origin,
        defaults=MappingProxyType(defaults),
        required=tuple(required),
        open_params=any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()),
    )


# ---------------------------------------------------------------- loading


def _load_file(path: Path, spec: str) -> Any:
    if not path.is_file():
        raise SetupError(f"--setup {spec}: file {path} not found")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]  # noqa: S324 (a name, not security)
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"mesdesk_user_setup_{stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise SetupError(f"--setup {spec}: {path} is not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses and pickling inside the module look it up
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise SetupError(f"--setup {spec}: loading {path} failed: {_describe(exc, str(resolved))}") from None
    return module


def _load_module(name: str, spec: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise SetupError(f"--setup {spec}: module {exc.name or name!r} not found") from None
    except Exception as exc:
        raise SetupError(f"--setup {spec}: importing {name} failed: {_describe(exc, None)}") from None


def is_user_spec(spec: str) -> bool:
    """`path/to/file.py:function` or `package.module:function` (a built-in name has no colon)."""
    return ":" in spec


def load_user_setup(spec: str) -> FunctionSetup:
    """The setup named by `path/to/file.py:function` or `package.module:function`."""
    where, _, attr = spec.rpartition(":")
    if not where or not attr:
        raise SetupError(f"--setup {spec}: expected path/to/file.py:function or package.module:function")
    is_path = where.endswith(".py") or "/" in where or "\\" in where
    module = _load_file(Path(where), spec) if is_path else _load_module(where, spec)
    fn = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise SetupError(f"--setup {spec}: {where} has no function {attr!r}")
        fn = getattr(fn, part)
    return function_setup(fn, spec)


# ---------------------------------------------------------------- running


def _describe(exc: BaseException, own_file: str | None) -> str:
    """``Type: message at file:line``, the line in `own_file` (the setup's file) when it is on the stack."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_short(exc.filename)}:{exc.lineno}"
        return f"SyntaxError: {exc.msg} at {where}"
    mine = [f for f in frames if own_file is not None and Path(f.filename).resolve() == Path(own_file).resolve()]
    text = f"{type(exc).__name__}: {exc}"
    if not (mine or frames):
        return text
    frame = (mine or frames)[-1]
    return f"{text} at {_short(frame.filename)}:{frame.lineno}"


def _short(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename


def _source_file(fn: SetupFn) -> str | None:
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn).__call__
    try:
        return inspect.getsourcefile(target)
    except TypeError:
        return None


def check_params(setup: FunctionSetup) -> None:
    """Refuse a setup whose parameters without a default are not all set."""
    missing = [name for name in setup.required if name not in setup.params]
    if missing:
        raise _fail(
            setup,
            f"parameter(s) {', '.join(missing)} have no default; give --setup-param {setup.name}.{missing[0]}=VALUE",
        )


def call_setup(setup: FunctionSetup, bars: pd.DataFrame) -> object:
    """Run the setup on a copy of `bars` (OHLCV columns only); an exception becomes a `SetupError`."""
    check_params(setup)
    frame = bars[list(BAR_COLUMNS)].copy()
    try:
        return setup.fn(frame, **setup.values())
    except Exception as exc:
        raise SetupError(
            f"setup {setup.name} ({setup.origin}) raised {_describe(exc, _source_file(setup.fn))}"
        ) from None


# ---------------------------------------------------------------- checking what it returned


def _fail(setup: FunctionSetup, message: str) -> SetupError:
    return SetupError(f"setup {setup.name} ({setup.origin}): {message}")


def _times(setup: FunctionSetup, column: pd.Series) -> np.ndarray:
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        if str(dtype.tz) not in ("UTC", "Etc/UTC"):
            raise _fail(setup, f"ts is in time zone {dtype.tz}; give UTC times (ts.dt.tz_convert('UTC'))")
    elif pd.api.types.is_datetime64_dtype(dtype):
        raise _fail(setup, "ts is naive (no time zone); give tz-aware UTC times, e.g. bars.index + bar length")
    else:
        raise _fail(setup, f"ts must be a column of UTC datetimes, got dtype {dtype}")
    times = pd.DatetimeIndex(column)
    if times.hasnans:
        row = int(np.flatnonzero(times.isna())[0])
        raise _fail(setup, f"ts is missing (NaT) at row {row}")
    return np.asarray(times.as_unit("ns").asi8, dtype=np.int64)


def _directions(setup: FunctionSetup, column: pd.Series, ts: pd.Series) -> np.ndarray:
    values = column.to_numpy(dtype=object)
    ok = np.array([isinstance(v, str) and v in ("long", "short") for v in values], dtype=bool)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise _fail(setup, f"direction {values[row]!r} at row {row} (ts {ts.iloc[row]}): expected 'long' or 'short'")
    return np.where(values == "long", 1, -1).astype(np.int64)


def _positions(setup: FunctionSetup, ts_ns: np.ndarray, close_ns: np.ndarray) -> np.ndarray:
    """Position of the bar whose close each candidate is stamped with; refuses any other time."""

    def when(ns: int) -> str:
        return str(pd.Timestamp(ns, unit="ns", tz="UTC"))

    if close_ns.size == 0:
        raise _fail(setup, f"candidate at {when(ts_ns[0])} (row 0) but the data holds no bars")
    early = np.flatnonzero(ts_ns < close_ns[0])
    if early.size:
        row = int(early[0])
        raise _fail(
            setup,
            f"candidate at {when(ts_ns[row])} (row {row}) is timed before the first bar closed "
            f"({when(close_ns[0])}): a candidate is known at the close of the bar that completed it",
        )
    late = np.flatnonzero(ts_ns > close_ns[-1])
    if late.size:
        row = int(late[0])
        raise _fail(
            setup,
            f"candidate at {when(ts_ns[row])} (row {row}) is after the data ends (last bar closes at "
            f"{when(close_ns[-1])})",
        )
    pos = np.searchsorted(close_ns, ts_ns)
    off = np.flatnonzero(close_ns[np.minimum(pos, close_ns.size - 1)] != ts_ns)
    if off.size:
        row = int(off[0])
        raise _fail(
            setup,
            f"candidate at {when(ts_ns[row])} (row {row}) is not the close of any bar (bars close at open + "
            "bar length); stamp a candidate with the close of the bar that completed it",
        )
    return np.asarray(pos, dtype=np.int64)


def _numbers(setup: FunctionSetup, frame: pd.DataFrame, name: str, *, finite: bool) -> np.ndarray:
    column = frame[name]
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        raise _fail(setup, f"column {name!r} must be numeric, got dtype {column.dtype}")
    values = column.to_numpy(dtype=np.float64)
    if finite and not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise _fail(setup, f"{name} is not a finite number at row {row} ({values[row]})")
    return values


@dataclass(frozen=True)
class _Checked:
    ts_ns: np.ndarray
    sign: np.ndarray
    pos: np.ndarray
    ref_entry: np.ndarray | None
    score: np.ndarray | None
    level: np.ndarray | None
    features: dict[str, np.ndarray]


def _extra_columns(setup: FunctionSetup, frame: pd.DataFrame) -> list[str]:
    extras = []
    for name in frame.columns:
        if not isinstance(name, str):
            raise _fail(setup, f"column names must be strings, got {name!r}")
        if name in INPUT_COLUMNS:
            continue
        if name in CANDIDATE_COLUMNS:
            raise _fail(setup, f"column {name!r} is computed by mesdesk for every setup; rename yours")
        extras.append(name)
    return extras


def check_result(setup: FunctionSetup, result: object, bars: pd.DataFrame, span: pd.Timedelta) -> _Checked:
    """Validate a setup's result against the contract and the bars it was given (sorted by ts)."""
    if not isinstance(result, pd.DataFrame):
        raise _fail(setup, f"returned {type(result).__name__}; expected a pandas DataFrame with ts and direction")
    if len(result) == 0 and len(result.columns) == 0:  # pd.DataFrame(rows) of no rows: nothing found
        result = pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns, UTC]"), "direction": pd.Series(dtype=object)})
    missing = [c for c in ("ts", "direction") if c not in result.columns]
    if missing:
        have = ", ".join(map(str, result.columns)) or "none"
        raise _fail(setup, f"result lacks column(s) {', '.join(missing)} (it has: {have})")
    extras = _extra_columns(setup, result)
    ts_ns = _times(setup, result["ts"])
    sign = _directions(setup, result["direction"], result["ts"])
    order = np.lexsort((-sign, ts_ns))
    frame = result.iloc[order].reset_index(drop=True)
    ts_ns, sign = ts_ns[order], sign[order]
    dup = np.flatnonzero((np.diff(ts_ns) == 0) & (np.diff(sign) == 0))
    if dup.size:
        raise _fail(setup, f"two {'long' if sign[dup[0]] > 0 else 'short'} candidates at {frame['ts'].iloc[dup[0]]}")
    close_ns = np.asarray(pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64) + int(span.value)
    pos = _positions(setup, ts_ns, close_ns) if ts_ns.size else np.empty(0, dtype=np.int64)
    score = _numbers(setup, frame, "score", finite=True) if "score" in frame.columns else None
    if score is not None and ((score < 0) | (score > 100)).any():
        row = int(np.flatnonzero((score < 0) | (score > 100))[0])
        raise _fail(setup, f"score {score[row]} at row {row} is outside 0..100")
    return _Checked(
        ts_ns=ts_ns,
        sign=sign,
        pos=pos,
        ref_entry=_numbers(setup, frame, "ref_entry", finite=True) if "ref_entry" in frame.columns else None,
        score=score,
        level=_numbers(setup, frame, "level", finite=False) if "level" in frame.columns else None,
        features={name: _numbers(setup, frame, name, finite=False) for name in extras},
    )


# ---------------------------------------------------------------- the candidate frame


def user_candidates(
    setup: FunctionSetup,
    bars: pd.DataFrame,
    timeframe: Timeframe,
    config: ScalperSetupsConfig,
    ctx: BarContext | None = None,
) -> pd.DataFrame:
    """Run `setup` and return its candidates in the engine's schema (plus its own feature columns).

    Context, features and (without a `score`) the prefilter come from the same point-in-time series
    as the built-ins' (`scalper_context(bars, config, timeframe)`, which a caller running several
    setups passes as `ctx`); a bar outside those hours has them unknown (NaN).
    """
    span = pd.Timedelta(timeframe.span)
    checked = check_result(setup, call_setup(setup, bars), bars, span)
    n = checked.ts_ns.size
    ctx = scalper_context(bars, config, timeframe) if ctx is None else ctx
    or_high, or_low = opening_range_edges(ctx, config.orb)
    rows = np.full(n, -1, dtype=np.int64)  # -1: the bar is outside the context's hours
    if ctx.size:
        k = np.minimum(np.searchsorted(ctx.source_index, checked.pos), ctx.size - 1)
        rows = np.where(ctx.source_index[k] == checked.pos, k, -1).astype(np.int64)
    level = checked.level if checked.level is not None else np.full(n, np.nan)
    columns: dict[str, Any] = context_columns(ctx, rows, checked.sign, level, or_high - or_low, checked.ts_ns, config)
    if checked.score is not None:
        columns["prefilter_score"] = checked.score
        columns["passed_prefilter"] = checked.score >= config.prefilter.threshold
        columns.update({name: np.full(n, np.nan) for name in PF_COLUMNS})
    opens = pd.DatetimeIndex(bars.index[checked.pos])
    close = bars["close"].to_numpy(dtype=np.float64)[checked.pos]
    columns.update(
        {
            "ts": pd.DatetimeIndex(pd.to_datetime(checked.ts_ns, unit="ns", utc=True)),
            "bar_index": checked.pos,
            "setup_type": np.full(n, setup.name, dtype=object),
            "direction": np.where(checked.sign > 0, "long", "short").astype(object),
            "ref_entry": close if checked.ref_entry is None else checked.ref_entry,
            "trading_day": trading_days(opens).astype("datetime64[D]") if n else np.empty(0, "datetime64[D]"),
        }
    )
    frame = pd.DataFrame({name: columns[name] for name in CANDIDATE_COLUMNS})
    for name, values in checked.features.items():
        frame[name] = values
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    frame["trading_day"] = frame["trading_day"].astype("datetime64[s]")
    return frame


def parse_value(text: str) -> object:
    """A parameter value from the command line: int, float, bool or string (literal syntax)."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, bool | int | float | str):
        return value
    raise ConfigError(f"value {text!r}: a setup parameter is an int, a float, a bool or a string")
