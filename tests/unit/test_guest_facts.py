"""What the simulator keeps of a VM's guest (GuestFacts): VMware Tools' status across a power cycle or a
restore over the VM, and the guest OS of a VM made from another (clone, move, restore to a new VM)."""

from __future__ import annotations

from typing import Any

import pytest

from openovc.domain.catalog import BACKUPS, DATASTORES, VIRTUAL_MACHINES
from openovc.domain.ports.simulator import LINUX, WINDOWS
from openovc.services import backups, guest_credentials
from openovc.services import virtual_machines as vms
from tests.support.fakes import Services
from tests.support.memory_content import typed

Row = dict[str, Any]
FAMILY = {"CAPABLE": WINDOWS, "VALID_CREDS": WINDOWS, "INVALID_CREDS": WINDOWS, "INVALID_OS": LINUX}


@pytest.fixture
def s() -> Services:
    return Services.start(simulated=[vms, backups, guest_credentials])


def _quiet_windows(s: Services) -> Row:
    """A running Windows VM whose row hints nothing of its OS once Tools stops (VMXNET3 NICs, a VDI name
    the generator reads but a clone's name does not repeat)."""
    return next(
        v for v in s.live_vms(app_aware_vm_status="CAPABLE", hypervisor_virtual_machine_power_state="ON")
        if str(v["name"]).startswith("vdi-") and all(n.get("adapter_type") == "VMXNET3" for n in v["network_interfaces"])
    )  # fmt: skip


def _os(s: Services, vm_id: str) -> str:
    with s.federation.reading() as state:
        return s.sim.guest_os(typed(VIRTUAL_MACHINES, s.federation.row(VIRTUAL_MACHINES, vm_id)), state)


def _status(s: Services, vm_id: str) -> str:
    return str(s.federation.row(VIRTUAL_MACHINES, vm_id)["app_aware_vm_status"])


def _power(s: Services, vm_id: str, state: str) -> None:
    assert s.poll(vms.power(s.reader, s.tasks, vm_id, state)).state == "COMPLETED"


def _only(s: Services, task: Row) -> str:
    ended = s.poll(task)
    assert ended.state == "COMPLETED"
    ((made, _kind),) = ended.affected
    return made


@pytest.mark.parametrize("status", ["CAPABLE", "VALID_CREDS", "INVALID_CREDS", "INVALID_OS"])
def test_a_power_cycle_brings_back_what_tools_knew(s: Services, status: str) -> None:
    running = s.live_vms(app_aware_vm_status="CAPABLE" if FAMILY[status] == WINDOWS else "INVALID_OS",
                   hypervisor_virtual_machine_power_state="ON")  # fmt: skip
    vm_id = str(running[0]["id"])
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, vm_id, {"app_aware_vm_status": status})
    for cycle in range(2):
        _power(s, vm_id, "OFF")
        assert (_status(s, vm_id), _os(s, vm_id)) == ("VMWARE_TOOLS_UNAVAILABLE", FAMILY[status]), cycle
        _power(s, vm_id, "ON")
        assert (_status(s, vm_id), _os(s, vm_id)) == (status, FAMILY[status]), cycle


def test_a_guest_tools_never_reported_on_comes_back_unknown(s: Services) -> None:
    off = s.live_vms(
        app_aware_vm_status="VMWARE_TOOLS_UNAVAILABLE", hypervisor_virtual_machine_power_state="OFF"
    )
    vm_id = str(off[0]["id"])
    _power(s, vm_id, "ON")
    assert _status(s, vm_id) == "UNKNOWN"
    _power(s, vm_id, "OFF")
    _power(s, vm_id, "ON")
    assert _status(s, vm_id) == "UNKNOWN"


def test_clones_and_clones_of_clones_run_their_sources_guest(s: Services) -> None:
    source = _quiet_windows(s)
    first = _only(s, vms.clone(s.reader, s.tasks, str(source["id"]), "copy-a", "NONE"))
    second = _only(s, vms.clone(s.reader, s.tasks, first, "copy-b", "NONE"))
    assert [_os(s, v) for v in (str(source["id"]), first, second)] == [WINDOWS] * 3
    # Tools has not reported on a new VM yet; its guest is the source's, so it takes Administrator.
    _power(s, second, "ON")
    assert _status(s, second) == "UNKNOWN"
    check = guest_credentials.validate
    assert [check(s.federation, s.reader, s.sim, second, u, "pw") for u in ("Administrator", "root")] == [
        guest_credentials.VALID,
        guest_credentials.INVALID,
    ]


def test_a_moved_vm_runs_its_guest(s: Services) -> None:
    vm = _quiet_windows(s)
    _power(s, str(vm["id"]), "OFF")
    target = next(
        d for d in s.federation.rows(DATASTORES)
        if d["omnistack_cluster_id"] == vm["omnistack_cluster_id"] and d["id"] != vm["datastore_id"]
    )  # fmt: skip
    moved = _only(s, vms.move(s.reader, s.tasks, str(vm["id"]), str(target["id"]), "moved-away"))
    assert moved != vm["id"] and _os(s, moved) == _os(s, str(vm["id"])) == WINDOWS


@pytest.mark.parametrize("status", ["CAPABLE", "INVALID_OS"])
def test_a_vm_restored_to_a_new_vm_runs_the_backups_guest(s: Services, status: str) -> None:
    vm, backup = next(
        (v, b) for v in s.live_vms(app_aware_vm_status=status) for b in s.federation.rows(BACKUPS)
        if b["virtual_machine_id"] == v["id"] and b["omnistack_cluster_id"] == v["omnistack_cluster_id"]
        and b["state"] == "PROTECTED"
    )  # fmt: skip
    made = [
        _only(
            s,
            backups.restore(
                s.reader,
                s.tasks,
                s.sim,
                str(backup["id"]),
                original=False,
                name=f"restored-{i}",
                datastore_id=None,
            ),
        )
        for i in range(6)
    ]
    assert {_os(s, v) for v in made} == {_os(s, str(vm["id"]))} == {FAMILY[status]}


def test_a_restore_over_a_vm_keeps_what_tools_knew(s: Services) -> None:
    vm, backup = next(
        (v, b) for v in s.live_vms(app_aware_vm_status="CAPABLE", hypervisor_virtual_machine_power_state="ON")
        for b in s.federation.rows(BACKUPS)
        if b["virtual_machine_id"] == v["id"] and b["omnistack_cluster_id"] == v["omnistack_cluster_id"]
        and b["state"] == "PROTECTED"
    )  # fmt: skip
    vm_id = str(vm["id"])
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, vm_id, {"app_aware_vm_status": "VALID_CREDS"})
    task = backups.restore(
        s.reader, s.tasks, s.sim, str(backup["id"]), original=True, name=None, datastore_id=None
    )
    assert _only(s, task) == vm_id
    assert (_status(s, vm_id), _os(s, vm_id)) == ("VMWARE_TOOLS_UNAVAILABLE", WINDOWS)
    _power(s, vm_id, "ON")
    assert _status(s, vm_id) == "VALID_CREDS"
