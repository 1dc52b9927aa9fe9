"""Backup operations through HTTP tasks: back up a VM (local, remote, external store), the life of a
paced backup, cancel, copy, delete (one and many), lock, rename, set_retention, expiry,
calculate_unique_size, restore (new VM and original) and restore_files, with every refusal's exact body.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.domain.catalog import BACKUPS
from openovc.domain.fields import Filter, Op
from openovc.domain.tasks import parse_pacing
from openovc.domain.timefmt import from_text, to_text
from openovc.operations.worker import Worker
from openovc.services import backups
from openovc.simulator import backup_data as data
from openovc.simulator import guests
from openovc.simulator.content.pieces import piece_compressed
from openovc.simulator.guest_files import LINUX
from openovc.storage.operations_store import SqlOperationsStore
from tests.support.content_check import mirror_of_store
from tests.support.content_ops import Mirror
from tests.support.databases import BACKENDS, database_url
from tests.support.errors import PKG, TASK_EXCEPTION, TS
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, START, Env, make_env
from tests.support.invariants import problems, snapshot
from tests.support.tasks import completed, failed, media

Row = dict[str, Any]
MiB = 1024**2
NOT_FOUND = PKG + "ObjectNotFoundException"
INVALID_BODY = PKG + "InvalidBodyException"
DESTINATION = "Invalid or unexpected destination specified."


# ---- the demo federation, as the tests find their way in it ----------------------------------------


def _vms(env: Env, **wanted: object) -> list[Row]:
    return [
        v for v in env.federation.rows["virtual_machines"]
        if v["state"] == "ALIVE" and not v["hypervisor_is_template"]
        and all(v[k] == w for k, w in wanted.items())
    ]  # fmt: skip


def _cluster(env: Env, cluster_id: str) -> Row:
    return next(c for c in env.federation.rows["omnistack_clusters"] if c["id"] == cluster_id)


def _other_cluster(env: Env, vm: Row) -> Row:
    return next(c for c in env.federation.rows["omnistack_clusters"] if c["id"] != vm["omnistack_cluster_id"])


def _store(env: Env) -> Row:
    store: Row = env.federation.rows["external_stores"][0]
    return store


def _generated(env: Env, vm: Row, *, cluster_id: str = "", store: str = "") -> list[Row]:
    """The VM's generated backups kept at one place, oldest first."""
    return sorted(
        (b for b in env.federation.rows["backups"] if b["virtual_machine_id"] == vm["id"]
         and b["omnistack_cluster_id"] == cluster_id and b["external_store_name"] == store),
        key=lambda b: str(b["created_at"]),
    )  # fmt: skip


def _backed_up(env: Env, **wanted: object) -> list[tuple[Row, list[Row]]]:
    """Live VMs matching `wanted` with backups kept in their own cluster, and those backups, oldest first."""
    found = [(vm, _generated(env, vm, cluster_id=vm["omnistack_cluster_id"])) for vm in _vms(env, **wanted)]
    return [(vm, kept) for vm, kept in found if kept]


def _used(vm: Row) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def _seconds(later: str, earlier: str) -> float:
    return (from_text(later) - from_text(earlier)).total_seconds()


# ---- HTTP ---------------------------------------------------------------------------------------------


