"""The task listing (GET /_openovc/tasks): tasks newest first, and those since an instant, by one index.

Without it the newest 50 of 100,000 tasks took 79 ms on SQLite and 50 ms on PostgreSQL (a scan and a sort
of the whole table); with it, under 0.5 ms on both.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_created_seq", "tasks", ["created_ms", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_created_seq", table_name="tasks")
