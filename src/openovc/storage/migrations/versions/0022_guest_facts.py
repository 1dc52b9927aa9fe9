"""Guest facts: what the simulator knows of a VM's guest that its row may not show (OS, Tools' last status).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "guest_facts",
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("os_family", sa.String(16), nullable=True),
        sa.Column("tools_status", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("vm_id", name="pk_guest_facts"),
    )


def downgrade() -> None:
    op.drop_table("guest_facts")
