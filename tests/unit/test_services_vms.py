"""services/virtual_machines.py against the in-memory fakes and the simulator: power, set_policy, clone
and move, through the real TaskEngine; quick-check refusals, and FAILED tasks that changed nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openovc.domain.catalog import BACKUPS, DATASTORES, HOSTS, OMNISTACK_CLUSTERS, POLICIES, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.timefmt import epoch_ms, to_text
from openovc.services import virtual_machines as vms
from openovc.simulator.content.workload import first_due
from tests.support.fakes import Ended, Services
from tests.support.memory_content import mirror, problems, unchanged

Row = dict[str, Any]
VM = "virtual_machine"
POWER = (130, "The VM power state is not acceptable.")


@pytest.fixture
def s() -> Services:
    return Services.start(simulated=[vms])


def _running(s: Services) -> Row:
    """The running VM whose workload step is due first."""
    return min(s.live_vms(hypervisor_virtual_machine_power_state="ON"),
               key=lambda v: s.federation.ledger.workload_due(str(v["id"])) or 0)  # fmt: skip


def _deleted(s: Services) -> Row:
    return next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")


def _used(vm: Row) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def _past_due(s: Services, vm: Row, minutes: int = 90) -> None:
    """Move the clock past the VM's next workload step."""
    due = s.federation.ledger.workload_due(str(vm["id"]))
    assert due is not None
    s.clock.set(datetime.fromtimestamp(due / 1000, UTC) + timedelta(minutes=minutes))


def _set(s: Services, coll: Any, key: str, values: Row) -> None:
    with s.federation.writing() as txn:
        txn.update(coll, key, values)


def _refused(error: pytest.ExceptionInfo[TaskError]) -> tuple[str | None, str]:
    return error.value.error_code, error.value.message


# ------------------------------------------------------------------------------------------- power


def test_power_off_then_on(s: Services) -> None:
    vm = _running(s)
    vm_id = str(vm["id"])
    _past_due(s, vm)
    task = vms.power(s.reader, s.tasks, vm_id, "OFF")
    assert (task["state"], task["operation"]) == ("QUEUED", "virtual_machine.power_off")
    assert s.poll(task) == Ended("COMPLETED", affected=((vm_id, VM),))
    off = s.federation.row(VIRTUAL_MACHINES, vm_id)
    size = mirror(s.federation).size(vm_id)
    # What its workload wrote until now stays; then it stops.
    assert size != _used(vm) and s.federation.ledger.workload_due(vm_id) is None
    assert off == {
        **vm, "hypervisor_free_space": vm["hypervisor_allocated_capacity"] - size,
        "hypervisor_virtual_machine_power_state": "OFF", "hypervisor_consumed_cpu": 0,
        "hypervisor_consumed_memory": 0, "app_aware_vm_status": "VMWARE_TOOLS_UNAVAILABLE",
    }  # fmt: skip
    assert problems(s.federation) == []
    # Off already: refused when it runs, and nothing changes.
    before = unchanged(s.federation)
    assert s.poll(vms.power(s.reader, s.tasks, vm_id, "OFF")) == Ended("FAILED", *POWER)
    assert unchanged(s.federation) == before
    s.clock.advance(timedelta(minutes=1))
    assert s.poll(vms.power(s.reader, s.tasks, vm_id, "ON")).state == "COMPLETED"
    on = s.federation.row(VIRTUAL_MACHINES, vm_id)
    assert on == {
        **off, "hypervisor_virtual_machine_power_state": "ON",
        "hypervisor_consumed_cpu": vm["hypervisor_cpu_count"] * 260,
        "hypervisor_consumed_memory": vm["hypervisor_total_memory"] // 4,
        # VMware Tools reports again what it knew of the guest before it stopped.
        "app_aware_vm_status": vm["app_aware_vm_status"],
    }  # fmt: skip
    assert vm["app_aware_vm_status"] == "CAPABLE"
    rate = s.federation.ledger.lineages[s.federation.ledger.holders[vm_id].lineage].rate
    assert s.federation.ledger.workload_due(vm_id) == first_due(rate, epoch_ms(s.clock.now()))


