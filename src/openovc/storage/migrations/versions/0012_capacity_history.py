"""The past of the hosts' capacity figures: a point each time they change, thinned as they age.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "capacity_history",
        sa.Column("host_id", _TEXT, nullable=False),
        sa.Column("at_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", "at_ms", name="pk_capacity_history"),
    )


def downgrade() -> None:
    op.drop_table("capacity_history")
