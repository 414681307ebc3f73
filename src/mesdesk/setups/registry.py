"""The setup registry: a name maps to a setup; `resolve_setups` turns ``--setup`` flags into a `SetupSet`.

Built-in setups are registered below, one line each. The scalper's three share one pass over the bars
(`mesdesk.setups.scalper`), so each is registered with the field of `ScalperSetupsConfig` that holds its
parameters; a setup written as a plain function is registered with `register_function`. User setups
come from ``path/to/file.py:function`` or ``package.module:function`` (`mesdesk.setups.user`).

Parameters are named ``setup.<setup>.<param>`` (``setup.prefilter.threshold`` is the pass threshold
shared by every setup); ``--setup-param <setup>.<param>=<value>`` sets one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.candidates import CANDIDATE_COLUMNS
from mesdesk.errors import ConfigError
from mesdesk.model import SetupType
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates, scalper_context
from mesdesk.setups.user import (
    FunctionSetup,
    SetupFn,
    check_name,
    check_params,
    function_setup,
    is_user_spec,
    load_user_setup,
    parse_value,
    user_candidates,
)
from mesdesk.timeframes import Timeframe

PREFILTER = "prefilter"  # the pseudo-setup holding the shared pass threshold
_PREFILTER_PARAMS = ("threshold",)


@dataclass(frozen=True, slots=True)
class ScalperSetup:
    """A built-in scalper setup: its name and the `ScalperSetupsConfig` field with its parameters."""

    name: str
    config_field: str

    def config(self, config: ScalperSetupsConfig) -> Any:
        return getattr(config, self.config_field)


_SCALPER: dict[str, ScalperSetup] = {}
_FUNCTIONS: dict[str, FunctionSetup] = {}


def register_scalper(name: str, config_field: str) -> None:
    """Register one of the scalper's setups (its detector is in `mesdesk.setups.scalper`)."""
    if config_field not in ScalperSetupsConfig.__dataclass_fields__:
        raise ConfigError(f"setup {name}: ScalperSetupsConfig has no field {config_field!r}")
    name = check_name(str(name), str(name))
    _SCALPER[name] = ScalperSetup(name, config_field)


def register_function(name: str, fn: SetupFn) -> None:
    """Register a built-in setup written as a plain function ``fn(bars, **params)`` (docs/extending.md)."""
    _FUNCTIONS[check_name(name, name)] = function_setup(fn, f"built-in {name}", name)


register_scalper(SetupType.ORB_RETEST_GO, "orb")
register_scalper(SetupType.EMA20_PULLBACK, "ema_pullback")
register_scalper(SetupType.VWAP_REJECTION, "vwap_rejection")

DEFAULT_SETUPS: tuple[str, ...] = tuple(str(s) for s in SetupType)


def builtin_names() -> tuple[str, ...]:
    """Every registered built-in setup name."""
    return (*_SCALPER, *_FUNCTIONS)


def _builtin(spec: str) -> ScalperSetup | FunctionSetup:
    by_lower = {name.lower(): name for name in builtin_names()}
    name = by_lower.get(spec.strip().lower())
    if name is None:
        raise ConfigError(
            f"--setup {spec!r}: no such setup; built-ins are {', '.join(builtin_names())}, "
            "or give path/to/file.py:function or package.module:function"
        )
    return _SCALPER[name] if name in _SCALPER else _FUNCTIONS[name]


def _fields(config: Any) -> dict[str, object]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "enabled"}


