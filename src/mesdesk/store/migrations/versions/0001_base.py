"""Base revision: a table recording the store's creation; every area's first revision follows it."""

import sqlalchemy as sa
from alembic import op

revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_info",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.bulk_insert(
        sa.table("store_info", sa.column("key", sa.String), sa.column("value", sa.String)),
        [{"key": "schema", "value": "mesdesk"}],
    )


def downgrade() -> None:
    op.drop_table("store_info")
