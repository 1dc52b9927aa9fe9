"""The services that reach the simulator for hosts and guests, against the in-memory fakes:
services/hosts.py remove_from_federation (the cluster's bytes shared anew among the hosts left, VMs
re-homed or removed) and services/guest_credentials.py (the guest's OS from the simulator), through
the real TaskEngine; quick-check refusals, and FAILED tasks that changed nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher

from openovc.domain.catalog import (
    BACKUPS,
    DATASTORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.ports.operations import GuestCredentials, Shutdown
from openovc.services import auth, guest_credentials, hosts
from tests.support.fakes import Ended, Services
from tests.support.memory_content import problems, unchanged

Row = dict[str, Any]
HOST = "host"
VM = "virtual_machine"


@pytest.fixture
def s() -> Services:
    return Services.start(simulated=[hosts, guest_credentials])


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2 with the least work (still a salted hash): the server's takes a second on a busy machine."""
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield


# ---- remove_from_federation ------------------------------------------------------------------------


def _controller(s: Services) -> str:
    serving = s.reader.controller_host_id()
    assert serving is not None
    return serving


def _other_cluster(s: Services) -> Row:
    """A cluster that does not contain the serving controller's host."""
    serving = s.federation.row(HOSTS, _controller(s))
    return next(
        c for c in s.federation.rows(OMNISTACK_CLUSTERS) if c["id"] != serving["omnistack_cluster_id"]
    )


def _cluster_hosts(s: Services, cluster_id: object) -> list[Row]:
    return [h for h in s.federation.rows(HOSTS) if h["omnistack_cluster_id"] == cluster_id]


def _in_cluster(s: Services, cluster_id: object, *states: str) -> list[Row]:
    return [v for v in s.federation.rows(VIRTUAL_MACHINES)
            if v["omnistack_cluster_id"] == cluster_id and v["state"] in (states or ("ALIVE",))]  # fmt: skip


def _remove(s: Services, host_id: str, force: bool) -> Ended:
    return s.poll(hosts.remove_from_federation(s.reader, s.tasks, host_id, force))


def _replicas(vm: Row) -> set[str]:
    return {str(r["id"]) for r in vm["replica_set"] or []}


def test_the_serving_host_cannot_remove_itself(s: Services) -> None:
    host = s.federation.row(HOSTS, _controller(s))
    with pytest.raises(TaskError) as refused:
        hosts.remove_from_federation(s.reader, s.tasks, str(host["id"]), True)
    assert (refused.value.error_code, refused.value.message) == (
        "30", f"Host {host['name']} runs the Virtual Controller serving this request and cannot remove itself; "
              "send the request to another host's Virtual Controller.",
    )  # fmt: skip
    with pytest.raises(ObjectNotFound) as missing:
        hosts.remove_from_federation(s.reader, s.tasks, "nope", True)
    assert missing.value.message == "Object type: host id: nope could not be found"
    assert s.store.tasks == {}


def test_remove_refuses_a_host_that_holds_data(s: Services) -> None:
    host = _cluster_hosts(s, _other_cluster(s)["id"])[0]
    holding = [v for v in _in_cluster(s, host["omnistack_cluster_id"]) if host["id"] in _replicas(v)]
    before = unchanged(s.federation)
    assert _remove(s, str(host["id"]), False) == Ended(
        "FAILED", 40, f"Host {host['name']} still holds the data of {len(holding)} virtual machine(s), such as "
                      f"{holding[0]['name']}; move them to other hosts or set force to remove it anyway.",
    )  # fmt: skip
    assert unchanged(s.federation) == before


