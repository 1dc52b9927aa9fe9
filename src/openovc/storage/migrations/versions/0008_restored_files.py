"""Restored files: what restore_files wrote into each VM's guest, so later backups of it show them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "restored_files",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("disk_index", sa.Integer(), nullable=False),
        sa.Column("partition_number", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("directory", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        sa.Column("restored_at", sa.BigInteger(), nullable=False),
        sa.Column("undone_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_restored_files"),
    )
    op.create_index("ix_restored_files_vm_id", "restored_files", ["vm_id"])


def downgrade() -> None:
    op.drop_index("ix_restored_files_vm_id", table_name="restored_files")
    op.drop_table("restored_files")
