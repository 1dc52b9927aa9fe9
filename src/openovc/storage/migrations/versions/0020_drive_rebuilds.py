"""Drive rebuilds: a new drive in a degraded array rebuilding from parity until it is done.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "drive_rebuilds",
        sa.Column("host_id", _TEXT, nullable=False),
        sa.Column("slot", _TEXT, nullable=False),
        sa.Column("began_ms", sa.BigInteger(), nullable=False),
        sa.Column("done_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", "slot", name="pk_drive_rebuilds"),
    )


def downgrade() -> None:
    op.drop_table("drive_rebuilds")
