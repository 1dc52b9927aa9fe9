"""Half of each backups page kept free, so that a move rewrites its VM's backups in place (PostgreSQL only).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _set(fillfactor: int) -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite has no such setting
        # Pages written from now on keep the room; existing ones gain it as they are rewritten.
        op.execute(f"ALTER TABLE backups SET (fillfactor = {fillfactor})")


def upgrade() -> None:
    _set(50)


def downgrade() -> None:
    _set(80)
