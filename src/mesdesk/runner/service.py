"""The runner's life: take the lease, resume, feed bars from a replay or a live source, renew, stop.

Any number of processes may run a `RunnerService` on one database: the one holding the lease trades,
the others retry every `renew_every_s` and take over within `lease_ttl_s` of the holder's death.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from typing import Protocol

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from mesdesk.calendar import CT, market_open_mask, trading_day
from mesdesk.data.source import BarSource
from mesdesk.errors import ConfigError, DataError, ProviderError, StoreError
from mesdesk.runner.core import PaperRunner, RunnerConfig
from mesdesk.store.base import one_line
from mesdesk.store.runner_store import LeaseLost, ServiceStore
from mesdesk.timeframes import Timeframe

log = logging.getLogger(__name__)


class Driver(Protocol):
    """Where bars come from and how fast."""

    @property
    def name(self) -> str: ...

    @property
    def mode(self) -> str: ...

    def frames(self, cursor: datetime | None, now: datetime) -> Iterator[pd.DataFrame]:
        """Prefixes of the bar history ending at each bar newer than `cursor` that is ready now."""
        ...

    def wait_s(self) -> float: ...

    def idle_reason(self, cursor: datetime | None, now: datetime) -> str | None:
        """Why nothing was processed, when that is a problem (stale data, replay over), else None."""
        ...

    def hold_reason(self, now: datetime) -> str | None:
        """Why trading is paused although bars come (a delayed feed), else None."""
        ...


def feed_age_s(last_open: datetime, span: timedelta, now: datetime) -> float | None:
    """Seconds since the newest bar closed (its open + `span`), as the feed's delay seen at `now`.

    None while Globex is closed (maintenance break, weekend, holiday) and while today's session has
    no bar yet (the newest is from an earlier trading day): an old bar then is no delayed feed.
    """
    if not bool(market_open_mask(pd.DatetimeIndex([pd.Timestamp(now)]))[0]):
        return None
    if trading_day(last_open) != trading_day(now):
        return None
    return max(0.0, (now - (last_open + span)).total_seconds())


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class ReplayDriver:
    """Stored or synthetic bars replayed at `speed` times real time (0: as fast as possible).

    Bars before `start` are history only (indicators, lookback); trading starts with the first bar
    at or after `start`. Idempotent by bar time: after a restart it continues after the cursor.
    """

    def __init__(self, bars: pd.DataFrame, *, start: datetime, speed: float, name: str) -> None:
        if bars.empty:
            raise DataError(f"replay {name}: no bars")
        if speed < 0:
            raise ConfigError(f"replay speed must be >= 0, got {speed}")
        self._bars = bars
        self._index = pd.DatetimeIndex(bars.index)
        self._first = int(self._index.searchsorted(pd.Timestamp(start), side="left"))
        if self._first >= len(bars):
            when = start.astimezone(CT).strftime("%Y-%m-%d %H:%M CT")
            raise DataError(f"replay {name}: no bar at or after {when} (--from / MESDESK_REPLAY_FROM)")
        self._speed = speed
        self._name = name
        self._due: datetime | None = None
        span_ns = (
            int(pd.Series(self._index.as_unit("ns").asi8).diff().dropna().min()) if len(bars) > 1 else 60_000_000_000
        )
        self._span_s = span_ns / 1e9

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> str:
        return "replay"

    def _next(self, cursor: datetime | None) -> int:
        if cursor is None:
            return self._first
        return max(self._first, int(self._index.searchsorted(pd.Timestamp(cursor), side="right")))

    def frames(self, cursor: datetime | None, now: datetime) -> Iterator[pd.DataFrame]:
        if self._due is not None and now < self._due:
            return
        i = self._next(cursor)
        if i < len(self._bars):
            self._due = now + timedelta(seconds=self.wait_s())
            yield self._bars.iloc[: i + 1]

    def wait_s(self) -> float:
        return 0.0 if self._speed == 0 else self._span_s / self._speed

    def idle_reason(self, cursor: datetime | None, now: datetime) -> str | None:
        if self._next(cursor) >= len(self._bars):
            last = self._index[-1].tz_convert(CT).strftime("%Y-%m-%d %H:%M CT")
            return f"replay finished: last bar {last}"
        return None

    def hold_reason(self, now: datetime) -> str | None:
        return None

    def prefix_to(self, cursor: datetime) -> pd.DataFrame:
        """Every bar up to and including `cursor` (the resume frame)."""
        return self._bars.iloc[: int(self._index.searchsorted(pd.Timestamp(cursor), side="right"))]


class LiveDriver:
    """A live `BarSource` polled every `poll_s` seconds; stale when a due bar does not come.

    A bar is due at its close plus `grace_s` inside regular hours (08:30-15:00 CT, weekdays);
    outside them silence is normal and never pauses anything. With `max_delay_s`, trading is held
    while the newest bar closed more than that long ago (`feed_age_s`: a delayed feed such as
    Yahoo's futures quotes); the bars are still processed, so an open position is still managed.
    """

    def __init__(
        self,
        source: BarSource,
        *,
        symbol: str,
        timeframe: Timeframe,
        lookback_days: int,
        poll_s: float,
        grace_s: float,
        max_delay_s: float | None = None,
    ) -> None:
        floor_s = timeframe.span.total_seconds() + poll_s
        if max_delay_s is not None and max_delay_s <= floor_s:
            raise ConfigError(
                f"MESDESK_MAX_FEED_DELAY_S={max_delay_s:g}: must exceed one {timeframe.value} bar plus the "
                f"poll interval ({floor_s:g} s), or even an on-time feed would pause"
            )
        self._max_delay_s = max_delay_s
        self._newest: datetime | None = None
        self._source = source
        self._symbol = symbol
        self._tf = timeframe
        self._lookback = timedelta(days=lookback_days + 2)
        self._poll_s = poll_s
        self._grace = timedelta(seconds=grace_s)
        self._last: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        return f"{self._source.name}:{self._symbol}:{self._tf.value}"

    @property
    def mode(self) -> str:
        return "live"

    def frames(self, cursor: datetime | None, now: datetime) -> Iterator[pd.DataFrame]:
        bars = self._source.bars(self._symbol, self._tf, now - self._lookback, now)
        self._last = bars
        index = pd.DatetimeIndex(bars.index)
        if len(index):
            self._newest = pd.Timestamp(index[-1]).to_pydatetime()
        start = 0 if cursor is None else int(index.searchsorted(pd.Timestamp(cursor), side="right"))
        if cursor is None and len(bars):
            start = len(bars) - 1  # a fresh live runner starts at the newest bar, not in the past
        for i in range(start, len(bars)):
            yield bars.iloc[: i + 1]

    def wait_s(self) -> float:
        return self._poll_s

    def idle_reason(self, cursor: datetime | None, now: datetime) -> str | None:
        if cursor is None:
            return None
        due = cursor + 2 * self._tf.span  # the next bar closes one span after this one closed
        now_ct = now.astimezone(CT)
        in_hours = now_ct.weekday() < 5 and time(8, 30) <= now_ct.time() < time(15, 0)
        if in_hours and now > due + self._grace:
            last = (cursor + self._tf.span).astimezone(CT).strftime("%H:%M")
            return f"stale data: no bar since {last} CT (one was due at {due.astimezone(CT):%H:%M} CT)"
        return None

    def delay_s(self, now: datetime) -> float | None:
        """The feed's delay at `now` (see `feed_age_s`); None before the first bar or while closed."""
        return None if self._newest is None else feed_age_s(self._newest, self._tf.span, now)

    def hold_reason(self, now: datetime) -> str | None:
        if self._max_delay_s is None:
            return None
        delay = self.delay_s(now)
        if delay is None or delay <= self._max_delay_s:
            return None
        return (
            f"feed delayed: last bar closed {_duration(delay)} ago (limit {_duration(self._max_delay_s)}); "
            "no new entries"
        )


class RunnerService:
    """Runs a `PaperRunner` with a driver under the lease, in a thread or step by step (`run_once`)."""

    def __init__(
        self,
        runner: PaperRunner,
        driver: Driver,
        store: ServiceStore,
        config: RunnerConfig,
        *,
        wall: Callable[[], datetime],
    ) -> None:
        self.runner = runner
        self.driver = driver
        self.store = store
        self.config = config
        self._wall = wall
        self._holding = False
        self._renewed: datetime | None = None
        self._paused_reason: str | None = None
        self.fault: str | None = None  # why trading is paused by the store (None when it is fine)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holding(self) -> bool:
        return self._holding

    def _ensure_lease(self, now: datetime) -> bool:
        ttl = timedelta(seconds=self.config.lease_ttl_s)
        due = self._renewed is None or (now - self._renewed).total_seconds() >= self.config.renew_every_s
        if self._holding and not due:
            return True
        got = self.store.acquire_lease(self.config.name, self.runner.holder, now, ttl)
        if got and not self._holding:
            self._take_over(now)
        elif not got and self._holding:
            log.warning("runner %s lost the lease", self.runner.holder)
        self._holding, self._renewed = got, now if got else None
        return got

    def _take_over(self, now: datetime) -> None:
        self.store.ensure_state(self.config.name, mode=self.driver.mode, source=self.driver.name)
        cursor = self.runner.resume()
        self._paused_reason = None
        if cursor is not None and isinstance(self.driver, ReplayDriver):
            self.runner.step(self.driver.prefix_to(cursor), now, rebuild=True)
        log.info("runner %s holds the lease; resuming after %s", self.runner.holder, cursor)

    def run_once(self) -> float:
        """One iteration; returns how long to wait before the next."""
        now = self._wall()
        try:
            if not self._ensure_lease(now):
                return self.config.renew_every_s
            snap = self.store.state(self.config.name)
            self.runner.set_running(True if snap is None else snap.running)
            processed = False
            source_error: str | None = None
            try:
                for frame in self.driver.frames(self.runner.cursor, now):
                    processed = self.runner.step(frame, self._wall()) or processed
            except (ProviderError, DataError) as exc:  # the feed failed: say so, retry next poll
                source_error = f"data source error: {exc}"[:250]
                log.warning("runner %s: %s", self.runner.holder, source_error)
            if processed:
                self._paused_reason = None  # each committed bar clears the stored pause
            idle = None if processed else self.driver.idle_reason(self.runner.cursor, now)
            reason = source_error or idle or self.driver.hold_reason(now)
            if reason != self._paused_reason:
                self.store.set_paused(self.config.name, self.runner.holder, now, reason)
                self._paused_reason = reason
        except LeaseLost:
            log.warning("runner %s: lease lost mid-step; standing by", self.runner.holder)
            self._holding, self._renewed = False, None
            return self.config.renew_every_s
        except (SQLAlchemyError, StoreError) as exc:
            self._store_failed(exc)
            return self.config.renew_every_s
        if self.fault is not None:
            log.warning("runner %s: the store is back; trading resumes from the stored cursor", self.runner.holder)
            self.fault = None
        return self.driver.wait_s() if processed else max(self.driver.wait_s(), 0.5)

    def _store_failed(self, exc: Exception) -> None:
        """Pause on a store that cannot be written (read-only, locked, deleted, full): say why, once.

        The step that failed was not committed; the lease is given up in memory, so the next
        successful iteration takes it again and rebuilds the day from the stored cursor: nothing
        processed during the outage is lost or doubled.
        """
        reason = f"store unavailable, trading paused: {one_line(exc)}"
        if reason != self.fault:
            log.error("runner %s: %s", self.runner.holder, reason)
        self.fault = reason
        self._holding, self._renewed = False, None
        self._paused_reason = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"runner-{self.config.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception:  # keep the API alive; the next iteration retries from the store
                log.exception("runner %s iteration failed", self.runner.holder)
                self._holding, self._renewed = False, None
                wait = self.config.renew_every_s
            self._stop.wait(min(wait, self.config.renew_every_s))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and hand the lease back so a standby takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._holding:
            self.store.release_lease(self.config.name, self.runner.holder, self._wall())
            self._holding = False
