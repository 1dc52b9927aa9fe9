"""VMs by policy and cluster: the policy schedule's read of the VMs one rule's slot backs up on a cluster.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_virtual_machines_policy_cluster",
        "virtual_machines",
        ["policy_id", "omnistack_cluster_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_virtual_machines_policy_cluster", table_name="virtual_machines")
