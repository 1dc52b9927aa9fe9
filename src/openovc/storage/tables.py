"""Table definitions: one table per collection, built from the domain catalog, plus the server's own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.types import TypeEngine

from openovc.domain import catalog
from openovc.domain.fields import Collection, Kind
from openovc.storage import change_feed

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Sorting must be byte-wise (digits < upper < lower) on both engines, as on the real one;
# PostgreSQL's default collation would interleave cases.
TEXT = String().with_variant(String(collation="C"), "postgresql")
TIME = String(20).with_variant(String(20, collation="C"), "postgresql")

_TYPES: dict[Kind, TypeEngine[Any]] = {
    Kind.STR: TEXT,
    Kind.ENUM: TEXT,
    Kind.TIME: TIME,
    Kind.INT: BigInteger(),
    Kind.BOOL: Boolean(),
    Kind.RATIO: Float(),
    Kind.JSON: Text(),
}


# PostgreSQL: tables whose rows operations rewrite (capacity figures, reference counts, a moved VM's
# backups) leave room on each page, so that an update of unindexed columns stays on its page and
# touches no index (a heap-only tuple). A bulk-loaded page is otherwise full, and every such update
# then writes a new entry into each of the table's indexes. A move rewrites every backup of its VM (their
# virtual_machine_state), and backups are stored in the order they were taken, many VMs' to a page: only
# half-full pages hold the new versions of their rows.
FILLFACTOR: dict[str, int] = {
    "backups": 50,
    **dict.fromkeys(
        ("datastores", "hosts", "omnistack_clusters",
         "content_held", "content_segments", "content_shared", "content_totals"),
        80,
    ),
}  # fmt: skip


def _storage(name: str) -> dict[str, Any]:
    return {"postgresql_with": {"fillfactor": FILLFACTOR[name]}} if name in FILLFACTOR else {}


def _collection_table(coll: Collection[Any]) -> Table:
    columns = [
        Column(f.name, _TYPES[f.kind], primary_key=(f.name == coll.key), nullable=(f.name != coll.key))
        for f in coll.fields
    ]
    table = Table(coll.plural, metadata, *columns, **_storage(coll.plural))
    key = table.c[coll.key]
    for f in coll.fields:
        if f.index:
            # (field, key) so that a sort on the field with its tie-break walks the index.
            Index(f"ix_{coll.plural}_{f.name}", table.c[f.name], key)
    for name in coll.insensitive_sort:
        Index(f"ix_{coll.plural}_lower_{name}", func.lower(table.c[name]), key)
    return table


COLLECTION_TABLES: dict[str, Table] = {c.plural: _collection_table(c) for c in catalog.ALL}
COLLECTION_TABLES[catalog.CERTIFICATES.plural] = _collection_table(catalog.CERTIFICATES)

# Lists of VMs are filtered to ALIVE by default and sorted by name: one index serves both.
vms = COLLECTION_TABLES["virtual_machines"]
Index("ix_virtual_machines_state_name", vms.c.state, vms.c.name, vms.c.id)
# The policy schedule reads the VMs of one policy on one cluster at each of its rules' slots.
Index("ix_virtual_machines_policy_cluster", vms.c.policy_id, vms.c.omnistack_cluster_id, vms.c.id)
# So are lists of persistent volumes.
pvs = COLLECTION_TABLES["persistent_volumes"]
Index("ix_persistent_volumes_state_name", pvs.c.state, pvs.c.name, pvs.c.id)

backups = COLLECTION_TABLES["backups"]
Index("ix_backups_vm_name_created", backups.c.virtual_machine_name, backups.c.created_at, backups.c.id)

users = Table(
    "users",
    metadata,
    Column("username", TEXT, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The vCenter SSO groups the user belongs to: role assignments give roles to groups.
    Column("groups", Text, nullable=False, server_default="[]"),
)

# Login attempts per (username, source): each is counted before its password check (domain.lockout).
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("username", TEXT, primary_key=True),
    Column("source", TEXT, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("first_at", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
    # Whether the username was a user's: records of made-up ones are bounded, per source and in all.
    Column("known", Boolean, nullable=False),
    Index("ix_login_attempts_source_known", "source", "known"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("access_token", String(36), primary_key=True),
    Column("username", TEXT, nullable=False, index=True),
    Column("grant_type", String(16), nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("percent_complete", Integer, nullable=False, default=0),
    Column("start_time", TIME, nullable=False),
    Column("end_time", TIME, nullable=True),
    Column("error_code", Integer, nullable=False, default=0),
    Column("message", Text, nullable=True),
    Column("affected_objects", Text, nullable=False, default="[]"),
    # The engine's own columns: what to run, in which order, when, and who runs it.
    Column("operation", String(64), nullable=False, server_default=""),
    Column("payload", Text, nullable=False, server_default="{}"),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("owner", String(64), nullable=True),
    Column("created_ms", BigInteger, nullable=False, server_default="0"),
    Column("not_before_ms", BigInteger, nullable=False, server_default="0"),
    Column("duration_ms", BigInteger, nullable=False, server_default="0"),
    Column("polls_left", Integer, nullable=False, server_default="0"),
)
Index("ix_tasks_state_seq", tasks.c.state, tasks.c.seq)
# The task listing (GET /_openovc/tasks): newest first, or since an instant.
Index("ix_tasks_created_seq", tasks.c.created_ms, tasks.c.seq)

# Objects a task works on: a task waits while an earlier unfinished task holds one of them.
task_locks = Table(
    "task_locks",
    metadata,
    Column("task_id", String(120), primary_key=True),
    Column("object_id", TEXT, primary_key=True),
)
Index("ix_task_locks_object_id", task_locks.c.object_id)

# Live server processes: a RUNNING task whose owner stopped beating is failed by the others.
server_instances = Table(
    "server_instances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_ms", BigInteger, nullable=False),
    Column("heartbeat_ms", BigInteger, nullable=False),
)

host_hardware = Table(
    "host_hardware",
    metadata,
    Column("host_id", TEXT, primary_key=True),
    Column("document", Text, nullable=False),
)

standard_hosts = Table(
    "standard_hosts",
    metadata,
    Column("name", TEXT, primary_key=True),
    Column("ip_address", TEXT, nullable=False),
    Column("hypervisor_object_id", TEXT, nullable=False),
    Column("omnistack_cluster_id", TEXT, nullable=False, index=True),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("role", TEXT, primary_key=True),
    Column("groups", Text, nullable=False),
)

settings_kv = Table(
    "server_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# ---- state some operations keep beyond the catalog's columns (see domain/ports/operations.py) ----

# A Virtual Controller shutdown accepted and not cancelled: the host shows FAULTY while it lasts.
host_shutdowns = Table(
    "host_shutdowns",
    metadata,
    Column("host_id", TEXT, primary_key=True),
    Column("status", String(32), nullable=False),
    Column("ha_wait", Boolean, nullable=False),
    Column("requested_ms", BigInteger, nullable=False),
)

# A host that failed (services/hardware.py): FAULTY until repaired; what its VMs wrote since, it resyncs.
host_faults = Table(
    "host_faults",
    metadata,
    Column("host_id", TEXT, primary_key=True),
    Column("since_ms", BigInteger, nullable=False),
)

# A VM's replica on a host that came back, catching up until done_ms (the VM shows SYNCING meanwhile).
vm_resyncs = Table(
    "vm_resyncs",
    metadata,
    Column("vm_id", TEXT, primary_key=True),
    Column("host_id", TEXT, primary_key=True),
    Column("began_ms", BigInteger, nullable=False),
    Column("done_ms", BigInteger, nullable=False),
    Column("changed", BigInteger, nullable=False),
)

# A new drive in a degraded array rebuilding from parity until done_ms (services/hardware.py).
drive_rebuilds = Table(
    "drive_rebuilds",
    metadata,
    Column("host_id", TEXT, primary_key=True),
    Column("slot", TEXT, primary_key=True),
    Column("began_ms", BigInteger, nullable=False),
    Column("done_ms", BigInteger, nullable=False),
)

# The client account used to reach an external store; the password only as a hash.
external_store_credentials = Table(
    "external_store_credentials",
    metadata,
    Column("name", TEXT, primary_key=True),
    Column("username", TEXT, nullable=False),
    Column("password_hash", Text, nullable=False),
)

# A VM's backup parameters, and the guest account the guest accepted last; passwords only as hashes.
vm_guest_credentials = Table(
    "vm_guest_credentials",
    metadata,
    Column("vm_id", TEXT, primary_key=True),
    Column("username", TEXT, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("app_aware_type", String(32), nullable=True),
    Column("override_validation", Boolean, nullable=False),
    Column("account_username", TEXT, nullable=True),
    Column("account_password_hash", Text, nullable=True),
)

# What the simulator knows of a VM's guest that its row may not show (domain/ports/operations.GuestFacts).
guest_facts = Table(
    "guest_facts",
    metadata,
    Column("vm_id", TEXT, primary_key=True),
    Column("os_family", String(16), nullable=True),
    Column("tools_status", String(32), nullable=True),
)

# Files restore_files wrote into a VM's guest (domain/guest_files.RestoredFile), oldest first by seq.
restored_files = Table(
    "restored_files",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("vm_id", TEXT, nullable=False, index=True),
    Column("disk_index", Integer, nullable=False),
    Column("partition_number", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("directory", Boolean, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("last_modified", BigInteger, nullable=False),
    Column("restored_at", BigInteger, nullable=False),
    Column("undone_at", BigInteger, nullable=True),
)

# ---- the content model (simulator/content/ledger.py): what each place stores, without a row per piece ----
# Arrays are little-endian blobs; ids are 63-bit, so they fit BigInteger on both engines.

# A VM's content history: its layout (JSON), the pieces it inherited, and its log of rewritten slots.
content_lineages = Table(
    "content_lineages",
    metadata,
    Column("lineage_id", BigInteger, primary_key=True, autoincrement=False),
    Column("layout", Text, nullable=False),
    Column("inherited", LargeBinary, nullable=False),
    Column("starts", LargeBinary, nullable=False),
    Column("slots", LargeBinary, nullable=False),
    Column("prevs", LargeBinary, nullable=False),
    Column("pieces", LargeBinary, nullable=False),
    Column("logical", LargeBinary, nullable=False),
    Column("forked", Boolean, nullable=False),
    Column("rate", Float, nullable=False, server_default="0"),  # its workload's bytes per second
)

# Each VM and backup: where its content is kept (a cluster id or an external store's name), and which.
content_holders = Table(
    "content_holders",
    metadata,
    Column("holder_id", TEXT, primary_key=True),
    Column("place", TEXT, nullable=False),
    Column("lineage_id", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("due_at", BigInteger, nullable=True),  # a running VM's next workload step (epoch ms)
)
Index("ix_content_holders_due_at", content_holders.c.due_at)

# The versions of a lineage held at a place, with their multiplicities.
content_held = Table(
    "content_held",
    metadata,
    Column("place", TEXT, primary_key=True),
    Column("lineage_id", BigInteger, primary_key=True, autoincrement=False),
    Column("versions", LargeBinary, nullable=False),
    Column("counts", LargeBinary, nullable=False),
    **_storage("content_held"),
)

# A segment at a place: how many lineages there hold it, and per offset how many of them mask it.
content_segments = Table(
    "content_segments",
    metadata,
    Column("place", TEXT, primary_key=True),
    Column("seed", BigInteger, primary_key=True, autoincrement=False),
    Column("holders", BigInteger, nullable=False),
    Column("masks", LargeBinary, nullable=False),
    **_storage("content_segments"),
)

# Pieces that lineages other than their writer reference at a place (after clones and restores).
content_shared = Table(
    "content_shared",
    metadata,
    Column("place", TEXT, primary_key=True),
    Column("piece", BigInteger, primary_key=True, autoincrement=False),
    Column("entry", BigInteger, nullable=False),
    **_storage("content_shared"),
)

# What a place stores (distinct pieces) and the logical bytes its holders hold.
content_totals = Table(
    "content_totals",
    metadata,
    Column("place", TEXT, primary_key=True),
    Column("uncompressed", BigInteger, nullable=False),
    Column("compressed", BigInteger, nullable=False),
    Column("pieces", BigInteger, nullable=False),
    Column("vm_logical", BigInteger, nullable=False),
    Column("local_logical", BigInteger, nullable=False),
    Column("remote_logical", BigInteger, nullable=False),
    **_storage("content_totals"),
)

# ---- the policy schedule's progress (services/schedule.py) ----------------------------------------------

# Per rule and cluster (the cluster's time zone places the rule's slots): the slots up to `through_ms`
# have fired. Servers move a mark by compare-and-set, so only one fires a slot.
schedule_marks = Table(
    "schedule_marks",
    metadata,
    Column("rule_id", TEXT, primary_key=True),
    Column("cluster_id", TEXT, primary_key=True),
    Column("through_ms", BigInteger, nullable=False),
)

# Each slot that fired for a VM, and the backup it took: the key makes a second firing impossible, and
# its order lets a rule's expired slots go in one range.
schedule_slots = Table(
    "schedule_slots",
    metadata,
    Column("rule_id", TEXT, primary_key=True),
    Column("slot_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("vm_id", TEXT, primary_key=True),
    Column("backup_id", TEXT, nullable=False),
)

# ---- the past of the figures ---------------------------------------------------------------------------

# Each host's capacity fields (JSON) as they were from `at_ms` on, until its next point: a point is written
# when they change (one per 5-second sample), and older points are thinned as the real one keeps samples.
capacity_history = Table(
    "capacity_history",
    metadata,
    Column("host_id", TEXT, primary_key=True),
    Column("at_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("fields", Text, nullable=False),
)

# Each VM's power changes (on after `at_ms`, or off): its metrics' past follows them.
power_history = Table(
    "power_history",
    metadata,
    Column("vm_id", TEXT, primary_key=True),
    Column("at_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("powered_on", Boolean, nullable=False),
)

# The IO of backups, copies, clones and restores on hosts (and VMs): bytes spread over [start_ms, end_ms).
# `step_ms` 0 as it happened; rolled-up rows are sums per bucket of that length (more than one row may
# hold a bucket: readers sum them).
io_history = Table(
    "io_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", TEXT, nullable=False),
    Column("host_id", TEXT, nullable=False),
    Column("vm_id", TEXT, nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("step_ms", BigInteger, nullable=False),
    Column("read_bytes", BigInteger, nullable=False),
    Column("write_bytes", BigInteger, nullable=False),
)
Index("ix_io_history_host_end", io_history.c.host_id, io_history.c.end_ms)
Index("ix_io_history_vm_end", io_history.c.vm_id, io_history.c.end_ms)
Index("ix_io_history_source", io_history.c.source)

# Fault rules (/_openovc/faults), oldest first by `position`; `seen` and `fired` are claimed atomically by
# every process, and `limit_count` (the rule's count, None: no limit) bounds `fired`.
fault_rules = Table(
    "fault_rules",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("rule", Text, nullable=False),
    Column("seen", BigInteger, nullable=False),
    Column("fired", BigInteger, nullable=False),
    Column("limit_count", BigInteger, nullable=True),
)

# Snapshots of the federation (/_openovc/snapshots): each the snapshot file itself (storage/snapshot_file.py)
# and its summary (JSON) for listing. `kind` "saved" for the named ones, "initial" for the federation as
# init or the first start loaded it, which /_openovc/reset goes back to.
snapshots = Table(
    "snapshots",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("name", TEXT, primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
)

# The VMs' change feed, filled by triggers on SQLite (storage/change_feed.py), read by storage/lean_reads.py.
vm_changes = change_feed.declare(metadata, "virtual_machines")