def test_power_on_keeps_a_known_tools_status(s: Services) -> None:
    vm = s.live_vms(hypervisor_virtual_machine_power_state="OFF")[0]
    _set(s, VIRTUAL_MACHINES, str(vm["id"]), {"app_aware_vm_status": "VALID_CREDS"})
    assert s.poll(vms.power(s.reader, s.tasks, str(vm["id"]), "ON")).state == "COMPLETED"
    assert s.federation.row(VIRTUAL_MACHINES, vm["id"])["app_aware_vm_status"] == "VALID_CREDS"


def test_a_power_cycle_keeps_the_guests_tools_status(s: Services) -> None:
    """Powering off sets VMWARE_TOOLS_UNAVAILABLE, and powering on turns that into UNKNOWN: a VM whose
    guest credentials were accepted (VALID_CREDS) comes back UNKNOWN, so its VSS backups are FAILEDVSS
    until backup_parameters is sent again (the stored credentials are still there)."""
    vm = s.live_vms(app_aware_vm_status="VALID_CREDS", hypervisor_virtual_machine_power_state="ON")[0]
    for state in ("OFF", "ON"):
        assert s.poll(vms.power(s.reader, s.tasks, str(vm["id"]), state)).state == "COMPLETED"
    assert s.federation.row(VIRTUAL_MACHINES, vm["id"])["app_aware_vm_status"] == "VALID_CREDS"


def test_power_refusals(s: Services) -> None:
    template = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["hypervisor_is_template"])
    deleted = _deleted(s)
    before = unchanged(s.federation)
    assert s.poll(vms.power(s.reader, s.tasks, str(template["id"]), "ON")) == Ended("FAILED", *POWER)
    assert s.poll(vms.power(s.reader, s.tasks, str(deleted["id"]), "OFF")) == Ended(
        "FAILED", 60, f"The virtual machine {deleted['name']} is DELETED."
    )
    assert unchanged(s.federation) == before
    with pytest.raises(ObjectNotFound) as missing:
        vms.power(s.reader, s.tasks, "nope", "ON")
    assert missing.value.message == "Object type: virtual_machine id: nope could not be found"


def test_a_power_task_fails_when_the_vm_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm = _running(s)
    task = vms.power(s.reader, s.tasks, str(vm["id"]), "OFF")
    _set(s, VIRTUAL_MACHINES, str(vm["id"]), {"id": "gone"})
    before = unchanged(s.federation)
    assert s.poll(task) == Ended(
        "FAILED", 20, f"Object type: virtual_machine id: {vm['id']} could not be found"
    )
    assert unchanged(s.federation) == before


# ------------------------------------------------------------------------------------------ policy


def test_set_policy_for_one_and_many(s: Services) -> None:
    chosen = s.live_vms()[:3]
    policy = s.federation.rows(POLICIES)[-1]
    ids = [str(v["id"]) for v in chosen]
    task = vms.set_policy(s.reader, s.tasks, [*ids, ids[0]], str(policy["id"]))
    assert s.poll(task) == Ended("COMPLETED", affected=tuple((i, VM) for i in ids))
    for v in chosen:
        assert s.federation.row(VIRTUAL_MACHINES, v["id"]) == {
            **v, "policy_id": policy["id"], "policy_name": policy["name"],
        }  # fmt: skip


def test_set_policy_refusals(s: Services) -> None:
    vm = s.live_vms()[0]
    policy = s.federation.rows(POLICIES)[0]
    with pytest.raises(InvalidBody) as bad:
        vms.set_policy(s.reader, s.tasks, [], str(policy["id"]))
    assert bad.value.message == (
        "Invalid body: Specify a virtual_machine_id key/value to set a policy for virtual_machine instances."
    )
    for ids, policy_id, message in (
        ([str(vm["id"])], "nope", "Object type: policy id: nope could not be found"),
        (
            [str(vm["id"]), "nope"],
            str(policy["id"]),
            "Object type: virtual_machine id: nope could not be found",
        ),
    ):
        with pytest.raises(ObjectNotFound) as missing:
            vms.set_policy(s.reader, s.tasks, ids, policy_id)
        assert missing.value.message == message
    assert s.store.tasks == {}
    # One VM that is not alive fails the whole task.
    deleted = _deleted(s)
    before = unchanged(s.federation)
    task = vms.set_policy(s.reader, s.tasks, [str(vm["id"]), str(deleted["id"])], str(policy["id"]))
    assert s.poll(task) == Ended("FAILED", 60, f"The virtual machine {deleted['name']} is DELETED.")
    assert unchanged(s.federation) == before