def test_remove_with_force_rehomes_the_vms_and_shares_the_cluster_anew(s: Services) -> None:
    cluster = _other_cluster(s)
    host, *others = _cluster_hosts(s, cluster["id"])
    other_ids = {str(o["id"]) for o in others}
    with s.federation.writing() as txn:  # a shutdown in progress and the hardware document go with it
        txn.state().put_shutdown(Shutdown(str(host["id"]), "IN_PROGRESS", True, 0))
    assert _remove(s, str(host["id"]), True) == Ended("COMPLETED", affected=((str(host["id"]), HOST),))
    assert str(host["id"]) not in s.federation.collections[HOSTS.plural]
    assert s.reader.hardware(str(host["id"])) is None
    with s.federation.reading() as state:
        assert state.shutdown(str(host["id"])) is None
    after = s.federation.row(OMNISTACK_CLUSTERS, cluster["id"])
    assert sorted(after["members"]) == sorted(other_ids) and after["arbiter_required"] == (
        len(other_ids) == 2
    )
    remaining = [s.federation.row(HOSTS, o) for o in sorted(other_ids)]
    assert after["allocated_capacity"] == sum(h["allocated_capacity"] for h in remaining)
    assert after["used_capacity"] == sum(h["used_capacity"] for h in remaining) == cluster["used_capacity"]
    for vm in _in_cluster(s, cluster["id"], "ALIVE", "DELETED", "REMOVED"):
        assert vm["host_id"] in other_ids and _replicas(vm) <= other_ids
        assert {r["role"] for r in vm["replica_set"]} == {"PRIMARY", "SECONDARY"}
        if vm["state"] == "ALIVE":
            assert (vm["ha_status"], vm["ha_resynchronization_progress"]) == ("SAFE", 100)
    assert problems(s.federation) == []
    # It is gone: removing it again is a 404.
    with pytest.raises(ObjectNotFound):
        hosts.remove_from_federation(s.reader, s.tasks, str(host["id"]), True)


def test_remove_the_last_hosts_of_a_cluster(s: Services) -> None:
    cluster = _other_cluster(s)
    first, second, last = (str(h["id"]) for h in _cluster_hosts(s, cluster["id"]))
    alive = {str(v["id"]) for v in _in_cluster(s, cluster["id"])}
    assert _remove(s, first, True).state == "COMPLETED"
    assert _remove(s, second, True).state == "COMPLETED"
    for vm in _in_cluster(s, cluster["id"]):
        assert (vm["ha_status"], _replicas(vm)) == ("DEGRADED", {last})  # no second host to keep a copy
    before = unchanged(s.federation)
    assert _remove(s, last, False).error_code == 40
    assert unchanged(s.federation) == before
    assert _remove(s, last, True).state == "COMPLETED"
    after = s.federation.row(OMNISTACK_CLUSTERS, cluster["id"])
    assert (after["members"], after["allocated_capacity"], after["free_space"]) == ([], 0, 0)
    assert _in_cluster(s, cluster["id"]) == []
    removed = _in_cluster(s, cluster["id"], "REMOVED")
    assert {str(v["id"]) for v in removed} == alive
    assert all(v["replica_set"] == [] and v["host_id"] == "" and v["ha_status"] == "UNKNOWN" for v in removed)
    assert not alive & set(s.federation.ledger.holders)
    theirs = [b for b in s.federation.rows(BACKUPS) if b["virtual_machine_id"] in alive]
    assert theirs and {b["virtual_machine_state"] for b in theirs} == {"REMOVED"}
    # With no live VM left, every datastore of the cluster is empty again.
    for ds in s.federation.rows(DATASTORES):
        if ds["omnistack_cluster_id"] == cluster["id"]:
            assert ds["hypervisor_free_space"] == ds["size"]
    assert problems(s.federation) == []


def test_remove_refuses_the_last_host_without_force(s: Services) -> None:
    cluster = _other_cluster(s)
    first, second, last = _cluster_hosts(s, cluster["id"])
    # A live volume kept on the first host (moved here as rows: the refusal reads no data).
    volume = next(pv for pv in s.federation.rows(PERSISTENT_VOLUMES) if pv["state"] == "ALIVE")
    replicas = [{"id": first["id"], "role": "PRIMARY"}, {"id": second["id"], "role": "SECONDARY"}]
    with s.federation.writing() as txn:
        txn.update(PERSISTENT_VOLUMES, str(volume["id"]),
                   {"omnistack_cluster_id": cluster["id"], "host_id": first["id"], "replica_set": replicas})  # fmt: skip
    volumes = [
        pv for pv in s.federation.rows(PERSISTENT_VOLUMES)
        if pv["omnistack_cluster_id"] == cluster["id"] and pv["state"] == "ALIVE"
        and first["id"] in {pv["host_id"], *_replicas(pv)}
    ]  # fmt: skip
    with s.federation.writing() as txn:  # a cluster whose VMs are all gone
        txn.update_where(VIRTUAL_MACHINES, {"omnistack_cluster_id": cluster["id"]}, {"state": "DELETED"})
    assert volumes  # the demo keeps volumes there; a live volume's data keeps the host, as a VM's does
    before = unchanged(s.federation)
    assert _remove(s, str(first["id"]), False) == Ended(
        "FAILED",
        40,
        f"Host {first['name']} still holds the data of {len(volumes)} persistent volume(s), such as "
        f"{volumes[0]['name']}; set force to remove it anyway.",
    )
    assert unchanged(s.federation) == before
    with s.federation.writing() as txn:
        txn.update_where(PERSISTENT_VOLUMES, {"omnistack_cluster_id": cluster["id"]}, {"state": "DELETED"})
    assert _remove(s, str(first["id"]), False).state == "COMPLETED"
    assert _remove(s, str(second["id"]), False).state == "COMPLETED"
    before = unchanged(s.federation)
    assert _remove(s, str(last["id"]), False) == Ended(
        "FAILED",
        60,
        f"Host {last['name']} is the last host of its omnistack_cluster; set force to remove it anyway.",
    )
    assert unchanged(s.federation) == before
    assert s.federation.row(OMNISTACK_CLUSTERS, cluster["id"])["members"] == [last["id"]]


