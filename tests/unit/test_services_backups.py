"""services/backups against the in-memory fakes and the simulator: back up a VM (local, remote, external
store), the life of a paced backup, cancel, copy, delete, lock, rename, set_retention, expiry and
calculate_unique_size, through the real TaskEngine; every refusal's message, and FAILED tasks that
changed nothing. Figures are checked against the brute force over the stored pieces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from openovc.domain.catalog import (
    BACKUPS,
    CLUSTER_GROUPS,
    EXTERNAL_STORES,
    OMNISTACK_CLUSTERS,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.tasks import Pacing, PacingMode
from openovc.domain.timefmt import from_text, to_text
from openovc.services import backups
from openovc.services.backups.lifecycle import Settled
from openovc.simulator import backup_data as data
from tests.support.fakes import START, Ended, Services
from tests.support.memory_content import lacked, mirror, problems, unchanged

Row = dict[str, Any]
BACKUP = "backup"
TS = to_text(START)
DESTINATION = "Invalid or unexpected destination specified."


@pytest.fixture
def s() -> Services:
    return Services.start(simulated=[backups])


# ---- the demo federation, as the tests find their way in it ----------------------------------------


def _kept_at(s: Services, vm: Row, cluster: Row) -> bool:
    """Whether a backup of the VM is kept at the cluster."""
    return any(b["virtual_machine_id"] == vm["id"] and b["omnistack_cluster_id"] == cluster["id"]
               for b in s.federation.rows(BACKUPS))  # fmt: skip


def _used(vm: Row) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def _other_cluster(s: Services, vm: Row) -> Row:
    return next(c for c in s.federation.rows(OMNISTACK_CLUSTERS) if c["id"] != vm["omnistack_cluster_id"])


def _store(s: Services) -> Row:
    return s.federation.rows(EXTERNAL_STORES)[0]


def _kept(s: Services, vm: Row, cluster_id: str) -> list[Row]:
    """The VM's backups kept at a cluster, oldest first."""
    return sorted(
        (b for b in s.federation.rows(BACKUPS) if b["virtual_machine_id"] == vm["id"] and b["omnistack_cluster_id"] == cluster_id),
        key=lambda b: str(b["created_at"]),
    )  # fmt: skip


def _never_sent_away(s: Services) -> Row:
    """A VM with no backup in the other cluster: a remote backup of it sends all its data."""
    return next(v for v in s.live_vms() if not _kept(s, v, str(_other_cluster(s, v)["id"])))


def _take(s: Services, vm: Row, name: str, *, cluster: str | None = None, store: str | None = None,
          consistency: str = "NONE", retention: int = 0) -> Row:  # fmt: skip
    """Back up a VM through the service; the new backup as stored."""
    task = backups.backup_vm(s.reader, s.tasks, str(vm["id"]), name=name, cluster_id=cluster, store_name=store,
                             consistency=consistency, retention=retention)  # fmt: skip
    ended = s.poll(task)
    assert ended.state == "COMPLETED", ended
    ((backup_id, kind),) = ended.affected
    assert kind == BACKUP
    return s.federation.row(BACKUPS, backup_id)


def _paced(s: Services, *operations: str) -> None:
    """Realistic timing: a zero duration, so tasks still run at once, but their backups take time."""
    for operation in operations:
        s.pacing.by_operation[operation] = Pacing(PacingMode.DURATION, seconds=0)


def _settle(s: Services) -> Settled:
    """What the worker's chore does each turn."""
    return backups.settle(s.reader, s.federation, s.sim, s.clock.now())


def _refused(error: pytest.ExceptionInfo[TaskError]) -> tuple[str | None, str]:
    return error.value.error_code, error.value.message


def _two_of_a_vm(s: Services) -> list[Row]:
    """Two backups of one VM that expire, oldest first."""
    for vm in s.live_vms():
        found = sorted((b for b in s.federation.rows(BACKUPS) if b["virtual_machine_id"] == vm["id"]
                        and b["expiration_time"]), key=lambda b: str(b["created_at"]))  # fmt: skip
        if len(found) >= 2:
            return found[:2]
    raise AssertionError("no VM with two expiring backups")


# ---- back up a VM -------------------------------------------------------------------------------------


