"""Operations state: Virtual Controller shutdowns, external store and VM guest credentials (hashed).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "host_shutdowns",
        sa.Column("host_id", _TEXT, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("ha_wait", sa.Boolean(), nullable=False),
        sa.Column("requested_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name="pk_host_shutdowns"),
    )
    op.create_table(
        "external_store_credentials",
        sa.Column("name", _TEXT, nullable=False),
        sa.Column("username", _TEXT, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_external_store_credentials"),
    )
    op.create_table(
        "vm_guest_credentials",
        sa.Column("vm_id", _TEXT, nullable=False),
        sa.Column("username", _TEXT, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("app_aware_type", sa.String(32), nullable=True),
        sa.Column("override_validation", sa.Boolean(), nullable=False),
        sa.Column("account_username", _TEXT, nullable=True),
        sa.Column("account_password_hash", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("vm_id", name="pk_vm_guest_credentials"),
    )


def downgrade() -> None:
    op.drop_table("vm_guest_credentials")
    op.drop_table("external_store_credentials")
    op.drop_table("host_shutdowns")
