"""services/datastores.py against the in-memory fakes: create, resize, delete, set_policy, share, unshare."""

from __future__ import annotations

import pytest

from openovc.domain.catalog import (
    DATASTORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.ports.federation import Record
from openovc.services import datastores
from tests.support.fakes import Ended, Services

GiB = 1 << 30
NOW = "2026-11-20T12:00:00Z"  # START as the API writes it
DS = "datastore"


@pytest.fixture
def s() -> Services:
    return Services.start(datastores)


def _alive_on(s: Services, ds_id: str) -> list[Record]:
    return [
        v for v in s.federation.rows(VIRTUAL_MACHINES) if v["datastore_id"] == ds_id and v["state"] == "ALIVE"
    ]


def _holding(s: Services, ds_id: str) -> list[Record]:
    """The live VMs and persistent volumes whose data the datastore holds."""
    holders = [*s.federation.rows(VIRTUAL_MACHINES), *s.federation.rows(PERSISTENT_VOLUMES)]
    return [v for v in holders if v["datastore_id"] == ds_id and v["state"] == "ALIVE"]


def _used(vms: list[Record]) -> int:
    return sum(v["hypervisor_allocated_capacity"] - v["hypervisor_free_space"] for v in vms)


def _busy(s: Services) -> Record:
    """The datastore with the most live VMs."""
    return max(s.federation.rows(DATASTORES), key=lambda d: len(_alive_on(s, d["id"])))


def _empty(s: Services) -> Record:
    """A datastore that holds no live VM or persistent volume."""
    return next(d for d in s.federation.rows(DATASTORES) if not _holding(s, d["id"]))


def _volumes_on(s: Services, ds_id: str, state: str = "ALIVE") -> list[Record]:
    return [
        v for v in s.federation.rows(PERSISTENT_VOLUMES) if v["datastore_id"] == ds_id and v["state"] == state
    ]


def _kill_vms(s: Services, ds_id: str) -> None:
    """The datastore's VMs were deleted in vCenter: they still name it, as history."""
    with s.federation.writing() as txn:
        txn.update_where(VIRTUAL_MACHINES, {"datastore_id": ds_id}, {"state": "DELETED", "deleted_at": NOW})


def _standard(s: Services, cluster_id: str) -> list[Record]:
    return s.reader.standard_hosts(cluster_id)


def _unshared(s: Services) -> Record:
    """A datastore shared with no host, in a cluster with standard hosts."""
    return next(
        d
        for d in s.federation.rows(DATASTORES)
        if not d["shares"] and _standard(s, d["omnistack_cluster_id"])
    )


def _shared(s: Services) -> Record:
    return next(d for d in s.federation.rows(DATASTORES) if d["shares"])


def _refused(error: pytest.ExceptionInfo[TaskError]) -> tuple[str | None, str]:
    return error.value.error_code, error.value.message


# ------------------------------------------------------------------------------------------ create


def test_create_makes_a_complete_datastore_consistent_with_its_cluster(s: Services) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Sydney")
    policy = s.federation.named(POLICIES, "Gold")
    vcenter = cluster["hypervisor_management_system"]
    highest = max(
        int(d["hypervisor_object_id"].split("-")[1])
        for d in s.federation.rows(DATASTORES)
        if d["hypervisor_management_system"] == vcenter
    )
    before = s.federation.rows(DATASTORES)
    task = datastores.create(s.reader, s.tasks, "DS-New-01", cluster["id"], policy["id"], 512 * GiB, True)
    # What the 202 shows is the task as submitted.
    assert (task["state"], task["operation"], task["affected_objects"]) == (
        "QUEUED",
        "datastore.create",
        "[]",
    )
    ended = s.poll(task)
    new = ended.affected[0][0]
    assert ended == Ended("COMPLETED", affected=((new, DS),))
    assert s.federation.row(DATASTORES, new) == {
        "id": new,
        "name": "DS-New-01",
        "size": 512 * GiB,
        "created_at": NOW,
        "mount_directory": f"/mnt/svtfs/0/{new}",
        "omnistack_cluster_id": cluster["id"],
        "omnistack_cluster_name": "Sydney",
        "policy_id": policy["id"],
        "policy_name": "Gold",
        "hypervisor_object_id": f"datastore-{highest + 1}",
        "hypervisor_type": cluster["hypervisor_type"],
        "hypervisor_management_system": vcenter,
        "hypervisor_management_system_name": cluster["hypervisor_management_system_name"],
        "compute_cluster_parent_hypervisor_object_id": cluster["hypervisor_object_parent_id"],
        "compute_cluster_parent_name": cluster["hypervisor_object_parent_name"],
        "shares": [],
        "cluster_group_ids": cluster["cluster_group_ids"],
        "single_replica": True,
        "deleted": False,
        "hypervisor_free_space": 512 * GiB,
    }
    assert [d for d in s.federation.rows(DATASTORES) if d["id"] != new] == before
    # The reader gives JSON-kind values as text, as storage does.
    assert s.reader.get(DATASTORES, new) == {
        **s.federation.row(DATASTORES, new),
        "shares": "[]",
        "cluster_group_ids": f'["{cluster["cluster_group_ids"][0]}"]',
    }
    # The next one in the same vCenter takes the next number; single_replica False keeps two copies.
    second = s.poll(
        datastores.create(s.reader, s.tasks, "DS-New-02", cluster["id"], policy["id"], GiB, False)
    )
    made = s.federation.row(DATASTORES, second.affected[0][0])
    assert (made["hypervisor_object_id"], made["single_replica"]) == (f"datastore-{highest + 2}", False)


def test_create_thin_provisions_up_to_the_cluster_capacity(s: Services) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    policy = s.federation.named(POLICIES, "Bronze")
    capacity = cluster["allocated_capacity"]
    for name in ("DS-Big-1", "DS-Big-2"):
        ended = s.poll(
            datastores.create(s.reader, s.tasks, name, cluster["id"], policy["id"], capacity, False)
        )
        assert ended.state == "COMPLETED"
        assert s.federation.row(DATASTORES, ended.affected[0][0])["size"] == capacity


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Invalid body: The datastore name must not be empty."),
        (" DS", "Invalid body: The datastore name must not begin or end with white space."),
        ("D" * 43, "Invalid body: The datastore name must be at most 42 characters long."),
        ("DS/1:2", "Invalid body: The datastore name contains characters that are not allowed: '/', ':'."),
    ],
)
def test_create_refuses_bad_names(s: Services, name: str, message: str) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    policy = s.federation.named(POLICIES, "Gold")
    before = s.federation.snapshot()
    with pytest.raises(InvalidBody) as error:
        datastores.create(s.reader, s.tasks, name, cluster["id"], policy["id"], GiB, False)
    assert error.value.message == message
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_create_refusals(s: Services) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    policy = s.federation.named(POLICIES, "Gold")
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        datastores.create(s.reader, s.tasks, "DS-Prod-01", cluster["id"], policy["id"], GiB, False)
    assert _refused(refused) == ("13", "Duplicate name exists.")
    with pytest.raises(ObjectNotFound) as missing:
        datastores.create(s.reader, s.tasks, "DS-Fresh", "nope", policy["id"], GiB, False)
    assert missing.value.message == "Object type: omnistack_cluster id: nope could not be found"
    with pytest.raises(ObjectNotFound) as missing:
        datastores.create(s.reader, s.tasks, "DS-Fresh", cluster["id"], "nope", GiB, False)
    assert missing.value.message == "Object type: policy id: nope could not be found"
    capacity = cluster["allocated_capacity"]
    with pytest.raises(TaskError) as refused:
        datastores.create(s.reader, s.tasks, "DS-Fresh", cluster["id"], policy["id"], capacity + 1, False)
    assert _refused(refused) == (
        "50",
        f"The datastore size ({capacity + 1} bytes) exceeds the capacity of cluster Boston ({capacity} bytes).",
    )
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_create_fails_when_the_name_is_taken_by_run_time(s: Services) -> None:
    s.run_on_poll()
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    policy = s.federation.named(POLICIES, "Gold")
    first = datastores.create(s.reader, s.tasks, "DS-Twin", cluster["id"], policy["id"], GiB, False)
    second = datastores.create(s.reader, s.tasks, "DS-Twin", cluster["id"], policy["id"], GiB, False)
    assert s.queued(first) and s.queued(second)
    assert s.poll(first).state == "COMPLETED"
    after_first = s.federation.snapshot()
    assert s.poll(second) == Ended("FAILED", 13, "Duplicate name exists.")
    assert s.federation.snapshot() == after_first
    assert [d["name"] for d in s.federation.rows(DATASTORES)].count("DS-Twin") == 1


