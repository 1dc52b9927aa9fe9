"""The content model over time: each lineage's workload rate, and when each running VM's next step is due.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("content_lineages") as batch:
        batch.add_column(sa.Column("rate", sa.Float(), server_default="0", nullable=False))
    with op.batch_alter_table("content_holders") as batch:
        batch.add_column(sa.Column("due_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_content_holders_due_at", "content_holders", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_content_holders_due_at", table_name="content_holders")
    with op.batch_alter_table("content_holders") as batch:
        batch.drop_column("due_at")
    with op.batch_alter_table("content_lineages") as batch:
        batch.drop_column("rate")
