"""Hardware faults (/_openovc/hardware): hosts that failed, and VMs' replicas resyncing after a host came back.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "host_faults",
        sa.Column("host_id", _TEXT, nullable=False),
        sa.Column("since_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name="pk_host_faults"),
    )
    op.create_table(
        "vm_resyncs",
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("host_id", _TEXT, nullable=False),
        sa.Column("began_ms", sa.BigInteger(), nullable=False),
        sa.Column("done_ms", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("vm_id", "host_id", name="pk_vm_resyncs"),
    )


def downgrade() -> None:
    op.drop_table("vm_resyncs")
    op.drop_table("host_faults")
