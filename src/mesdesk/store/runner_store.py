"""Reads and transactional writes of the service tables (see `mesdesk.store.service`).

The runner writes one `StepRecord` per processed bar in ONE transaction that also checks it still
holds the lease (a fence): a runner whose lease was taken over cannot write a single row. Journal
rows and trades are keyed, so writing a step twice (a replay after a crash) changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mesdesk.errors import StoreError
from mesdesk.model import Decision, DecisionStatus
from mesdesk.store.base import session_factory, transaction
from mesdesk.store.service import (
    DecisionRow,
    EquityRow,
    JournalRow,
    RunnerLeaseRow,
    RunnerStateRow,
    TradeRow,
)


class LeaseLost(StoreError):
    """The runner no longer holds the lease: another one trades now; this one must stop writing."""


_TRADE_COLUMNS = frozenset(c.name for c in TradeRow.__table__.columns) - {"id", "runner"}
_JOURNAL_COLUMNS = frozenset(c.name for c in JournalRow.__table__.columns) - {"id", "runner"}


@dataclass(frozen=True)
class RunnerSnapshot:
    """The runner's persisted state (what a restart resumes from)."""

    runner: str
    running: bool
    mode: str
    source: str
    last_bar_ts: datetime | None
    trading_day: date | None
    trades_today: int
    losses_today: int
    net_pts_today: float
    position: Mapping[str, Any] | None
    live: Mapping[str, Any] | None
    paused: bool
    paused_reason: str | None
    holder: str | None
    version: int
    updated_at: datetime | None


@dataclass(frozen=True)
class StepRecord:
    """Everything one processed bar changes, written atomically.

    `journal` and `trades` are rows keyed by `candidate_key` / `trade_key` (fields named as the
    tables' columns); `position` is the open position with its working bracket, or None when flat.
    """

    bar_ts: datetime
    trading_day: date
    trades_today: int
    losses_today: int
    net_pts_today: float
    position: Mapping[str, Any] | None
    live: Mapping[str, Any] | None
    paused: bool
    paused_reason: str | None
    journal: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    trades: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def _snapshot(row: RunnerStateRow) -> RunnerSnapshot:
    return RunnerSnapshot(
        runner=row.runner,
        running=row.running,
        mode=row.mode,
        source=row.source,
        last_bar_ts=row.last_bar_ts,
        trading_day=row.trading_day,
        trades_today=row.trades_today,
        losses_today=row.losses_today,
        net_pts_today=row.net_pts_today,
        position=row.position,
        live=row.live,
        paused=row.paused,
        paused_reason=row.paused_reason,
        holder=row.holder,
        version=row.version,
        updated_at=row.updated_at,
    )


_TRADE_OPTIONAL = frozenset({"confidence", "time_to_target", "ambiguous", "decision_source"})
_JOURNAL_OPTIONAL = frozenset(
    {
        "confidence",
        "volume_multiple",
        "atr_5m",
        "fallback",
        "entry_ts",
        "entry_price",
        "exit_ts",
        "exit_price",
        "exit_reason",
        "pnl_pts",
        "features",
        "decision_source",
        "reason",
        "gate",
    }
)


def _require(
    row: Mapping[str, Any], columns: frozenset[str], optional: frozenset[str], what: str, key: str
) -> dict[str, Any]:
    values = {k: v for k, v in row.items() if k in columns}
    missing = sorted(c for c in columns if c not in optional and values.get(c) is None)
    if missing:
        raise StoreError(f"{what} {row.get(key)!r} lacks {', '.join(missing)}")
    return values


