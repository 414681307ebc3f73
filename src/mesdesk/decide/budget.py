"""The daily budget of paid LLM calls (DAILY_GPT_CALL_CAP per CME trading day, default 5).

What counts: every request sent to a provider, whatever comes back. A retry after a 429, a 5xx or
a timeout is a new request and takes a new slot: the provider may bill it, and we cannot know
whether it did. A cache hit sends nothing and takes nothing.

How it holds: `reserve(now)` inserts one ledger row for the trading day of `now` in a single
`INSERT ... SELECT max(slot)+1 ... HAVING max(slot) < cap` statement, under a unique
(scope, trading_day, slot) constraint. Two callers that race for the same slot cannot both
commit; the loser retries with the next slot, and past `cap` there is none. The count lives in
the store, so it survives restarts; a new trading day (17:00 CT) starts from zero.

`scope` keeps separate ledgers apart: "live" for paper/live trading (the seed's /metrics/budget),
one per backtest run otherwise, so that a backtest over past days never eats today's calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine, Table, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from mesdesk.calendar import trading_day
from mesdesk.errors import ProviderError, StoreError
from mesdesk.store.budget import LLMCall

_MAX_RACE_RETRIES = 1000  # each lost race means another caller took a slot; bounded by the cap


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
        self, now: datetime, *, provider: str = "", model: str = "", purpose: str = "decide"
    ) -> Reservation | None:
        """Take the next slot of the trading day of `now`; None when the day's cap is reached."""
        if now.tzinfo is None:
            raise ValueError(f"budget time must be timezone-aware: {now}")
        day = trading_day(now)
        if self.cap == 0:
            return None
        table = _ledger()
        used = (
            select(func.coalesce(func.max(table.c.slot), 0))
            .where(table.c.scope == self.scope, table.c.trading_day == day)
            .scalar_subquery()
        )
        source = select(
            literal(self.scope),
            literal(day),
            used + 1,
            literal(now.astimezone(UTC)),
            literal(purpose),
            literal(provider),
            literal(model),
            literal("reserved"),
            literal(0),
            literal(0),
            literal(0.0),
            literal(0.0),
            literal(""),
        ).where(used < self.cap)
        columns = [
            "scope",
            "trading_day",
            "slot",
            "reserved_at",
            "purpose",
            "provider",
            "model",
            "status",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_ms",
            "detail",
        ]
        stmt = insert(table).from_select(columns, source).returning(table.c.id, table.c.slot)
        for _ in range(_MAX_RACE_RETRIES):
            try:
                with self._engine.begin() as conn:
                    row = conn.execute(stmt).first()
            except IntegrityError:
                continue  # another caller took this slot first; try the next one
            if row is None:
                return None
            return Reservation(id=int(row.id), scope=self.scope, trading_day=day, slot=int(row.slot))
        raise StoreError(f"could not reserve a budget slot after {_MAX_RACE_RETRIES} attempts")

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
        day = trading_day(now)
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
