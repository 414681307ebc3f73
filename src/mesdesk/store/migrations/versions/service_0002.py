"""Service area: a recorded decision may state no confidence (the rule decider states none)."""

import sqlalchemy as sa
from alembic import op

revision = "service_0002"
down_revision = "service_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_decisions") as batch:
        batch.alter_column("confidence", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE service_decisions SET confidence = 0 WHERE confidence IS NULL")
    with op.batch_alter_table("service_decisions") as batch:
        batch.alter_column("confidence", existing_type=sa.Float(), nullable=False)