def test_create_fails_when_the_policy_went_away(s: Services) -> None:
    s.run_on_poll()
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    policy = s.federation.named(POLICIES, "Default")
    task = datastores.create(s.reader, s.tasks, "DS-Fresh", cluster["id"], policy["id"], GiB, False)
    with s.federation.writing() as txn:
        txn.delete(POLICIES, policy["id"])
    before = s.federation.snapshot()
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: policy id: {policy['id']} could not be found")
    assert s.federation.snapshot() == before


def test_create_fails_when_the_cluster_shrank_by_run_time(s: Services) -> None:
    s.run_on_poll()
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Sydney")
    policy = s.federation.named(POLICIES, "Silver")
    task = datastores.create(s.reader, s.tasks, "DS-Fresh", cluster["id"], policy["id"], 10 * GiB, False)
    with s.federation.writing() as txn:
        txn.update(OMNISTACK_CLUSTERS, cluster["id"], {"allocated_capacity": 5 * GiB})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED",
        50,
        f"The datastore size ({10 * GiB} bytes) exceeds the capacity of cluster Sydney ({5 * GiB} bytes).",
    )
    assert s.federation.snapshot() == before


# ------------------------------------------------------------------------------------------ resize


def test_resize_grows_and_shrinks_to_what_its_vms_use(s: Services) -> None:
    ds = _busy(s)
    used = _used(_holding(s, ds["id"]))
    assert used > 0 and ds["size"] - ds["hypervisor_free_space"] == used
    ended = s.poll(datastores.resize(s.reader, s.tasks, ds["id"], 2 * ds["size"]))
    assert ended == Ended("COMPLETED", affected=((ds["id"], DS),))
    assert s.federation.row(DATASTORES, ds["id"]) == {
        **ds,
        "size": 2 * ds["size"],
        "hypervisor_free_space": 2 * ds["size"] - used,
    }
    assert s.poll(datastores.resize(s.reader, s.tasks, ds["id"], used)).state == "COMPLETED"
    assert s.federation.row(DATASTORES, ds["id"]) == {**ds, "size": used, "hypervisor_free_space": 0}


