"""Room on each page for in-place updates of the tables operations rewrite (PostgreSQL only).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As storage/tables.py's UPDATED_IN_PLACE when this revision was written. Pages written from now on
# keep the room; existing ones gain it as they are rewritten.
_TABLES = (
    "backups", "datastores", "hosts", "omnistack_clusters",
    "content_held", "content_segments", "content_shared", "content_totals",
)  # fmt: skip


def _set(fillfactor: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no such setting
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {fillfactor})")


def upgrade() -> None:
    _set(80)


def downgrade() -> None:
    _set(100)
