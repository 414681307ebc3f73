"""Where the sweep's configurations run: worker processes on this machine (``local``) or Ray tasks (``ray``).

An executor takes the configurations still to run and yields each one's daily sums as it finishes;
the sweep stores each result as it arrives (`TrialStore`), so a killed sweep resumes whichever
executor ran it. Both run the same function (`Evaluator.sums`: the compiled `KernelSums`, else
`run_on_candidates` then `config_sums`) on the same bars and candidate frames, so they give
identical numbers (tests/research prove it).

Ray (an optional extra: ``pip install 'mesdesk[ray]'``) is imported only when ``--executor ray`` is
asked for. The driver detects each distinct setup-parameter set's candidates once and puts them, the
bars, the sub-bars and the day axis in Ray's object store once (`ray.put`); each task evaluates a batch
of configurations that share one candidate frame, so the per-task overhead is paid once per batch.
`ray.init` starts a local Ray with ``--workers`` CPUs (no dashboard), or joins the cluster at
``--ray-address`` / ``RAY_ADDRESS``; there, every worker needs mesdesk installed (docs/research.md).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mesdesk.engine import EngineConfig
from mesdesk.errors import ConfigError
from mesdesk.research.evaluate import Evaluator, KernelSums, config_sums, run_on_candidates, setup_key
from mesdesk.research.params import Assignment
from mesdesk.research.results import ConfigSums
from mesdesk.timeframes import Timeframe

EXECUTORS = ("local", "ray")
Finished = tuple[int, ConfigSums, float]  # (index into the configurations given, sums, seconds)


class Executor(Protocol):
    """Runs configurations; yields (index, sums, seconds) as each finishes, in any order."""

    name: str

    def run(self, evaluator: Evaluator, assignments: Sequence[Assignment]) -> Iterator[Finished]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Configurations on this machine: batches in a pool of worker processes, or one after another here.

    `workers` processes (default: every CPU) each hold the evaluator: on Linux they are forked, so
    the bars and any candidates already detected are shared, not copied or pickled, and a worker
    starts in milliseconds (a spawned worker re-imports mesdesk and numba's kernels, about a second
    each); elsewhere they are spawned with the evaluator pickled once. A batch holds configurations
    of one setup-parameter set, so each worker detects a candidate set at most once. Results come
    back in submission order, so the trial files are written in the same order on every run.

    A call with fewer than `min_batch` configurations per worker (a TPE trial, a small grid) runs
    in this process: a pool would cost more than it saves.
    """

    name = "local"

    def __init__(self, workers: int | None = None, min_batch: int = 8) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.min_batch = min_batch
        self._pool: ProcessPoolExecutor | None = None
        self._evaluator: Evaluator | None = None  # the one the pool's workers hold

    def run(self, evaluator: Evaluator, assignments: Sequence[Assignment]) -> Iterator[Finished]:
        if self.workers <= 1 or len(assignments) < self.workers * self.min_batch:
            for i, assignment in enumerate(assignments):
                yield _timed(evaluator, i, assignment)
            return
        pool = self._pool_for(evaluator)
        futures = [pool.submit(_run_batch, batch) for batch in _batches(assignments, self.workers, 4)]
        try:
            for future in futures:
                yield from future.result()
        except BrokenProcessPool:
            self.close()
            raise ConfigError(
                "a sweep worker process died (out of memory or killed?); the trials finished so far are kept:"
                " run the same command again to resume, or with --workers 1"
            ) from None
        finally:
            for future in futures:
                future.cancel()

    def _pool_for(self, evaluator: Evaluator) -> ProcessPoolExecutor:
        if self._pool is not None and self._evaluator is evaluator:
            return self._pool
        self.close()
        method = "fork" if sys.platform == "linux" else "spawn"
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=mp.get_context(method), initializer=_hold, initargs=(evaluator,)
        )
        self._evaluator = evaluator
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool, self._evaluator = None, None


_HELD: Evaluator | None = None  # a pool worker's evaluator (`_hold`)


def _hold(evaluator: Evaluator) -> None:
    global _HELD  # a worker process holds one evaluator, set once when it starts
    _HELD = evaluator
    exit_with_parent(os.getppid())


def exit_with_parent(parent: int, every_s: float = 0.5) -> threading.Thread:
    """End this process once `parent` is no longer its parent (the sweep was killed, say).

    A pool worker otherwise waits on its task queue for ever: it holds the queue's write end too, so
    its read never ends. Measured: each worker of a killed `mesdesk optimize` stayed asleep with
    about 180 MB, one pair per kill. A daemon thread checks the parent every `every_s`.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)  # nothing to hand back to: the results went with the parent

    thread = threading.Thread(target=watch, name="mesdesk-exit-with-parent", daemon=True)
    thread.start()
    return thread


def _run_batch(batch: Sequence[tuple[int, Assignment]]) -> list[Finished]:
    assert _HELD is not None, "the pool's initializer sets the evaluator"
    return [_timed(_HELD, i, assignment) for i, assignment in batch]


def _timed(evaluator: Evaluator, i: int, assignment: Assignment) -> Finished:
    start = time.perf_counter()
    sums = evaluator.sums(assignment)
    return i, sums, time.perf_counter() - start


def _batches(assignments: Sequence[Assignment], cpus: int, per_cpu: int) -> list[list[tuple[int, Assignment]]]:
    """Batches of configurations sharing one setup-parameter set, about `per_cpu` per CPU (at most 64 each)."""
    groups: dict[str, list[int]] = {}
    for i, assignment in enumerate(assignments):
        groups.setdefault(setup_key(assignment), []).append(i)
    size = max(1, min(64, -(-len(assignments) // (cpus * per_cpu))))
    return [
        [(i, dict(assignments[i])) for i in members[k : k + size]]
        for members in groups.values()
        for k in range(0, len(members), size)
    ]


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
    fast = KernelSums(bars, sub_bars, timeframe, base, days)
    for i, assignment in batch:
        start = time.perf_counter()
        sums = fast.sums("batch", frame, assignment, default_prefilter)  # one frame per batch: one key
        if sums is None:
            trades = run_on_candidates(bars, sub_bars, timeframe, base, frame, assignment, default_prefilter)
            sums = config_sums(trades, days)
        out.append((i, sums, time.perf_counter() - start))
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
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if self._evaluator is not evaluator:  # once per sweep, not per call (TPE calls once per trial)
            self._evaluator = evaluator
            self._shared = [ray.put(evaluator.bars), ray.put(evaluator.sub_bars), evaluator.timeframe]
            self._shared += [ray.put(evaluator.base), ray.put(evaluator.days)]
            self._frames = {}
        pending = []
        for batch in _batches(assignments, cpus, self.batches_per_cpu):
            key = setup_key(batch[0][1])
            frame = self._frames.get(key)
            if frame is None:  # detected once, in the driver
                frame = self._frames[key] = ray.put(evaluator.candidates(batch[0][1]))
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
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(address, workers)
    raise ConfigError(f"--executor {kind!r}: choose {' or '.join(EXECUTORS)}")