def test_a_removal_fails_when_the_host_went_meanwhile(s: Services) -> None:
    host = str(_cluster_hosts(s, _other_cluster(s)["id"])[0]["id"])
    s.run_on_poll()
    one = hosts.remove_from_federation(s.reader, s.tasks, host, True)
    two = hosts.remove_from_federation(s.reader, s.tasks, host, True)
    assert s.poll(one).state == "COMPLETED"
    before = unchanged(s.federation)
    assert s.poll(two) == Ended("FAILED", 20, f"Object type: host id: {host} could not be found")
    assert unchanged(s.federation) == before


# ---- guest credentials -----------------------------------------------------------------------------


def _pick(s: Services, status: str, power: str = "ON") -> Row:
    return next(
        v for v in s.federation.rows(VIRTUAL_MACHINES)
        if v["state"] == "ALIVE" and v["app_aware_vm_status"] == status
        and v["hypervisor_virtual_machine_power_state"] == power and not v["hypervisor_is_template"]
    )  # fmt: skip


def _check(s: Services, vm: Row, username: str, password: str) -> str:
    return guest_credentials.validate(s.federation, s.reader, s.sim, str(vm["id"]), username, password)


def _set(s: Services, vm: Row, username: str, password: str, *, override: bool = False,
         app_aware: str | None = None) -> Ended:  # fmt: skip
    task = guest_credentials.set_backup_parameters(
        s.federation, s.reader, s.tasks, s.sim, str(vm["id"]), username=username, password=password,
        override=override, app_aware_type=app_aware,
    )  # fmt: skip
    return s.poll(task)


def _status(s: Services, vm: Row) -> str:
    return str(s.federation.row(VIRTUAL_MACHINES, vm["id"])["app_aware_vm_status"])


def _stored(s: Services, vm: Row) -> GuestCredentials | None:
    with s.federation.reading() as state:
        return state.guest_credentials(str(vm["id"]))


@pytest.mark.parametrize(
    ("status", "username", "password", "answer"),
    [
        ("CAPABLE", "Administrator", "any-password", "VALID"),
        ("CAPABLE", "administrator", "x", "VALID"),
        ("CAPABLE", ".\\Administrator", "x", "VALID"),
        ("CAPABLE", "CORP\\ADMINISTRATOR", "x", "VALID"),
        ("CAPABLE", "\\Administrator", "x", "INVALID"),
        ("CAPABLE", "Administrator", "", "INVALID"),
        ("CAPABLE", "root", "x", "INVALID"),
        ("CAPABLE", "", "", "INVALID"),
        ("INVALID_OS", "root", "x", "VALID"),
        ("INVALID_OS", "ROOT", "x", "INVALID"),
        ("INVALID_OS", "Administrator", "x", "INVALID"),
    ],
)
def test_a_guest_accepts_its_administrator(
    s: Services, status: str, username: str, password: str, answer: str
) -> None:
    assert _check(s, _pick(s, status), username, password) == answer


def test_validation_refusals(s: Services) -> None:
    assert _check(s, _pick(s, "VMWARE_TOOLS_UNAVAILABLE", "OFF"), "Administrator", "x") == "VM_POWERED_OFF"
    with pytest.raises(ObjectNotFound) as missing:
        guest_credentials.validate(s.federation, s.reader, s.sim, "nope", "Administrator", "x")
    assert missing.value.message == "Object type: virtual_machine id: nope could not be found"
    deleted = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    with pytest.raises(TaskError) as dead:
        _check(s, deleted, "Administrator", "x")
    assert (dead.value.error_code, dead.value.message) == (
        "60",
        f"The virtual machine {deleted['name']} is DELETED.",
    )