class ServiceStore:
    """The service's view of the database (thread-safe: one short session per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory: sessionmaker[Session] = session_factory(engine)

    # ------------------------------------------------------------------ runner state

    def ensure_state(self, runner: str, *, mode: str, source: str, running: bool = True) -> RunnerSnapshot:
        """The runner's state row, created when missing (an existing row keeps its running flag)."""
        with transaction(self._factory) as s:
            row = s.get(RunnerStateRow, runner)
            if row is None:
                row = RunnerStateRow(
                    runner=runner,
                    running=running,
                    mode=mode,
                    source=source,
                    trades_today=0,
                    losses_today=0,
                    net_pts_today=0.0,
                    paused=False,
                    version=0,
                )
                s.add(row)
                try:
                    s.flush()
                except IntegrityError:  # another worker created it first
                    s.rollback()
                    row = s.get(RunnerStateRow, runner)
                    if row is None:  # pragma: no cover - the row cannot vanish
                        raise StoreError(f"runner state {runner!r} could not be created") from None
            else:
                row.mode, row.source = mode, source
            return _snapshot(row)

    def state(self, runner: str) -> RunnerSnapshot | None:
        with self._factory() as s:
            row = s.get(RunnerStateRow, runner)
            return None if row is None else _snapshot(row)

    def set_running(self, runner: str, running: bool, now: datetime) -> bool:
        """Set the running flag (the runner obeys it at its next bar); creates the row if needed."""
        with transaction(self._factory) as s:
            row = s.get(RunnerStateRow, runner)
            if row is None:
                row = RunnerStateRow(
                    runner=runner,
                    running=running,
                    mode="idle",
                    source="",
                    trades_today=0,
                    losses_today=0,
                    net_pts_today=0.0,
                    paused=False,
                    version=0,
                )
                s.add(row)
            row.running = running
            row.updated_at = now
            row.version = (row.version or 0) + 1
            return running

    def set_paused(self, runner: str, holder: str, now: datetime, reason: str | None) -> None:
        """Pause (reason given) or resume (None) trading, fenced by the lease."""
        with transaction(self._factory) as s:
            self._fence(s, runner, holder, now)
            s.execute(
                update(RunnerStateRow)
                .where(RunnerStateRow.runner == runner)
                .values(
                    paused=reason is not None,
                    paused_reason=reason,
                    updated_at=now,
                    version=RunnerStateRow.version + 1,
                )
            )

    # ------------------------------------------------------------------ lease

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease atomically; True when `holder` holds it until now + ttl."""
        expires = now + ttl
        with transaction(self._factory) as s:
            result = s.execute(
                update(RunnerLeaseRow)
                .where(RunnerLeaseRow.name == name)
                .where((RunnerLeaseRow.holder == holder) | (RunnerLeaseRow.expires_at <= now))
                .values(holder=holder, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if s.get(RunnerLeaseRow, name) is not None:
                return False
        try:
            with transaction(self._factory) as s:
                s.add(RunnerLeaseRow(name=name, holder=holder, expires_at=expires, acquired_at=now))
        except IntegrityError:  # another process inserted it between our two statements
            return False
        return True

    def release_lease(self, name: str, holder: str, now: datetime) -> None:
        with transaction(self._factory) as s:
            s.execute(
                update(RunnerLeaseRow)
                .where(RunnerLeaseRow.name == name, RunnerLeaseRow.holder == holder)
                .values(expires_at=now)
                .execution_options(synchronize_session=False)
            )

    def lease_holder(self, name: str, now: datetime) -> str | None:
        with self._factory() as s:
            row = s.get(RunnerLeaseRow, name)
            if row is None or row.expires_at <= now:
                return None
            return row.holder

    def _fence(self, s: Session, name: str, holder: str, now: datetime) -> None:
        # Touching the lease row inside the transaction both checks and locks it (PostgreSQL row
        # lock, SQLite write lock), so two writers cannot interleave.
        result = s.execute(
            update(RunnerLeaseRow)
            .where(RunnerLeaseRow.name == name, RunnerLeaseRow.holder == holder, RunnerLeaseRow.expires_at > now)
            .values(holder=holder)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"runner {name!r}: {holder} no longer holds the lease")

    # ------------------------------------------------------------------ steps

    def commit_step(self, runner: str, holder: str, now: datetime, step: StepRecord) -> None:
        """Write one processed bar: journal upserts, new trades and equity, the state; all or nothing."""
        with transaction(self._factory) as s:
            self._fence(s, runner, holder, now)
            for row in step.journal:
                self._upsert_journal(s, runner, row)
            for row in step.trades:
                self._insert_trade(s, runner, row)
            s.execute(
                update(RunnerStateRow)
                .where(RunnerStateRow.runner == runner)
                .values(
                    last_bar_ts=step.bar_ts,
                    trading_day=step.trading_day,
                    trades_today=step.trades_today,
                    losses_today=step.losses_today,
                    net_pts_today=step.net_pts_today,
                    position=dict(step.position) if step.position is not None else None,
                    live=dict(step.live) if step.live is not None else None,
                    paused=step.paused,
                    paused_reason=step.paused_reason,
                    holder=holder,
                    updated_at=now,
                    version=RunnerStateRow.version + 1,
                )
            )

    def _upsert_journal(self, s: Session, runner: str, row: Mapping[str, Any]) -> None:
        values = _require(row, _JOURNAL_COLUMNS, _JOURNAL_OPTIONAL, "journal row", "candidate_key")
        existing = s.scalar(
            select(JournalRow).where(JournalRow.runner == runner, JournalRow.candidate_key == values["candidate_key"])
        )
        if existing is None:
            s.add(JournalRow(runner=runner, **values))
        else:
            for k, v in values.items():
                setattr(existing, k, v)

    def _insert_trade(self, s: Session, runner: str, row: Mapping[str, Any]) -> None:
        values = _require(row, _TRADE_COLUMNS, _TRADE_OPTIONAL, "trade", "trade_key")
        key = values["trade_key"]
        if s.scalar(select(TradeRow.id).where(TradeRow.runner == runner, TradeRow.trade_key == key)) is not None:
            return
        s.add(TradeRow(runner=runner, **values))
        last = s.scalar(
            select(EquityRow.equity_pts).where(EquityRow.runner == runner).order_by(EquityRow.id.desc()).limit(1)
        )
        equity = (last or 0.0) + float(values["pnl_pts"])
        s.add(
            EquityRow(
                runner=runner,
                trade_key=key,
                ts=values["exit_ts"],
                trading_day=values["trading_day"],
                pnl_pts=float(values["pnl_pts"]),
                equity_pts=round(equity, 10),
            )
        )

    # ------------------------------------------------------------------ decisions

    def record_decision(self, runner: str, candidate_key: str, decision: Decision, now: datetime) -> None:
        """Persist a decider's answer before it is acted on (first answer wins on a race)."""
        try:
            with transaction(self._factory) as s:
                s.add(
                    DecisionRow(
                        runner=runner,
                        candidate_key=candidate_key,
                        decided_at=now,
                        take=decision.take,
                        confidence=decision.confidence,
                        reason=decision.reason,
                        source=decision.source,
                        status=decision.status.value,
                        fallback=decision.fallback,
                        calibrated=decision.calibrated,
                        cost_usd=decision.cost_usd,
                    )
                )
        except IntegrityError:
            return

    def recorded_decisions(self, runner: str, keys: Sequence[str]) -> dict[str, Decision]:
        if not keys:
            return {}
        with self._factory() as s:
            rows = s.scalars(
                select(DecisionRow).where(DecisionRow.runner == runner, DecisionRow.candidate_key.in_(list(keys)))
            ).all()
        return {
            r.candidate_key: Decision(
                take=r.take,
                confidence=r.confidence,
                reason=r.reason,
                source=r.source,
                status=DecisionStatus(r.status),
                fallback=r.fallback,
                calibrated=r.calibrated,
                cost_usd=r.cost_usd,
            )
            for r in rows
        }

    # ------------------------------------------------------------------ reads

    def trades(self, runner: str, day: date | None = None, limit: int | None = None) -> list[TradeRow]:
        """Closed trades, oldest first; of one trading day when `day` is given, else the last `limit`."""
        with self._factory() as s:
            q = select(TradeRow).where(TradeRow.runner == runner)
            if day is not None:
                q = q.where(TradeRow.trading_day == day).order_by(TradeRow.exit_ts, TradeRow.id)
                return list(s.scalars(q).all())
            q = q.order_by(TradeRow.exit_ts.desc(), TradeRow.id.desc())
            if limit is not None:
                q = q.limit(limit)
            return list(reversed(s.scalars(q).all()))

    def journal(self, runner: str, day: date | None = None, limit: int = 200) -> list[JournalRow]:
        """Journal rows, newest first (of one trading day when `day` is given)."""
        with self._factory() as s:
            q = select(JournalRow).where(JournalRow.runner == runner)
            if day is not None:
                q = q.where(JournalRow.trading_day == day)
            q = q.order_by(JournalRow.ts.desc(), JournalRow.id.desc()).limit(limit)
            return list(s.scalars(q).all())

    def equity(self, runner: str, limit: int = 5000) -> list[EquityRow]:
        with self._factory() as s:
            q = select(EquityRow).where(EquityRow.runner == runner).order_by(EquityRow.id.desc()).limit(limit)
            return list(reversed(s.scalars(q).all()))

    def decision_count(self, runner: str, since: datetime, sources: Sequence[str] | None = None) -> int:
        with self._factory() as s:
            q = select(func.count(DecisionRow.id)).where(DecisionRow.runner == runner, DecisionRow.decided_at >= since)
            if sources is not None:
                q = q.where(DecisionRow.source.in_(list(sources)))
            return int(s.scalar(q) or 0)

    def reset_runner(self, runner: str) -> None:
        """Delete a runner's book (trades, journal, decisions, equity, state): a fresh replay."""
        with transaction(self._factory) as s:
            for table in (TradeRow, JournalRow, DecisionRow, EquityRow):
                s.execute(delete(table).where(table.runner == runner))
            s.execute(delete(RunnerStateRow).where(RunnerStateRow.runner == runner))