def test_resize_refusals(s: Services) -> None:
    ds = _busy(s)
    used = _used(_holding(s, ds["id"]))
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        datastores.resize(s.reader, s.tasks, ds["id"], used - 1)
    assert _refused(refused) == (
        "30",
        f"Datastore {ds['name']} cannot be resized to {used - 1} bytes: its virtual machines use {used} bytes.",
    )
    cluster = s.federation.row(OMNISTACK_CLUSTERS, ds["omnistack_cluster_id"])
    too_big = cluster["allocated_capacity"] + 1
    with pytest.raises(TaskError) as refused:
        datastores.resize(s.reader, s.tasks, ds["id"], too_big)
    assert _refused(refused) == (
        "50",
        f"The datastore size ({too_big} bytes) exceeds the capacity of cluster {cluster['name']} "
        f"({cluster['allocated_capacity']} bytes).",
    )
    with pytest.raises(ObjectNotFound) as missing:
        datastores.resize(s.reader, s.tasks, "nope", GiB)
    assert missing.value.message == "Object type: datastore id: nope could not be found"
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_resize_fails_when_its_vms_grew_by_run_time(s: Services) -> None:
    s.run_on_poll()
    ds = _busy(s)
    vms = _alive_on(s, ds["id"])
    used = _used(_holding(s, ds["id"]))
    task = datastores.resize(s.reader, s.tasks, ds["id"], used)
    vm = vms[0]
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, vm["id"], {"hypervisor_free_space": vm["hypervisor_free_space"] - 1})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED",
        30,
        f"Datastore {ds['name']} cannot be resized to {used} bytes: its virtual machines use {used + 1} bytes.",
    )
    assert s.federation.snapshot() == before


# ------------------------------------------------------------------------------------------ delete