def _get(env: Env, h: dict[str, str], path: str, **params: str) -> Any:
    resp = env.client.get(path, headers=h, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _backup(env: Env, h: dict[str, str], backup_id: str) -> Row:
    found: Row = _get(env, h, f"/api/backups/{backup_id}")["backup"]
    return found


def _vm(env: Env, h: dict[str, str], vm_id: str) -> Row:
    found: Row = _get(env, h, f"/api/virtual_machines/{vm_id}")["virtual_machine"]
    return found


def _free(env: Env, h: dict[str, str], ds_id: str) -> int:
    return int(_get(env, h, f"/api/datastores/{ds_id}")["datastore"]["hypervisor_free_space"])


def _take(env: Env, h: dict[str, str], vm: Row, body: Row) -> Row:
    """Back up a VM through HTTP; the new backup as GET shows it."""
    (made,) = completed(env, "POST", f"/api/virtual_machines/{vm['id']}/backup", h, body)
    assert made["object_type"] == "backup"
    return _backup(env, h, made["object_id"])


def _post(env: Env, h: dict[str, str], path: str, body: Any = None, version: str = "1.8") -> Any:
    return env.client.post(path, headers={**h, **media(version)}, json=body)


def _settle(env: Env) -> int:
    """What the worker does each turn."""
    store = SqlOperationsStore(env.runtime.storage.engine)
    settled = backups.settle(env.runtime.reader, store, env.runtime.simulator, env.runtime.clock.now())
    return settled.expired + settled.progressed


def _paced(env: Env, *operations: str) -> None:
    """Realistic timing for these operations (a duration pacing; zero here, so tasks still end at once)."""
    for operation in operations:
        env.runtime.tasks.pacing.by_operation[operation] = parse_pacing("duration:0")


def _later(env: Env, delta: timedelta) -> dict[str, str]:
    """Move the clock on; the headers of a new login (an idle token expires after ten minutes)."""
    env.clock.advance(delta)
    return env.headers()


def _now(env: Env) -> dict[str, str]:
    """An error body's timestamp once the clock has moved."""
    return {"timestamp": to_text(env.clock.now())}


def _mirror(env: Env) -> Mirror:
    """Every VM's and backup's slot map, read from the stored content (the brute force)."""
    return mirror_of_store(env.runtime.storage.engine)


def _lacked(before: Mirror, after: Mirror, holder_id: str, place: str) -> int:
    """Compressed bytes of a new holder's pieces that its place did not store before: what it sent."""
    stored = set().union(*(before.maps[h] for h, p in before.place.items() if p == place))
    return sum(piece_compressed(p) for p in set(after.maps[holder_id]) - stored)


def _sql(env: Env, statement: str, *args: object) -> None:
    with env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(statement, args)


# ---- back up a VM -------------------------------------------------------------------------------------


def test_a_local_backup_is_kept_in_the_vms_cluster(own_env: Env) -> None:
    h = own_env.headers()
    vm = _vms(own_env, hypervisor_virtual_machine_power_state="ON")[0]
    cluster = _cluster(own_env, vm["omnistack_cluster_id"])
    backup = _take(own_env, h, vm, {"backup_name": "manual-1", "retention": 60, "consistency_type": None})
    mirror = _mirror(own_env)
    assert backup == {
        "id": backup["id"], "name": "manual-1", "state": "PROTECTED", "type": "MANUAL", "created_at": TS,
        "expiration_time": "2026-11-20T13:00:00Z", "size": _used(vm), "sent": 0,
        "application_consistent": False, "consistency_type": "NONE",
        "virtual_machine_id": vm["id"], "virtual_machine_name": vm["name"], "virtual_machine_state": "ALIVE",
        "virtual_machine_type": "VM", "omnistack_cluster_id": cluster["id"], "omnistack_cluster_name": cluster["name"],
        "datastore_id": vm["datastore_id"], "datastore_name": vm["datastore_name"],
        "compute_cluster_parent_hypervisor_object_id": vm["compute_cluster_parent_hypervisor_object_id"],
        "compute_cluster_parent_name": vm["compute_cluster_parent_name"], "hypervisor_type": "VSPHERE",
        "unique_size_bytes": mirror.unique_size(backup["id"]),
        "unique_size_timestamp": TS, "sent_completion_time": "NA", "sent_duration": 0,
        "cluster_group_ids": cluster["cluster_group_ids"], "external_store_name": "",
        "associated_cluster": cluster["id"], "backup_store_type": "SimplivityStore",
    }  # fmt: skip
    # The VM has not changed since: the backup holds its very content, nothing of its own.
    assert (mirror.size(backup["id"]), mirror.maps[backup["id"]]) == (_used(vm), mirror.maps[vm["id"]])
    assert backup["unique_size_bytes"] == 0
    listed = _get(own_env, h, f"/api/virtual_machines/{vm['id']}/backups", name="manual-1")
    assert (listed["count"], listed["backups"]) == (1, [backup])
    found = _get(own_env, h, "/api/backups", type="MANUAL", virtual_machine_name=vm["name"], name="manual-*",
                 expires_before="2026-11-20T13:00:00Z", sent_max="0")  # fmt: skip
    assert [b["id"] for b in found["backups"]] == [backup["id"]]


def test_retention_zero_keeps_a_backup_forever(own_env: Env) -> None:
    h = own_env.headers()
    vm = _vms(own_env)[1]
    backup = _take(own_env, h, vm, {"backup_name": "keep", "retention": 0, "app_consistent": True})
    assert (backup["expiration_time"], backup["consistency_type"], backup["application_consistent"]) == (
        "NA", "DEFAULT", True,
    )  # fmt: skip
    assert _take(own_env, h, vm, {"backup_name": "keep-too"})["expiration_time"] == "NA"


def test_a_remote_backup_sends_all_its_data_first_then_the_changes(own_env: Env) -> None:
    h = own_env.headers()
    vm = next(
        v for v in _vms(own_env) if not _generated(own_env, v, cluster_id=_other_cluster(own_env, v)["id"])
    )
    remote = _other_cluster(own_env, vm)
    size = _used(vm)
    before = _mirror(own_env)
    first = _take(own_env, h, vm, {"backup_name": "offsite", "destination_id": remote["id"]})
    after = _mirror(own_env)
    sent = _lacked(before, after, first["id"], remote["id"])
    assert 0 < sent < size
    duration = data.send_seconds(sent, remote["id"])
    done = START + timedelta(seconds=data.take_seconds(size, "NONE") + duration)
    assert {k: first[k] for k in ("state", "omnistack_cluster_id", "omnistack_cluster_name", "associated_cluster",
                                  "unique_size_bytes", "sent", "sent_duration", "sent_completion_time")} == {
        "state": "PROTECTED", "omnistack_cluster_id": remote["id"], "omnistack_cluster_name": remote["name"],
        "associated_cluster": remote["id"], "unique_size_bytes": after.unique_size(first["id"]), "sent": sent,
        "sent_duration": duration, "sent_completion_time": to_text(done),
    }  # fmt: skip
    assert first["cluster_group_ids"] == remote["cluster_group_ids"]
    h = _later(own_env, timedelta(hours=6))
    second = _take(own_env, h, vm, {"backup_name": "offsite-2", "destination_id": remote["id"]})
    # Nothing changed in the VM since: the remote cluster had every piece, and both hold the same.
    assert (second["unique_size_bytes"], second["sent"]) == (0, 0)
    assert _mirror(own_env).maps[second["id"]] == after.maps[first["id"]]
    # Naming the VM's own cluster is a local backup.
    local = _take(own_env, h, vm, {"backup_name": "home", "destination_id": vm["omnistack_cluster_id"]})
    assert (local["omnistack_cluster_id"], local["sent"], local["sent_completion_time"]) == (
        vm["omnistack_cluster_id"], 0, "NA",
    )  # fmt: skip


def _hit_and_miss(backup: Row, flt: Filter) -> tuple[str, str | None]:
    """A value of the filter that matches the backup, and one that does not (None: none to make)."""
    value = backup[flt.field]
    if flt.op is Op.CLUSTER_GROUP:
        return backup["cluster_group_ids"][0], "no-such-group"
    if flt.op is Op.BOOL:
        return str(value).lower(), str(not value).lower()
    if flt.op in (Op.MIN, Op.MAX):
        return str(value), str(value + 1 if flt.op is Op.MIN else value - 1)
    if flt.op in (Op.AFTER, Op.BEFORE):
        step = timedelta(seconds=1 if flt.op is Op.AFTER else -1)
        return value, to_text(from_text(value) + step)
    field = BACKUPS.field(flt.field)
    assert field is not None
    other = next((e for e in field.enum if e != value), None) if field.enum else "no-such-value"
    return str(value), other


def test_every_backup_filter_finds_a_new_backup(own_env: Env) -> None:
    h = own_env.headers()
    vm = _vms(own_env, hypervisor_virtual_machine_power_state="ON")[0]
    remote = _other_cluster(own_env, vm)
    backup = _take(own_env, h, vm, {"backup_name": "filtered", "destination_id": remote["id"], "retention": 600,
                                    "app_consistent": True})  # fmt: skip
    for flt in BACKUPS.filters:
        if flt.field == "external_store_name":
            continue  # "" for a cluster's backup, and an empty value means no filter
        hit, miss = _hit_and_miss(backup, flt)
        found = _get(own_env, h, "/api/backups", **{"name": "filtered", flt.param: hit})
        assert [b["id"] for b in found["backups"]] == [backup["id"]], flt.param
        if miss is not None:
            assert _get(own_env, h, "/api/backups", **{"name": "filtered", flt.param: miss})["count"] == 0, (
                flt.param
            )


def test_an_external_store_backup(own_env: Env) -> None:
    h = own_env.headers()
    store = _store(own_env)
    vm = _vms(own_env, omnistack_cluster_id=store["omnistack_cluster_id"])[0]
    before = _mirror(own_env)
    backup = _take(own_env, h, vm, {"backup_name": "to-storeonce", "external_store_name": store["name"],
                                    "destination_id": ""})  # fmt: skip
    assert {k: backup[k] for k in ("omnistack_cluster_id", "omnistack_cluster_name", "external_store_name",
                                   "associated_cluster", "backup_store_type", "cluster_group_ids")} == {
        "omnistack_cluster_id": "", "omnistack_cluster_name": "", "external_store_name": store["name"],
        "associated_cluster": store["omnistack_cluster_id"], "backup_store_type": "StoreOnceOnPrem",
        "cluster_group_ids": store["cluster_group_ids"],
    }  # fmt: skip
    assert backup["sent"] == _lacked(before, _mirror(own_env), backup["id"], store["name"])
    assert backup["sent_duration"] >= 1
    found = _get(own_env, h, "/api/backups", external_store_name="StoreOnce-*", backup_store_type="StoreOnceOnPrem",
                 name="to-storeonce")  # fmt: skip
    assert found["count"] == 1
    # A StoreOnce takes backups only from the cluster it is registered with.
    elsewhere = next(v for v in _vms(own_env) if v["omnistack_cluster_id"] != store["omnistack_cluster_id"])
    path = f"/api/virtual_machines/{elsewhere['id']}/backup"
    resp = _post(own_env, h, path, {"backup_name": "x", "external_store_name": store["name"]})
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, DESTINATION, code="142"))


