"""Opening the service: the store, the read context and (optionally) the paper runner under its lease.

`open_service(settings, options)` is what the API's lifespan and `mesdesk serve` call. The runner's
name separates books: a synthetic replay of 2025-09-16 writes under "replay-2025-09-16", a replay of a
file under its day and content hash ("replay-2025-09-16-1a2b3c4d"), live trading under "paper"; the
read endpoints show the book of the runner this process was opened for.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import math
import os
import socket
import time as wall_time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from mesdesk.calendar import CT, trading_day_open, trading_days
from mesdesk.config import Settings
from mesdesk.errors import ConfigError, DataError, StoreError
from mesdesk.llm.budget import Budget
from mesdesk.runner.service import Driver, LiveDriver, ReplayDriver, RunnerService
from mesdesk.services.root import Root
from mesdesk.services.service import ServiceContext, Unavailable
from mesdesk.store.base import make_engine, migrate, one_line
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
    setups: tuple[str, ...] = ()  # --setup / MESDESK_SETUPS (none: the three built-ins)
    setup_params: tuple[str, ...] = ()  # --setup-param / MESDESK_SETUP_PARAMS

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"MESDESK_RUNNER={self.mode!r}: choose one of {', '.join(MODES)}")
        if not self.speed >= 0 or not math.isfinite(self.speed):
            raise ConfigError(f"--speed must be >= 0 (0 = as fast as possible), got {self.speed}")
        if not self.poll_s > 0 or not math.isfinite(self.poll_s):
            raise ConfigError(f"MESDESK_POLL_S must be > 0 seconds, got {self.poll_s}")
        if not self.lease_ttl_s > 0 or not math.isfinite(self.lease_ttl_s):
            raise ConfigError(f"MESDESK_LEASE_TTL_S must be > 0 seconds, got {self.lease_ttl_s}")
        if not 0 < self.renew_every_s < self.lease_ttl_s:
            raise ConfigError(
                f"the lease is renewed every {self.renew_every_s} s: that must be shorter than "
                f"MESDESK_LEASE_TTL_S={self.lease_ttl_s}"
            )

    @property
    def runner_name(self) -> str:
        """The book: "paper" live; a replay's source and day otherwise.

        A synthetic replay is "replay-<day>"; a file's is "replay-<day>-<sha256 of its content, 8
        hex>", with the day the replay trades (the file's last trading day unless `replay_day`
        names one), so two files, or two days of one file, never write into the same book.
        """
        if self.mode == "live":
            return "paper"
        if self.replay_file is not None:
            return _file_book(self.replay_file, self.replay_day)
        return f"replay-{(self.replay_day or DEFAULT_REPLAY_DAY).isoformat()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunnerOptions:
        """MESDESK_RUNNER (replay|live|off), MESDESK_REPLAY_DATE, MESDESK_REPLAY_FILE, MESDESK_REPLAY_FROM,
        MESDESK_REPLAY_SPEED, MESDESK_LIVE_SOURCE (yahoo|databento), MESDESK_POLL_S, MESDESK_LEASE_TTL_S."""

        def num(name: str, default: float, *, positive: bool = False) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r}: expected a number") from None
            if not math.isfinite(value) or (positive and value <= 0):
                raise ConfigError(f"{name}={raw!r}: expected a {'positive ' if positive else ''}finite number")
            return value

        day_raw = env.get("MESDESK_REPLAY_DATE") or None
        try:
            day = date.fromisoformat(day_raw) if day_raw else None
        except ValueError:
            raise ConfigError(f"MESDESK_REPLAY_DATE={day_raw!r}: expected YYYY-MM-DD") from None
        file_raw = env.get("MESDESK_REPLAY_FILE") or None
        ttl = num("MESDESK_LEASE_TTL_S", 15.0, positive=True)
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
            poll_s=num("MESDESK_POLL_S", 5.0, positive=True),
            lease_ttl_s=ttl,
            renew_every_s=min(3.0, ttl / 3),
            setups=_items(env.get("MESDESK_SETUPS")),
            setup_params=_items(env.get("MESDESK_SETUP_PARAMS")),
        )


def _items(raw: str | None) -> tuple[str, ...]:
    """A comma-separated setting as its non-empty items."""
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _file_book(path: Path, day: date | None) -> str:
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the replay file ({exc.strerror})") from None
    return _file_book_cached(path.resolve(), stat.st_size, stat.st_mtime_ns, day)


@functools.lru_cache(maxsize=8)
def _file_book_cached(path: Path, size: int, mtime_ns: int, day: date | None) -> str:
    """(size and mtime key the memo: a rewritten file is hashed again.)"""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if day is None:
        bars = _read_bars(path)
        day = max(pd.Timestamp(d).date() for d in trading_days(pd.DatetimeIndex(bars.index)))
    return f"replay-{day.isoformat()}-{digest.hexdigest()[:8]}"


@dataclass
class ServiceHandle:
    """An open service: the read context and the runner thread (if any)."""

    ctx: ServiceContext
    runner: RunnerService | None = None
    runner_error: str | None = None

    def start(self) -> None:
        """Start the runner built with `open_service(..., start=False)` (no-op without one)."""
        if self.runner is not None and not self.runner.started:
            self.runner.start()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.ctx.store.engine.dispose()


def open_store(settings: Settings) -> ServiceStore:
    """The migrated store. Several workers may open one fresh database at once: migrations are
    serialised by a lock (a file lock beside a SQLite file, an advisory lock on PostgreSQL) and a
    loser of a remaining race retries once the winner's transaction has committed."""
    where = "MESDESK_DATABASE_URL" if settings.database_url else "MESDESK_DATA_DIR"
    try:
        engine = make_engine(settings.resolved_database_url)
    except StoreError as exc:
        raise StoreError(f"{where}: {exc}") from None
    for attempt in range(5):
        try:
            with _migration_lock(engine):
                migrate(engine)
            break
        except (StoreError, SQLAlchemyError) as exc:
            if attempt == 4:
                engine.dispose()
                detail = str(exc) if isinstance(exc, StoreError) else f"cannot connect: {one_line(exc)}"
                raise StoreError(f"{where}: {detail}") from None
            wall_time.sleep(0.2 * (attempt + 1))
        except OSError as exc:  # the lock file beside a SQLite database
            engine.dispose()
            raise StoreError(f"{where}: cannot open the database's lock file: {exc.strerror}") from None
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