def test_delete_removes_an_empty_datastore_and_keeps_its_history(s: Services) -> None:
    ds = max(
        (d for d in s.federation.rows(DATASTORES) if not _volumes_on(s, d["id"])),
        key=lambda d: len(_alive_on(s, d["id"])),
    )
    # Its VMs were deleted in vCenter: nothing live is left on it, but they still name it.
    with s.federation.writing() as txn:
        txn.update_where(
            VIRTUAL_MACHINES, {"datastore_id": ds["id"]}, {"state": "DELETED", "deleted_at": NOW}
        )
    vms_before = s.federation.rows(VIRTUAL_MACHINES)
    ended = s.poll(datastores.delete(s.reader, s.tasks, ds["id"]))
    assert ended == Ended("COMPLETED", affected=((ds["id"], DS),))
    assert s.reader.get(DATASTORES, ds["id"]) is None
    assert s.federation.rows(VIRTUAL_MACHINES) == vms_before
    assert {
        (v["datastore_id"], v["datastore_name"]) for v in vms_before if v["datastore_id"] == ds["id"]
    } == {(ds["id"], ds["name"])}


def test_delete_refusals(s: Services) -> None:
    ds = next(d for d in s.federation.rows(DATASTORES) if len(_alive_on(s, d["id"])) > 1
              and not _volumes_on(s, d["id"]))  # fmt: skip
    n = len(_alive_on(s, ds["id"]))
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        datastores.delete(s.reader, s.tasks, ds["id"])
    assert _refused(refused) == (
        "40",
        f"Datastore {ds['name']} cannot be deleted: it stores {n} virtual machines.",
    )
    with pytest.raises(ObjectNotFound) as missing:
        datastores.delete(s.reader, s.tasks, "nope")
    assert missing.value.message == "Object type: datastore id: nope could not be found"
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_delete_refuses_while_persistent_volumes_live_on_it(s: Services) -> None:
    both = next(d for d in s.federation.rows(DATASTORES) if len(_volumes_on(s, d["id"])) > 1
                and len(_alive_on(s, d["id"])) > 1)  # fmt: skip
    vms, volumes = len(_alive_on(s, both["id"])), len(_volumes_on(s, both["id"]))
    only = next(d for d in s.federation.rows(DATASTORES)
                if d["id"] != both["id"] and len(_volumes_on(s, d["id"])) > 1)  # fmt: skip
    _kill_vms(s, only["id"])  # what is left alive on it is its volumes
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        datastores.delete(s.reader, s.tasks, both["id"])
    assert _refused(refused) == (
        "40",
        f"Datastore {both['name']} cannot be deleted: it stores {vms} virtual machines and "
        f"{volumes} persistent volumes.",
    )
    with pytest.raises(TaskError) as refused:
        datastores.delete(s.reader, s.tasks, only["id"])
    n = len(_volumes_on(s, only["id"]))
    assert _refused(refused) == (
        "40", f"Datastore {only['name']} cannot be deleted: it stores {n} persistent volumes."
    )  # fmt: skip
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_delete_is_not_stopped_by_a_deleted_persistent_volume(s: Services) -> None:
    ds = next(d for d in s.federation.rows(DATASTORES)
              if _volumes_on(s, d["id"], "DELETED") and not _volumes_on(s, d["id"]))  # fmt: skip
    _kill_vms(s, ds["id"])
    volumes = s.federation.rows(PERSISTENT_VOLUMES)
    assert s.poll(datastores.delete(s.reader, s.tasks, ds["id"])) == Ended(
        "COMPLETED", affected=((ds["id"], DS),)
    )
    assert s.reader.get(DATASTORES, ds["id"]) is None
    assert s.federation.rows(PERSISTENT_VOLUMES) == volumes  # the deleted volume still names it


def test_delete_fails_when_a_persistent_volume_arrived_by_run_time(s: Services) -> None:
    s.run_on_poll()
    ds = _empty(s)
    task = datastores.delete(s.reader, s.tasks, ds["id"])
    pv = next(v for v in s.federation.rows(PERSISTENT_VOLUMES) if v["state"] == "ALIVE")
    with s.federation.writing() as txn:
        txn.update(PERSISTENT_VOLUMES, pv["id"], {"datastore_id": ds["id"], "datastore_name": ds["name"]})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED", 40, f"Datastore {ds['name']} cannot be deleted: it stores 1 persistent volume."
    )
    assert s.federation.snapshot() == before


