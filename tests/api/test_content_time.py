"""VM content changes with the clock while the VM runs: backups diverge, and the worker's chore moves the
figures of VMs nobody touches; every figure stays equal to the brute force over the stored pieces."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from openovc.app import chores
from openovc.simulator.content.pieces import piece_compressed
from openovc.simulator.content.workload import PIECE
from openovc.storage.content_store import SqlPieceLedger
from tests.support.content_check import checked_snapshot, mirror_of_store
from tests.support.content_ops import Mirror
from tests.support.inprocess import Env, pick_vm
from tests.support.tasks import completed

Row = dict[str, Any]


def _check(env: Env) -> dict[str, list[Row]]:
    # A new token: the clock may have moved past the last one's idle time.
    return checked_snapshot(env, env.headers())


def _one(env: Env, method: str, path: str, body: Any = None, version: str = "1.8") -> str:
    (made,) = completed(env, method, path, env.headers(), body, version=version)
    return str(made["object_id"])


def _backup(env: Env, vm_id: str, name: str, cluster: str | None = None) -> Row:
    body = {"backup_name": name, **({"destination_id": cluster} if cluster else {})}
    backup_id = _one(env, "POST", f"/api/virtual_machines/{vm_id}/backup", body)
    found: Row = env.client.get(f"/api/backups/{backup_id}", headers=env.headers()).json()["backup"]
    return found


def _lacked(mirror: Mirror, backup_id: str) -> int:
    """Compressed bytes of a backup's pieces nothing else at its place holds (what it had to send)."""
    place = mirror.place[backup_id]
    others = [set(mirror.maps[h]) for h, p in mirror.place.items() if p == place and h != backup_id]
    return sum(piece_compressed(p) for p in set(mirror.maps[backup_id]).difference(*others))


def _versions(env: Env) -> dict[str, int]:
    with env.runtime.storage.engine.connect() as conn:
        ledger = SqlPieceLedger(conn)
        vms = env.federation.rows["virtual_machines"]
        return {str(v["id"]): ledger.holder(str(v["id"])).version for v in vms if v["state"] == "ALIVE"}  # type: ignore[union-attr]


def _rate(env: Env, vm_id: str) -> float:
    with env.runtime.storage.engine.connect() as conn:
        ledger = SqlPieceLedger(conn)
        return ledger.lineage(ledger.holder(vm_id).lineage).rate  # type: ignore[union-attr]


def _run_chores(env: Env) -> int:
    """The worker's chores, turn after turn, until a turn changes nothing (as an idle worker would)."""
    run, turns = chores(env.runtime), 0
    while run():
        turns += 1
    return turns


def test_a_backup_taken_later_holds_what_the_workload_wrote(own_env: Env) -> None:
    env = own_env
    vm = pick_vm(env, "ON")
    other = next(
        c["id"] for c in env.federation.rows["omnistack_clusters"] if c["id"] != vm["omnistack_cluster_id"]
    )
    first = _backup(env, vm["id"], "now")
    far = _backup(env, vm["id"], "far-now", other)
    env.clock.advance(timedelta(days=1))
    later = _backup(env, vm["id"], "a-day-later")
    far_later = _backup(env, vm["id"], "far-a-day-later", other)
    _check(env)
    mirror = mirror_of_store(env.runtime.storage.engine)
    assert mirror.maps[later["id"]] != mirror.maps[first["id"]]
    assert later["size"] == mirror.size(later["id"])
    # At home the VM still holds all of it; at the other cluster what changed is this backup's alone.
    assert later["unique_size_bytes"] == mirror.unique_size(later["id"]) == 0
    assert far_later["unique_size_bytes"] == mirror.unique_size(far_later["id"]) > 0
    # Sent is measured when the backup arrives: what the other cluster lacked then.
    assert far["sent"] > 0
    assert far_later["sent"] == _lacked(mirror, far_later["id"]) > 0
    assert far_later["sent"] < far["sent"]  # the data that did not change was there already
    # Once the VM has moved on, measuring again finds what only the backup holds now.
    env.clock.advance(timedelta(days=1))
    _backup(env, vm["id"], "two-days-later")
    _one(env, "POST", f"/api/backups/{later['id']}/calculate_unique_size")
    measured = env.client.get(f"/api/backups/{later['id']}", headers=env.headers()).json()["backup"]
    assert measured["unique_size_bytes"] == mirror_of_store(env.runtime.storage.engine).unique_size(
        later["id"]
    )
    # Unique sizes stay the snapshot taken when each was made, until measured again.
    shown = env.client.get(f"/api/backups/{first['id']}", headers=env.headers()).json()["backup"]
    assert shown["unique_size_bytes"] == first["unique_size_bytes"]