def test_application_consistent_backups_need_what_the_guest_needs(own_env: Env) -> None:
    h = own_env.headers()
    ready = _vms(own_env, app_aware_vm_status="VALID_CREDS", hypervisor_virtual_machine_power_state="ON")[0]
    vss = _take(own_env, h, ready, {"backup_name": "vss", "consistency_type": "VSS"})
    assert (vss["consistency_type"], vss["application_consistent"]) == ("VSS", True)
    # No accepted guest credentials, or a stopped guest: VSS fails and the backup is crash-consistent.
    capable = _vms(own_env, app_aware_vm_status="CAPABLE")[0]
    off = _vms(own_env, hypervisor_virtual_machine_power_state="OFF")[0]
    for vm in (capable, off):
        taken = _take(
            own_env, h, vm, {"backup_name": "vss", "consistency_type": "VSS", "app_consistent": True}
        )
        assert (taken["consistency_type"], taken["application_consistent"]) == ("FAILEDVSS", False)
    default = _take(
        own_env, h, off, {"backup_name": "snap", "app_consistent": True, "consistency_type": "DEFAULT"}
    )
    assert (default["consistency_type"], default["application_consistent"]) == ("DEFAULT", True)


@pytest.mark.parametrize(
    ("body", "status", "exception", "message"),
    [
        ({"backup_name": ""}, 400, INVALID_BODY, "Invalid body: The backup name must not be empty."),
        ({"backup_name": "a\\b"}, 400, INVALID_BODY,
         "Invalid body: The backup name contains characters that are not allowed: '\\\\'."),
        ({"backup_name": "x" * 129}, 400, INVALID_BODY, "Invalid body: The backup name must be at most 128 characters long."),
        ({}, 400, INVALID_BODY, "Invalid body: backup_name: Field required"),
        ({"backup_name": "b", "retention": -1}, 400, INVALID_BODY,
         "Invalid body: retention: Input should be greater than or equal to 0"),
        ({"backup_name": "b", "retention": True}, 400, INVALID_BODY, "Invalid body: retention: Input should be a valid integer"),
        ({"backup_name": "b", "destination_id": "nope"}, 404, NOT_FOUND,
         "Object type: omnistack_cluster id: nope could not be found"),
        ({"backup_name": "b", "external_store_name": "nope"}, 404, NOT_FOUND,
         "Object type: external_store id: nope could not be found"),
    ],
)  # fmt: skip
def test_backup_refusals(
    env: Env, admin: dict[str, str], body: Row, status: int, exception: str, message: str
) -> None:
    vm = _vms(env)[0]
    path = f"/api/virtual_machines/{vm['id']}/backup"
    count = _get(env, admin, "/api/backups", limit="1")["count"]
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status))
    assert _get(env, admin, "/api/backups", limit="1")["count"] == count


def test_backup_refusals_of_the_vm_and_the_destination(env: Env, admin: dict[str, str]) -> None:
    vm = _vms(env)[0]
    path = "/api/virtual_machines/nope/backup"
    resp = _post(env, admin, path, {"backup_name": "b"})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: virtual_machine id: nope could not be found", 404),
    )  # fmt: skip
    deleted = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "DELETED")
    path = f"/api/virtual_machines/{deleted['id']}/backup"
    resp = _post(env, admin, path, {"backup_name": "b"})
    message = f"The virtual machine {deleted['name']} is DELETED."
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, message, code="60"))
    path = f"/api/virtual_machines/{vm['id']}/backup"
    both = {
        "backup_name": "b",
        "destination_id": vm["omnistack_cluster_id"],
        "external_store_name": "StoreOnce-01",
    }
    resp = _post(env, admin, path, both)
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, DESTINATION, code="142"))
    resp = env.client.post(
        path, headers={**admin, "Content-Type": "application/json"}, json={"backup_name": "b"}
    )
    assert resp.status_code == 415
    reader = env.headers(READER)
    assert _post(env, reader, path, {"backup_name": "b"}).status_code == 403


# ---- the life of a paced backup ----------------------------------------------------------------------


def test_a_paced_remote_backup_is_new_then_saving_then_protected(own_env: Env) -> None:
    h = own_env.headers()
    _paced(own_env, "virtual_machine.backup")
    vm = _vms(own_env)[2]
    remote = _other_cluster(own_env, vm)
    backup = _take(own_env, h, vm, {"backup_name": "paced", "destination_id": remote["id"]})
    # `sent` says from the start what it sends: the pieces the remote cluster lacked.
    assert (backup["state"], backup["sent_duration"], backup["sent_completion_time"]) == ("NEW", 0, "NA")
    plan = data.transfer(backup["size"], backup["sent"], "NONE", remote["id"])
    assert plan.send >= 1 and plan.sent == backup["sent"] > 0
    assert _settle(own_env) == 0  # nothing has moved yet
    h = _later(own_env, timedelta(seconds=1))
    assert _settle(own_env) == 1
    assert _backup(own_env, h, backup["id"])["state"] == "SAVING"
    assert [b["id"] for b in _get(own_env, h, "/api/backups", state="SAVING")["backups"]] == [backup["id"]]
    h = _later(own_env, timedelta(seconds=plan.total - 2))
    _settle(own_env)
    assert _backup(own_env, h, backup["id"])["state"] == "SAVING"
    h = _later(own_env, timedelta(seconds=1))
    assert _settle(own_env) >= 1
    done = _backup(own_env, h, backup["id"])
    assert {k: done[k] for k in ("state", "sent", "sent_duration", "sent_completion_time")} == {
        "state": "PROTECTED", "sent": plan.sent, "sent_duration": plan.send,
        "sent_completion_time": to_text(START + timedelta(seconds=plan.total)),
    }  # fmt: skip
    assert {**done, "state": "x"} == {**backup, "state": "x", "sent": plan.sent, "sent_duration": plan.send,
                                      "sent_completion_time": done["sent_completion_time"]}  # fmt: skip


def test_the_worker_runs_the_backup_chores(own_env: Env) -> None:
    ran = threading.Event()
    worker = Worker(own_env.runtime.tasks, alone=True, chores=ran.set)
    worker.start()
    try:
        assert ran.wait(30)
    finally:
        worker.stop()
    store = SqlOperationsStore(own_env.runtime.storage.engine)
    chore = backups.housekeeping(own_env.runtime.reader, store, own_env.runtime.simulator, own_env.clock)
    own_env.clock.advance(timedelta(hours=2))
    assert chore() > 0  # the generated backups expiring within two hours


# ---- cancel -------------------------------------------------------------------------------------------


