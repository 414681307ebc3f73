"""Learning outcomes (real and counterfactual).

Revision ID: learning_0001
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "learning_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learn_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("counterfactual", sa.Boolean, nullable=False),
        sa.Column("setup", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("session", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pnl_pts", sa.Float, nullable=False),
        sa.Column("features_json", sa.Text, nullable=False),
        sa.UniqueConstraint("key", "counterfactual", name="uq_learn_outcomes_key_cf"),
    )
    op.create_index("ix_learn_outcomes_resolved_at", "learn_outcomes", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_learn_outcomes_resolved_at", "learn_outcomes")
    op.drop_table("learn_outcomes")