def test_backup_parameters_teach_the_guest_its_password(s: Services) -> None:
    vm = _pick(s, "CAPABLE")
    assert _set(s, vm, "Administrator", "pw-1", app_aware="VSS") == Ended(
        "COMPLETED", affected=((str(vm["id"]), VM),)
    )
    assert _status(s, vm) == "VALID_CREDS"
    # From now on the guest accepts exactly those credentials.
    assert (_check(s, vm, "administrator", "pw-1"), _check(s, vm, "Administrator", "pw-2")) == (
        "VALID",
        "INVALID",
    )
    # Other credentials are stored but not accepted.
    _set(s, vm, "Administrator", "pw-2")
    assert _status(s, vm) == "INVALID_CREDS"
    assert (_check(s, vm, "Administrator", "pw-2"), _check(s, vm, "Administrator", "pw-1")) == (
        "INVALID",
        "VALID",
    )
    # Overriding validation marks them valid without teaching the guest anything.
    _set(s, vm, "svc", "pw-3", override=True)
    assert _status(s, vm) == "VALID_CREDS" and _check(s, vm, "svc", "pw-3") == "INVALID"
    stored = _stored(s, vm)
    assert stored is not None
    # null app_aware_type kept the type set before; passwords are kept only as hashes.
    assert (stored.username, stored.app_aware_type, stored.override_validation, stored.account_username) == (
        "svc", "VSS", True, "Administrator",
    )  # fmt: skip
    kept = " ".join([*(str(t["payload"]) for t in s.store.tasks.values()), stored.password_hash,
                     str(stored.account_password_hash)])  # fmt: skip
    assert not any(f"pw-{n}" in kept for n in range(1, 4))


def test_backup_parameters_for_a_linux_guest(s: Services) -> None:
    linux = _pick(s, "INVALID_OS")
    assert _set(s, linux, "root", "toor").state == "COMPLETED"
    # VSS needs a Windows guest: a Linux guest's credentials are stored, its status stays.
    assert _status(s, linux) == "INVALID_OS"
    assert (_check(s, linux, "root", "toor"), _check(s, linux, "root", "other")) == ("VALID", "INVALID")


def test_backup_parameters_refusals(s: Services) -> None:
    vm = _pick(s, "CAPABLE")
    for username, password, field in (("", "x", "guest_username"), ("a", "", "guest_password")):
        with pytest.raises(InvalidBody) as bad:
            _set(s, vm, username, password)
        assert bad.value.message == f"Invalid body: {field}: must not be empty"
    with pytest.raises(ObjectNotFound):
        guest_credentials.set_backup_parameters(s.federation, s.reader, s.tasks, s.sim, "nope", username="a",
                                                password="x", override=False, app_aware_type=None)  # fmt: skip
    deleted = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    with pytest.raises(TaskError) as dead:
        _set(s, deleted, "Administrator", "x")
    assert dead.value.error_code == "60"
    assert s.store.tasks == {} and _status(s, vm) == "CAPABLE"


def test_backup_parameters_answered_twice_at_once(s: Services) -> None:
    """The guest is asked when a request is accepted: once another request has taught it a password,
    an answer given before that is stale, and the task fails without changing anything."""
    s.run_on_poll()
    vm = _pick(s, "CAPABLE")

    def submit(password: str) -> Row:
        return guest_credentials.set_backup_parameters(
            s.federation, s.reader, s.tasks, s.sim, str(vm["id"]), username="Administrator", password=password,
            override=False, app_aware_type=None,
        )  # fmt: skip

    first, second = submit("one"), submit("two")
    assert s.poll(first).state == "COMPLETED"
    before = unchanged(s.federation)
    assert s.poll(second) == Ended(
        "FAILED", 60, f"The guest credentials of virtual machine {vm['name']} changed after this request was "
                      "accepted; send it again.",
    )  # fmt: skip
    assert unchanged(s.federation) == before
    assert (_check(s, vm, "Administrator", "one"), _check(s, vm, "Administrator", "two")) == (
        "VALID",
        "INVALID",
    )


def test_backup_parameters_fail_when_the_vm_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm = _pick(s, "CAPABLE")
    task = guest_credentials.set_backup_parameters(s.federation, s.reader, s.tasks, s.sim, str(vm["id"]),
                                                   username="Administrator", password="x", override=False,
                                                   app_aware_type=None)  # fmt: skip
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, str(vm["id"]), {"state": "DELETED"})
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 60, f"The virtual machine {vm['name']} is DELETED.")
    assert unchanged(s.federation) == before
    assert _status(s, vm) == "CAPABLE" and _stored(s, vm) is None
