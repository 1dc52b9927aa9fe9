"""The backup history: policy backups from the rules' schedules and backups taken by hand, as rows."""

from __future__ import annotations

import bisect
from datetime import datetime

from openovc.domain.backups import source_type
from openovc.simulator.generator.backup_schedule import HISTORY, bounds, fit_retentions, schedule_of
from openovc.simulator.generator.records import DAY, STORE_TYPE, Cluster, Draft, Schedule, Store, Vm

MANUAL_SHARE = 0.08  # of a generated history, the share taken by hand
MiB = 1024**2


def _trim(counts: list[int], excess: int) -> None:
    """Take `excess` backups off the VMs that keep the most (their oldest go first)."""
    order = sorted(range(len(counts)), key=lambda i: -counts[i])
    while excess > 0:
        for i in order:
            if excess == 0:
                return
            if counts[i]:
                counts[i] -= 1
                excess -= 1


def draw_backups(draft: Draft) -> None:
    """Policy history from the rules' schedules, hand-made backups, and their capacity."""
    total = draft.plan.backups_total
    cache: dict[tuple[object, ...], list[int]] = {}
    if total and draft.vms:
        fit_retentions(draft, total - round(total * MANUAL_SHARE), cache)
    schedules: dict[tuple[str, int], Schedule] = {}
    for vm in draft.vms:
        key = (vm.policy.id, vm.cluster.index)
        if key not in schedules:
            schedules[key] = schedule_of(draft, vm.policy, vm.cluster, cache)
    manual: list[tuple[Vm, str | None, bool]] = []  # VM, destination kind or None, locked
    counts: list[int] = []
    for vm in draft.vms:
        lo, hi = bounds(draft, vm)
        times = schedules[(vm.policy.id, vm.cluster.index)].times
        available = max(0, bisect.bisect_left(times, hi) - bisect.bisect_left(times, lo))
        if total is None:
            wanted = vm.plan.backups or 0
            counts.append(min(wanted, available))
            manual.extend((vm, None, False) for _ in range(wanted - counts[-1]))
        else:
            counts.append(available)
    if total is not None:
        _trim(counts, sum(counts) - total)
        manual = _manual_choices(draft, total - sum(counts))
    rows = draft.fed.rows["backups"]
    for vm, count in zip(draft.vms, counts, strict=True):
        if count:
            _policy_backups(draft, vm, schedules[(vm.policy.id, vm.cluster.index)], count, rows)
    policy_rows = len(rows)
    for vm, kind, locked in manual:
        _manual_backup(draft, vm, kind, locked, rows)
    if policy_rows:
        # Someone always locked one backup to keep it: it never expires.
        locked_row = rows[draft.rng.randrange(policy_rows)]
        locked_row["expiration_time"] = None


def _manual_choices(draft: Draft, count: int) -> list[tuple[Vm, str | None, bool]]:
    """Who backs up by hand: every deleted VM once (its backups outlive it), then anyone."""
    if count <= 0:
        return []
    eligible = [vm for vm in draft.vms if not vm.plan.template] or list(draft.vms)
    if not eligible:
        raise ValueError(f"cannot keep {count} backups in a federation without VMs")
    chosen: list[tuple[Vm, str | None, bool]] = []
    chosen.extend((vm, "local", False) for vm in eligible if vm.deleted is not None)
    del chosen[count:]
    # One of each kind first, so even a small history shows locked, remote and StoreOnce copies.
    alive = [vm for vm in eligible if vm.deleted is None] or eligible
    wanted_kinds: list[tuple[str, bool]] = [("local", True)]
    if len(draft.clusters) > 1:
        wanted_kinds.append(("remote", False))
    for kind, locked in wanted_kinds:
        if len(chosen) < count:
            chosen.append((draft.rng.choice(alive), kind, locked))
    with_store = [vm for vm in alive if any(s.cluster is vm.cluster for s in draft.stores.values())]
    if with_store and len(chosen) < count:
        chosen.append((draft.rng.choice(with_store), "external", False))
    while len(chosen) < count:
        chosen.append((draft.rng.choice(eligible), None, False))
    return chosen