def open_service(
    settings: Settings, options: RunnerOptions | None, *, start: bool = True, strict: bool = False
) -> ServiceHandle:
    """Migrate the store and, unless `options` is None or mode "off", build a runner (and start it).

    `strict` (the CLI and `serve_app()`): a runner that cannot be built is an error of the command
    (one line, exit 2); otherwise the API serves without it and says why (`runner_error`).
    `start=False` builds without starting: `ServiceHandle.start()` starts it once the port is bound.
    """
    store = open_store(settings)
    handle = ServiceHandle(ctx=ServiceContext(settings=settings, store=store, runner="paper"))
    if options is None or options.mode == "off":
        return handle
    try:
        handle.ctx.runner = options.runner_name
        try:
            service = build_runner(settings, options, store)
        except SQLAlchemyError as exc:
            raise StoreError(f"the store refused the runner's first write: {one_line(exc)}") from None
    except (Unavailable, DataError, ConfigError, StoreError) as exc:
        if strict:
            store.engine.dispose()
            raise
        handle.runner_error = handle.ctx.runner_error = str(exc)
        log.error("paper runner not started: %s", exc)
        return handle
    handle.runner = service
    handle.ctx.runner_fault = lambda: service.fault
    if start:
        service.start()
    return handle


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
        # One limit (MESDESK_MAX_FEED_DELAY_S) holds trading on a delayed feed and skips late decisions.
        max_decision_lag_s=settings.max_feed_delay_s if options.mode == "live" else None,
    )
    root = Root(settings)
    parts = root.runner_parts(options.setups, options.setup_params)
    runner = PaperRunner(
        store,
        _holder(),
        loop_factory=parts.loop_factory,
        candidates_fn=parts.candidates_fn,
        decider=parts.decider,
        position_fn=parts.position_fn,
        config=config,
        wall=lambda: datetime.now(UTC),
        slots=Budget(store.engine, settings.daily_gpt_call_cap, scope="live"),
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
        max_delay_s=root.settings.max_feed_delay_s,
    )
