"""Opening the service: the store, the read context and (optionally) the paper runner under its lease.

`open_service(settings, options)` is what the API's lifespan and `mesdesk serve` call; the runner runs
in a supervised child process (`mesdesk runner`, see `mesdesk.services.supervisor`), so the API process
only reads and writes the store. The runner's
name separates books: a replay of 2025-09-16 writes under "replay-2025-09-16", live trading under
"paper"; the read endpoints show the book of the runner this process was opened for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import sys
import time as wall_time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from mesdesk.calendar import CT, trading_day_open, trading_days
from mesdesk.config import Settings
from mesdesk.errors import ConfigError, DataError, StoreError
from mesdesk.runner.service import Driver, LiveDriver, ReplayDriver, RunnerService
from mesdesk.services.root import Root
from mesdesk.services.service import ServiceContext, Unavailable
from mesdesk.services.supervisor import RunnerSupervisor, settings_env
from mesdesk.store.base import make_engine, migrate
from mesdesk.store.runner_store import ServiceStore

log = logging.getLogger(__name__)

MODES = ("replay", "live", "off")
DEFAULT_REPLAY_DAY = date(2025, 9, 16)  # the date of the README's example; a Tuesday


@dataclass(frozen=True)
class RunnerOptions:
    """What the runner trades on.

    A replay trades `replay_day` (default 2025-09-16) of the synthetic market or of `replay_file`,
    starting at `replay_from_ct` (CT wall time; None = the session open at 17:00 CT the evening
    before); earlier bars are history only. `speed` is bars per bar-span of wall time (60: a
    1-minute bar each second; 0: as fast as possible).
    """

    mode: str = "replay"
    replay_day: date | None = None
    replay_file: Path | None = None
    replay_from_ct: time | None = time(8, 0)
    speed: float = 60.0
    lookback_days: int = 5
    synthetic_days: int = 10
    seed: int = 7
    live_source: str = "yahoo"
    symbol: str = "MES"
    poll_s: float = 5.0
    lease_ttl_s: float = 15.0
    renew_every_s: float = 3.0
    fresh: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"MESDESK_RUNNER={self.mode!r}: choose one of {', '.join(MODES)}")
        if self.speed < 0:
            raise ConfigError(f"--speed must be >= 0 (0 = as fast as possible), got {self.speed}")

    @property
    def runner_name(self) -> str:
        if self.mode == "live":
            return "paper"
        return f"replay-{(self.replay_day or DEFAULT_REPLAY_DAY).isoformat()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunnerOptions:
        """MESDESK_RUNNER (replay|live|off), MESDESK_REPLAY_DATE, MESDESK_REPLAY_FILE, MESDESK_REPLAY_FROM,
        MESDESK_REPLAY_SPEED, MESDESK_LIVE_SOURCE (yahoo|databento), MESDESK_POLL_S, MESDESK_LEASE_TTL_S."""

        def num(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return float(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r}: expected a number") from None

        day_raw = env.get("MESDESK_REPLAY_DATE") or None
        try:
            day = date.fromisoformat(day_raw) if day_raw else None
        except ValueError:
            raise ConfigError(f"MESDESK_REPLAY_DATE={day_raw!r}: expected YYYY-MM-DD") from None
        file_raw = env.get("MESDESK_REPLAY_FILE") or None
        ttl = num("MESDESK_LEASE_TTL_S", 15.0)
        from_raw = env.get("MESDESK_REPLAY_FROM") or "08:00"
        try:
            from_ct = None if from_raw == "open" else time.fromisoformat(from_raw)
        except ValueError:
            raise ConfigError(f"MESDESK_REPLAY_FROM={from_raw!r}: expected HH:MM (CT) or 'open'") from None
        return cls(
            mode=env.get("MESDESK_RUNNER", "replay") or "replay",
            replay_day=day,
            replay_file=Path(file_raw) if file_raw else None,
            replay_from_ct=from_ct,
            speed=num("MESDESK_REPLAY_SPEED", 60.0),
            live_source=env.get("MESDESK_LIVE_SOURCE", "yahoo"),
            poll_s=num("MESDESK_POLL_S", 5.0),
            lease_ttl_s=ttl,
            renew_every_s=min(3.0, ttl / 3),
        )


@dataclass
class ServiceHandle:
    """An open service: the read context and the runner's supervised process (if any)."""

    ctx: ServiceContext
    supervisor: RunnerSupervisor | None = None
    runner_error: str | None = None

    def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        self.ctx.store.engine.dispose()


def open_store(settings: Settings) -> ServiceStore:
    """The migrated store. Several workers may open one fresh database at once: migrations are
    serialised by a lock (a file lock beside a SQLite file, an advisory lock on PostgreSQL) and a
    loser of a remaining race retries once the winner's transaction has committed."""
    engine = make_engine(settings.resolved_database_url)
    for attempt in range(5):
        try:
            with _migration_lock(engine):
                migrate(engine)
            break
        except StoreError:
            if attempt == 4:
                raise
            wall_time.sleep(0.2 * (attempt + 1))
    return ServiceStore(engine)


