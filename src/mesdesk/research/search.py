"""Search strategies over a grid of parameter values: exhaustive grid, or Optuna's TPE (ask/tell).

Both see the grid the `--param` options span. TPE samples each parameter as an index into its value
list (an ordered integer, so "one step up" means something to the sampler) and is seeded: the same
command asks the same configurations. Optuna is imported only here, inside `TpeSearch`, so the plain
backtest path never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from mesdesk.errors import ConfigError
from mesdesk.research.params import Assignment, ParamSpec, grid


class Search(Protocol):
    """Ask for the next configuration (None when the search is over); tell it the objective."""

    def ask(self) -> Assignment | None: ...

    def tell(self, value: float) -> None: ...


class GridSearch:
    """Every configuration of the grid once, the first parameter varying slowest."""

    def __init__(self, specs: Sequence[ParamSpec]) -> None:
        self._it: Iterator[Assignment] = grid(specs)

    def ask(self) -> Assignment | None:
        return next(self._it, None)

    def tell(self, value: float) -> None:
        """The grid does not learn from values."""


class TpeSearch:
    """Optuna's Tree-structured Parzen Estimator, seeded; NaN objectives are told as failed trials."""

    def __init__(self, specs: Sequence[ParamSpec], trials: int, seed: int) -> None:
        try:
            import optuna
        except ImportError as exc:
            raise ConfigError(f"--search tpe needs Optuna (pip install optuna): {exc}") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if trials < 1:
            raise ConfigError(f"--trials must be >= 1, got {trials}")
        self._optuna: Any = optuna
        self._specs = tuple(specs)
        self._left = trials
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(1, trials // 4)))
        self._study: Any = optuna.create_study(direction="maximize", sampler=sampler)
        self._trial: Any = None

    def ask(self) -> Assignment | None:
        if self._left <= 0:
            return None
        self._left -= 1
        self._trial = self._study.ask()
        return {
            s.name: s.values[self._trial.suggest_int(s.name, 0, len(s.values) - 1)]
            if len(s.values) > 1
            else s.values[0]
            for s in self._specs
        }

    def tell(self, value: float) -> None:
        if self._trial is None:
            raise RuntimeError("tell() before ask()")
        state = self._optuna.trial.TrialState
        if math.isnan(value):
            self._study.tell(self._trial, state=state.FAIL)
        else:
            self._study.tell(self._trial, min(value, 1e12))  # a profit factor of inf is "best", not an error
        self._trial = None


def make_search(kind: str, specs: Sequence[ParamSpec], trials: int, seed: int) -> Search:
    """`grid` or `tpe` (a ConfigError naming `--search` otherwise)."""
    if kind == "grid":
        return GridSearch(specs)
    if kind == "tpe":
        return TpeSearch(specs, trials, seed)
    raise ConfigError(f"--search {kind!r}: choose grid or tpe")