def test_cancel_stops_a_backup_while_it_is_sent(own_env: Env) -> None:
    h = own_env.headers()
    _paced(own_env, "virtual_machine.backup")
    # A VM never sent to the other cluster: all its own data is on the wire, long enough to cancel.
    vm = next(
        v for v in _vms(own_env) if not _generated(own_env, v, cluster_id=_other_cluster(own_env, v)["id"])
    )
    remote = _other_cluster(own_env, vm)
    backup = _take(own_env, h, vm, {"backup_name": "to-cancel", "destination_id": remote["id"]})
    plan = data.transfer(backup["size"], backup["sent"], "NONE", remote["id"])
    assert backup["id"] in _mirror(own_env).maps
    h = _later(own_env, timedelta(seconds=plan.take + plan.send // 2))
    assert completed(own_env, "POST", f"/api/backups/{backup['id']}/cancel", h, None) == [
        {"object_id": backup["id"], "object_type": "backup"}
    ]
    canceled = _backup(own_env, h, backup["id"])
    sent, seconds = data.sent_so_far(plan, plan.take + plan.send // 2)
    assert seconds == plan.send // 2 and 0 <= sent < plan.sent
    assert (canceled["state"], canceled["sent"], canceled["sent_duration"]) == ("CANCELED", sent, seconds)
    assert canceled["sent_completion_time"] == (to_text(own_env.clock.now()) if sent else "NA")
    assert backup["id"] not in _mirror(own_env).maps, "a canceled backup holds nothing"
    h = _later(own_env, timedelta(hours=1))
    _settle(own_env)
    assert _backup(own_env, h, backup["id"])["state"] == "CANCELED"  # a canceled backup stays canceled
    path = f"/api/backups/{backup['id']}/cancel"
    resp = _post(own_env, h, path)
    message = "Backup to-cancel is CANCELED: only a backup being taken or sent can be canceled."
    assert (resp.status_code, resp.json()) == (
        400,
        _error(path, TASK_EXCEPTION, message, code="60") | _now(own_env),
    )


def test_cancel_refuses_a_finished_backup(own_env: Env) -> None:
    h = own_env.headers()
    finished = own_env.federation.rows["backups"][0]
    path = f"/api/backups/{finished['id']}/cancel"
    resp = own_env.client.post(path, headers=h)  # no body, no Content-Type: as PowerShell sends it
    message = f"Backup {finished['name']} is PROTECTED: only a backup being taken or sent can be canceled."
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, message, code="60"))
    # A backup that finishes between the request and the task's run: the task fails.
    _paced(own_env, "virtual_machine.backup")
    backup = _take(own_env, h, _vms(own_env)[0], {"backup_name": "quick"})
    resp = _post(own_env, h, f"/api/backups/{backup['id']}/cancel")
    assert resp.status_code == 202
    h = _later(own_env, timedelta(minutes=5))
    task = _get(own_env, h, f"/api/tasks/{resp.json()['task']['id']}")["task"]
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 60, "Backup quick is PROTECTED: only a backup being taken or sent can be canceled.",
    )  # fmt: skip
    assert _backup(own_env, h, backup["id"])["state"] == "NEW"  # the failed task changed nothing
    _settle(own_env)
    assert _backup(own_env, h, backup["id"])["state"] == "PROTECTED"


# ---- copy ---------------------------------------------------------------------------------------------


def test_copy_to_another_cluster_and_to_a_store(own_env: Env) -> None:
    h = own_env.headers()
    store = _store(own_env)
    vm, kept = _backed_up(own_env, omnistack_cluster_id=store["omnistack_cluster_id"])[1]
    source = kept[-1]
    remote = _other_cluster(own_env, vm)
    h = _later(own_env, timedelta(minutes=1))
    before = _mirror(own_env)
    (made,) = completed(
        own_env, "POST", f"/api/backups/{source['id']}/copy", h, {"destination_id": remote["id"]}
    )
    copy = _backup(own_env, h, made["object_id"])
    after = _mirror(own_env)
    assert made["object_type"] == "backup" and copy["id"] != source["id"]
    same = ("name", "type", "created_at", "expiration_time", "size", "consistency_type", "virtual_machine_id",
            "datastore_id")  # fmt: skip
    assert {k: copy[k] for k in same} == {k: source[k] for k in same}
    assert (copy["state"], copy["omnistack_cluster_id"], copy["unique_size_timestamp"]) == (
        "PROTECTED", remote["id"], to_text(own_env.clock.now()),
    )  # fmt: skip
    assert copy["sent"] == _lacked(before, after, copy["id"], remote["id"])
    assert copy["unique_size_bytes"] == after.unique_size(copy["id"])
    assert after.maps[copy["id"]] == after.maps[source["id"]]
    (made,) = completed(
        own_env, "POST", f"/api/backups/{source['id']}/copy", h, {"external_store_name": store["name"]}
    )
    stored = _backup(own_env, h, made["object_id"])
    assert (stored["external_store_name"], stored["omnistack_cluster_id"], stored["backup_store_type"]) == (
        store["name"], "", "StoreOnceOnPrem",
    )  # fmt: skip
    # The copy that is now in another cluster cannot go to this cluster's StoreOnce.
    path = f"/api/backups/{copy['id']}/copy"
    resp = _post(own_env, h, path, {"external_store_name": store["name"]})
    assert (resp.status_code, resp.json()) == (
        400,
        _error(path, TASK_EXCEPTION, DESTINATION, code="142") | _now(own_env),
    )


@pytest.mark.parametrize(
    ("body", "status", "exception", "message", "code"),
    [
        ({}, 400, INVALID_BODY,
         "Invalid body: Specify a destination_id or an external_store_name key/value to copy the backup.", None),
        ({"destination_id": "", "external_store_name": ""}, 400, INVALID_BODY,
         "Invalid body: Specify a destination_id or an external_store_name key/value to copy the backup.", None),
        ({"destination_id": "nope"}, 404, NOT_FOUND, "Object type: omnistack_cluster id: nope could not be found", None),
        ({"external_store_name": "nope"}, 404, NOT_FOUND, "Object type: external_store id: nope could not be found", None),
        ({"destination_id": "HOME"}, 400, TASK_EXCEPTION, DESTINATION, "142"),
        ({"destination_id": "HOME", "external_store_name": "StoreOnce-01"}, 400, TASK_EXCEPTION, DESTINATION, "142"),
    ],
)  # fmt: skip
def test_copy_refusals(
    env: Env, admin: dict[str, str], body: Row, status: int, exception: str, message: str, code: str | None
) -> None:
    source = next(b for b in env.federation.rows["backups"] if b["omnistack_cluster_id"])
    body = {k: (source["omnistack_cluster_id"] if v == "HOME" else v) for k, v in body.items()}
    path = f"/api/backups/{source['id']}/copy"
    count = _get(env, admin, "/api/backups", limit="1")["count"]
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status, code))
    assert _get(env, admin, "/api/backups", limit="1")["count"] == count
    path = "/api/backups/nope/copy"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: backup id: nope could not be found", 404),
    )  # fmt: skip


def test_a_backup_being_sent_cannot_be_copied_or_deleted(own_env: Env) -> None:
    h = own_env.headers()
    _paced(own_env, "virtual_machine.backup")
    vm = _vms(own_env)[0]
    backup = _take(
        own_env, h, vm, {"backup_name": "busy", "destination_id": _other_cluster(own_env, vm)["id"]}
    )
    path = f"/api/backups/{backup['id']}/copy"
    resp = _post(own_env, h, path, {"destination_id": vm["omnistack_cluster_id"]})
    message = "Backup busy is NEW: only a PROTECTED backup can be copied."
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, message, code="60"))
    h = _later(own_env, timedelta(seconds=1))
    path = f"/api/backups/{backup['id']}"
    resp = own_env.client.delete(path, headers=h)
    message = "Backup busy is SAVING: cancel it before deleting it."
    assert (resp.status_code, resp.json()) == (
        400,
        _error(path, TASK_EXCEPTION, message, code="60") | _now(own_env),
    )


# ---- delete -------------------------------------------------------------------------------------------


