"""Decisions area: the ledger row knows its request (candidate key) and how often it went out."""

import sqlalchemy as sa
from alembic import op

revision = "budget_0002"
down_revision = "budget_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("llm_call_ledger") as batch:
        batch.add_column(sa.Column("request_key", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("asks", sa.Integer, nullable=False, server_default="0"))
        batch.create_index("ix_llm_call_request", ["scope", "request_key"])


def downgrade() -> None:
    with op.batch_alter_table("llm_call_ledger") as batch:
        batch.drop_index("ix_llm_call_request")
        batch.drop_column("asks")
        batch.drop_column("request_key")
