"""Tables of the paper-trading service: trades, journal, recorded decisions, runner state, lease, equity.

Every timestamp is stored as UTC and read back timezone-aware (SQLite keeps no zone, so
`UTCDateTime` attaches it). Rows carry the name of the runner that wrote them ("paper" by default)
so a replay and a live runner can share one database without mixing their books.
Idempotency keys: a journal row per (runner, candidate_key), a trade per (runner, trade_key),
a decision per (runner, candidate_key); writing the same key twice updates, never duplicates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from mesdesk.store.base import Base


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (naive values are refused)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} cannot be stored; give it a zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TradeRow(Base):
    """A closed paper trade; fields as the seed's /metrics/trades plus times and costs."""

    __tablename__ = "service_trades"
    __table_args__ = (UniqueConstraint("runner", "trade_key", name="uq_service_trades_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runner: Mapped[str] = mapped_column(String(32), index=True)
    trade_key: Mapped[str] = mapped_column(String(160))
    trading_day: Mapped[date] = mapped_column(Date, index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    exit_ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    result: Mapped[str] = mapped_column(String(8))
    setup: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))
    session: Mapped[str] = mapped_column(String(16))
    prefilter_score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_price: Mapped[float] = mapped_column(Float)
    pnl_pts: Mapped[float] = mapped_column(Float)
    gross_pts: Mapped[float] = mapped_column(Float)
    commission_pts: Mapped[float] = mapped_column(Float)
    time_to_target: Mapped[float | None] = mapped_column(Float, nullable=True)
    mae: Mapped[float] = mapped_column(Float)
    mfe: Mapped[float] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(16))
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_source: Mapped[str] = mapped_column(String(64), default="")


class JournalRow(Base):
    """One candidate, taken or not, with the reason: the answer to "why no trade"."""

    __tablename__ = "service_journal"
    __table_args__ = (UniqueConstraint("runner", "candidate_key", name="uq_service_journal_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runner: Mapped[str] = mapped_column(String(32), index=True)
    candidate_key: Mapped[str] = mapped_column(String(160))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    trading_day: Mapped[date] = mapped_column(Date, index=True)
    setup: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))
    ref_entry: Mapped[float] = mapped_column(Float)
    prefilter_score: Mapped[float] = mapped_column(Float)
    passed_prefilter: Mapped[bool] = mapped_column(Boolean)
    volume_multiple: Mapped[float | None] = mapped_column(Float, nullable=True)
    atr_5m: Mapped[float | None] = mapped_column(Float, nullable=True)
    session_label: Mapped[str] = mapped_column(String(16))
    timestamp_ct: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(24))
    decision_source: Mapped[str] = mapped_column(String(64), default="")
    fallback: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    gate: Mapped[str] = mapped_column(String(64), default="")
    entry_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    entry_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pnl_pts: Mapped[float | None] = mapped_column(Float, nullable=True)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DecisionRow(Base):
    """A decider's answer, written before the engine acts on it, so a restart never asks twice."""

    __tablename__ = "service_decisions"
    __table_args__ = (UniqueConstraint("runner", "candidate_key", name="uq_service_decisions_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runner: Mapped[str] = mapped_column(String(32), index=True)
    candidate_key: Mapped[str] = mapped_column(String(160))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    take: Mapped[bool] = mapped_column(Boolean)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: the decider states none
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    fallback: Mapped[str | None] = mapped_column(String(64), nullable=True)
    calibrated: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)


class RunnerStateRow(Base):
    """What a restarted runner needs: running flag, cursor, open position and bracket, day counters."""

    __tablename__ = "service_runner_state"

    runner: Mapped[str] = mapped_column(String(32), primary_key=True)
    running: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(16), default="replay")
    source: Mapped[str] = mapped_column(String(128), default="")
    last_bar_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    trading_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    trades_today: Mapped[int] = mapped_column(Integer, default=0)
    losses_today: Mapped[int] = mapped_column(Integer, default=0)
    net_pts_today: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    live: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    holder: Mapped[str | None] = mapped_column(String(128), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RunnerLeaseRow(Base):
    """The right to trade: one holder at a time until `expires_at`, renewed while it runs."""

    __tablename__ = "service_runner_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EquityRow(Base):
    """Cumulative net points after each closed trade (the equity curve)."""

    __tablename__ = "service_equity"
    __table_args__ = (UniqueConstraint("runner", "trade_key", name="uq_service_equity_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    runner: Mapped[str] = mapped_column(String(32), index=True)
    trade_key: Mapped[str] = mapped_column(String(160))
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    trading_day: Mapped[date] = mapped_column(Date)
    pnl_pts: Mapped[float] = mapped_column(Float)
    equity_pts: Mapped[float] = mapped_column(Float)