def test_delete_one_and_many(own_env: Env) -> None:
    h = own_env.headers()
    rows = own_env.federation.rows["backups"]
    total = _get(own_env, h, "/api/backups", limit="1")["count"]
    one = rows[0]
    resp = own_env.client.request("DELETE", f"/api/backups/{one['id']}", headers=h, json={})
    assert resp.status_code == 202
    task = _get(own_env, h, f"/api/tasks/{resp.json()['task']['id']}")["task"]
    assert (task["state"], task["affected_objects"]) == (
        "COMPLETED", [{"object_id": one["id"], "object_type": "backup"}],
    )  # fmt: skip
    assert own_env.client.get(f"/api/backups/{one['id']}", headers=h).status_code == 404
    ids = [rows[1]["id"], rows[2]["id"], rows[1]["id"]]
    affected = completed(own_env, "POST", "/api/backups/delete", h, {"backup_id": ids}, version="1.4")
    assert affected == [{"object_id": i, "object_type": "backup"} for i in ids[:2]]
    assert _get(own_env, h, "/api/backups", id=",".join(ids))["count"] == 0
    assert _get(own_env, h, "/api/backups", limit="1")["count"] == total - 3


@pytest.mark.parametrize(
    ("body", "status", "exception", "message"),
    [
        ({}, 400, INVALID_BODY, "Invalid body: Specify a backup_id key/value to delete backup instances."),
        ({"backup_id": []}, 400, INVALID_BODY, "Invalid body: Specify a backup_id key/value to delete backup instances."),
        ({"backup_id": "x"}, 400, INVALID_BODY, "Invalid body: backup_id: Input should be a valid list"),
        ({"backup_id": ["FIRST", "nope"]}, 404, NOT_FOUND, "Object type: backup id: nope could not be found"),
        ({"backup_id": ["FIRST"], "cluster_group_id": "nope"}, 404, NOT_FOUND,
         "Object type: cluster_group id: nope could not be found"),
    ],
)  # fmt: skip
def test_delete_many_refusals(
    env: Env, admin: dict[str, str], body: Row, status: int, exception: str, message: str
) -> None:
    first = env.federation.rows["backups"][0]["id"]
    if isinstance(body.get("backup_id"), list):
        body = {**body, "backup_id": [first if i == "FIRST" else i for i in body["backup_id"]]}
    path = "/api/backups/delete"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status))
    assert env.client.get(f"/api/backups/{first}", headers=admin).status_code == 200
    path = "/api/backups/nope"
    resp = env.client.delete(path, headers=admin)
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: backup id: nope could not be found", 404),
    )  # fmt: skip


def test_a_delete_task_fails_whole_when_one_backup_went_meanwhile(own_env: Env) -> None:
    h = own_env.headers()
    a, b = own_env.federation.rows["backups"][:2]
    resp = _post(own_env, h, "/api/backups/delete", {"backup_id": [a["id"], b["id"]]})
    assert resp.status_code == 202
    _sql(own_env, "DELETE FROM backups WHERE id = ?", b["id"])
    task = _get(own_env, h, f"/api/tasks/{resp.json()['task']['id']}")["task"]
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 20, f"Object type: backup id: {b['id']} could not be found",
    )  # fmt: skip
    assert _backup(own_env, h, a["id"])["id"] == a["id"]


# ---- lock, rename -------------------------------------------------------------------------------------


def test_a_locked_backup_never_expires(own_env: Env) -> None:
    h = own_env.headers()
    backup = min((b for b in own_env.federation.rows["backups"] if b["expiration_time"]),
                 key=lambda b: str(b["expiration_time"]))  # fmt: skip
    assert completed(own_env, "POST", f"/api/backups/{backup['id']}/lock", h, None) == [
        {"object_id": backup["id"], "object_type": "backup"}
    ]
    assert _backup(own_env, h, backup["id"])["expiration_time"] == "NA"
    h = _later(own_env, timedelta(days=400))
    _settle(own_env)
    assert _backup(own_env, h, backup["id"])["expiration_time"] == "NA"
    found = _get(own_env, h, "/api/backups", id=backup["id"], expires_after="2026-01-01T00:00:00Z")
    assert found["count"] == 0  # NA matches no expiration bound


def test_rename(own_env: Env) -> None:
    h = own_env.headers()
    backup = own_env.federation.rows["backups"][5]
    completed(own_env, "POST", f"/api/backups/{backup['id']}/rename", h, {"backup_name": "Before upgrade"})
    assert _backup(own_env, h, backup["id"])["name"] == "Before upgrade"
    path = f"/api/backups/{backup['id']}/rename"
    for body, message in [
        ({"backup_name": " padded"}, "Invalid body: The backup name must not begin or end with white space."),
        ({"backup_name": "x" * 129}, "Invalid body: The backup name must be at most 128 characters long."),
        ({}, "Invalid body: backup_name: Field required"),
    ]:
        resp = _post(own_env, h, path, body)
        assert (resp.status_code, resp.json()) == (400, _error(path, INVALID_BODY, message))
    assert _backup(own_env, h, backup["id"])["name"] == "Before upgrade"


# ---- set_retention and expiry -------------------------------------------------------------------------


def _two_of_a_vm(env: Env) -> list[Row]:
    vm = next(v for v in _vms(env) if len([b for b in env.federation.rows["backups"]
                                          if b["virtual_machine_id"] == v["id"] and b["expiration_time"]]) >= 2)  # fmt: skip
    found = [
        b
        for b in env.federation.rows["backups"]
        if b["virtual_machine_id"] == vm["id"] and b["expiration_time"]
    ]
    return sorted(found, key=lambda b: str(b["created_at"]))[:2]


def test_set_retention_extends_and_keeps_forever(own_env: Env) -> None:
    h = own_env.headers()
    pair = _two_of_a_vm(own_env)
    ids = [b["id"] for b in pair]
    affected = completed(own_env, "POST", "/api/backups/set_retention", h,
                         {"backup_id": ids, "retention": 60 * 24 * 400, "force": False})  # fmt: skip
    assert affected == [{"object_id": i, "object_type": "backup"} for i in ids]
    for b in pair:
        expected = to_text(from_text(b["created_at"]) + timedelta(days=400))
        assert _backup(own_env, h, b["id"])["expiration_time"] == expected
    completed(
        own_env,
        "POST",
        "/api/backups/set_retention",
        h,
        {"backup_id": ids[:1], "retention": 5, "forever": True},
    )
    assert _backup(own_env, h, ids[0])["expiration_time"] == "NA"


def test_set_retention_that_would_remove_backups_needs_force(own_env: Env) -> None:
    h = own_env.headers()
    pair = _two_of_a_vm(own_env)
    ids = [b["id"] for b in pair]
    before = [_backup(own_env, h, i) for i in ids]
    resp = _post(own_env, h, "/api/backups/set_retention", {"backup_id": ids, "retention": 1})
    # No task: the answer lists the backups that would expire at once, and nothing changes.
    assert (resp.status_code, resp.json()) == (200, {"backups": before})
    assert [_backup(own_env, h, i) for i in ids] == before
    affected = completed(own_env, "POST", "/api/backups/set_retention", h,
                         {"backup_id": ids, "retention": 1, "force": True})  # fmt: skip
    assert affected == [{"object_id": i, "object_type": "backup"} for i in ids]
    assert _get(own_env, h, "/api/backups", id=",".join(ids))["count"] == 0