def test_a_set_policy_task_fails_when_the_policy_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm = s.live_vms()[0]
    policy = s.federation.rows(POLICIES)[0]
    task = vms.set_policy(s.reader, s.tasks, [str(vm["id"])], str(policy["id"]))
    with s.federation.writing() as txn:
        txn.delete(POLICIES, str(policy["id"]))
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: policy id: {policy['id']} could not be found")
    assert unchanged(s.federation) == before


# ------------------------------------------------------------------------------------------- clone


def test_clone_shares_the_source_as_its_workload_made_it(s: Services) -> None:
    vm = _running(s)
    _past_due(s, vm)
    free = s.federation.row(DATASTORES, vm["datastore_id"])["hypervisor_free_space"]
    ended = s.poll(vms.clone(s.reader, s.tasks, str(vm["id"]), "web-clone-1", "NONE"))
    ((clone_id, _),) = ended.affected
    assert ended == Ended("COMPLETED", affected=((clone_id, VM),)) and clone_id != vm["id"]
    source = s.federation.row(VIRTUAL_MACHINES, vm["id"])
    clone = s.federation.row(VIRTUAL_MACHINES, clone_id)
    slots = mirror(s.federation)
    assert _used(source) == slots.size(str(vm["id"])) != _used(vm)  # the workload caught up first
    assert slots.maps[clone_id] == slots.maps[str(vm["id"])]
    now = to_text(s.clock.now())
    same = {k: v for k, v in source.items() if k not in (
        "id", "name", "created_at", "hypervisor_object_id", "hypervisor_instance_id", "hypervisor_uuid",
        "network_interfaces", "hypervisor_virtual_machine_power_state", "hypervisor_consumed_cpu",
        "hypervisor_consumed_memory", "app_aware_vm_status")}  # fmt: skip
    assert {k: clone[k] for k in same} == same
    assert (clone["name"], clone["created_at"], clone["hypervisor_virtual_machine_power_state"]) == (
        "web-clone-1", now, "OFF",
    )  # fmt: skip
    assert clone["hypervisor_object_id"] != source["hypervisor_object_id"]
    assert s.federation.ledger.workload_due(clone_id) is None  # powered off: no workload runs
    grown = _used(source) - _used(vm)
    assert s.federation.row(DATASTORES, vm["datastore_id"])["hypervisor_free_space"] == free - grown - _used(
        source
    )
    assert problems(s.federation, slots=slots) == []


def test_clone_refusals(s: Services) -> None:
    vm, other = s.live_vms()[:2]
    vm_id = str(vm["id"])
    with pytest.raises(TaskError) as duplicate:
        vms.clone(s.reader, s.tasks, vm_id, str(other["name"]), "NONE")
    assert _refused(duplicate) == ("13", "Duplicate name exists.")
    for name, problem in [
        ("", "The virtual machine name must not be empty."),
        ("a/b", "The virtual machine name contains characters that are not allowed: '/'."),
        ("x" * 81, "The virtual machine name must be at most 80 characters long."),
    ]:
        with pytest.raises(InvalidBody) as bad:
            vms.clone(s.reader, s.tasks, vm_id, name, "NONE")
        assert bad.value.message == f"Invalid body: {problem}"
    deleted = _deleted(s)
    with pytest.raises(TaskError) as dead:
        vms.clone(s.reader, s.tasks, str(deleted["id"]), "ok", "NONE")
    assert _refused(dead) == ("60", f"The virtual machine {deleted['name']} is DELETED.")
    with pytest.raises(ObjectNotFound) as missing:
        vms.clone(s.reader, s.tasks, "nope", "ok", "NONE")
    assert missing.value.message == "Object type: virtual_machine id: nope could not be found"
    assert s.store.tasks == {}


