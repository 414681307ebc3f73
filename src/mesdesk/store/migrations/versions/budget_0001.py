"""Decisions area: the paid-call ledger (daily budget) and the decision cache."""

import sqlalchemy as sa
from alembic import op

revision = "budget_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_call_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("trading_day", sa.Date, nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
        sa.UniqueConstraint("scope", "trading_day", "slot", name="uq_llm_call_day_slot"),
        sa.CheckConstraint("slot >= 1", name="ck_llm_call_slot_positive"),
    )
    op.create_table(
        "decision_cache",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(128), primary_key=True),
        sa.Column("prompt_sha256", sa.String(64), primary_key=True),
        sa.Column("schema_name", sa.String(64), nullable=False),
        sa.Column("answer_json", sa.Text, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decision_cache")
    op.drop_table("llm_call_ledger")