def test_a_local_backup_is_kept_in_the_vms_cluster(s: Services) -> None:
    vm = s.live_vms(hypervisor_virtual_machine_power_state="ON")[0]
    cluster = s.federation.row(OMNISTACK_CLUSTERS, vm["omnistack_cluster_id"])
    task = backups.backup_vm(s.reader, s.tasks, str(vm["id"]), name="manual-1", cluster_id=None, store_name=None,
                             consistency="NONE", retention=60)  # fmt: skip
    assert (task["state"], task["operation"]) == ("QUEUED", "virtual_machine.backup")
    ended = s.poll(task)
    backup_id = ended.affected[0][0]
    assert ended == Ended("COMPLETED", affected=((backup_id, BACKUP),))
    assert s.federation.row(BACKUPS, backup_id) == {
        "id": backup_id, "name": "manual-1", "state": "PROTECTED", "type": "MANUAL", "created_at": TS,
        "expiration_time": "2026-11-20T13:00:00Z", "size": _used(vm), "sent": 0,
        "application_consistent": False, "consistency_type": "NONE",
        "virtual_machine_id": vm["id"], "virtual_machine_name": vm["name"], "virtual_machine_state": "ALIVE",
        "virtual_machine_type": "VM", "omnistack_cluster_id": cluster["id"], "omnistack_cluster_name": cluster["name"],
        "datastore_id": vm["datastore_id"], "datastore_name": vm["datastore_name"],
        "compute_cluster_parent_hypervisor_object_id": vm["compute_cluster_parent_hypervisor_object_id"],
        "compute_cluster_parent_name": vm["compute_cluster_parent_name"], "hypervisor_type": "VSPHERE",
        "unique_size_bytes": 0, "unique_size_timestamp": TS, "sent_completion_time": None, "sent_duration": 0,
        "cluster_group_ids": cluster["cluster_group_ids"], "external_store_name": "",
        "associated_cluster": cluster["id"], "backup_store_type": "SimplivityStore",
    }  # fmt: skip
    slots = mirror(s.federation)
    assert slots.maps[backup_id] == slots.maps[str(vm["id"])]
    assert problems(s.federation, measured=[backup_id], slots=slots) == []


def test_a_backup_holds_what_the_workload_wrote_until_now(s: Services) -> None:
    vm = min(s.live_vms(hypervisor_virtual_machine_power_state="ON"),
             key=lambda v: s.federation.ledger.workload_due(str(v["id"])) or 0)  # fmt: skip
    s.clock.advance(timedelta(hours=3))
    backup = _take(s, vm, "caught-up")
    now = s.federation.row(VIRTUAL_MACHINES, vm["id"])
    assert backup["size"] == _used(now) != _used(vm)
    assert (backup["created_at"], backup["unique_size_timestamp"]) == (to_text(s.clock.now()),) * 2
    assert problems(s.federation, measured=[str(backup["id"])]) == []


def test_retention_and_consistency(s: Services) -> None:
    ready = s.live_vms(app_aware_vm_status="VALID_CREDS", hypervisor_virtual_machine_power_state="ON")[0]
    capable = s.live_vms(app_aware_vm_status="CAPABLE")[0]
    off = s.live_vms(hypervisor_virtual_machine_power_state="OFF")[0]
    kept = _take(s, ready, "keep", consistency="DEFAULT")
    assert (kept["expiration_time"], kept["consistency_type"], kept["application_consistent"]) == (
        None,
        "DEFAULT",
        True,
    )
    vss = _take(s, ready, "vss", consistency="VSS")
    assert (vss["consistency_type"], vss["application_consistent"]) == ("VSS", True)
    # No accepted guest credentials, or a stopped guest: VSS fails and the backup is crash-consistent.
    for vm in (capable, off):
        failed = _take(s, vm, "vss", consistency="VSS")
        assert (failed["consistency_type"], failed["application_consistent"]) == ("FAILEDVSS", False)
    assert _take(s, off, "snap", consistency="DEFAULT")["consistency_type"] == "DEFAULT"


def test_a_remote_backup_sends_all_its_data_first_then_the_changes(s: Services) -> None:
    vm = _never_sent_away(s)
    remote = _other_cluster(s, vm)
    before = mirror(s.federation)
    first = _take(s, vm, "offsite", cluster=str(remote["id"]))
    after = mirror(s.federation)
    sent = lacked(before, after, str(first["id"]), str(remote["id"]))
    assert 0 < sent < _used(vm)
    plan = data.transfer(_used(vm), sent, "NONE", str(remote["id"]))
    assert {k: first[k] for k in ("state", "omnistack_cluster_id", "omnistack_cluster_name", "associated_cluster",
                                  "cluster_group_ids", "unique_size_bytes", "sent", "sent_duration",
                                  "sent_completion_time")} == {
        "state": "PROTECTED", "omnistack_cluster_id": remote["id"], "omnistack_cluster_name": remote["name"],
        "associated_cluster": remote["id"], "cluster_group_ids": remote["cluster_group_ids"],
        "unique_size_bytes": after.unique_size(str(first["id"])), "sent": sent, "sent_duration": plan.send,
        "sent_completion_time": to_text(START + timedelta(seconds=plan.total)),
    }  # fmt: skip
    # At once again: the remote cluster has every piece, nothing is sent (a replication of nothing
    # still completes, in the shortest time a send takes).
    again = _take(s, vm, "offsite-again", cluster=str(remote["id"]))
    nothing = data.transfer(_used(vm), 0, "NONE", str(remote["id"]))
    assert (again["unique_size_bytes"], again["sent"], again["sent_duration"], again["sent_completion_time"]) == (
        0, 0, nothing.send, to_text(START + timedelta(seconds=nothing.total)),
    )  # fmt: skip
    assert mirror(s.federation).maps[str(again["id"])] == after.maps[str(first["id"])]
    # Later, what the VM's workload rewrote meanwhile (if it runs) is all that is sent.
    s.clock.advance(timedelta(hours=6))
    before = mirror(s.federation)
    second = _take(s, vm, "offsite-2", cluster=str(remote["id"]))
    changes = lacked(before, mirror(s.federation), str(second["id"]), str(remote["id"]))
    assert second["sent"] == changes < sent
    # Naming the VM's own cluster is a local backup.
    local = _take(s, vm, "home", cluster=str(vm["omnistack_cluster_id"]))
    assert (local["omnistack_cluster_id"], local["sent"], local["sent_completion_time"]) == (
        vm["omnistack_cluster_id"], 0, None,
    )  # fmt: skip
    assert problems(s.federation, measured=[str(local["id"])]) == []