def test_delete_fails_when_a_vm_arrived_by_run_time(s: Services) -> None:
    s.run_on_poll()
    ds = _empty(s)
    task = datastores.delete(s.reader, s.tasks, ds["id"])
    vm = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "ALIVE")
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, vm["id"], {"datastore_id": ds["id"], "datastore_name": ds["name"]})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED", 40, f"Datastore {ds['name']} cannot be deleted: it stores 1 virtual machine."
    )
    assert s.federation.snapshot() == before


def test_delete_fails_when_the_datastore_is_already_gone(s: Services) -> None:
    s.run_on_poll()
    ds = _empty(s)
    first = datastores.delete(s.reader, s.tasks, ds["id"])
    second = datastores.delete(s.reader, s.tasks, ds["id"])
    assert s.poll(first).state == "COMPLETED"
    assert s.poll(second) == Ended("FAILED", 20, f"Object type: datastore id: {ds['id']} could not be found")


# -------------------------------------------------------------------------------------- set_policy


def test_set_policy_moves_the_vms_that_inherit_it(s: Services) -> None:
    ds = next(
        d
        for d in s.federation.rows(DATASTORES)
        if {v["policy_id"] for v in _alive_on(s, d["id"])} - {d["policy_id"]}
    )
    vms = _alive_on(s, ds["id"])
    inheriting = sorted(v["id"] for v in vms if v["policy_id"] == ds["policy_id"])
    own = [v for v in vms if v["policy_id"] != ds["policy_id"]]
    taken = {ds["policy_id"]} | {v["policy_id"] for v in own}
    policy = next(p for p in s.federation.rows(POLICIES) if p["id"] not in taken)
    others = {v["id"]: v for v in s.federation.rows(VIRTUAL_MACHINES) if v["id"] not in inheriting}
    volumes = {v["id"]: v for v in s.federation.rows(PERSISTENT_VOLUMES)}
    ended = s.poll(datastores.set_policy(s.reader, s.tasks, ds["id"], policy["id"]))
    assert ended == Ended(
        "COMPLETED", affected=((ds["id"], DS), *((v, "virtual_machine") for v in inheriting))
    )
    assert s.federation.rows(PERSISTENT_VOLUMES) == list(volumes.values())  # it holds none
    assert s.federation.row(DATASTORES, ds["id"]) == {
        **ds,
        "policy_id": policy["id"],
        "policy_name": policy["name"],
    }
    for vm in s.federation.rows(VIRTUAL_MACHINES):
        if vm["id"] in inheriting:
            assert (vm["policy_id"], vm["policy_name"]) == (policy["id"], policy["name"])
        else:
            assert vm == others[vm["id"]]  # own policies, and dead VMs, stay
    # The policy it already has: nothing changes, only the datastore is named.
    before = s.federation.snapshot()
    again = s.poll(datastores.set_policy(s.reader, s.tasks, ds["id"], policy["id"]))
    assert again == Ended("COMPLETED", affected=((ds["id"], DS),))
    assert s.federation.snapshot() == before


