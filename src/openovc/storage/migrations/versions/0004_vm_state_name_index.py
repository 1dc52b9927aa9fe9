"""VM lists: one index on (state, name, id) for the default ALIVE filter sorted by name.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("virtual_machines", schema=None) as batch_op:
        batch_op.drop_index("ix_virtual_machines_state")
        batch_op.create_index("ix_virtual_machines_state_name", ["state", "name", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("virtual_machines", schema=None) as batch_op:
        batch_op.drop_index("ix_virtual_machines_state_name")
        batch_op.create_index("ix_virtual_machines_state", ["state", "id"], unique=False)