def test_an_external_store_backup(s: Services) -> None:
    store = _store(s)
    vm = s.live_vms(omnistack_cluster_id=store["omnistack_cluster_id"])[0]
    before = mirror(s.federation)
    backup = _take(s, vm, "to-storeonce", store=str(store["name"]))
    after = mirror(s.federation)
    assert {k: backup[k] for k in ("omnistack_cluster_id", "omnistack_cluster_name", "external_store_name",
                                   "associated_cluster", "backup_store_type", "cluster_group_ids")} == {
        "omnistack_cluster_id": "", "omnistack_cluster_name": "", "external_store_name": store["name"],
        "associated_cluster": store["omnistack_cluster_id"], "backup_store_type": "StoreOnceOnPrem",
        "cluster_group_ids": store["cluster_group_ids"],
    }  # fmt: skip
    sent = lacked(before, after, str(backup["id"]), str(store["name"]))
    assert (
        backup["sent"] == sent and backup["sent_duration"] == data.send_seconds(sent, str(store["name"])) >= 1
    )
    assert after.place[str(backup["id"])] == store["name"]
    assert problems(s.federation, measured=[str(backup["id"])], slots=after) == []


def test_backup_refusals(s: Services) -> None:
    vm = s.live_vms()[0]
    store = _store(s)
    deleted = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    elsewhere = next(v for v in s.live_vms() if v["omnistack_cluster_id"] != store["omnistack_cluster_id"])

    def take(vm_id: str, name: str = "b", cluster: str | None = None, store_name: str | None = None) -> None:
        backups.backup_vm(s.reader, s.tasks, vm_id, name=name, cluster_id=cluster, store_name=store_name,
                          consistency="NONE", retention=0)  # fmt: skip

    for name, problem in [
        ("", "The backup name must not be empty."),
        ("a\\b", "The backup name contains characters that are not allowed: '\\\\'."),
        ("x" * 129, "The backup name must be at most 128 characters long."),
    ]:
        with pytest.raises(InvalidBody) as bad:
            take(str(vm["id"]), name)
        assert bad.value.message == f"Invalid body: {problem}"
    missing_ones: list[tuple[str, str | None, str | None, str]] = [
        ("nope", None, None, "Object type: virtual_machine id: nope could not be found"),
        (str(vm["id"]), "nope", None, "Object type: omnistack_cluster id: nope could not be found"),
        (str(vm["id"]), None, "nope", "Object type: external_store id: nope could not be found"),
    ]
    for vm_id, cluster, store_name, message in missing_ones:
        with pytest.raises(ObjectNotFound) as missing:
            take(vm_id, "b", cluster, store_name)
        assert missing.value.message == message
    with pytest.raises(TaskError) as dead:
        take(str(deleted["id"]))
    assert _refused(dead) == ("60", f"The virtual machine {deleted['name']} is DELETED.")
    wrong: list[tuple[str, str | None]] = [
        (str(vm["id"]), str(vm["omnistack_cluster_id"])),
        (str(elsewhere["id"]), None),
    ]
    for vm_id, cluster in wrong:  # both a cluster and a store; a store of another cluster
        with pytest.raises(TaskError) as refused:
            take(vm_id, "b", cluster, str(store["name"]))
        assert _refused(refused) == ("142", DESTINATION)
    assert s.store.tasks == {}