def _base(
    draft: Draft, vm: Vm, target: Cluster | Store | None, kind: str, consistency: str
) -> dict[str, object]:
    """Everything a backup of this VM kept at `target` shares with its siblings, in field order."""
    cluster = vm.cluster
    if isinstance(target, Store):
        holder_id, holder_name, store_name = "", "", target.plan.name
        associated, store_type = target.cluster.id, STORE_TYPE
    else:
        holder = target or cluster
        holder_id, holder_name, store_name = holder.id, holder.name, ""
        associated, store_type = holder.id, "SimplivityStore"
    return {
        "id": "",
        "name": "",
        "state": "PROTECTED",
        "type": kind,
        "created_at": "",
        "expiration_time": None,
        "size": 0,
        "sent": 0,
        "application_consistent": consistency != "NONE",
        "consistency_type": consistency,
        "virtual_machine_id": vm.id,
        "virtual_machine_name": vm.plan.name,
        "virtual_machine_state": "DELETED" if vm.deleted is not None else "ALIVE",
        "virtual_machine_type": source_type(vm.plan.template, vm.plan.persistent_volume),
        "omnistack_cluster_id": holder_id,
        "omnistack_cluster_name": holder_name,
        "datastore_id": vm.ds.id,
        "datastore_name": vm.ds.plan.name,
        "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
        "compute_cluster_parent_name": cluster.dc_name,
        "hypervisor_type": "VSPHERE",
        "unique_size_bytes": 0,
        "unique_size_timestamp": None,
        "sent_completion_time": None,
        "sent_duration": 0,
        "cluster_group_ids": _target_groups(draft, vm, target),
        "external_store_name": store_name,
        "associated_cluster": associated,
        "backup_store_type": store_type,
    }


def _target_groups(draft: Draft, vm: Vm, target: Cluster | Store | None) -> list[str]:
    """Groups of the cluster holding a backup; for a StoreOnce copy, of the store's cluster."""
    holder = target.cluster if isinstance(target, Store) else (target or vm.cluster)
    return draft.groups_of(holder)


def _place_of(vm: Vm, target: Cluster | Store | None) -> str:
    """Where a backup's content is kept: a cluster's id, or an external store's name."""
    if isinstance(target, Store):
        return target.plan.name
    return (target or vm.cluster).id


def _policy_backups(draft: Draft, vm: Vm, sched: Schedule, count: int, rows: list[dict[str, object]]) -> None:
    _, hi = bounds(draft, vm)
    end = bisect.bisect_left(sched.times, hi)
    start = end - count
    bases = [_base(draft, vm, r.target, "POLICY", r.consistency) for r in sched.rules]
    places = [_place_of(vm, r.target) for r in sched.rules]
    groups = [_target_groups(draft, vm, r.target) for r in sched.rules]
    bandwidth = draft.rng.randint(40, 160) * MiB
    history = draft.history.setdefault(vm.index, [])
    time_ordered = draft.ids.time_ordered
    times, positions, texts = sched.times, sched.positions, sched.texts
    for j in range(start, end):
        r = positions[j]
        created, name, expires = texts[j]
        row = {
            **bases[r],
            "id": time_ordered(times[j]),
            "name": name,
            "created_at": created,
            "expiration_time": expires,
            "unique_size_timestamp": created,
            "cluster_group_ids": groups[r][:],
        }
        rows.append(row)
        history.append((times[j], row, places[r], bandwidth))


def _manual_target(draft: Draft, vm: Vm, kind: str | None) -> Cluster | Store | None:
    rng = draft.rng
    if kind is None:
        roll = rng.random()
        kind = "remote" if roll < 0.12 else "external" if roll < 0.18 else "local"
    if kind == "remote":
        others = [c for c in draft.clusters.values() if c is not vm.cluster]
        return rng.choice(others) if others else None
    if kind == "external":
        stores = [s for s in draft.stores.values() if s.cluster is vm.cluster]
        return rng.choice(stores) if stores else None
    return None


def _manual_backup(
    draft: Draft, vm: Vm, kind: str | None, locked: bool, rows: list[dict[str, object]]
) -> None:
    rng = draft.rng
    lo, hi = bounds(draft, vm)
    lo = max(lo, draft.now_ts - HISTORY)
    ts = rng.randrange(lo, hi - 60) if hi - 60 > lo else hi - 60
    target = _manual_target(draft, vm, kind)
    consistency = "DEFAULT" if vm.power == "ON" and rng.random() < 0.5 else "NONE"
    row = _base(draft, vm, target, "MANUAL", consistency)
    if not locked and rng.random() < 0.04:
        locked = True
    retention = 0 if locked else rng.choice([d * DAY for d in (7, 30, 90) if ts + d * DAY > draft.now_ts])
    created = draft.text(ts)
    local = datetime.fromtimestamp(ts, vm.cluster.tz).isoformat()
    row.update(
        id=draft.ids.time_ordered(ts),
        name=f"{vm.plan.name}-backup-{local}",
        created_at=created,
        expiration_time=draft.text(ts + retention) if retention else None,
        unique_size_timestamp=created,
    )
    rows.append(row)
    bandwidth = rng.randint(40, 160) * MiB if target is not None else 0
    draft.history.setdefault(vm.index, []).append((ts, row, _place_of(vm, target), bandwidth))
