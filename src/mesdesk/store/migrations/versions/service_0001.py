"""Service tables: trades, journal, recorded decisions, runner state and lease, equity."""

import sqlalchemy as sa
from alembic import op

revision = "service_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_trades",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("runner", sa.String(32), nullable=False, index=True),
        sa.Column("trade_key", sa.String(160), nullable=False),
        sa.Column("trading_day", sa.Date, nullable=False, index=True),
        sa.Column("ts", TS, nullable=False),
        sa.Column("entry_ts", TS, nullable=False),
        sa.Column("exit_ts", TS, nullable=False, index=True),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("setup", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("session", sa.String(16), nullable=False),
        sa.Column("prefilter_score", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("entry_price", sa.Float, nullable=False),
        sa.Column("exit_price", sa.Float, nullable=False),
        sa.Column("pnl_pts", sa.Float, nullable=False),
        sa.Column("gross_pts", sa.Float, nullable=False),
        sa.Column("commission_pts", sa.Float, nullable=False),
        sa.Column("time_to_target", sa.Float, nullable=True),
        sa.Column("mae", sa.Float, nullable=False),
        sa.Column("mfe", sa.Float, nullable=False),
        sa.Column("exit_reason", sa.String(16), nullable=False),
        sa.Column("ambiguous", sa.Boolean, nullable=False),
        sa.Column("decision_source", sa.String(64), nullable=False),
        sa.UniqueConstraint("runner", "trade_key", name="uq_service_trades_key"),
    )
    op.create_table(
        "service_journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("runner", sa.String(32), nullable=False, index=True),
        sa.Column("candidate_key", sa.String(160), nullable=False),
        sa.Column("ts", TS, nullable=False, index=True),
        sa.Column("trading_day", sa.Date, nullable=False, index=True),
        sa.Column("setup", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("ref_entry", sa.Float, nullable=False),
        sa.Column("prefilter_score", sa.Float, nullable=False),
        sa.Column("passed_prefilter", sa.Boolean, nullable=False),
        sa.Column("volume_multiple", sa.Float, nullable=True),
        sa.Column("atr_5m", sa.Float, nullable=True),
        sa.Column("session_label", sa.String(16), nullable=False),
        sa.Column("timestamp_ct", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(24), nullable=False),
        sa.Column("decision_source", sa.String(64), nullable=False),
        sa.Column("fallback", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("gate", sa.String(64), nullable=False),
        sa.Column("entry_ts", TS, nullable=True),
        sa.Column("entry_price", sa.Float, nullable=True),
        sa.Column("exit_ts", TS, nullable=True),
        sa.Column("exit_price", sa.Float, nullable=True),
        sa.Column("exit_reason", sa.String(16), nullable=True),
        sa.Column("pnl_pts", sa.Float, nullable=True),
        sa.Column("features", sa.JSON, nullable=False),
        sa.UniqueConstraint("runner", "candidate_key", name="uq_service_journal_key"),
    )
    op.create_table(
        "service_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("runner", sa.String(32), nullable=False, index=True),
        sa.Column("candidate_key", sa.String(160), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("take", sa.Boolean, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("fallback", sa.String(64), nullable=True),
        sa.Column("calibrated", sa.Float, nullable=True),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.UniqueConstraint("runner", "candidate_key", name="uq_service_decisions_key"),
    )
    op.create_table(
        "service_runner_state",
        sa.Column("runner", sa.String(32), primary_key=True),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("last_bar_ts", TS, nullable=True),
        sa.Column("trading_day", sa.Date, nullable=True),
        sa.Column("trades_today", sa.Integer, nullable=False),
        sa.Column("losses_today", sa.Integer, nullable=False),
        sa.Column("net_pts_today", sa.Float, nullable=False),
        sa.Column("position", sa.JSON, nullable=True),
        sa.Column("live", sa.JSON, nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("paused_reason", sa.String(256), nullable=True),
        sa.Column("holder", sa.String(128), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=True),
    )
    op.create_table(
        "service_runner_lease",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
    )
    op.create_table(
        "service_equity",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("runner", sa.String(32), nullable=False, index=True),
        sa.Column("trade_key", sa.String(160), nullable=False),
        sa.Column("ts", TS, nullable=False, index=True),
        sa.Column("trading_day", sa.Date, nullable=False),
        sa.Column("pnl_pts", sa.Float, nullable=False),
        sa.Column("equity_pts", sa.Float, nullable=False),
        sa.UniqueConstraint("runner", "trade_key", name="uq_service_equity_key"),
    )


def downgrade() -> None:
    for table in (
        "service_equity",
        "service_runner_lease",
        "service_runner_state",
        "service_decisions",
        "service_journal",
        "service_trades",
    ):
        op.drop_table(table)