def test_a_backup_task_fails_when_its_vm_or_destination_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm = s.live_vms(hypervisor_virtual_machine_power_state="ON")[0]
    remote = _other_cluster(s, vm)
    gone_vm = backups.backup_vm(s.reader, s.tasks, str(vm["id"]), name="b", cluster_id=None, store_name=None,
                                consistency="NONE", retention=0)  # fmt: skip
    gone_cluster = backups.backup_vm(s.reader, s.tasks, str(vm["id"]), name="b", cluster_id=str(remote["id"]),
                                     store_name=None, consistency="NONE", retention=0)  # fmt: skip
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, str(vm["id"]), {"state": "REMOVED"})
    before = unchanged(s.federation)
    assert s.poll(gone_vm) == Ended("FAILED", 60, f"The virtual machine {vm['name']} is REMOVED.")
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, str(vm["id"]), {"state": "ALIVE"})
        txn.update(OMNISTACK_CLUSTERS, str(remote["id"]), {"id": "elsewhere"})
    before = unchanged(s.federation)
    # Late enough for the VM's workload to be due: its catch-up is rolled back too.
    s.clock.advance(timedelta(hours=4))
    assert s.poll(gone_cluster) == Ended(
        "FAILED", 20, f"Object type: omnistack_cluster id: {remote['id']} could not be found"
    )
    assert unchanged(s.federation) == before


# ---- the life of a paced backup ----------------------------------------------------------------------


def test_a_paced_remote_backup_is_new_then_saving_then_protected(s: Services) -> None:
    _paced(s, "virtual_machine.backup")
    # A VM with no backup at the other cluster yet: that cluster lacks its data, so there is data to send.
    vm, remote = next((v, c) for v in s.live_vms() if not _kept_at(s, v, c := _other_cluster(s, v)))
    backup = _take(s, vm, "paced", cluster=str(remote["id"]))
    assert (backup["state"], backup["sent_duration"], backup["sent_completion_time"]) == ("NEW", 0, None)
    plan = data.transfer(int(backup["size"]), int(backup["sent"]), "NONE", str(remote["id"]))
    assert plan.send >= 1 and plan.sent == backup["sent"] > 0
    assert _settle(s) == Settled(expired=0, progressed=0)  # nothing has moved yet
    s.clock.advance(timedelta(seconds=1))
    assert _settle(s) == Settled(expired=0, progressed=1)
    assert s.federation.row(BACKUPS, backup["id"])["state"] == "SAVING"
    s.clock.advance(timedelta(seconds=plan.total - 2))
    _settle(s)
    assert s.federation.row(BACKUPS, backup["id"])["state"] == "SAVING"
    s.clock.advance(timedelta(seconds=1))
    assert _settle(s).progressed == 1
    assert s.federation.row(BACKUPS, backup["id"]) == {
        **backup, "state": "PROTECTED", "sent": plan.sent, "sent_duration": plan.send,
        "sent_completion_time": to_text(START + timedelta(seconds=plan.total)),
    }  # fmt: skip
    assert problems(s.federation) == []


