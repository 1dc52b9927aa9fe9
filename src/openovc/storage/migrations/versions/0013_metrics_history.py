"""The past of the metrics: each VM's power changes, and the IO of backups, copies, clones and restores.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "power_history",
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("at_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("powered_on", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("vm_id", "at_ms", name="pk_power_history"),
    )
    op.create_table(
        "io_history",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", _TEXT, nullable=False),
        sa.Column("host_id", _TEXT, nullable=False),
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("step_ms", sa.BigInteger(), nullable=False),
        sa.Column("read_bytes", sa.BigInteger(), nullable=False),
        sa.Column("write_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_io_history"),
    )
    op.create_index("ix_io_history_host_end", "io_history", ["host_id", "end_ms"])
    op.create_index("ix_io_history_vm_end", "io_history", ["vm_id", "end_ms"])
    op.create_index("ix_io_history_source", "io_history", ["source"])


def downgrade() -> None:
    op.drop_table("io_history")
    op.drop_table("power_history")
