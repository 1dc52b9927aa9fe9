"""Initial schema: one table per collection, plus users, tokens, tasks and server state.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 07:03:43.093153
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("state", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column(
            "created_at",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "expiration_time",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sent", sa.BigInteger(), nullable=True),
        sa.Column("application_consistent", sa.Boolean(), nullable=True),
        sa.Column(
            "consistency_type",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "virtual_machine_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "virtual_machine_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "virtual_machine_state",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "virtual_machine_type",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "omnistack_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "omnistack_cluster_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "datastore_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "datastore_name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "compute_cluster_parent_hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("unique_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column(
            "unique_size_timestamp",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "sent_completion_time",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("sent_duration", sa.BigInteger(), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.Column(
            "external_store_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "associated_cluster",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "backup_store_type",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backups")),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.create_index("ix_backups_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_backups_datastore_id", ["datastore_id", "id"], unique=False)
        batch_op.create_index("ix_backups_expiration_time", ["expiration_time", "id"], unique=False)
        batch_op.create_index("ix_backups_name", ["name", "id"], unique=False)
        batch_op.create_index("ix_backups_omnistack_cluster_id", ["omnistack_cluster_id", "id"], unique=False)
        batch_op.create_index("ix_backups_state", ["state", "id"], unique=False)
        batch_op.create_index("ix_backups_virtual_machine_id", ["virtual_machine_id", "id"], unique=False)
        batch_op.create_index("ix_backups_lower_name", [sa.text("lower(name)"), "id"], unique=False)
        batch_op.create_index(
            "ix_backups_vm_name_created", ["virtual_machine_name", "created_at", "id"], unique=False
        )

    op.create_table(
        "certificates",
        sa.Column("hash", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column(
            "certificate", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("subject", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("issuer", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column(
            "serialno", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_certificates")),
    )
    op.create_table(
        "cluster_groups",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("clusters", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_groups")),
    )
    with op.batch_alter_table("cluster_groups", schema=None) as batch_op:
        batch_op.create_index("ix_cluster_groups_name", ["name", "id"], unique=False)

    op.create_table(
        "datastores",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "mount_directory", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "omnistack_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "omnistack_cluster_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "policy_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "policy_name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "hypervisor_management_system",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_management_system_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("shares", sa.Text(), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.Column("single_replica", sa.Boolean(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=True),
        sa.Column("hypervisor_free_space", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datastores")),
    )
    with op.batch_alter_table("datastores", schema=None) as batch_op:
        batch_op.create_index("ix_datastores_name", ["name", "id"], unique=False)
        batch_op.create_index(
            "ix_datastores_omnistack_cluster_id", ["omnistack_cluster_id", "id"], unique=False
        )
        batch_op.create_index("ix_datastores_policy_id", ["policy_id", "id"], unique=False)

    op.create_table(
        "external_stores",
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column(
            "management_ip", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("management_port", sa.BigInteger(), nullable=True),
        sa.Column("storage_port", sa.BigInteger(), nullable=True),
        sa.Column(
            "omnistack_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_external_stores")),
    )
    with op.batch_alter_table("external_stores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_external_stores_omnistack_cluster_id", ["omnistack_cluster_id", "name"], unique=False
        )

    op.create_table(
        "host_hardware",
        sa.Column(
            "host_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name=op.f("pk_host_hardware")),
    )
    op.create_table(
        "hosts",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("state", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("model", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("version", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column(
            "omnistack_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "management_ip", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "management_mask", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "management_mtu", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "storage_ip", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "storage_mask", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "storage_mtu", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "federation_ip", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "federation_mask", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "federation_mtu", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "virtual_controller_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_management_system",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_management_system_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("policy_enabled", sa.Boolean(), nullable=True),
        sa.Column("current_feature_level", sa.BigInteger(), nullable=True),
        sa.Column("potential_feature_level", sa.BigInteger(), nullable=True),
        sa.Column("cluster_feature_level", sa.BigInteger(), nullable=True),
        sa.Column(
            "upgrade_state", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("can_rollback", sa.Boolean(), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.Column(
            "availability_zone_effective",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "availability_zone_planned",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "date",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("allocated_capacity", sa.BigInteger(), nullable=True),
        sa.Column("capacity_savings", sa.BigInteger(), nullable=True),
        sa.Column("free_space", sa.BigInteger(), nullable=True),
        sa.Column("local_backup_capacity", sa.BigInteger(), nullable=True),
        sa.Column("remote_backup_capacity", sa.BigInteger(), nullable=True),
        sa.Column("stored_compressed_data", sa.BigInteger(), nullable=True),
        sa.Column("stored_uncompressed_data", sa.BigInteger(), nullable=True),
        sa.Column("stored_virtual_machine_data", sa.BigInteger(), nullable=True),
        sa.Column("used_capacity", sa.BigInteger(), nullable=True),
        sa.Column("used_logical_capacity", sa.BigInteger(), nullable=True),
        sa.Column("compression_ratio", sa.Float(), nullable=True),
        sa.Column("deduplication_ratio", sa.Float(), nullable=True),
        sa.Column("efficiency_ratio", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
    )
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.create_index("ix_hosts_name", ["name", "id"], unique=False)
        batch_op.create_index("ix_hosts_omnistack_cluster_id", ["omnistack_cluster_id", "id"], unique=False)

    op.create_table(
        "login_failures",
        sa.Column(
            "username", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_failures")),
    )
    op.create_table(
        "omnistack_clusters",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("members", sa.Text(), nullable=True),
        sa.Column("version", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column(
            "hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_object_parent_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_object_parent_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_management_system",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_management_system_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "arbiter_address", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("arbiter_connected", sa.Boolean(), nullable=True),
        sa.Column("arbiter_required", sa.Boolean(), nullable=True),
        sa.Column("arbiter_configured", sa.Boolean(), nullable=True),
        sa.Column("cluster_feature_level", sa.BigInteger(), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.Column("infosight_configuration", sa.Text(), nullable=True),
        sa.Column("iwo_enabled", sa.Boolean(), nullable=True),
        sa.Column("iwo_active", sa.Boolean(), nullable=True),
        sa.Column(
            "time_zone", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "upgrade_state", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "upgrade_task_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("allocated_capacity", sa.BigInteger(), nullable=True),
        sa.Column("capacity_savings", sa.BigInteger(), nullable=True),
        sa.Column("free_space", sa.BigInteger(), nullable=True),
        sa.Column("local_backup_capacity", sa.BigInteger(), nullable=True),
        sa.Column("remote_backup_capacity", sa.BigInteger(), nullable=True),
        sa.Column("stored_compressed_data", sa.BigInteger(), nullable=True),
        sa.Column("stored_uncompressed_data", sa.BigInteger(), nullable=True),
        sa.Column("stored_virtual_machine_data", sa.BigInteger(), nullable=True),
        sa.Column("used_capacity", sa.BigInteger(), nullable=True),
        sa.Column("used_logical_capacity", sa.BigInteger(), nullable=True),
        sa.Column("compression_ratio", sa.Float(), nullable=True),
        sa.Column("deduplication_ratio", sa.Float(), nullable=True),
        sa.Column("efficiency_ratio", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_omnistack_clusters")),
    )
    with op.batch_alter_table("omnistack_clusters", schema=None) as batch_op:
        batch_op.create_index("ix_omnistack_clusters_name", ["name", "id"], unique=False)

    op.create_table(
        "policies",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("rules", sa.Text(), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.Column(
            "owner_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "owner_cluster_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index("ix_policies_name", ["name", "id"], unique=False)

    op.create_table(
        "role_assignments",
        sa.Column("role", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_role_assignments")),
    )
    op.create_table(
        "server_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_server_state")),
    )
    op.create_table(
        "standard_hosts",
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column(
            "ip_address", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column(
            "hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "omnistack_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_standard_hosts")),
    )
    with op.batch_alter_table("standard_hosts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_standard_hosts_omnistack_cluster_id"), ["omnistack_cluster_id"], unique=False
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("percent_complete", sa.Integer(), nullable=False),
        sa.Column(
            "start_time",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "end_time",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("affected_objects", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_table(
        "tokens",
        sa.Column("access_token", sa.String(length=36), nullable=False),
        sa.Column(
            "username", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("grant_type", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("access_token", name=op.f("pk_tokens")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_username"), ["username"], unique=False)

    op.create_table(
        "users",
        sa.Column(
            "username", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    op.create_table(
        "virtual_machines",
        sa.Column("id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=False),
        sa.Column("name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column("state", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column(
            "created_at",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "deleted_at",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "omnistack_cluster_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "omnistack_cluster_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "datastore_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "datastore_name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "policy_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "policy_name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("host_id", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True),
        sa.Column(
            "host_name", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_type", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "hypervisor_management_system",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_management_system_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_hypervisor_object_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "compute_cluster_parent_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "app_aware_vm_status",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("replica_set", sa.Text(), nullable=True),
        sa.Column("cluster_group_ids", sa.Text(), nullable=True),
        sa.Column(
            "ha_status", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column("ha_resynchronization_progress", sa.BigInteger(), nullable=True),
        sa.Column(
            "hypervisor_virtual_machine_power_state",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("hypervisor_is_template", sa.Boolean(), nullable=True),
        sa.Column("hypervisor_allocated_capacity", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_free_space", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_cpu_count", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_total_memory", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_virtual_disk_count", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_allocated_cpu", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_consumed_cpu", sa.BigInteger(), nullable=True),
        sa.Column("hypervisor_consumed_memory", sa.BigInteger(), nullable=True),
        sa.Column(
            "hypervisor_folder_name",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_instance_id",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "hypervisor_uuid", sa.String().with_variant(sa.String(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "hypervisor_managed_by",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("network_interfaces", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_machines")),
    )
    with op.batch_alter_table("virtual_machines", schema=None) as batch_op:
        batch_op.create_index("ix_virtual_machines_datastore_id", ["datastore_id", "id"], unique=False)
        batch_op.create_index("ix_virtual_machines_host_id", ["host_id", "id"], unique=False)
        batch_op.create_index("ix_virtual_machines_name", ["name", "id"], unique=False)
        batch_op.create_index(
            "ix_virtual_machines_omnistack_cluster_id", ["omnistack_cluster_id", "id"], unique=False
        )
        batch_op.create_index("ix_virtual_machines_policy_id", ["policy_id", "id"], unique=False)
        batch_op.create_index("ix_virtual_machines_state", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("virtual_machines", schema=None) as batch_op:
        batch_op.drop_index("ix_virtual_machines_state")
        batch_op.drop_index("ix_virtual_machines_policy_id")
        batch_op.drop_index("ix_virtual_machines_omnistack_cluster_id")
        batch_op.drop_index("ix_virtual_machines_name")
        batch_op.drop_index("ix_virtual_machines_host_id")
        batch_op.drop_index("ix_virtual_machines_datastore_id")

    op.drop_table("virtual_machines")
    op.drop_table("users")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_username"))

    op.drop_table("tokens")
    op.drop_table("tasks")
    with op.batch_alter_table("standard_hosts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_standard_hosts_omnistack_cluster_id"))

    op.drop_table("standard_hosts")
    op.drop_table("server_state")
    op.drop_table("role_assignments")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index("ix_policies_name")

    op.drop_table("policies")
    with op.batch_alter_table("omnistack_clusters", schema=None) as batch_op:
        batch_op.drop_index("ix_omnistack_clusters_name")

    op.drop_table("omnistack_clusters")
    op.drop_table("login_failures")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_index("ix_hosts_omnistack_cluster_id")
        batch_op.drop_index("ix_hosts_name")

    op.drop_table("hosts")
    op.drop_table("host_hardware")
    with op.batch_alter_table("external_stores", schema=None) as batch_op:
        batch_op.drop_index("ix_external_stores_omnistack_cluster_id")

    op.drop_table("external_stores")
    with op.batch_alter_table("datastores", schema=None) as batch_op:
        batch_op.drop_index("ix_datastores_policy_id")
        batch_op.drop_index("ix_datastores_omnistack_cluster_id")
        batch_op.drop_index("ix_datastores_name")

    op.drop_table("datastores")
    with op.batch_alter_table("cluster_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_cluster_groups_name")

    op.drop_table("cluster_groups")
    op.drop_table("certificates")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_index("ix_backups_vm_name_created")
        batch_op.drop_index("ix_backups_virtual_machine_id")
        batch_op.drop_index("ix_backups_state")
        batch_op.drop_index("ix_backups_omnistack_cluster_id")
        batch_op.drop_index("ix_backups_name")
        batch_op.drop_index("ix_backups_expiration_time")
        batch_op.drop_index("ix_backups_datastore_id")
        batch_op.drop_index("ix_backups_created_at")

    op.drop_table("backups")
