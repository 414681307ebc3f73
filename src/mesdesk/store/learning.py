"""Learning's table: every resolved outcome (real or counterfactual), so memory survives restarts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from mesdesk.outcome import Outcome
from mesdesk.store.base import Base


class LearnOutcomeRow(Base):
    __tablename__ = "learn_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), nullable=False)
    counterfactual: Mapped[bool] = mapped_column(Boolean, nullable=False)
    setup: Mapped[str] = mapped_column(String(32), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    session: Mapped[str] = mapped_column(String(16), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    pnl_pts: Mapped[float] = mapped_column(Float, nullable=False)
    features_json: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (UniqueConstraint("key", "counterfactual", name="uq_learn_outcomes_key_cf"),)


def _utc(ts: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def save_outcomes(session: Session, outcomes: Iterable[Outcome]) -> int:
    """Insert outcomes not stored yet (by key and counterfactual flag); returns how many were new."""
    rows = [
        {
            "key": o.key,
            "counterfactual": o.counterfactual,
            "setup": o.setup,
            "direction": o.direction,
            "session": o.session,
            "decided_at": o.decided_at,
            "resolved_at": o.resolved_at,
            "pnl_pts": o.pnl_pts,
            "features_json": json.dumps({k: float(v) for k, v in o.features.items()}, allow_nan=True),
        }
        for o in outcomes
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(LearnOutcomeRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key", "counterfactual"])
        .returning(LearnOutcomeRow.id)
    )
    return len(session.execute(stmt).all())


def load_outcomes(session: Session, resolved_before: datetime | None = None) -> list[Outcome]:
    """Stored outcomes in resolution order (optionally only those resolved at or before a time)."""
    stmt = select(LearnOutcomeRow).order_by(LearnOutcomeRow.resolved_at, LearnOutcomeRow.id)
    if resolved_before is not None:
        stmt = stmt.where(LearnOutcomeRow.resolved_at <= resolved_before)
    return [
        Outcome(
            key=r.key,
            setup=r.setup,
            direction=r.direction,
            session=r.session,
            decided_at=_utc(r.decided_at),
            resolved_at=_utc(r.resolved_at),
            pnl_pts=r.pnl_pts,
            counterfactual=r.counterfactual,
            features=json.loads(r.features_json),
        )
        for r in session.scalars(stmt)
    ]


def count_outcomes(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(LearnOutcomeRow)) or 0)


def reset_outcomes(session: Session) -> int:
    """Forget everything learning knows; returns how many outcomes were deleted."""
    return int(getattr(session.execute(delete(LearnOutcomeRow)), "rowcount", 0) or 0)
