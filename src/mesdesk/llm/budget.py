"""The daily budget of paid LLM calls (DAILY_GPT_CALL_CAP per CME trading day, default 5).

What counts: every request sent to a provider, whatever comes back. A retry after a 429, a 5xx or
a timeout is a new request and takes a new slot: the provider may bill it, and we cannot know
whether it did. A cache hit sends nothing and takes nothing.

How it holds: `reserve(now)` inserts one ledger row for the trading day of `now` in the lowest
free slot 1..cap, under a unique (scope, trading_day, slot) constraint. Two callers that race for
the same slot cannot both commit; the loser looks again, and past `cap` there is none.

Decisions are idempotent per candidate (docs/decisions.md): a decision's slot is keyed by its
candidate (`request_key`), marked ``sending`` right before the request leaves and settled after.
A restarted runner re-asks in the unsettled slot of the same key instead of taking another,
releases keyed slots still ``reserved`` (never sent), and settles as ``lost`` the in-flight slot
of a decision that is no longer due. The count lives in
the store, so it survives restarts; a new trading day (17:00 CT) starts from zero.

`scope` keeps separate ledgers apart: "live" for paper/live trading (the seed's /metrics/budget),
one per backtest run otherwise, so that a backtest over past days never eats today's calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mesdesk.calendar import trading_day
from mesdesk.errors import ProviderError, StoreError
from mesdesk.llm.client import LLMReply
from mesdesk.store.budget import LLMCall

_MAX_RACE_RETRIES = 1000  # each lost race means another caller took a slot; bounded by the cap
RESERVED = "reserved"  # a slot is held, nothing sent yet
SENDING = "sending"  # the request is on its way (or its answer was lost in a crash)
LOST = "lost"  # sent (maybe), answer never used: the decision came too late after a restart
UNSETTLED = (RESERVED, SENDING)


def _ledger() -> Table:
    table = LLMCall.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True, slots=True)
class Reservation:
    """A slot taken for one request on `trading_day` (1-based `slot`, at most the cap)."""

    id: int
    scope: str
    trading_day: date
    slot: int


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """The seed's /metrics/budget fields, plus the day and what was spent (tokens, USD)."""

    calls_used: int
    calls_cap: int
    paused: bool
    paused_reason: str | None
    trading_day: date
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def as_metrics(self) -> dict[str, object]:
        """The exact JSON shape of the seed's /metrics/budget."""
        return {
            "calls_used": self.calls_used,
            "calls_cap": self.calls_cap,
            "paused": self.paused,
            "paused_reason": self.paused_reason,
        }


