"""The content model: lineages, holders, and what each place stores.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "content_lineages",
        sa.Column("lineage_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("inherited", sa.LargeBinary(), nullable=False),
        sa.Column("starts", sa.LargeBinary(), nullable=False),
        sa.Column("slots", sa.LargeBinary(), nullable=False),
        sa.Column("prevs", sa.LargeBinary(), nullable=False),
        sa.Column("pieces", sa.LargeBinary(), nullable=False),
        sa.Column("logical", sa.LargeBinary(), nullable=False),
        sa.Column("forked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("lineage_id", name="pk_content_lineages"),
    )
    op.create_table(
        "content_holders",
        sa.Column("holder_id", _TEXT, nullable=False),
        sa.Column("place", _TEXT, nullable=False),
        sa.Column("lineage_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("holder_id", name="pk_content_holders"),
    )
    op.create_table(
        "content_held",
        sa.Column("place", _TEXT, nullable=False),
        sa.Column("lineage_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("versions", sa.LargeBinary(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("place", "lineage_id", name="pk_content_held"),
    )
    op.create_table(
        "content_segments",
        sa.Column("place", _TEXT, nullable=False),
        sa.Column("seed", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("holders", sa.BigInteger(), nullable=False),
        sa.Column("masks", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("place", "seed", name="pk_content_segments"),
    )
    op.create_table(
        "content_shared",
        sa.Column("place", _TEXT, nullable=False),
        sa.Column("piece", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("place", "piece", name="pk_content_shared"),
    )
    op.create_table(
        "content_totals",
        sa.Column("place", _TEXT, nullable=False),
        sa.Column("uncompressed", sa.BigInteger(), nullable=False),
        sa.Column("compressed", sa.BigInteger(), nullable=False),
        sa.Column("pieces", sa.BigInteger(), nullable=False),
        sa.Column("vm_logical", sa.BigInteger(), nullable=False),
        sa.Column("local_logical", sa.BigInteger(), nullable=False),
        sa.Column("remote_logical", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("place", name="pk_content_totals"),
    )


def downgrade() -> None:
    for table in (
        "content_totals", "content_shared", "content_segments", "content_held", "content_holders",
        "content_lineages",
    ):  # fmt: skip
        op.drop_table(table)