def test_a_clone_that_does_not_fit_fails_and_changes_nothing(s: Services) -> None:
    vm = _running(s)
    _set(s, DATASTORES, str(vm["datastore_id"]), {"hypervisor_free_space": 10})
    # Its workload is due: the catch-up is rolled back with the rest.
    _past_due(s, vm)
    before = unchanged(s.federation)
    ended = s.poll(vms.clone(s.reader, s.tasks, str(vm["id"]), "c2", "NONE"))
    assert (ended.state, ended.error_code) == ("FAILED", 50)
    found = re.fullmatch(rf"Datastore {vm['datastore_name']} has (-?\d+) bytes free; (\d+) bytes are needed\.",
                         ended.message or "")  # fmt: skip
    assert found is not None, ended.message
    # Both as the workload's catch-up left them, which the failed transaction then rolled back (a
    # workload rewrites in place, so it is not refused even on a full datastore).
    free, needed = int(found[1]), int(found[2])
    assert free == 10 - (needed - _used(vm)) and needed != _used(vm)
    assert unchanged(s.federation) == before


def test_a_clone_fails_when_its_name_was_taken_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm, other = s.live_vms()[:2]
    task = vms.clone(s.reader, s.tasks, str(vm["id"]), "taken-later", "NONE")
    _set(s, VIRTUAL_MACHINES, str(other["id"]), {"name": "taken-later"})
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 13, "Duplicate name exists.")
    assert unchanged(s.federation) == before


# -------------------------------------------------------------------------------------------- move


def test_move_to_another_cluster(s: Services) -> None:
    vm = next(v for v in s.live_vms(hypervisor_virtual_machine_power_state="OFF")
              if any(b["virtual_machine_id"] == v["id"] for b in s.federation.rows(BACKUPS)))  # fmt: skip
    target = next(
        d for d in s.federation.rows(DATASTORES) if d["omnistack_cluster_id"] != vm["omnistack_cluster_id"]
    )
    free = {d["id"]: d["hypervisor_free_space"] for d in s.federation.rows(DATASTORES)}
    s.clock.advance(timedelta(minutes=5))
    ended = s.poll(vms.move(s.reader, s.tasks, str(vm["id"]), str(target["id"]), "moved-vm"))
    ((new_id, _),) = ended.affected
    assert ended == Ended("COMPLETED", affected=((new_id, VM),)) and new_id != vm["id"]
    new = s.federation.row(VIRTUAL_MACHINES, new_id)
    cluster = s.federation.row(OMNISTACK_CLUSTERS, target["omnistack_cluster_id"])
    assert (new["name"], new["datastore_id"], new["datastore_name"], new["omnistack_cluster_id"]) == (
        "moved-vm", target["id"], target["name"], target["omnistack_cluster_id"],
    )  # fmt: skip
    assert (new["created_at"], new["hypervisor_virtual_machine_power_state"]) == (vm["created_at"], "OFF")
    assert new["host_id"] in cluster["members"] and {r["id"] for r in new["replica_set"]} <= set(
        cluster["members"]
    )
    used = _used(vm)
    assert s.federation.row(DATASTORES, target["id"])["hypervisor_free_space"] == free[target["id"]] - used
    assert (
        s.federation.row(DATASTORES, vm["datastore_id"])["hypervisor_free_space"]
        == free[vm["datastore_id"]] + used
    )
    old = s.federation.row(VIRTUAL_MACHINES, vm["id"])
    assert (old["state"], old["deleted_at"]) == ("DELETED", to_text(s.clock.now()))
    theirs = [b for b in s.federation.rows(BACKUPS) if b["virtual_machine_id"] == vm["id"]]
    assert theirs and {b["virtual_machine_state"] for b in theirs} == {"DELETED"}
    assert s.federation.ledger.holders[new_id].place == target["omnistack_cluster_id"]
    assert problems(s.federation) == []


def test_move_within_the_cluster_keeps_the_name(s: Services) -> None:
    vm = s.live_vms(hypervisor_virtual_machine_power_state="OFF")[0]
    target = next(d for d in s.federation.rows(DATASTORES)
                  if d["omnistack_cluster_id"] == vm["omnistack_cluster_id"] and d["id"] != vm["datastore_id"])  # fmt: skip
    ended = s.poll(vms.move(s.reader, s.tasks, str(vm["id"]), str(target["id"]), None))
    new = s.federation.row(VIRTUAL_MACHINES, ended.affected[0][0])
    assert (new["name"], new["host_id"], new["replica_set"]) == (vm["name"], vm["host_id"], vm["replica_set"])
    assert s.federation.ledger.holders[str(new["id"])].place == vm["omnistack_cluster_id"]
    assert problems(s.federation) == []


