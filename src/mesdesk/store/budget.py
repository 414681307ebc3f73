"""The paid-call ledger: one row per LLM request sent (or about to be sent), per CME trading day.

A row is inserted BEFORE the request leaves, under a unique (scope, trading_day, slot) key with
slot in 1..cap: whatever the number of threads, processes or restarts, no more than `cap` rows
can exist for one day, so no more than `cap` requests can be sent. After the request the row is
settled with its outcome, tokens and cost.

A decision's row carries `request_key` (its candidate's `mesdesk.model.candidate_key`, see
docs/decisions.md) and moves reserved -> sending -> settled; `asks` counts the times the request
went out under this slot (more than one only when a restarted runner re-asked a request whose
answer a crash lost).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesdesk.store.base import Base


class LLMCall(Base):
    """One reserved LLM request: `status` is reserved, sending, ok, lost or the error kind of its failure."""

    __tablename__ = "llm_call_ledger"
    __table_args__ = (
        UniqueConstraint("scope", "trading_day", "slot", name="uq_llm_call_day_slot"),
        Index("ix_llm_call_request", "scope", "request_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(64), nullable=False)
    trading_day: Mapped[date] = mapped_column(Date, nullable=False)
    slot: Mapped[int] = mapped_column(Integer, nullable=False)
    reserved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False, default="decide")
    provider: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    model: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="reserved")
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    detail: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    request_key: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    asks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
