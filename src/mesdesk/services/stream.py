"""Server push: ONE poller per API process reads the runner's newest rows and fans them out.

`StreamHub` polls the store every `poll_s` (0.25 s) while at least one client listens: the runner's
state row (a new `version` means a new bar, a pause or a control change), journal rows with an id
above its cursor (new candidates) and trades above its cursor (closed trades). Each client gets its
own bounded queue; N clients cost N queues, not N pollers. A client too slow to drain its queue
loses the oldest events (it can reload the REST endpoints) rather than slowing the others.

Events (`/stream`, text/event-stream), each `data:` a JSON object:
- `bar`: `last_bar_ts` (UTC, Z), `last_bar_ct`, `trading_day`, `trades_today`, `net_pts_today`,
  `paused`, `paused_reason`, `running`, `position`, `live` (the latest candidate), `version`,
  `updated_at` (when the runner stored it; `updated_at_epoch` the same in seconds);
- `candidate`: a journal row (`candidate_key`, `ts`, `setup`, `direction`, `prefilter_score`,
  `decision`, `decision_source`, `reason`, `gate`, ... as `/metrics/journal`'s columns);
- `trade`: a closed trade (`trade_key`, `entry_ts`, `exit_ts`, `direction`, `entry_price`,
  `exit_price`, `pnl_pts`, `exit_reason`, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesdesk.errors import StoreError
from mesdesk.store.runner_store import ServiceStore
from mesdesk.store.service import JournalRow, RunnerStateRow, TradeRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str  # bar | candidate | trade
    data: dict[str, Any]

    def encode(self, event_id: int) -> bytes:
        body = json.dumps(self.data, separators=(",", ":"), default=str)
        return f"id: {event_id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(obj: Any, skip: frozenset[str] = frozenset({"id", "runner", "features"})) -> dict[str, Any]:
    return {c.name: _plain(getattr(obj, c.name)) for c in obj.__table__.columns if c.name not in skip}


@dataclass
class _Cursor:
    version: int | None = None
    journal_id: int = 0
    trade_id: int = 0
    primed: bool = False


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[tuple[int, Event]] = field(default_factory=lambda: asyncio.Queue(maxsize=256))


class StreamHub:
    """One store poller for every `/stream` client of this process."""

    def __init__(self, store: ServiceStore, runner: str, *, poll_s: float = 0.25, tz: Any = None) -> None:
        self._store = store
        self._runner = runner
        self._poll_s = poll_s
        self._tz = tz
        self._subs: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._cursor = _Cursor()
        self._next_id = 1
        self.pollers_started = 0  # how many poll loops this hub has started (one while anyone listens)
        self.polls = 0

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[tuple[int, Event]]]:
        sub = _Subscriber()
        self._subs.add(sub)
        if self._task is None or self._task.done():
            self.pollers_started += 1
            self._task = asyncio.create_task(self._poll_loop(), name="stream-poller")
        try:
            yield sub.queue
        finally:
            self._subs.discard(sub)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _poll_loop(self) -> None:
        while self._subs:
            try:
                events = await asyncio.to_thread(self.read_new)
            except StoreError as exc:  # the store is briefly unavailable: keep listening
                log.warning("stream poller: %s", exc)
                events = []
            except Exception:  # a poller must outlive one bad read
                log.exception("stream poller read failed")
                events = []
            self.polls += 1
            for event in events:
                event_id, self._next_id = self._next_id, self._next_id + 1
                for sub in list(self._subs):
                    if sub.queue.full():
                        with contextlib.suppress(asyncio.QueueEmpty):
                            sub.queue.get_nowait()
                    sub.queue.put_nowait((event_id, event))
            await asyncio.sleep(self._poll_s)

    def read_new(self) -> list[Event]:
        """Everything stored since the last call (nothing on the first: clients load the rest by REST)."""
        cur = self._cursor
        with Session(self._store.engine) as s:
            if not cur.primed:
                cur.journal_id = int(
                    s.scalar(select(func.max(JournalRow.id)).where(JournalRow.runner == self._runner)) or 0
                )
                cur.trade_id = int(s.scalar(select(func.max(TradeRow.id)).where(TradeRow.runner == self._runner)) or 0)
                state = s.get(RunnerStateRow, self._runner)
                cur.version = None if state is None else state.version
                cur.primed = True
                return []
            events: list[Event] = []
            journal = s.scalars(
                select(JournalRow)
                .where(JournalRow.runner == self._runner, JournalRow.id > cur.journal_id)
                .order_by(JournalRow.id)
                .limit(500)
            ).all()
            for row in journal:
                events.append(Event("candidate", _row(row)))
                cur.journal_id = row.id
            trades = s.scalars(
                select(TradeRow)
                .where(TradeRow.runner == self._runner, TradeRow.id > cur.trade_id)
                .order_by(TradeRow.id)
                .limit(500)
            ).all()
            for trade in trades:
                events.append(Event("trade", _row(trade)))
                cur.trade_id = trade.id
            state = s.get(RunnerStateRow, self._runner)
            if state is not None and state.version != cur.version:
                cur.version = state.version
                events.append(Event("bar", self._bar(state)))
            return events

    def _bar(self, state: RunnerStateRow) -> dict[str, Any]:
        ts = state.last_bar_ts
        return {
            "runner": state.runner,
            "last_bar_ts": _plain(ts) if ts else None,
            "last_bar_ct": ts.astimezone(self._tz).replace(tzinfo=None).isoformat(timespec="seconds")
            if ts and self._tz
            else None,
            "trading_day": _plain(state.trading_day) if state.trading_day else None,
            "trades_today": state.trades_today,
            "net_pts_today": state.net_pts_today,
            "running": state.running,
            "paused": state.paused,
            "paused_reason": state.paused_reason,
            "position": state.position,
            "live": state.live,
            "version": state.version,
            "updated_at": _plain(state.updated_at) if state.updated_at else None,
            "updated_at_epoch": state.updated_at.timestamp() if state.updated_at else None,
        }