def test_set_policy_moves_the_persistent_volumes_that_inherit_it_as_vms(s: Services) -> None:
    ds = next(d for d in s.federation.rows(DATASTORES) if len(_volumes_on(s, d["id"])) > 2)
    first, *rest = _volumes_on(s, ds["id"])
    own_policy = next(p for p in s.federation.rows(POLICIES) if p["id"] != ds["policy_id"])
    policy = next(
        p for p in s.federation.rows(POLICIES) if p["id"] not in (ds["policy_id"], own_policy["id"])
    )
    with s.federation.writing() as txn:  # one volume was given a policy of its own, as VMs can be
        txn.update(
            PERSISTENT_VOLUMES,
            first["id"],
            {"policy_id": own_policy["id"], "policy_name": own_policy["name"]},
        )
    elsewhere = {v["id"]: v for v in s.federation.rows(PERSISTENT_VOLUMES) if v["datastore_id"] != ds["id"]}
    assert {v["policy_id"] for v in rest} == {ds["policy_id"]}
    inheriting_vms = sorted(v["id"] for v in _alive_on(s, ds["id"]) if v["policy_id"] == ds["policy_id"])
    ended = s.poll(datastores.set_policy(s.reader, s.tasks, ds["id"], policy["id"]))
    assert ended == Ended(
        "COMPLETED",
        affected=(
            (ds["id"], DS),
            *((v, "virtual_machine") for v in inheriting_vms),
            *((v["id"], "persistent_volume") for v in sorted(rest, key=lambda v: str(v["id"]))),
        ),
    )
    for pv in rest:
        after = s.federation.row(PERSISTENT_VOLUMES, pv["id"])
        assert after == {**pv, "policy_id": policy["id"], "policy_name": policy["name"]}
    after_first = s.federation.row(PERSISTENT_VOLUMES, first["id"])
    assert (after_first["policy_id"], after_first["policy_name"]) == (own_policy["id"], own_policy["name"])
    assert {k: s.federation.row(PERSISTENT_VOLUMES, k) for k in elsewhere} == elsewhere


def test_set_policy_leaves_the_volumes_when_it_fails(s: Services) -> None:
    s.run_on_poll()
    ds = next(d for d in s.federation.rows(DATASTORES) if _volumes_on(s, d["id"]))
    policy = next(p for p in s.federation.rows(POLICIES) if p["id"] != ds["policy_id"])
    task = datastores.set_policy(s.reader, s.tasks, ds["id"], policy["id"])
    with s.federation.writing() as txn:
        txn.delete(POLICIES, policy["id"])
    volumes = s.federation.rows(PERSISTENT_VOLUMES)
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: policy id: {policy['id']} could not be found")
    assert s.federation.rows(PERSISTENT_VOLUMES) == volumes


def test_set_policy_refusals(s: Services) -> None:
    ds = _busy(s)
    before = s.federation.snapshot()
    with pytest.raises(ObjectNotFound) as missing:
        datastores.set_policy(s.reader, s.tasks, ds["id"], "nope")
    assert missing.value.message == "Object type: policy id: nope could not be found"
    with pytest.raises(ObjectNotFound) as missing:
        datastores.set_policy(s.reader, s.tasks, "nope", ds["policy_id"])
    assert missing.value.message == "Object type: datastore id: nope could not be found"
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_set_policy_fails_when_the_policy_went_away(s: Services) -> None:
    s.run_on_poll()
    ds = _busy(s)
    policy = next(p for p in s.federation.rows(POLICIES) if p["id"] != ds["policy_id"])
    task = datastores.set_policy(s.reader, s.tasks, ds["id"], policy["id"])
    with s.federation.writing() as txn:
        txn.delete(POLICIES, policy["id"])
    before = s.federation.snapshot()
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: policy id: {policy['id']} could not be found")
    assert s.federation.snapshot() == before


# -------------------------------------------------------------------------------- share / unshare


def test_share_and_unshare_with_standard_hosts(s: Services) -> None:
    ds = _unshared(s)
    hosts = _standard(s, ds["omnistack_cluster_id"])
    assert len(hosts) > 1
    entries = [{"address": h["ip_address"], "host": h["name"], "rw": True} for h in hosts]
    for host in hosts:
        ended = s.poll(datastores.share(s.reader, s.tasks, ds["id"], host["name"]))
        assert ended == Ended("COMPLETED", affected=((ds["id"], DS),))
    assert s.federation.row(DATASTORES, ds["id"]) == {**ds, "shares": entries}
    ended = s.poll(datastores.unshare(s.reader, s.tasks, ds["id"], hosts[0]["name"]))
    assert ended == Ended("COMPLETED", affected=((ds["id"], DS),))
    assert s.federation.row(DATASTORES, ds["id"]) == {**ds, "shares": entries[1:]}


