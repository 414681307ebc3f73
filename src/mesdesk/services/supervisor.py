"""The runner as a supervised child process of `mesdesk serve`.

`RunnerSupervisor` starts `python -m mesdesk runner ...` (the same options as the parent's), restarts
it with exponential backoff when it dies, and keeps what happened (pid, exit codes, restarts, the
child's last error line) for `/metrics/runner`. The API process then only reads and writes the store:
an engine step never holds its interpreter while a request waits.

The child exits with code 2 on a configuration or data error (a bad replay day, a missing key): that
is not retried, since a restart cannot fix it; any other exit (a crash, kill -9) is restarted. The
child stops by itself when its parent dies (it watches its parent's pid), so a killed API never leaves
an orphan trading. The lease still decides who trades: a restarted child waits for the dead one's
lease to expire (`MESDESK_LEASE_TTL_S`) and resumes the book from the store.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from mesdesk.config import Settings

log = logging.getLogger(__name__)

CONFIG_EXIT = 2  # `mesdesk` exits 2 on a domain error: a restart would fail the same way


def settings_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with every setting of `settings` written as its environment variable, so the child
    loads exactly the parent's settings (even ones built in code rather than read from the env)."""
    env = dict(base)
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if not isinstance(alias, str):
            continue
        value = getattr(settings, name)
        if value is None:
            env.pop(alias, None)
        elif isinstance(value, SecretStr):
            env[alias] = value.get_secret_value()
        elif isinstance(value, bool):
            env[alias] = "true" if value else "false"
        elif isinstance(value, (dict, list, tuple)):
            env[alias] = json.dumps(value)
        elif isinstance(value, (str, int, float, Path)):
            env[alias] = str(value)
        else:
            env[alias] = str(value)
    env["MESDESK_DATABASE_URL"] = settings.resolved_database_url
    return env


@dataclass
class _Exit:
    code: int
    at: datetime
    error: str | None


class RunnerSupervisor:
    """Keep one child process running `argv`; restart it after `backoff_s`, doubling to `max_backoff_s`.

    The backoff goes back to `backoff_s` once a child has lived `stable_s` seconds.
    """

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str],
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        stable_s: float = 60.0,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if backoff_s <= 0 or max_backoff_s < backoff_s:
            raise ValueError(f"backoff {backoff_s} s .. {max_backoff_s} s: need 0 < first <= max")
        self._argv = argv
        self._env = dict(env)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._stable_s = stable_s
        self._wall = wall
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at: datetime | None = None
        self._restarts = 0
        self._last_exit: _Exit | None = None
        self._last_error: str | None = None
        self._next_start: datetime | None = None
        self._gave_up: str | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="runner-supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Ask the child to stop (SIGTERM: it hands the lease back), kill it after `timeout_s`."""
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("runner process %s did not stop in %.0f s; killing it", proc.pid, timeout_s)
                proc.kill()
                proc.wait(5)
        if self._thread is not None:
            self._thread.join(5)

    @property
    def pid(self) -> int | None:
        with self._lock:
            return None if self._proc is None else self._proc.pid

    def status(self) -> dict[str, Any]:
        """What `/metrics/runner` shows under `process`."""
        with self._lock:
            proc = self._proc
            alive = proc is not None and proc.poll() is None
            last = self._last_exit
            return {
                "pid": proc.pid if proc is not None else None,
                "alive": alive,
                "started_at": _iso(self._started_at),
                "restarts": self._restarts,
                "last_exit": None if last is None else last.code,
                "last_exit_at": None if last is None else _iso(last.at),
                "last_error": self._last_error,
                "next_start_at": None if alive else _iso(self._next_start),
                "gave_up": self._gave_up,
            }

    @property
    def gave_up(self) -> str | None:
        """Why the supervisor stopped restarting (a configuration error), else None."""
        return self._gave_up

    # ------------------------------------------------------------------ internals

    def _spawn(self) -> None:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self._argv, env=self._env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        with self._lock:
            self._proc = proc
            self._started_at = self._wall()
            self._next_start = None
        assert proc.stderr is not None
        threading.Thread(target=self._relay, args=(proc.stderr,), name="runner-stderr", daemon=True).start()
        log.info("runner process started: pid %s", proc.pid)

    def _relay(self, stream: IO[bytes]) -> None:
        """Pass the child's stderr through and keep its last `error:` line (why it exited)."""
        for raw in iter(stream.readline, b""):
            sys.stderr.buffer.write(raw)
            sys.stderr.flush()
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith("error: "):
                with self._lock:
                    self._last_error = line.removeprefix("error: ")[:500]
        stream.close()

    def _watch(self) -> None:
        backoff = self._backoff_s
        while not self._stop.is_set():
            with self._lock:
                proc = self._proc
            assert proc is not None
            while proc.poll() is None and not self._stop.wait(0.2):
                pass
            if self._stop.is_set():
                return
            code = proc.wait()
            now = self._wall()
            with self._lock:
                lived = (now - self._started_at).total_seconds() if self._started_at else 0.0
                self._last_exit = _Exit(code, now, self._last_error)
            if lived >= self._stable_s:
                backoff = self._backoff_s
            if code == CONFIG_EXIT:
                with self._lock:
                    self._gave_up = f"runner exited with code {code}: {self._last_error or 'configuration error'}"
                log.error("%s; not restarting", self._gave_up)
                return
            log.warning("runner process %s exited with code %s; restarting in %.1f s", proc.pid, code, backoff)
            with self._lock:
                self._next_start = datetime.fromtimestamp(now.timestamp() + backoff, UTC)
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self._max_backoff_s)
            with self._lock:
                self._restarts += 1
            self._spawn()


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def watch_parent(parent_pid: int, stop: threading.Event, every_s: float = 0.5) -> threading.Thread:
    """Set `stop` when the process that started us dies (we were re-parented): no orphan runner."""

    def run() -> None:
        while not stop.wait(every_s):
            if os.getppid() != parent_pid:
                log.warning("parent process %s is gone; runner stopping", parent_pid)
                stop.set()
                return

    thread = threading.Thread(target=run, name="parent-watch", daemon=True)
    thread.start()
    return thread