@pytest.mark.parametrize(
    ("body", "status", "exception", "message"),
    [
        ({"backup_id": ["FIRST"]}, 400, INVALID_BODY, "Invalid body: retention: Field required"),
        ({"backup_id": ["FIRST"], "retention": -5}, 400, INVALID_BODY,
         "Invalid body: retention: Input should be greater than or equal to 0"),
        ({"backup_id": ["FIRST"], "retention": "ten"}, 400, INVALID_BODY,
         "Invalid body: retention: Input should be a valid integer, unable to parse string as an integer"),
        ({"backup_id": [], "retention": 5}, 400, INVALID_BODY,
         "Invalid body: Specify a backup_id key/value to set the retention of backup instances."),
        ({"backup_id": ["nope"], "retention": 5}, 404, NOT_FOUND, "Object type: backup id: nope could not be found"),
    ],
)  # fmt: skip
def test_set_retention_refusals(
    env: Env, admin: dict[str, str], body: Row, status: int, exception: str, message: str
) -> None:
    first = env.federation.rows["backups"][0]
    body = {**body, "backup_id": [first["id"] if i == "FIRST" else i for i in body["backup_id"]]}
    path = "/api/backups/set_retention"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status))
    assert _backup(env, admin, first["id"])["expiration_time"] == (first["expiration_time"] or "NA")


def test_backups_are_removed_when_they_expire(own_env: Env) -> None:
    h = own_env.headers()
    vm = _vms(own_env)[4]
    backup = _take(own_env, h, vm, {"backup_name": "short", "retention": 90})
    h = _later(own_env, timedelta(minutes=89, seconds=59))
    _settle(own_env)
    assert _backup(own_env, h, backup["id"])["name"] == "short"
    h = _later(own_env, timedelta(seconds=1))
    # Before the worker's next turn, operations already see it gone.
    path = f"/api/backups/{backup['id']}/lock"
    resp = _post(own_env, h, path)
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, f"Object type: backup id: {backup['id']} could not be found", 404)
        | _now(own_env),
    )  # fmt: skip
    expiring = _get(own_env, h, "/api/backups", expires_before=to_text(own_env.clock.now()), limit="5000")
    assert expiring["count"] >= 1
    assert _settle(own_env) == expiring["count"]
    assert own_env.client.get(f"/api/backups/{backup['id']}", headers=h).status_code == 404
    assert _get(own_env, h, "/api/backups", expires_before=to_text(own_env.clock.now()))["count"] == 0


# ---- calculate_unique_size ----------------------------------------------------------------------------


def test_calculate_unique_size(own_env: Env) -> None:
    h = own_env.headers()
    _, kept = next((v, k) for v, k in _backed_up(own_env) if len(k) >= 3)
    last, gone = kept[-1], kept[-2]
    # Deleting the backup before it leaves the last one holding the changes of both intervals.
    completed(own_env, "DELETE", f"/api/backups/{gone['id']}", h)
    h = _later(own_env, timedelta(hours=1))
    completed(own_env, "POST", f"/api/backups/{last['id']}/calculate_unique_size", h, None)
    after = _backup(own_env, h, last["id"])
    mirror = _mirror(own_env)
    expected = mirror.unique_size(last["id"])
    assert (after["unique_size_bytes"], after["unique_size_timestamp"]) == (expected, "2026-11-20T13:00:00Z")
    stored = next(b for b in own_env.federation.rows["backups"] if b["external_store_name"])
    path = f"/api/backups/{stored['id']}/calculate_unique_size"
    resp = _post(own_env, h, path)
    message = (f"The unique size of backup {stored['name']} cannot be calculated: it is kept in external store "
               f"{stored['external_store_name']}.")  # fmt: skip
    assert (resp.status_code, resp.json()) == (
        400, _error(path, TASK_EXCEPTION, message, code="30") | {"timestamp": "2026-11-20T13:00:00Z"},
    )  # fmt: skip


# ---- restore ------------------------------------------------------------------------------------------


def test_restore_to_a_new_vm_and_to_another_cluster(own_env: Env) -> None:
    h = own_env.headers()
    vm, kept = _backed_up(own_env, hypervisor_virtual_machine_power_state="ON")[1]
    backup = kept[0]
    free = _free(own_env, h, vm["datastore_id"])
    path = f"/api/backups/{backup['id']}/restore"
    (made,) = completed(own_env, "POST", path, h, {"virtual_machine_name": "restored-1", "datastore_id": None},
                        params={"restore_original": "False"})  # fmt: skip
    assert made["object_type"] == "virtual_machine" and made["object_id"] != vm["id"]
    new = _vm(own_env, h, made["object_id"])
    assert {k: new[k] for k in ("name", "state", "datastore_id", "omnistack_cluster_id", "created_at",
                                "hypervisor_virtual_machine_power_state")} == {
        "name": "restored-1", "state": "ALIVE", "datastore_id": vm["datastore_id"],
        "omnistack_cluster_id": vm["omnistack_cluster_id"], "created_at": TS,
        "hypervisor_virtual_machine_power_state": "OFF",
    }  # fmt: skip
    assert _used(new) == backup["size"]
    assert _free(own_env, h, vm["datastore_id"]) == free - backup["size"]
    target = next(d for d in own_env.federation.rows["datastores"]
                  if d["omnistack_cluster_id"] != vm["omnistack_cluster_id"])  # fmt: skip
    (made,) = completed(
        own_env, "POST", path, h, {"virtual_machine_name": "restored-2", "datastore_id": target["id"]}
    )
    far = _vm(own_env, h, made["object_id"])
    hosts = {
        x["id"]
        for x in own_env.federation.rows["hosts"]
        if x["omnistack_cluster_id"] == target["omnistack_cluster_id"]
    }
    assert (far["datastore_id"], far["omnistack_cluster_id"], far["policy_id"]) == (
        target["id"], target["omnistack_cluster_id"], target["policy_id"],
    )  # fmt: skip
    assert far["host_id"] in hosts and {r["id"] for r in far["replica_set"]} <= hosts
    fetch = lambda p, params: _get(own_env, h, p, **params)  # noqa: E731
    assert problems(snapshot(fetch)) == []


def test_restore_refusals(own_env: Env) -> None:
    h = own_env.headers()
    vm, kept = _backed_up(own_env)[0]
    backup = kept[0]
    path = f"/api/backups/{backup['id']}/restore"
    for body, params, status, expected in [
        ({"virtual_machine_name": vm["name"]}, {}, 400, _error(path, TASK_EXCEPTION, "Duplicate name exists.", code="13")),
        ({}, {"restore_original": "false"}, 400, _error(path, INVALID_BODY, "Invalid body: virtual_machine_name: Field required")),
        (None, {}, 400, _error(path, INVALID_BODY, "Invalid body: virtual_machine_name: Field required")),
        ({"virtual_machine_name": "a/b"}, {}, 400, _error(
            path, INVALID_BODY, "Invalid body: The virtual machine name contains characters that are not allowed: '/'.")),
        ({"virtual_machine_name": "ok", "datastore_id": "nope"}, {}, 404,
         _error(path, NOT_FOUND, "Object type: datastore id: nope could not be found", 404)),
        ({"virtual_machine_name": "ok"}, {"restore_original": "maybe"}, 400, _error(
            path, PKG + "TypeMismatchException",
            "Invalid value 'maybe' for parameter 'restore_original': expected true or false")),
    ]:  # fmt: skip
        resp = own_env.client.post(path, headers={**h, **media()}, json=body, params=params)
        assert (resp.status_code, resp.json()) == (status, expected)
    # A full datastore fails the task, and nothing is made.
    _sql(own_env, "UPDATE datastores SET hypervisor_free_space = 10 WHERE id = ?", vm["datastore_id"])
    count = _get(own_env, h, "/api/virtual_machines", limit="1")["count"]
    code, message = failed(own_env, "POST", path, h, {"virtual_machine_name": "no-room"})
    assert (code, message) == (
        50, f"Datastore {vm['datastore_name']} has 10 bytes free; {backup['size']} bytes are needed.",
    )  # fmt: skip
    assert _get(own_env, h, "/api/virtual_machines", limit="1")["count"] == count
    assert _free(own_env, h, vm["datastore_id"]) == 10