_PG_MIGRATION_LOCK = 7_342_118  # an arbitrary advisory-lock key owned by mesdesk migrations


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        lock_path = Path(str(engine.url.database) + ".migrate.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
        return
    yield


def open_service(settings: Settings, options: RunnerOptions | None) -> ServiceHandle:
    """Migrate the store and, unless `options` is None or mode "off", start the runner's process.

    The options are checked here first (the replay's bars, the live source), so a bad one is shown
    at once in `/metrics/runner` instead of a child failing over and over.
    """
    store = open_store(settings)
    name = options.runner_name if options is not None else "paper"
    handle = ServiceHandle(ctx=ServiceContext(settings=settings, store=store, runner=name))
    if options is None or options.mode == "off":
        return handle
    try:
        if options.mode == "replay":
            replay_driver(options)
        else:
            Root(settings).live_source(options.live_source, options.symbol)
    except (Unavailable, DataError, ConfigError) as exc:
        handle.runner_error = handle.ctx.runner_error = str(exc)
        log.error("paper runner not started: %s", exc)
        return handle
    if options.fresh:  # once, here: a restarted child must resume the book, never wipe it
        store.reset_runner(name)
    supervisor = RunnerSupervisor(runner_argv(options, parent_pid=os.getpid()), settings_env(settings, os.environ))
    supervisor.start()
    handle.supervisor = supervisor
    handle.ctx.process_status = supervisor.status
    return handle


def runner_argv(options: RunnerOptions, *, parent_pid: int | None = None) -> list[str]:
    """The `python -m mesdesk runner ...` command line trading `options` (never with --fresh)."""
    argv = [sys.executable, "-m", "mesdesk", "runner", "--speed", repr(options.speed)]
    if options.mode == "live":
        argv += ["--live", options.live_source]
    if options.replay_day is not None:
        argv += ["--replay", options.replay_day.isoformat()]
    if options.replay_file is not None:
        argv += ["--replay-file", str(options.replay_file.resolve())]
    argv += ["--from", options.replay_from_ct.strftime("%H:%M:%S") if options.replay_from_ct else "open"]
    argv += ["--lease-ttl", repr(options.lease_ttl_s), "--poll", repr(options.poll_s)]
    if parent_pid is not None:
        argv += ["--parent-pid", str(parent_pid)]
    return argv


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_runner(settings: Settings, options: RunnerOptions, store: ServiceStore) -> RunnerService:
    """The `RunnerService` for `options` (not started), with its parts from the composition root."""
    from mesdesk.runner.core import PaperRunner, RunnerConfig

    config = RunnerConfig(
        name=options.runner_name,
        lease_ttl_s=options.lease_ttl_s,
        renew_every_s=options.renew_every_s,
        lookback_days=options.lookback_days,
        # Live: a decision more than a batch window and a bar late is not traded (fill in the past).
        max_decision_lag_s=90.0 + options.poll_s if options.mode == "live" else None,
    )
    root = Root(settings)
    parts = root.runner_parts()
    runner = PaperRunner(
        store,
        _holder(),
        loop_factory=parts.loop_factory,
        candidates_fn=parts.candidates_fn,
        decider=parts.decider,
        position_fn=parts.position_fn,
        config=config,
        wall=lambda: datetime.now(UTC),
    )
    if options.fresh:
        store.reset_runner(config.name)
    driver: Driver = replay_driver(options) if options.mode == "replay" else live_driver(root, options)
    store.ensure_state(config.name, mode=driver.mode, source=driver.name)
    return RunnerService(runner, driver, store, config, wall=lambda: datetime.now(UTC))


def replay_bars(options: RunnerOptions) -> tuple[pd.DataFrame, date, str]:
    """Bars to replay, the trading day to trade, and a description of where they come from."""
    if options.replay_file is not None:
        bars = _read_bars(options.replay_file)
        days = sorted({pd.Timestamp(d).date() for d in trading_days(pd.DatetimeIndex(bars.index))})
        day = options.replay_day or days[-1]
        if day not in days:
            raise DataError(f"{options.replay_file}: no bars on trading day {day} (has {days[0]}..{days[-1]})")
        return bars, day, f"file:{options.replay_file.name}"
    return _synthetic_bars(options)


def _read_bars(path: Path) -> pd.DataFrame:
    from mesdesk.data.files import load_bars  # flexible columns and zones

    if not path.exists():
        raise DataError(f"{path}: no such file")
    return load_bars(path)


def _synthetic_bars(options: RunnerOptions) -> tuple[pd.DataFrame, date, str]:
    from mesdesk.data.synthetic import SyntheticConfig, generate_bars

    day = options.replay_day or DEFAULT_REPLAY_DAY
    first = day - timedelta(days=options.lookback_days + 4)  # weekends and holidays: a few spare days
    bars = generate_bars(first, day, SyntheticConfig(seed=options.seed))
    days = {pd.Timestamp(d).date() for d in trading_days(pd.DatetimeIndex(bars.index))}
    if day not in days:
        raise DataError(f"--replay {day}: not a CME trading day (weekend or holiday); pick another date")
    return bars, day, f"synthetic(seed={options.seed})"


def replay_driver(options: RunnerOptions) -> ReplayDriver:
    bars, day, name = replay_bars(options)
    # The replay trades one trading day: it ends where the next one opens (17:00 CT that evening).
    day_end = pd.Timestamp(trading_day_open(day + timedelta(days=1)))
    bars = bars.loc[pd.DatetimeIndex(bars.index) < day_end]
    start = (
        datetime.combine(day, options.replay_from_ct, tzinfo=CT) if options.replay_from_ct else trading_day_open(day)
    )
    return ReplayDriver(bars, start=start, speed=options.speed, name=f"{name}:{day.isoformat()}")


def live_driver(root: Root, options: RunnerOptions) -> LiveDriver:
    from mesdesk.timeframes import Timeframe

    source, symbol = root.live_source(options.live_source, options.symbol)
    return LiveDriver(
        source,
        symbol=symbol,
        timeframe=Timeframe.M1,
        lookback_days=options.lookback_days,
        poll_s=options.poll_s,
        grace_s=max(options.poll_s * 2, 20.0),
    )
