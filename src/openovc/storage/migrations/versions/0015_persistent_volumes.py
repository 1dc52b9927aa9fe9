"""Persistent volumes (the CSI driver's first-class disks): a table of VM-like rows.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TEXT = sa.String().with_variant(sa.String(collation="C"), "postgresql")
_TIME = sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql")

# The columns as the catalog declared them when this revision was written, in its order.
_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("name", _TEXT), ("state", _TEXT), ("created_at", _TIME), ("deleted_at", _TIME),
    ("omnistack_cluster_id", _TEXT), ("omnistack_cluster_name", _TEXT), ("datastore_id", _TEXT),
    ("datastore_name", _TEXT), ("policy_id", _TEXT), ("policy_name", _TEXT), ("host_id", _TEXT),
    ("hypervisor_object_id", _TEXT), ("hypervisor_type", _TEXT), ("hypervisor_management_system", _TEXT),
    ("hypervisor_management_system_name", _TEXT), ("compute_cluster_parent_hypervisor_object_id", _TEXT),
    ("compute_cluster_parent_name", _TEXT), ("app_aware_vm_status", _TEXT), ("replica_set", sa.Text()),
    ("cluster_group_ids", sa.Text()), ("hypervisor_allocated_capacity", sa.BigInteger()),
    ("hypervisor_free_space", sa.BigInteger()),
)  # fmt: skip
_INDEXED = ("name", "omnistack_cluster_id", "datastore_id", "policy_id", "host_id")


def upgrade() -> None:
    op.create_table(
        "persistent_volumes",
        sa.Column("id", _TEXT, nullable=False),
        *(sa.Column(name, kind, nullable=True) for name, kind in _COLUMNS),
        sa.PrimaryKeyConstraint("id", name="pk_persistent_volumes"),
    )
    for name in _INDEXED:
        op.create_index(f"ix_persistent_volumes_{name}", "persistent_volumes", [name, "id"])
    op.create_index("ix_persistent_volumes_state_name", "persistent_volumes", ["state", "name", "id"])


def downgrade() -> None:
    op.drop_table("persistent_volumes")