def test_the_workload_writes_a_piece_per_interval_at_the_generators_rate(own_env: Env) -> None:
    env = own_env
    vm = pick_vm(env, "ON")
    rate = _rate(env, vm["id"])
    interval_ms = PIECE * 1000 / rate
    before = _versions(env)[vm["id"]]
    env.clock.advance(timedelta(hours=30))
    _backup(env, vm["id"], "thirty-hours-later")
    # The first step was due one interval after the federation was made, then one each interval.
    due = math.floor((30 * 3600 * 1000 - math.ceil(interval_ms)) / interval_ms) + 1
    assert due > 0
    assert _versions(env)[vm["id"]] == before + due


def test_the_chore_moves_the_figures_of_running_vms_nobody_touches(own_env: Env) -> None:
    env = own_env
    start = _check(env)
    versions = _versions(env)
    env.clock.advance(timedelta(hours=12))
    assert _run_chores(env) > 0
    after = _check(env)
    moved = _versions(env)
    vms = {v["id"]: v for v in start["virtual_machines"] if v["state"] == "ALIVE"}
    running = {i for i, v in vms.items() if v["hypervisor_virtual_machine_power_state"] == "ON"}
    assert {i for i in vms if moved[i] != versions[i]} <= running
    assert any(moved[i] > versions[i] for i in running)
    for i, v in vms.items():
        if v["hypervisor_virtual_machine_power_state"] == "OFF":
            assert moved[i] == versions[i], v["name"]
    changed = {c["id"] for c in running_clusters(start, running)}
    for before, now in zip(start["omnistack_clusters"], after["omnistack_clusters"], strict=True):
        if before["id"] in changed:
            assert now["stored_uncompressed_data"] != before["stored_uncompressed_data"], now["name"]
    hosts_before = {h["id"]: h["used_capacity"] for h in start["hosts"]}
    assert any(h["used_capacity"] != hosts_before[h["id"]] for h in after["hosts"])
    # Nothing more is due until the clock moves again.
    assert _run_chores(env) == 0


def running_clusters(rows: dict[str, list[Row]], running: set[str]) -> list[Row]:
    homes = {v["omnistack_cluster_id"] for v in rows["virtual_machines"] if v["id"] in running}
    return [c for c in rows["omnistack_clusters"] if c["id"] in homes]


def test_a_powered_off_vm_does_not_change_until_powered_on(own_env: Env) -> None:
    env = own_env
    vm = pick_vm(env, "OFF")
    first = _backup(env, vm["id"], "off")
    env.clock.advance(timedelta(days=2))
    _run_chores(env)
    second = _backup(env, vm["id"], "still-off")
    mirror = mirror_of_store(env.runtime.storage.engine)
    assert mirror.maps[second["id"]] == mirror.maps[first["id"]]
    assert second["unique_size_bytes"] == 0  # the first one holds the same content
    _one(env, "POST", f"/api/virtual_machines/{vm['id']}/power_on", version="1.14")
    env.clock.advance(timedelta(days=1))
    _one(
        env, "POST", f"/api/virtual_machines/{vm['id']}/power_off", version="1.14"
    )  # what it wrote until now stays
    rows = _check(env)
    off_again = _versions(env)[vm["id"]]
    mirror = mirror_of_store(env.runtime.storage.engine)
    assert mirror.maps[vm["id"]] != mirror.maps[second["id"]]
    shown = next(v for v in rows["virtual_machines"] if v["id"] == vm["id"])
    assert int(shown["hypervisor_allocated_capacity"]) - int(shown["hypervisor_free_space"]) == mirror.size(
        vm["id"]
    )
    env.clock.advance(timedelta(days=1))
    _run_chores(env)
    assert _versions(env)[vm["id"]] == off_again


def test_a_vm_restored_over_comes_back_off_and_its_workload_stops(own_env: Env) -> None:
    env = own_env
    vm = pick_vm(env, "ON")
    backup = _backup(env, vm["id"], "to-restore")
    _one(env, "POST", f"/api/backups/{backup['id']}/restore?restore_original=true", {})
    restored = _versions(env)[vm["id"]]
    env.clock.advance(timedelta(days=1))
    _run_chores(env)
    _check(env)
    assert _versions(env)[vm["id"]] == restored
