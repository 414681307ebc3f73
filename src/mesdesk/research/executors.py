"""Where the sweep's configurations run: in this process (``local``) or as Ray tasks (``ray``).

An executor takes the configurations still to run and yields each one's daily sums as it finishes,
in any order; the sweep stores each result as it arrives (`TrialStore`), so a killed sweep resumes
whichever executor ran it. Both run the same function (`run_on_candidates`, then `config_sums`) on
the same bars and candidate frames, so they give identical numbers (tests/research prove it).

Ray (an optional extra: ``pip install 'mesdesk[ray]'``) is imported only when ``--executor ray`` is
asked for. The driver detects each distinct setup-parameter set's candidates once and puts them, the
bars, the sub-bars and the day axis in Ray's object store once (`ray.put`); each task evaluates a batch
of configurations that share one candidate frame, so the per-task overhead is paid once per batch.
`ray.init` starts a local Ray with ``--workers`` CPUs (no dashboard), or joins the cluster at
``--ray-address`` / ``RAY_ADDRESS``; there, every worker needs mesdesk installed (docs/research.md).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mesdesk.engine import EngineConfig
from mesdesk.errors import ConfigError
from mesdesk.research.evaluate import Evaluator, RunTrades, day_index, run_on_candidates, setup_key
from mesdesk.research.objectives import day_sums
from mesdesk.research.params import Assignment
from mesdesk.research.results import ConfigSums
from mesdesk.timeframes import Timeframe

EXECUTORS = ("local", "ray")
Finished = tuple[int, ConfigSums, float]  # (index into the configurations given, sums, seconds)


def config_sums(trades: RunTrades, days: np.ndarray) -> ConfigSums:
    """Per-day net, trades, gains and losses of one configuration's trades, both fill policies."""
    sides = []
    for frame in (trades.stop_first, trades.target_first):
        idx = day_index(frame, days)
        sides.append(np.vstack(day_sums(idx, frame["pnl_pts"].to_numpy(dtype=np.float64), days.size)))
    return ConfigSums(sides[0], sides[1])


class Executor(Protocol):
    """Runs configurations; yields (index, sums, seconds) as each finishes, in any order."""

    name: str

    def run(self, evaluator: Evaluator, assignments: Sequence[Assignment]) -> Iterator[Finished]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """One configuration after another in this process (the candidate cache serves a grid in order)."""

    name = "local"

    def run(self, evaluator: Evaluator, assignments: Sequence[Assignment]) -> Iterator[Finished]:
        for i, assignment in enumerate(assignments):
            start = time.perf_counter()
            sums = config_sums(evaluator.run(assignment), evaluator.days)
            yield i, sums, time.perf_counter() - start

    def close(self) -> None:
        """Nothing to release."""


def evaluate_batch(
    bars: pd.DataFrame,
    sub_bars: pd.DataFrame | None,
    timeframe: Timeframe,
    base: EngineConfig,
    days: np.ndarray,
    frame: pd.DataFrame,
    default_prefilter: float,
    batch: Sequence[tuple[int, Mapping[str, Any]]],
) -> list[Finished]:
    """A Ray task's body: the configurations of `batch` (all on candidate frame `frame`)."""
    out: list[Finished] = []
    for i, assignment in batch:
        start = time.perf_counter()
        trades = run_on_candidates(bars, sub_bars, timeframe, base, frame, assignment, default_prefilter)
        out.append((i, config_sums(trades, days), time.perf_counter() - start))
    return out


class RayExecutor:
    """Batches of configurations as Ray tasks; bars, sub-bars and candidate frames put in the object store once."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        batches_per_cpu: int = 4,
        task: Callable[..., list[Finished]] = evaluate_batch,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'mesdesk[ray]' (or pip install ray)") from None
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self._ray: Any = ray
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.workers = workers
        self.batches_per_cpu = batches_per_cpu
        self.task = task  # what a task runs (evaluate_batch; a test wraps it to kill its worker)
        self._started = False
        self._evaluator: Evaluator | None = None  # whose bars and candidates are in the object store
        self._shared: list[Any] = []
        self._frames: dict[str, Any] = {}

    def _init(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        if self.address:
            _check_reachable(self.address)
        try:
            if self.address:
                ray.init(address=self.address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {self.address}" if self.address else "locally"
            raise ConfigError(f"--executor ray: cannot start or join Ray {where}: {exc}") from None
        self._started = True

    def run(self, evaluator: Evaluator, assignments: Sequence[Assignment]) -> Iterator[Finished]:
        if not assignments:
            return
        self._init()
        ray = self._ray
        task = ray.remote(max_retries=3)(self.task)  # a task whose worker dies runs again
        groups: dict[str, list[int]] = {}
        for i, assignment in enumerate(assignments):
            groups.setdefault(setup_key(assignment), []).append(i)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        size = max(1, min(64, -(-len(assignments) // (cpus * self.batches_per_cpu))))
        if self._evaluator is not evaluator:  # once per sweep, not per call (TPE calls once per trial)
            self._evaluator = evaluator
            self._shared = [ray.put(evaluator.bars), ray.put(evaluator.sub_bars), evaluator.timeframe]
            self._shared += [ray.put(evaluator.base), ray.put(evaluator.days)]
            self._frames = {}
        pending = []
        for key, members in groups.items():
            frame = self._frames.get(key)
            if frame is None:  # detected once, in the driver
                frame = self._frames[key] = ray.put(evaluator.candidates(assignments[members[0]]))
            for k in range(0, len(members), size):
                batch = [(i, dict(assignments[i])) for i in members[k : k + size]]
                pending.append(task.remote(*self._shared, frame, evaluator.default_prefilter, batch))
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done[0])

    def close(self) -> None:
        self._evaluator, self._shared, self._frames = None, [], {}
        if self._started:
            self._ray.shutdown()
            self._started = False


def _check_reachable(address: str) -> None:
    """A one-line error for a cluster address nothing listens on (Ray itself would retry for minutes)."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(f"--ray-address {address}: no Ray head answers there ({exc})") from None


def make_executor(kind: str, address: str | None = None, workers: int | None = None) -> Executor:
    """``local`` or ``ray`` (Ray is imported here only for ``ray``; it starts at the first run)."""
    if kind == "local":
        if address is not None:
            raise ConfigError("--ray-address needs --executor ray")
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address, workers)
    raise ConfigError(f"--executor {kind!r}: choose {' or '.join(EXECUTORS)}")