def test_restore_over_the_original_vm(own_env: Env) -> None:
    h = own_env.headers()
    vm, kept = _backed_up(own_env, hypervisor_virtual_machine_power_state="ON")[2]
    backup = kept[0]
    free = _free(own_env, h, vm["datastore_id"])
    assert backup["size"] != _used(vm)
    path = f"/api/backups/{backup['id']}/restore"
    resp = own_env.client.post(
        path, headers={**h, **media()}, content=b"null", params={"restore_original": "True"}
    )
    assert resp.status_code == 202
    task = _get(own_env, h, f"/api/tasks/{resp.json()['task']['id']}")["task"]
    assert task["affected_objects"] == [{"object_id": vm["id"], "object_type": "virtual_machine"}]
    after = _vm(own_env, h, vm["id"])
    assert (_used(after), after["hypervisor_virtual_machine_power_state"], after["name"]) == (
        backup["size"], "OFF", vm["name"],
    )  # fmt: skip
    assert _free(own_env, h, vm["datastore_id"]) == free + _used(vm) - backup["size"]
    fetch = lambda p, params: _get(own_env, h, p, **params)  # noqa: E731
    assert problems(snapshot(fetch)) == []


def test_restore_over_the_original_refusals(env: Env, admin: dict[str, str]) -> None:
    stored = next(b for b in env.federation.rows["backups"] if b["external_store_name"])
    path = f"/api/backups/{stored['id']}/restore"
    resp = _post(env, admin, path + "?restore_original=true", {})
    message = ("A backup kept in an external store cannot be restored over its original virtual machine; "
               "restore it to a new virtual machine.")  # fmt: skip
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, message, code="30"))
    deleted = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "DELETED")
    orphan = next(b for b in env.federation.rows["backups"]
                  if b["virtual_machine_id"] == deleted["id"] and not b["external_store_name"])  # fmt: skip
    path = f"/api/backups/{orphan['id']}/restore"
    resp = _post(env, admin, path + "?restore_original=true")
    message = f"The virtual machine {deleted['name']} is DELETED."
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, message, code="60"))


# ---- restore_files ------------------------------------------------------------------------------------


def _windows_backup(env: Env) -> tuple[Row, Row]:
    """A Windows VM's backup (its system disk's partition 2 holds the Windows tree)."""
    for vm in _vms(env, app_aware_vm_status="CAPABLE"):
        kept = _generated(env, vm, cluster_id=vm["omnistack_cluster_id"])
        if kept:
            return vm, kept[-1]
    raise AssertionError("the demo has no backed-up Windows VM")


def _listing(env: Env, h: dict[str, str], backup: Row, disk: str, path: str) -> list[Row]:
    found: list[Row] = _get(env, h, f"/api/backups/{backup['id']}/virtual_disk_partition_files",
                            virtual_disk=disk, partition_number="2", file_path=path)["virtual_disk_partition_files"]  # fmt: skip
    return found


def test_restore_files_writes_them_into_the_target_vm(own_env: Env) -> None:
    h = own_env.headers()
    vm, backup = _windows_backup(own_env)
    disk = f"{vm['name']}.vmdk"
    ini = next(e for e in _listing(own_env, h, backup, disk, "/Windows") if e["name"] == "win.ini")
    documents = _listing(own_env, h, backup, disk, "/Users/Administrator/Documents")
    target = next(v for v in _vms(own_env) if v["datastore_id"] != vm["datastore_id"])
    free_vm, free_ds = (
        _vm(own_env, h, target["id"])["hypervisor_free_space"],
        _free(own_env, h, target["datastore_id"]),
    )
    before = _mirror(own_env)
    paths = [
        f"{disk}/2/Windows/win.ini",
        f"{disk}/2/users/administrator/documents",
        f"{disk}/2/Windows/win.ini",
    ]
    affected = completed(own_env, "POST", f"/api/backups/{backup['id']}/restore_files", h,
                         {"virtual_machine_id": target["id"], "paths": paths}, version="1.9")  # fmt: skip
    assert affected == [{"object_id": target["id"], "object_type": "virtual_machine"}]
    restored = ini["size"] + sum(e["size"] for e in documents if e["file_level_restore_available"])
    assert restored > 0
    # The files overwrite the guest's: as many of its hot pieces as they fill (at least one) rewritten.
    mirror = _mirror(own_env)
    rewritten = sum(a != b for a, b in zip(mirror.maps[target["id"]], before.maps[target["id"]], strict=True))
    assert rewritten == max(1, round(restored / (64 * MiB)))
    now_used = mirror.size(target["id"])
    assert (
        _vm(own_env, h, target["id"])["hypervisor_free_space"]
        == target["hypervisor_allocated_capacity"] - now_used
    )
    assert _free(own_env, h, target["datastore_id"]) == free_ds - (now_used - before.size(target["id"]))
    assert free_vm == target["hypervisor_allocated_capacity"] - before.size(target["id"])
    # No room left on the VM's disks for what it writes: the task fails and nothing is written.
    _sql(own_env, "UPDATE virtual_machines SET hypervisor_allocated_capacity = 1000, hypervisor_free_space = 10 "
                  "WHERE id = ?", target["id"])  # fmt: skip
    free_ds = _free(own_env, h, target["datastore_id"])
    code, message = failed(own_env, "POST", f"/api/backups/{backup['id']}/restore_files", h,
                           {"virtual_machine_id": target["id"], "paths": paths[:1]}, version="1.9")  # fmt: skip
    head = f"The virtual machine {target['name']} has 10 bytes free on its disks; "
    assert code == 50 and message.startswith(head) and message.endswith(" more bytes are needed.")
    assert int(message.removeprefix(head).split()[0]) > 0
    assert _free(own_env, h, target["datastore_id"]) == free_ds
    assert _mirror(own_env).maps[target["id"]] == mirror.maps[target["id"]]


