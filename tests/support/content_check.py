"""Brute-force recomputation of every data figure of a federation's rows from the stored content."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, select

from openovc.domain.figures import cluster_capacity
from openovc.simulator.content.ledger import MemoryLedger
from openovc.storage import tables
from openovc.storage.content_store import SqlPieceLedger
from tests.support.content_ops import Mirror
from tests.support.inprocess import Env
from tests.support.invariants import snapshot

Row = Mapping[str, Any]

CAPACITY = (
    "allocated_capacity", "capacity_savings", "free_space", "local_backup_capacity", "remote_backup_capacity",
    "stored_compressed_data", "stored_uncompressed_data", "stored_virtual_machine_data", "used_capacity",
    "used_logical_capacity", "compression_ratio", "deduplication_ratio", "efficiency_ratio",
)  # fmt: skip


def mirror_of_memory(ledger: MemoryLedger) -> Mirror:
    """Every holder's whole slot map, from a ledger built in memory."""
    mirror = Mirror()
    for holder in ledger.holders.values():
        lineage = ledger.lineages[holder.lineage]
        mirror.put(holder.id, holder.place, holder.kind, lineage.slot_map(holder.version))
    return mirror


def mirror_of_store(engine: Engine) -> Mirror:
    """Every holder's whole slot map, read from the content tables."""
    mirror = Mirror()
    with engine.connect() as conn:
        ledger = SqlPieceLedger(conn)
        t = tables.content_holders
        for row in conn.execute(select(t)).all():
            lineage = ledger.lineage(row.lineage_id)
            assert lineage is not None, row
            mirror.put(row.holder_id, row.place, row.kind, lineage.slot_map(row.version))
    return mirror


def _same(shown: object, want: object) -> bool:
    """A figure as stored (a float ratio) or as the API renders it ("N.N : 1")."""
    if isinstance(shown, str) and isinstance(want, float):
        return shown == f"{want:.1f} : 1"
    return shown == want


def _used(vm: Row) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def mismatches(
    mirror: Mirror,
    rows: Mapping[str, Sequence[Row]],
    *,
    unique_sizes: bool = True,
) -> list[str]:
    """Every figure of the rows that differs from its recomputation from the slot maps.

    `unique_sizes`: compare unique_size_bytes too (true right after generation or a measurement; the
    real system keeps the figure it last measured otherwise).
    """
    found: list[str] = []
    # Persistent volumes hold data as VMs do (their backups too).
    vms = {str(v["id"]): v for v in (*rows["virtual_machines"], *rows.get("persistent_volumes", ()))}
    alive = [v for v in vms.values() if v["state"] == "ALIVE"]
    held = set(mirror.maps)
    expected = {str(v["id"]) for v in alive} | {
        str(b["id"]) for b in rows["backups"] if b["state"] != "CANCELED"
    }
    if held != expected:
        found.append(f"holders {sorted(held ^ expected)} differ between the rows and the content")
        return found
    for vm in alive:
        if _used(vm) != mirror.size(str(vm["id"])):
            found.append(f"VM {vm['name']} uses {_used(vm)} != {mirror.size(str(vm['id']))}")
    for backup in rows["backups"]:
        key = str(backup["id"])
        if key not in held:
            continue
        if backup["size"] != mirror.size(key):
            found.append(f"backup {key} size {backup['size']} != {mirror.size(key)}")
        if unique_sizes and backup["unique_size_bytes"] != mirror.unique_size(key):
            found.append(f"backup {key} unique {backup['unique_size_bytes']} != {mirror.unique_size(key)}")
        place = backup["external_store_name"] or backup["omnistack_cluster_id"]
        if mirror.place[key] != place:
            found.append(f"backup {key} is kept at {place} but its content at {mirror.place[key]}")
    for ds in rows["datastores"]:
        used = sum(mirror.size(str(v["id"])) for v in alive if v["datastore_id"] == ds["id"])
        if ds["hypervisor_free_space"] != int(ds["size"]) - used:
            found.append(f"datastore {ds['name']} free {ds['hypervisor_free_space']} != size - {used}")
    hosts = {str(h["id"]): h for h in rows["hosts"]}
    for cluster in rows["omnistack_clusters"]:
        members = [str(h) for h in cluster["members"]]
        allocated = [int(hosts[h]["allocated_capacity"]) for h in members]
        want, want_hosts = cluster_capacity(mirror.totals(str(cluster["id"])), members, allocated)
        for name in CAPACITY:
            if not _same(cluster[name], want[name]):
                found.append(f"cluster {cluster['name']} {name} {cluster[name]} != {want[name]}")
        for host_id, fields in zip(members, want_hosts, strict=True):
            for name in CAPACITY:
                if not _same(hosts[host_id][name], fields[name]):
                    found.append(
                        f"host {hosts[host_id]['name']} {name} {hosts[host_id][name]} != {fields[name]}"
                    )
    return found


def checked_snapshot(
    env: Env, headers: dict[str, str], *, unique_sizes: bool = False
) -> dict[str, list[Any]]:
    """Every collection as the API shows it, after asserting each figure equals the stored pieces'."""

    def fetch(path: str, params: dict[str, str]) -> Any:
        resp = env.client.get(path, headers=headers, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    rows = snapshot(fetch)
    assert mismatches(mirror_of_store(env.runtime.storage.engine), rows, unique_sizes=unique_sizes) == []
    return rows