def test_move_refusals(s: Services) -> None:
    on = s.live_vms(hypervisor_virtual_machine_power_state="ON")[0]
    off = s.live_vms(hypervisor_virtual_machine_power_state="OFF")[0]
    elsewhere = next(d for d in s.federation.rows(DATASTORES) if d["id"] != on["datastore_id"])
    with pytest.raises(ObjectNotFound) as missing:
        vms.move(s.reader, s.tasks, str(off["id"]), "nope", None)
    assert missing.value.message == "Object type: datastore id: nope could not be found"
    with pytest.raises(ObjectNotFound) as missing:
        vms.move(s.reader, s.tasks, "nope", str(elsewhere["id"]), None)
    assert missing.value.message == "Object type: virtual_machine id: nope could not be found"
    with pytest.raises(TaskError) as duplicate:
        vms.move(s.reader, s.tasks, str(off["id"]), str(elsewhere["id"]), str(on["name"]))
    assert _refused(duplicate) == ("13", "Duplicate name exists.")
    with pytest.raises(InvalidBody) as bad:
        vms.move(s.reader, s.tasks, str(off["id"]), str(elsewhere["id"]), " x")
    assert (
        bad.value.message == "Invalid body: The virtual machine name must not begin or end with white space."
    )
    assert s.store.tasks == {}
    before = unchanged(s.federation)
    assert s.poll(vms.move(s.reader, s.tasks, str(on["id"]), str(elsewhere["id"]), None)) == Ended(
        "FAILED", *POWER
    )
    ds = s.federation.row(DATASTORES, off["datastore_id"])
    assert s.poll(vms.move(s.reader, s.tasks, str(off["id"]), str(off["datastore_id"]), None)) == Ended(
        "FAILED", 142, f"The virtual machine is already on datastore {ds['name']}."
    )
    target = next(d for d in s.federation.rows(DATASTORES) if d["id"] != off["datastore_id"])
    with s.federation.writing() as txn:
        txn.update(DATASTORES, str(target["id"]), {"hypervisor_free_space": 0})
    before = unchanged(s.federation)
    assert s.poll(vms.move(s.reader, s.tasks, str(off["id"]), str(target["id"]), None)) == Ended(
        "FAILED", 50, f"Datastore {target['name']} has 0 bytes free; {_used(off)} bytes are needed."
    )
    assert unchanged(s.federation) == before
    assert s.federation.row(VIRTUAL_MACHINES, off["id"])["state"] == "ALIVE"


def test_a_move_fails_when_the_target_cluster_has_no_live_host(s: Services) -> None:
    vm = s.live_vms(hypervisor_virtual_machine_power_state="OFF")[0]
    target = next(
        d for d in s.federation.rows(DATASTORES) if d["omnistack_cluster_id"] != vm["omnistack_cluster_id"]
    )
    with s.federation.writing() as txn:
        for host in s.federation.row(OMNISTACK_CLUSTERS, target["omnistack_cluster_id"])["members"]:
            txn.update(HOSTS, host, {"state": "FAULTY"})
    before = unchanged(s.federation)
    assert s.poll(vms.move(s.reader, s.tasks, str(vm["id"]), str(target["id"]), None)) == Ended(
        "FAILED", 142, "Invalid or unexpected destination specified."
    )
    assert unchanged(s.federation) == before


def test_a_move_fails_when_the_vm_was_powered_on_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm = s.live_vms(hypervisor_virtual_machine_power_state="OFF")[0]
    target = next(d for d in s.federation.rows(DATASTORES) if d["id"] != vm["datastore_id"])
    task = vms.move(s.reader, s.tasks, str(vm["id"]), str(target["id"]), None)
    _set(s, VIRTUAL_MACHINES, str(vm["id"]), {"hypervisor_virtual_machine_power_state": "ON"})  # from vCenter
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", *POWER)
    assert unchanged(s.federation) == before