def _entry(env: Env, h: dict[str, str], backup: Row, disk: str, path: str, number: str = "2") -> Row:
    """One file's entry as browsing the backup shows it."""
    (found,) = _get(env, h, f"/api/backups/{backup['id']}/virtual_disk_partition_files",
                    virtual_disk=disk, partition_number=number, file_path=path)["virtual_disk_partition_files"]  # fmt: skip
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_restored_files_show_in_later_backups_of_the_vm(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        env = make_env(tmp_path, database_url=url)
        try:
            _restored_files_show_in_later_backups(env)
        finally:
            env.runtime.storage.engine.dispose()


def _restored_files_show_in_later_backups(own_env: Env) -> None:
    h = own_env.headers()
    vm, old = _windows_backup(own_env)
    disk = f"{vm['name']}.vmdk"
    log = "/Windows/System32/winevt/Logs/Security.evtx"  # the guest rewrites it every ten minutes
    restored = _entry(own_env, h, old, disk, log)
    before = _take(own_env, h, vm, {"backup_name": "before-restore"})
    assert _entry(own_env, h, before, disk, log) != restored
    h = _later(own_env, timedelta(seconds=1))  # backup times are whole seconds
    completed(own_env, "POST", f"/api/backups/{old['id']}/restore_files", h,
              {"virtual_machine_id": vm["id"], "paths": [f"{disk}/2{log.lower()}"]}, version="1.9")  # fmt: skip
    after = _take(own_env, h, vm, {"backup_name": "after-restore"})
    # Restored into the VM it came from: in place, with the backed-up file's size and time.
    assert _entry(own_env, h, after, disk, log) == restored
    assert _entry(own_env, h, before, disk, log) != restored
    # Another VM, of another OS: under restored/<disk>/<partition>/ on its main volume.
    target = next(v for v in _vms(own_env) if guests.guest_of(v).os_family == LINUX)
    documents = "/Users/Administrator/Documents"
    source = _listing(own_env, h, old, disk, documents)
    completed(own_env, "POST", f"/api/backups/{old['id']}/restore_files", h,
              {"virtual_machine_id": target["id"], "paths": [f"{disk}/2/users/administrator/documents"]},
              version="1.9")  # fmt: skip
    later = _take(own_env, h, target, {"backup_name": "with-documents"})
    landed = _listing(own_env, h, later, f"{target['name']}.vmdk", f"/restored/{disk}/2{documents}")
    assert landed == [e for e in source if e["file_level_restore_available"]]
    root = _listing(own_env, h, later, f"{target['name']}.vmdk", "/")
    assert next(e for e in root if e["name"] == "restored")["last_modified"] == later["created_at"]
    # What a backup shows can be restored from it, restored files included: back into the Windows VM.
    report = f"restored/{disk}/2{documents}/report.docx"
    h = _later(own_env, timedelta(seconds=1))
    completed(own_env, "POST", f"/api/backups/{later['id']}/restore_files", h,
              {"virtual_machine_id": vm["id"], "paths": [f"{target['name']}.vmdk/2/{report}"]},
              version="1.9")  # fmt: skip
    back = _take(own_env, h, vm, {"backup_name": "report-back"})
    moved = _entry(own_env, h, back, disk, f"/restored/{target['name']}.vmdk/2/{report}")
    assert moved == next(e for e in source if e["name"] == "report.docx")
    # Restored over the VM from the old backup: what was restored since is gone from its disks.
    h = _later(own_env, timedelta(seconds=1))
    completed(own_env, "POST", f"/api/backups/{old['id']}/restore?restore_original=true", h, {})
    again = _take(own_env, h, vm, {"backup_name": "after-restore-over"})
    assert _entry(own_env, h, again, disk, log) == _entry(own_env, h, before, disk, log)
    # Older backups never change.
    assert _entry(own_env, h, after, disk, log) == restored


def test_restore_files_refusals(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _windows_backup(env)
    disk = f"{vm['name']}.vmdk"
    target = _vms(env)[0]
    path = f"/api/backups/{backup['id']}/restore_files"

    def refused(paths: Any, message: str, target_id: str = target["id"], status: int = 400,
                exception: str = INVALID_BODY, code: str | None = None) -> None:  # fmt: skip
        resp = _post(env, admin, path, {"virtual_machine_id": target_id, "paths": paths}, "1.9")
        assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status, code))

    bad = "Invalid body: paths: '{}' {}"
    refused(
        ["junk"], bad.format("junk", "is not <virtual disk>/<partition number>/<path of a file or directory>")
    )
    refused(
        [f"{disk}/2/"],
        bad.format(f"{disk}/2/", "is not <virtual disk>/<partition number>/<path of a file or directory>"),
    )
    refused(
        ["other.vmdk/2/Windows"],
        bad.format("other.vmdk/2/Windows", "names virtual disk other.vmdk, which the backup does not hold"),
    )
    refused(
        [f"{disk}/1/x"], bad.format(f"{disk}/1/x", f"names partition 1 of {disk}, which cannot be mounted")
    )
    refused(
        [f"{disk}/2/Windows/none.txt"],
        bad.format(f"{disk}/2/Windows/none.txt", "names no file or directory in the backup"),
    )
    refused(
        [f"{disk}/2/pagefile.sys"],
        bad.format(
            f"{disk}/2/pagefile.sys", "cannot be restored (a symbolic link or a file the guest keeps locked)"
        ),
    )
    refused([], "Invalid body: paths: Specify at least one file or directory to restore.")
    refused(
        [f"{disk}/2/Windows"],
        "Object type: virtual_machine id: nope could not be found",
        "nope",
        404,
        NOT_FOUND,
    )
    deleted = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "DELETED")
    refused([f"{disk}/2/Windows"], f"The virtual machine {deleted['name']} is DELETED.", deleted["id"],
            exception=TASK_EXCEPTION, code="60")  # fmt: skip
    resp = _post(
        env, admin, path, {"virtual_machine_id": target["id"], "paths": [f"{disk}/2/Windows"]}, "1.8"
    )
    assert resp.status_code == 415


# ---- a VM's backups outlive it ------------------------------------------------------------------------


def test_backups_show_their_vm_deleted_after_a_move(own_env: Env) -> None:
    h = own_env.headers()
    vm, _ = _backed_up(own_env, hypervisor_virtual_machine_power_state="OFF")[0]
    target = next(d for d in own_env.federation.rows["datastores"] if d["id"] != vm["datastore_id"])
    completed(
        own_env,
        "POST",
        f"/api/virtual_machines/{vm['id']}/move",
        h,
        {"destination_datastore_id": target["id"]},
    )
    theirs = _get(own_env, h, f"/api/virtual_machines/{vm['id']}/backups", limit="5000")["backups"]
    assert theirs and {b["virtual_machine_state"] for b in theirs} == {"DELETED"}
    found = _get(own_env, h, "/api/backups", virtual_machine_id=vm["id"], virtual_machine_state="ALIVE")
    assert found["count"] == 0


# ---- both databases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backups_life_on_each_database(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        env = make_env(tmp_path, database_url=url)
        try:
            h = env.headers()
            _paced(env, "virtual_machine.backup", "backup.copy")
            vm = _vms(env)[0]
            remote = _other_cluster(env, vm)
            backup = _take(
                env, h, vm, {"backup_name": "life", "destination_id": remote["id"], "retention": 120}
            )
            plan = data.transfer(backup["size"], backup["unique_size_bytes"], "NONE", remote["id"])
            h = _later(env, timedelta(seconds=plan.total))
            assert _settle(env) >= 1
            assert _backup(env, h, backup["id"])["state"] == "PROTECTED"
            (made,) = completed(env, "POST", f"/api/backups/{backup['id']}/copy", h,
                                {"destination_id": vm["omnistack_cluster_id"]})  # fmt: skip
            assert _backup(env, h, made["object_id"])["state"] == "NEW"
            resp = _post(env, h, "/api/backups/set_retention", {"backup_id": [backup["id"]], "retention": 1})
            assert (resp.status_code, [b["id"] for b in resp.json()["backups"]]) == (200, [backup["id"]])
            h = _later(env, timedelta(minutes=121))
            _settle(env)
            assert env.client.get(f"/api/backups/{backup['id']}", headers=h).status_code == 404
            assert env.client.get(f"/api/backups/{made['object_id']}", headers=h).status_code == 404
            fetch = lambda p, params: _get(env, h, p, **params)  # noqa: E731
            assert problems(snapshot(fetch)) == []
        finally:
            env.runtime.storage.engine.dispose()
