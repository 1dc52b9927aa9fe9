"""The policy schedule's progress: per rule and cluster how far its slots fired, and each slot's backup.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedule_marks",
        sa.Column("rule_id", _TEXT, nullable=False),
        sa.Column("cluster_id", _TEXT, nullable=False),
        sa.Column("through_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "cluster_id", name="pk_schedule_marks"),
    )
    op.create_table(
        "schedule_slots",
        sa.Column("rule_id", _TEXT, nullable=False),
        sa.Column("slot_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("backup_id", _TEXT, nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "slot_ms", "vm_id", name="pk_schedule_slots"),
    )


def downgrade() -> None:
    op.drop_table("schedule_slots")
    op.drop_table("schedule_marks")
