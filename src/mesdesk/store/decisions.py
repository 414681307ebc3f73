"""The decision cache: an LLM's JSON answer keyed by provider, model and the hash of the prompt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mesdesk.store.base import Base


class CachedAnswer(Base):
    """An answer as the provider gave it (`answer_json`), with what it cost when it was first bought."""

    __tablename__ = "decision_cache"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    prompt_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    schema_name: Mapped[str] = mapped_column(String(64), nullable=False)
    answer_json: Mapped[str] = mapped_column(Text, nullable=False)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
