"""Task engine: what a task runs and when, the objects it holds, and the live servers.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operation", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("created_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("not_before_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("duration_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("polls_left", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_tasks_state_seq", ["state", "seq"], unique=False)
    op.create_table(
        "task_locks",
        sa.Column("task_id", sa.String(120), nullable=False),
        sa.Column("object_id", _TEXT, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "object_id", name="pk_task_locks"),
    )
    op.create_index("ix_task_locks_object_id", "task_locks", ["object_id"], unique=False)
    op.create_table(
        "server_instances",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_instances"),
    )


def downgrade() -> None:
    op.drop_table("server_instances")
    op.drop_index("ix_task_locks_object_id", table_name="task_locks")
    op.drop_table("task_locks")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_state_seq")
        for name in (
            "polls_left",
            "duration_ms",
            "not_before_ms",
            "created_ms",
            "owner",
            "seq",
            "payload",
            "operation",
        ):
            batch_op.drop_column(name)
