"""Fault rules of the control API (/_openovc/faults), shared by every server process.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fault_rules",
        sa.Column("id", _TEXT, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("seen", sa.BigInteger(), nullable=False),
        sa.Column("fired", sa.BigInteger(), nullable=False),
        sa.Column("limit_count", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fault_rules"),
    )


def downgrade() -> None:
    op.drop_table("fault_rules")
