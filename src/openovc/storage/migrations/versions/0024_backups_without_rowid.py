"""Backups stored in their key's b-tree, without a rowid table beside it (SQLite only).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SUFFIX = " WITHOUT ROWID"


def _rebuild(without_rowid: bool) -> None:
    """The table made again with the same columns and indexes, its rows copied in key order.

    SQLite cannot change a table's kind in place. The old table is renamed away first, so that the new
    one is created under its own name by its own statement, as the declared tables create it.
    """
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":  # PostgreSQL has no rowid
        return
    (create,) = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'backups'")
    ).one()
    indexes = list(
        conn.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'backups' AND sql IS NOT NULL"
            )
        ).scalars()
    )
    create = str(create).rstrip()
    if create.endswith(SUFFIX) == without_rowid:
        return
    create = create + SUFFIX if without_rowid else create.removesuffix(SUFFIX).rstrip()
    op.execute("ALTER TABLE backups RENAME TO _backups_before")
    op.execute(create)
    op.execute("INSERT INTO backups SELECT * FROM _backups_before ORDER BY id")
    op.execute("DROP TABLE _backups_before")  # and its indexes, made again on the new table
    for index in indexes:
        op.execute(index)


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