def _coerce(key: str, default: object, value: object) -> object:
    """`value` in the type of `default` (an int is accepted for a float); refuses any other mismatch."""
    if default is None:
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float) and isinstance(value, int):
        return float(value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        flag = ".".join(_split(key))
        raise ConfigError(f"--setup-param {flag}={value!r}: expected {type(default).__name__} like {default!r}")
    return value


@dataclass(frozen=True)
class SetupSet:
    """The setups of one run, with their parameters; `detect` gives the engine's candidate frame.

    `scalper` names the built-in scalper setups in use (their parameters live in `config`, whose other
    setups are disabled); `functions` are the setups written as functions (built-in or user code).
    """

    scalper: tuple[str, ...] = DEFAULT_SETUPS
    config: ScalperSetupsConfig = field(default_factory=ScalperSetupsConfig)
    functions: tuple[FunctionSetup, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.scalper, *(f.name for f in self.functions))

    def detect(self, bars: pd.DataFrame, timeframe: Timeframe = Timeframe.M1) -> pd.DataFrame:
        """Every candidate of every setup in `bars`, in the schema of `mesdesk.candidates`, sorted by ts.

        Rows at one time keep the built-ins' order, then each function setup in the order given.
        With only scalper setups this is exactly `detect_candidates` with `config`.
        """
        frames = [detect_candidates(bars, self.config, timeframe)] if self.scalper else []
        if self.functions:
            ctx = scalper_context(bars, self.config, timeframe)  # shared by every function setup
            frames += [user_candidates(f, bars, timeframe, self.config, ctx) for f in self.functions]
        if len(frames) == 1:
            return frames[0]
        non_empty = [f for f in frames if len(f)] or frames[:1]
        merged = pd.concat(non_empty, ignore_index=True) if len(non_empty) > 1 else non_empty[0]
        order = np.argsort(merged["ts"].to_numpy(), kind="stable")
        merged = merged.iloc[order].reset_index(drop=True)
        extras = [c for f in frames for c in f.columns if c not in CANDIDATE_COLUMNS]
        return merged[[*CANDIDATE_COLUMNS, *dict.fromkeys(extras)]]

    def parameters(self) -> dict[str, object]:
        """Every keyword parameter with the value in use: ``setup.<setup>.<param>`` -> value."""
        out: dict[str, object] = {f"setup.{PREFILTER}.threshold": self.config.prefilter.threshold}
        for name in self.scalper:
            for param, value in _fields(_SCALPER[name].config(self.config)).items():
                out[f"setup.{name}.{param}"] = value
        for fn in self.functions:
            for param, value in fn.values().items():
                out[f"setup.{fn.name}.{param}"] = value
        return out

    def with_params(self, overrides: Mapping[str, object]) -> SetupSet:
        """A copy with parameters set; keys are ``setup.<setup>.<param>`` or ``<setup>.<param>``."""
        result = self
        for key, value in overrides.items():
            result = result._with_param(key, value)
        return result

    def _with_param(self, key: str, value: object) -> SetupSet:
        setup, param = _split(key)
        if setup.lower() == PREFILTER:
            if param not in _PREFILTER_PARAMS:
                raise ConfigError(f"--setup-param {key}: the prefilter's parameter is threshold")
            threshold = _coerce(key, self.config.prefilter.threshold, value)
            assert isinstance(threshold, float)  # _coerce returns the default's type
            return replace(
                self, config=replace(self.config, prefilter=replace(self.config.prefilter, threshold=threshold))
            )
        scalper = {n.lower(): n for n in self.scalper}.get(setup.lower())
        if scalper is not None:
            entry = _SCALPER[scalper]
            current = _fields(entry.config(self.config))
            if param not in current:
                raise ConfigError(f"--setup-param {key}: {scalper} has parameters {', '.join(current)}")
            part = replace(entry.config(self.config), **{param: _coerce(key, current[param], value)})
            return replace(self, config=replace(self.config, **{entry.config_field: part}))
        for i, fn in enumerate(self.functions):
            if fn.name == setup:
                return replace(
                    self, functions=(*self.functions[:i], _set(fn, key, param, value), *self.functions[i + 1 :])
                )
        raise ConfigError(f"--setup-param {key}: no setup {setup!r} in this run ({', '.join(self.names)})")


def _set(fn: FunctionSetup, key: str, param: str, value: object) -> FunctionSetup:
    if param not in fn.defaults and param not in fn.required and not fn.open_params:
        known = ", ".join((*fn.defaults, *fn.required)) or "none"
        raise ConfigError(f"--setup-param {key}: {fn.name} has no parameter {param!r} (it has: {known})")
    value = _coerce(key, fn.defaults.get(param), value)
    return replace(fn, params=MappingProxyType({**fn.params, param: value}))


def _split(key: str) -> tuple[str, str]:
    """``setup.<setup>.<param>`` or ``<setup>.<param>`` -> (setup, param)."""
    parts = key.strip().split(".")
    if len(parts) == 3 and parts[0] == "setup":
        parts = parts[1:]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--setup-param {key}: expected <setup>.<param>=<value>")
    return parts[0], parts[1]


def parse_params(params: Sequence[str]) -> dict[str, object]:
    """``<setup>.<param>=<value>`` flags -> ``{"setup.<setup>.<param>": value}`` (later flags win)."""
    out: dict[str, object] = {}
    for text in params:
        key, eq, raw = text.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--setup-param {text!r}: expected <setup>.<param>=<value>")
        setup, param = _split(key)
        out[f"setup.{setup}.{param}"] = parse_value(raw)
    return out


def resolve_setups(specs: Sequence[str] = (), params: Sequence[str] = ()) -> SetupSet:
    """The `SetupSet` of ``--setup`` flags (none: the three built-ins) and ``--setup-param`` flags.

    A spec is a built-in name (case-insensitive), ``path/to/file.py:function`` or
    ``package.module:function``. Raises `ConfigError` (a `SetupError` for user code) naming the flag.
    """
    scalper: list[str] = []
    functions: list[FunctionSetup] = []
    for spec in specs or DEFAULT_SETUPS:
        entry = load_user_setup(spec) if is_user_spec(spec) else _builtin(spec)
        taken = {n.lower() for n in (*scalper, *(f.name for f in functions))}
        if entry.name.lower() in taken:
            raise ConfigError(f"--setup {spec}: a setup named {entry.name} is already in this run")
        if is_user_spec(spec) and entry.name.lower() in {*(n.lower() for n in builtin_names()), PREFILTER}:
            raise ConfigError(f"--setup {spec}: {entry.name} is a built-in name; rename the function")
        if isinstance(entry, ScalperSetup):
            scalper.append(entry.name)
        else:
            functions.append(entry)
    config = ScalperSetupsConfig()
    off = {s.config_field: replace(s.config(config), enabled=False) for n, s in _SCALPER.items() if n not in scalper}
    ordered = tuple(n for n in _SCALPER if n in scalper)
    setups = SetupSet(scalper=ordered, config=replace(config, **off), functions=tuple(functions))
    setups = setups.with_params(parse_params(params))
    for fn in setups.functions:
        check_params(fn)
    return setups