def test_share_refusals(s: Services) -> None:
    ds = _unshared(s)
    cluster = ds["omnistack_cluster_name"]
    stranger = next(
        h["name"] for h in s.federation.standard if h["omnistack_cluster_id"] != ds["omnistack_cluster_id"]
    )
    omnistack = next(
        h["name"] for h in s.federation.rows(HOSTS) if h["omnistack_cluster_id"] == ds["omnistack_cluster_id"]
    )
    before = s.federation.snapshot()
    for name in (stranger, omnistack, "nowhere.example.local"):
        with pytest.raises(TaskError) as refused:
            datastores.share(s.reader, s.tasks, ds["id"], name)
        assert _refused(refused) == ("30", f"{name} is not a standard host of cluster {cluster}.")
    shared = _shared(s)
    host = shared["shares"][0]["host"]
    with pytest.raises(TaskError) as refused:
        datastores.share(s.reader, s.tasks, shared["id"], host)
    assert _refused(refused) == ("60", f"Datastore {shared['name']} is already shared with host {host}.")
    with pytest.raises(ObjectNotFound) as missing:
        datastores.share(s.reader, s.tasks, "nope", host)
    assert missing.value.message == "Object type: datastore id: nope could not be found"
    assert s.store.tasks == {} and s.federation.snapshot() == before


def _host_uses(ds: Record, host: str) -> str:
    return (
        f"Datastore {ds['name']} cannot be unshared from host {host}: "
        "it stores 1 virtual machine running on that host."
    )


def test_unshare_refusals(s: Services) -> None:
    ds = _shared(s)
    host = ds["shares"][0]["host"]
    unshared = _unshared(s)
    other = _standard(s, unshared["omnistack_cluster_id"])[0]["name"]
    with pytest.raises(TaskError) as refused:
        datastores.unshare(s.reader, s.tasks, unshared["id"], other)
    assert _refused(refused) == ("60", f"Datastore {unshared['name']} is not shared with host {other}.")
    with pytest.raises(TaskError) as refused:
        datastores.unshare(s.reader, s.tasks, ds["id"], "nowhere")
    assert _refused(refused) == (
        "30",
        f"nowhere is not a standard host of cluster {ds['omnistack_cluster_name']}.",
    )
    # A VM that runs on the standard host keeps its files on the datastore.
    vm = _alive_on(s, ds["id"])[0]
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, vm["id"], {"host_name": host})
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        datastores.unshare(s.reader, s.tasks, ds["id"], host)
    assert _refused(refused) == ("40", _host_uses(ds, host))
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_share_fails_when_shared_by_run_time(s: Services) -> None:
    s.run_on_poll()
    ds = _unshared(s)
    host = _standard(s, ds["omnistack_cluster_id"])[0]
    first = datastores.share(s.reader, s.tasks, ds["id"], host["name"])
    second = datastores.share(s.reader, s.tasks, ds["id"], host["name"])
    assert s.poll(first).state == "COMPLETED"
    assert s.poll(second) == Ended(
        "FAILED", 60, f"Datastore {ds['name']} is already shared with host {host['name']}."
    )
    assert s.federation.row(DATASTORES, ds["id"])["shares"] == [
        {"address": host["ip_address"], "host": host["name"], "rw": True}
    ]


def test_unshare_fails_when_a_vm_of_the_host_arrived_by_run_time(s: Services) -> None:
    s.run_on_poll()
    ds = _shared(s)
    host = ds["shares"][0]["host"]
    task = datastores.unshare(s.reader, s.tasks, ds["id"], host)
    vm = _alive_on(s, ds["id"])[0]
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, vm["id"], {"host_name": host})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended("FAILED", 40, _host_uses(ds, host))
    assert s.federation.snapshot() == before
    assert s.reader.count_vms(ds["id"], [host, "nowhere"]) == {host: 1}


def test_tasks_on_one_datastore_run_in_order(s: Services) -> None:
    s.run_on_poll()
    ds = _empty(s)
    grow = datastores.resize(s.reader, s.tasks, ds["id"], 2 * ds["size"])
    gone = datastores.delete(s.reader, s.tasks, ds["id"])
    # The delete is due (its poll) but waits for the resize, which holds the datastore.
    polled = s.tasks.poll(str(gone["id"]))
    assert polled is not None and polled["state"] == "QUEUED"
    assert s.poll(grow).state == "COMPLETED"
    assert s.poll(gone) == Ended("COMPLETED", affected=((ds["id"], DS),))
    assert s.reader.get(DATASTORES, ds["id"]) is None
