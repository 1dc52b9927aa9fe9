"""Login attempts counted per (username, source address) before each password check, replacing the
per-username failure records (a lockout a stranger could impose, and counts read after the check).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    # Failure counts are short-lived (minutes): they are not carried over.
    op.drop_table("login_failures")
    op.create_table(
        "login_attempts",
        sa.Column("username", _TEXT, nullable=False),
        sa.Column("source", _TEXT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("username", "source", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_expires_at", "login_attempts", ["expires_at"])
    op.create_index("ix_login_attempts_source_known", "login_attempts", ["source", "known"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_source_known", table_name="login_attempts")
    op.drop_index("ix_login_attempts_expires_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.create_table(
        "login_failures",
        sa.Column("username", _TEXT, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_login_failures"),
    )
