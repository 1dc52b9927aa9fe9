"""The VMs' change feed (storage/change_feed.py): a table, filled by triggers on SQLite.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openovc.storage import change_feed

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    change_feed.declare(sa.MetaData(), "virtual_machines").create(op.get_bind())


def downgrade() -> None:
    feed = change_feed.feed_table("virtual_machines")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {feed}_{trigger}")
    op.drop_table(feed)