@dataclass(frozen=True, slots=True)
class BudgetTotals:
    """All days of one scope: requests, days used, days that reached the cap, tokens and USD."""

    calls: int
    days: int
    capped_days: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class Budget:
    """Daily cap of paid calls, kept in the store (`llm_call_ledger`); safe across threads and processes."""

    def __init__(self, engine: Engine, cap: int, *, scope: str = "live") -> None:
        if cap < 0:
            raise ValueError(f"DAILY_GPT_CALL_CAP must be >= 0, got {cap}")
        if not scope or len(scope) > 64:
            raise ValueError(f"budget scope must be 1-64 characters, got {scope!r}")
        self._engine = engine
        self.cap = cap
        self.scope = scope

    def reserve(
        self,
        now: datetime,
        *,
        provider: str = "",
        model: str = "",
        purpose: str = "decide",
        request_key: str = "",
    ) -> Reservation | None:
        """Take the lowest free slot of the trading day of `now`; None when the day's cap is reached.

        With `request_key` (a decision's candidate key) an unsettled slot of the same key is
        returned instead of a new one: a restarted runner re-asks in the slot it had already taken.
        """
        if now.tzinfo is None:
            raise ValueError(f"budget time must be timezone-aware: {now}")
        day = trading_day(now)
        if request_key:
            found = self._unsettled(request_key)
            if found is not None:
                return found
        if self.cap == 0:
            return None
        table = _ledger()
        taken = select(table.c.slot).where(table.c.scope == self.scope, table.c.trading_day == day)
        row = {
            "scope": self.scope,
            "trading_day": day,
            "reserved_at": now.astimezone(UTC),
            "purpose": purpose,
            "provider": provider,
            "model": model,
            "status": RESERVED,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            "latency_ms": 0.0,
            "detail": "",
            "request_key": request_key[:255],
            "asks": 0,
        }
        for _ in range(_MAX_RACE_RETRIES):
            with self._engine.connect() as conn:
                used = {int(s) for s in conn.execute(taken).scalars()}
            free = next((n for n in range(1, self.cap + 1) if n not in used), None)
            if free is None:
                return None
            try:
                with self._engine.begin() as conn:
                    new_id = conn.execute(insert(table).values(slot=free, **row).returning(table.c.id)).scalar_one()
            except IntegrityError:
                continue  # another caller took this slot first; look again
            return Reservation(id=int(new_id), scope=self.scope, trading_day=day, slot=free)
        raise StoreError(f"could not reserve a budget slot after {_MAX_RACE_RETRIES} attempts")

    def _unsettled(self, request_key: str) -> Reservation | None:
        table = _ledger()
        query = (
            select(table.c.id, table.c.trading_day, table.c.slot)
            .where(
                table.c.scope == self.scope,
                table.c.request_key == request_key[:255],
                table.c.status.in_(UNSETTLED),
            )
            .order_by(table.c.id)
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Reservation(id=int(row.id), scope=self.scope, trading_day=row.trading_day, slot=int(row.slot))

    def mark_sending(self, reservation: Reservation) -> None:
        """Record that the request of `reservation` leaves now (call right before the SDK call).

        StoreError when the slot is gone (released by a runner that took over): send nothing then.
        """
        table = _ledger()
        stmt = (
            update(table)
            .where(table.c.id == reservation.id, table.c.status.in_(UNSETTLED))
            .values(status=SENDING, asks=table.c.asks + 1)
        )
        with self._engine.begin() as conn:
            done = conn.execute(stmt).rowcount
        if done != 1:
            raise StoreError(f"budget slot {reservation.slot} of {reservation.trading_day} is no longer reserved")

    def recover(self, request_key: str, reply: LLMReply) -> bool:
        """True when `reply` (found in the decision cache) is the answer bought for `request_key`.

        A crash after the answer was cached but before its slot was settled leaves the slot
        ``sending``: it is settled now from the cached usage, and nothing is sent again.
        """
        if not request_key:
            return False
        table = _ledger()
        mine = (table.c.scope == self.scope) & (table.c.request_key == request_key[:255])
        with self._engine.begin() as conn:
            conn.execute(
                update(table)
                .where(mine, table.c.status == SENDING)
                .values(
                    status="ok",
                    input_tokens=reply.input_tokens,
                    output_tokens=reply.output_tokens,
                    cost_usd=reply.cost_usd,
                    detail="answer recovered from the decision cache after a restart",
                )
            )
            conn.execute(delete(table).where(mine, table.c.status == RESERVED))
            found = conn.execute(select(func.count()).where(mine, table.c.status == "ok")).scalar_one()
        return int(found) > 0

    def release_unsent(self) -> int:
        """Free every keyed slot reserved for a request that never left (a crash between reserve and
        send); returns how many. Only the lease holder calls it, when it takes over."""
        table = _ledger()
        stmt = delete(table).where(table.c.scope == self.scope, table.c.request_key != "", table.c.status == RESERVED)
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    def abandon(self, request_keys: Sequence[str], reason: str) -> int:
        """Settle the in-flight slots of `request_keys` as ``lost``: the request may have reached the
        provider (it stays counted) but its answer is no longer wanted (the decision is late)."""
        if not request_keys:
            return 0
        table = _ledger()
        keys = [k[:255] for k in request_keys]
        with self._engine.begin() as conn:
            conn.execute(
                delete(table).where(
                    table.c.scope == self.scope, table.c.request_key.in_(keys), table.c.status == RESERVED
                )
            )
            done = conn.execute(
                update(table)
                .where(table.c.scope == self.scope, table.c.request_key.in_(keys), table.c.status == SENDING)
                .values(status=LOST, detail=reason[:500])
            ).rowcount
        return int(done)

    def settle(
        self,
        reservation: Reservation,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
        latency_ms: float = 0.0,
        error: ProviderError | None = None,
    ) -> None:
        """Record what the reserved request gave: tokens and cost, or the kind of its failure."""
        table = _ledger()
        if error is not None and hasattr(error, "cost_usd"):  # an answer came back and was billed
            input_tokens = int(getattr(error, "input_tokens", 0))
            output_tokens = int(getattr(error, "output_tokens", 0))
            cost_usd = float(error.cost_usd)
        values: dict[str, object] = {
            "status": "ok" if error is None else error.kind or "error",
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost_usd,
            "latency_ms": latency_ms,
            "detail": "" if error is None else str(error)[:500],
        }
        with self._engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == reservation.id).values(**values))

    def status(self, now: datetime) -> BudgetStatus:
        """Calls used and spent for the trading day of `now`; paused once the cap is reached."""
        if now.tzinfo is None:
            raise ValueError(f"budget time must be timezone-aware: {now}")
        return self.day_status(trading_day(now))

    def day_status(self, day: date) -> BudgetStatus:
        """Calls used and spent on trading day `day`; paused once the cap is reached."""
        table = _ledger()
        query = select(
            func.count(),
            func.coalesce(func.sum(table.c.input_tokens), 0),
            func.coalesce(func.sum(table.c.output_tokens), 0),
            func.coalesce(func.sum(table.c.cost_usd), 0.0),
        ).where(table.c.scope == self.scope, table.c.trading_day == day)
        with self._engine.connect() as conn:
            used, tokens_in, tokens_out, cost = conn.execute(query).one()
        paused = int(used) >= self.cap
        reason = None
        if paused:
            reason = (
                "DAILY_GPT_CALL_CAP is 0: paid calls are off"
                if self.cap == 0
                else f"daily cap reached: {used}/{self.cap} calls on trading day {day.isoformat()} (resets at 17:00 CT)"
            )
        return BudgetStatus(
            calls_used=int(used),
            calls_cap=self.cap,
            paused=paused,
            paused_reason=reason,
            trading_day=day,
            input_tokens=int(tokens_in),
            output_tokens=int(tokens_out),
            cost_usd=float(cost),
        )

    def totals(self) -> BudgetTotals:
        """Sums over every trading day of this scope (a backtest's whole spend)."""
        table = _ledger()
        query = (
            select(
                table.c.trading_day,
                func.count(),
                func.coalesce(func.sum(table.c.input_tokens), 0),
                func.coalesce(func.sum(table.c.output_tokens), 0),
                func.coalesce(func.sum(table.c.cost_usd), 0.0),
            )
            .where(table.c.scope == self.scope)
            .group_by(table.c.trading_day)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return BudgetTotals(
            calls=sum(int(r[1]) for r in rows),
            days=len(rows),
            capped_days=sum(1 for r in rows if int(r[1]) >= self.cap),
            input_tokens=sum(int(r[2]) for r in rows),
            output_tokens=sum(int(r[3]) for r in rows),
            cost_usd=float(sum(float(r[4]) for r in rows)),
        )