def test_cancel_stops_a_backup_while_it_is_sent(s: Services) -> None:
    _paced(s, "virtual_machine.backup")
    vm = _never_sent_away(s)
    remote = _other_cluster(s, vm)
    backup = _take(s, vm, "to-cancel", cluster=str(remote["id"]))
    backup_id = str(backup["id"])
    plan = data.transfer(int(backup["size"]), int(backup["sent"]), "NONE", str(remote["id"]))
    assert backup_id in s.federation.ledger.holders
    s.clock.advance(timedelta(seconds=plan.take + plan.send // 2))
    assert s.poll(backups.cancel(s.reader, s.tasks, s.sim, backup_id)) == Ended(
        "COMPLETED", affected=((backup_id, BACKUP),)
    )
    sent, seconds = data.sent_so_far(plan, plan.take + plan.send // 2)
    assert seconds == plan.send // 2 and 0 <= sent < plan.sent
    assert s.federation.row(BACKUPS, backup_id) == {
        **backup, "state": "CANCELED", "sent": sent, "sent_duration": seconds,
        "sent_completion_time": to_text(s.clock.now()) if sent else None,
    }  # fmt: skip
    assert backup_id not in s.federation.ledger.holders, "a canceled backup holds nothing"
    assert problems(s.federation) == []
    s.clock.advance(timedelta(hours=1))
    _settle(s)
    assert s.federation.row(BACKUPS, backup_id)["state"] == "CANCELED"  # a canceled backup stays canceled
    with pytest.raises(TaskError) as again:
        backups.cancel(s.reader, s.tasks, s.sim, backup_id)
    assert _refused(again) == (
        "60",
        "Backup to-cancel is CANCELED: only a backup being taken or sent can be canceled.",
    )
    # A canceled backup is deleted like any other (it frees nothing more).
    assert s.poll(backups.delete(s.reader, s.tasks, s.sim, [backup_id])).state == "COMPLETED"
    assert problems(s.federation) == []


def test_cancel_refuses_a_finished_backup(s: Services) -> None:
    finished = s.federation.rows(BACKUPS)[0]
    with pytest.raises(TaskError) as refused:
        backups.cancel(s.reader, s.tasks, s.sim, str(finished["id"]))
    assert _refused(refused) == (
        "60", f"Backup {finished['name']} is PROTECTED: only a backup being taken or sent can be canceled.",
    )  # fmt: skip
    with pytest.raises(ObjectNotFound) as missing:
        backups.cancel(s.reader, s.tasks, s.sim, "nope")
    assert missing.value.message == "Object type: backup id: nope could not be found"
    # A backup that finishes between the request and the task's run: the task fails.
    _paced(s, "virtual_machine.backup")
    s.pacing.by_operation["backup.cancel"] = Pacing(PacingMode.POLLS, polls=1)
    backup = _take(s, s.live_vms()[0], "quick")
    task = backups.cancel(s.reader, s.tasks, s.sim, str(backup["id"]))
    s.clock.advance(timedelta(minutes=5))
    before = unchanged(s.federation)
    assert s.poll(task) == Ended(
        "FAILED", 60, "Backup quick is PROTECTED: only a backup being taken or sent can be canceled."
    )
    assert unchanged(s.federation) == before  # even the progress it wrote down was rolled back
    assert s.federation.row(BACKUPS, backup["id"])["state"] == "NEW"
    assert _settle(s).progressed == 1
    assert s.federation.row(BACKUPS, backup["id"])["state"] == "PROTECTED"


# ---- copy ---------------------------------------------------------------------------------------------


def test_copy_to_another_cluster_and_to_a_store(s: Services) -> None:
    store = _store(s)
    vm = [v for v in s.live_vms(omnistack_cluster_id=store["omnistack_cluster_id"])
          if _kept(s, v, str(v["omnistack_cluster_id"]))][1]  # fmt: skip
    source = _kept(s, vm, str(vm["omnistack_cluster_id"]))[-1]
    remote = _other_cluster(s, vm)
    s.clock.advance(timedelta(minutes=1))
    before = mirror(s.federation)
    ended = s.poll(backups.copy(s.reader, s.tasks, s.sim, str(source["id"]), str(remote["id"]), None))
    ((copy_id, kind),) = ended.affected
    assert (ended.state, kind) == ("COMPLETED", BACKUP) and copy_id != source["id"]
    copy = s.federation.row(BACKUPS, copy_id)
    after = mirror(s.federation)
    same = ("name", "type", "created_at", "expiration_time", "size", "consistency_type", "virtual_machine_id",
            "datastore_id")  # fmt: skip
    assert {k: copy[k] for k in same} == {k: source[k] for k in same}
    sent = lacked(before, after, copy_id, str(remote["id"]))
    plan = data.transfer(int(source["size"]), sent, str(source["consistency_type"]), str(remote["id"]))
    assert {k: copy[k] for k in ("state", "omnistack_cluster_id", "unique_size_timestamp", "sent", "sent_duration",
                                 "sent_completion_time", "unique_size_bytes")} == {
        "state": "PROTECTED", "omnistack_cluster_id": remote["id"], "unique_size_timestamp": to_text(s.clock.now()),
        "sent": sent, "sent_duration": plan.send,
        "sent_completion_time": to_text(s.clock.now() + timedelta(seconds=plan.total)),
        "unique_size_bytes": after.unique_size(copy_id),
    }  # fmt: skip
    assert after.maps[copy_id] == after.maps[str(source["id"])]
    ended = s.poll(backups.copy(s.reader, s.tasks, s.sim, str(source["id"]), None, str(store["name"])))
    stored = s.federation.row(BACKUPS, ended.affected[0][0])
    assert (stored["external_store_name"], stored["omnistack_cluster_id"], stored["backup_store_type"]) == (
        store["name"], "", "StoreOnceOnPrem",
    )  # fmt: skip
    assert problems(s.federation, measured=[copy_id, str(stored["id"])]) == []
    # The copy now in the other cluster cannot go to this cluster's StoreOnce.
    with pytest.raises(TaskError) as refused:
        backups.copy(s.reader, s.tasks, s.sim, copy_id, None, str(store["name"]))
    assert _refused(refused) == ("142", DESTINATION)


def test_copy_refusals(s: Services) -> None:
    source = next(b for b in s.federation.rows(BACKUPS) if b["omnistack_cluster_id"])
    home = str(source["omnistack_cluster_id"])
    body = "Invalid body: Specify a destination_id or an external_store_name key/value to copy the backup."
    for cluster, store in ((None, None), ("", "")):
        with pytest.raises(InvalidBody) as bad:
            backups.copy(s.reader, s.tasks, s.sim, str(source["id"]), cluster, store)
        assert bad.value.message == body
    for cluster, store, message in (
        ("nope", None, "Object type: omnistack_cluster id: nope could not be found"),
        (None, "nope", "Object type: external_store id: nope could not be found"),
    ):
        with pytest.raises(ObjectNotFound) as missing:
            backups.copy(s.reader, s.tasks, s.sim, str(source["id"]), cluster, store)
        assert missing.value.message == message
    for cluster, store in ((home, None), (home, "StoreOnce-01")):
        with pytest.raises(TaskError) as refused:
            backups.copy(s.reader, s.tasks, s.sim, str(source["id"]), cluster, store)
        assert _refused(refused) == ("142", DESTINATION)
    with pytest.raises(ObjectNotFound) as missing:
        backups.copy(s.reader, s.tasks, s.sim, "nope", home, None)
    assert missing.value.message == "Object type: backup id: nope could not be found"
    assert s.store.tasks == {}


def test_a_backup_being_sent_cannot_be_copied_or_deleted(s: Services) -> None:
    _paced(s, "virtual_machine.backup")
    vm = s.live_vms()[0]
    backup = _take(s, vm, "busy", cluster=str(_other_cluster(s, vm)["id"]))
    with pytest.raises(TaskError) as refused:
        backups.copy(s.reader, s.tasks, s.sim, str(backup["id"]), str(vm["omnistack_cluster_id"]), None)
    assert _refused(refused) == ("60", "Backup busy is NEW: only a PROTECTED backup can be copied.")
    s.clock.advance(timedelta(seconds=1))
    with pytest.raises(TaskError) as refused:
        backups.delete(s.reader, s.tasks, s.sim, [str(backup["id"])])
    assert _refused(refused) == ("60", "Backup busy is SAVING: cancel it before deleting it.")


def test_a_copy_fails_when_its_source_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    source = next(b for b in s.federation.rows(BACKUPS) if b["omnistack_cluster_id"])
    other = next(
        c for c in s.federation.rows(OMNISTACK_CLUSTERS) if c["id"] != source["omnistack_cluster_id"]
    )
    task = backups.copy(s.reader, s.tasks, s.sim, str(source["id"]), str(other["id"]), None)
    with s.federation.writing() as txn:
        txn.delete(BACKUPS, str(source["id"]))
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: backup id: {source['id']} could not be found")
    assert unchanged(s.federation) == before


# ---- delete -------------------------------------------------------------------------------------------


def test_delete_one_and_many(s: Services) -> None:
    rows = s.federation.rows(BACKUPS)
    total = len(rows)
    one = str(rows[0]["id"])
    assert s.poll(backups.delete(s.reader, s.tasks, s.sim, [one])) == Ended(
        "COMPLETED", affected=((one, BACKUP),)
    )
    ids = [str(rows[1]["id"]), str(rows[2]["id"]), str(rows[1]["id"])]
    group = s.federation.rows(CLUSTER_GROUPS)[0]
    task = backups.delete(s.reader, s.tasks, s.sim, ids, str(group["id"]))
    assert s.poll(task) == Ended("COMPLETED", affected=tuple((i, BACKUP) for i in ids[:2]))
    assert len(s.federation.rows(BACKUPS)) == total - 3
    assert not {one, *ids} & set(s.federation.ledger.holders)
    assert problems(s.federation) == []


def test_delete_refusals(s: Services) -> None:
    first = str(s.federation.rows(BACKUPS)[0]["id"])
    with pytest.raises(InvalidBody) as bad:
        backups.delete(s.reader, s.tasks, s.sim, [])
    assert bad.value.message == "Invalid body: Specify a backup_id key/value to delete backup instances."
    for ids, group, message in (
        ([first, "nope"], None, "Object type: backup id: nope could not be found"),
        ([first], "nope", "Object type: cluster_group id: nope could not be found"),
    ):
        with pytest.raises(ObjectNotFound) as missing:
            backups.delete(s.reader, s.tasks, s.sim, ids, group)
        assert missing.value.message == message
    assert s.store.tasks == {} and first in s.federation.collections[BACKUPS.plural]


def test_a_delete_task_fails_whole_when_one_backup_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    a, b = (str(r["id"]) for r in s.federation.rows(BACKUPS)[:2])
    task = backups.delete(s.reader, s.tasks, s.sim, [a, b])
    with s.federation.writing() as txn:
        txn.delete(BACKUPS, b)
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: backup id: {b} could not be found")
    assert unchanged(s.federation) == before


# ---- lock, rename -------------------------------------------------------------------------------------


def test_a_locked_backup_never_expires(s: Services) -> None:
    backup = min((b for b in s.federation.rows(BACKUPS) if b["expiration_time"]),
                 key=lambda b: str(b["expiration_time"]))  # fmt: skip
    assert s.poll(backups.lock(s.reader, s.tasks, s.sim, str(backup["id"]))) == Ended(
        "COMPLETED", affected=((str(backup["id"]), BACKUP),)
    )
    assert s.federation.row(BACKUPS, backup["id"]) == {**backup, "expiration_time": None}
    s.clock.advance(timedelta(days=400))
    assert _settle(s).expired > 0
    assert s.federation.row(BACKUPS, backup["id"])["expiration_time"] is None
    assert problems(s.federation) == []
    with pytest.raises(ObjectNotFound):
        backups.lock(s.reader, s.tasks, s.sim, "nope")


def test_rename(s: Services) -> None:
    backup = s.federation.rows(BACKUPS)[5]
    backup_id = str(backup["id"])
    assert s.poll(backups.rename(s.reader, s.tasks, s.sim, backup_id, "Before upgrade")).state == "COMPLETED"
    assert s.federation.row(BACKUPS, backup_id) == {**backup, "name": "Before upgrade"}
    for name, message in [
        (" padded", "Invalid body: The backup name must not begin or end with white space."),
        ("x" * 129, "Invalid body: The backup name must be at most 128 characters long."),
    ]:
        with pytest.raises(InvalidBody) as bad:
            backups.rename(s.reader, s.tasks, s.sim, backup_id, name)
        assert bad.value.message == message
    with pytest.raises(ObjectNotFound) as missing:
        backups.rename(s.reader, s.tasks, s.sim, "nope", "x")
    assert missing.value.message == "Object type: backup id: nope could not be found"
    assert s.federation.row(BACKUPS, backup_id)["name"] == "Before upgrade"


# ---- set_retention and expiry -------------------------------------------------------------------------


def test_set_retention_extends_and_keeps_forever(s: Services) -> None:
    pair = _two_of_a_vm(s)
    ids = [str(b["id"]) for b in pair]
    task, doomed = backups.set_retention(s.reader, s.tasks, s.sim, ids, retention=60 * 24 * 400, force=False,
                                         forever=False)  # fmt: skip
    assert doomed == [] and task is not None
    assert s.poll(task) == Ended("COMPLETED", affected=tuple((i, BACKUP) for i in ids))
    for b in pair:
        expected = to_text(from_text(str(b["created_at"])) + timedelta(days=400))
        assert s.federation.row(BACKUPS, b["id"]) == {**b, "expiration_time": expected}
    task, _ = backups.set_retention(s.reader, s.tasks, s.sim, ids[:1], retention=5, force=False, forever=True)
    assert task is not None and s.poll(task).state == "COMPLETED"
    assert s.federation.row(BACKUPS, ids[0])["expiration_time"] is None
    task, _ = backups.set_retention(
        s.reader, s.tasks, s.sim, ids[1:], retention=0, force=False, forever=False
    )
    assert task is not None and s.poll(task).state == "COMPLETED"
    assert s.federation.row(BACKUPS, ids[1])["expiration_time"] is None


def test_set_retention_that_would_remove_backups_needs_force(s: Services) -> None:
    pair = _two_of_a_vm(s)
    ids = [str(b["id"]) for b in pair]
    before = unchanged(s.federation)
    # No task: the answer is the backups that would expire at once (as the reader shows them).
    task, doomed = backups.set_retention(
        s.reader, s.tasks, s.sim, ids, retention=1, force=False, forever=False
    )
    assert task is None and doomed == [s.reader.get(BACKUPS, i) for i in ids]
    assert unchanged(s.federation) == before and s.store.tasks == {}
    task, doomed = backups.set_retention(
        s.reader, s.tasks, s.sim, ids, retention=1, force=True, forever=False
    )
    assert task is not None and doomed == []
    assert s.poll(task) == Ended("COMPLETED", affected=tuple((i, BACKUP) for i in ids))
    assert not set(ids) & set(s.federation.collections[BACKUPS.plural])
    assert not set(ids) & set(s.federation.ledger.holders)
    assert problems(s.federation) == []


def test_set_retention_refusals(s: Services) -> None:
    first = str(s.federation.rows(BACKUPS)[0]["id"])
    with pytest.raises(InvalidBody) as bad:
        backups.set_retention(s.reader, s.tasks, s.sim, [], retention=5, force=False, forever=False)
    assert (
        bad.value.message
        == "Invalid body: Specify a backup_id key/value to set the retention of backup instances."
    )
    for ids, group, message in (
        (["nope"], None, "Object type: backup id: nope could not be found"),
        ([first], "nope", "Object type: cluster_group id: nope could not be found"),
    ):
        with pytest.raises(ObjectNotFound) as missing:
            backups.set_retention(s.reader, s.tasks, s.sim, ids, retention=5, force=False, forever=False,
                                  cluster_group_id=group)  # fmt: skip
        assert missing.value.message == message
    assert s.store.tasks == {}


def test_a_retention_that_became_fatal_before_the_task_ran_fails_without_force(s: Services) -> None:
    s.run_on_poll()
    backup = _take(s, s.live_vms()[0], "young")
    task, doomed = backups.set_retention(s.reader, s.tasks, s.sim, [str(backup["id"])], retention=10,
                                         force=False, forever=False)  # fmt: skip
    assert task is not None and doomed == []
    s.clock.advance(timedelta(minutes=10))
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 30, "Backup young would expire at once; set force to remove it.")
    assert unchanged(s.federation) == before


def test_backups_are_removed_when_they_expire(s: Services) -> None:
    backup = _take(s, s.live_vms()[4], "short", retention=90)
    s.clock.advance(timedelta(minutes=89, seconds=59))
    _settle(s)
    assert s.federation.row(BACKUPS, backup["id"])["name"] == "short"
    s.clock.advance(timedelta(seconds=1))
    # Before the worker's next turn, operations already see it gone.
    with pytest.raises(ObjectNotFound) as missing:
        backups.lock(s.reader, s.tasks, s.sim, str(backup["id"]))
    assert missing.value.message == f"Object type: backup id: {backup['id']} could not be found"
    now = to_text(s.clock.now())
    expiring = [b for b in s.federation.rows(BACKUPS) if b["expiration_time"] and b["expiration_time"] <= now]
    assert len(expiring) >= 1
    assert _settle(s) == Settled(expired=len(expiring), progressed=0)
    assert backup["id"] not in s.federation.collections[BACKUPS.plural]
    assert not {b["id"] for b in expiring} & set(s.federation.ledger.holders)
    assert problems(s.federation) == []
    assert _settle(s) == Settled()


# ---- calculate_unique_size ----------------------------------------------------------------------------


def test_calculate_unique_size(s: Services) -> None:
    vm = next(v for v in s.live_vms() if len(_kept(s, v, str(v["omnistack_cluster_id"]))) >= 3)
    kept = _kept(s, vm, str(vm["omnistack_cluster_id"]))
    last, gone = str(kept[-1]["id"]), str(kept[-2]["id"])
    # Deleting the backup before it leaves the last one holding the changes of both intervals.
    assert s.poll(backups.delete(s.reader, s.tasks, s.sim, [gone])).state == "COMPLETED"
    s.clock.advance(timedelta(hours=1))
    assert s.poll(backups.calculate_unique_size(s.reader, s.tasks, s.sim, last)) == Ended(
        "COMPLETED", affected=((last, BACKUP),)
    )
    after = s.federation.row(BACKUPS, last)
    assert (after["unique_size_bytes"], after["unique_size_timestamp"]) == (
        mirror(s.federation).unique_size(last), "2026-11-20T13:00:00Z",
    )  # fmt: skip
    assert problems(s.federation, measured=[last]) == []


def test_calculate_unique_size_refusals(s: Services) -> None:
    stored = next(b for b in s.federation.rows(BACKUPS) if b["external_store_name"])
    with pytest.raises(TaskError) as refused:
        backups.calculate_unique_size(s.reader, s.tasks, s.sim, str(stored["id"]))
    assert _refused(refused) == (
        "30", f"The unique size of backup {stored['name']} cannot be calculated: it is kept in external store "
              f"{stored['external_store_name']}.",
    )  # fmt: skip
    _paced(s, "virtual_machine.backup")
    busy = _take(s, s.live_vms()[0], "busy")
    with pytest.raises(TaskError) as refused:
        backups.calculate_unique_size(s.reader, s.tasks, s.sim, str(busy["id"]))
    assert _refused(refused) == ("60", "Backup busy is NEW: only a PROTECTED backup can be measured.")
    assert [t["operation"] for t in s.store.tasks.values()] == ["virtual_machine.backup"]


@pytest.mark.parametrize("operation", ["lock", "rename", "calculate_unique_size"])
def test_a_task_on_a_backup_that_expired_meanwhile_fails(s: Services, operation: str) -> None:
    s.run_on_poll()
    backup = min((b for b in s.federation.rows(BACKUPS) if b["expiration_time"] and b["omnistack_cluster_id"]),
                 key=lambda b: str(b["expiration_time"]))  # fmt: skip
    backup_id = str(backup["id"])
    if operation == "lock":
        task = backups.lock(s.reader, s.tasks, s.sim, backup_id)
    elif operation == "rename":
        task = backups.rename(s.reader, s.tasks, s.sim, backup_id, "renamed")
    else:
        task = backups.calculate_unique_size(s.reader, s.tasks, s.sim, backup_id)
    s.clock.set(from_text(str(backup["expiration_time"])))
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: backup id: {backup_id} could not be found")
    assert unchanged(s.federation) == before
