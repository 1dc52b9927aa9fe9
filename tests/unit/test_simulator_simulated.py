"""SimulatedFederation on a MemoryFederation: every intent against the brute force over the stored pieces.

Each test runs the simulator in a write transaction of the demo federation, as a task's handler would,
and compares what it wrote with tests/support/memory_content.py's recomputation from the slot maps:
a VM's data, its datastore's free space, a backup's sizes and what it sent, and every cluster's and
host's capacity figure (written once, by the before-commit hook, when the transaction finishes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openovc.domain.backups import NEW, PROTECTED, SAVING
from openovc.domain.catalog import (
    BACKUPS,
    DATASTORES,
    EXTERNAL_STORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    VIRTUAL_MACHINES,
)
from openovc.domain.clock import ManualClock
from openovc.domain.errors import InvalidBody
from openovc.domain.fields import Collection
from openovc.domain.metrics import IoSpan
from openovc.domain.ports.federation import R
from openovc.domain.ports.simulator import LINUX, WINDOWS
from openovc.domain.records import Backup, Datastore, VirtualMachine
from openovc.domain.tasks import Codes, TaskFailure
from openovc.domain.timefmt import epoch_ms, to_text
from openovc.simulator import backup_data as data
from openovc.simulator import io
from openovc.simulator.content.ledger import Holder
from openovc.simulator.content.workload import due_steps, first_due
from openovc.simulator.simulated import SimulatedFederation
from tests.support.content_ops import Mirror
from tests.support.fakes import START, MemoryFederation, MemoryTxn, content_of
from tests.support.memory_content import brute_mirror, lacked, ledger_of, mirror, problems, typed

Row = dict[str, Any]


@pytest.fixture
def fed() -> MemoryFederation:
    return MemoryFederation.generated()


@pytest.fixture
def sim(fed: MemoryFederation) -> SimulatedFederation:
    return SimulatedFederation(content_of, fed, fed)


# ---- the demo federation, as the tests find their way in it ------------------------------------------


class _Asked(Exception):
    """Ends a transaction that only asked something: it rolls back."""


def _vm(row: Row) -> VirtualMachine:
    return typed(VIRTUAL_MACHINES, row)


def _bk(row: Row) -> Backup:
    return typed(BACKUPS, row)


def _ds(row: Row) -> Datastore:
    return typed(DATASTORES, row)


def _got(txn: MemoryTxn, coll: Collection[R], key: object) -> R:
    found = txn.get(coll, str(key))
    assert found is not None, key
    return found


def _used(vm: Any) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def _vms(fed: MemoryFederation, **wanted: object) -> list[Row]:
    return [
        v for v in fed.rows(VIRTUAL_MACHINES)
        if v["state"] == "ALIVE" and not v["hypervisor_is_template"] and all(v[k] == w for k, w in wanted.items())
    ]  # fmt: skip


def _running(fed: MemoryFederation) -> Row:
    """The running VM whose workload step is due first."""
    return min(_vms(fed, hypervisor_virtual_machine_power_state="ON"), key=lambda v: _due(fed, v))


def _due(fed: MemoryFederation, vm: Row) -> int:
    due = fed.ledger.workload_due(str(vm["id"]))
    assert due is not None, vm["name"]
    return due


def _rate(fed: MemoryFederation, vm_id: str) -> float:
    return fed.ledger.lineages[fed.ledger.holders[vm_id].lineage].rate


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _other_cluster(fed: MemoryFederation, cluster_id: object) -> Row:
    return next(c for c in fed.rows(OMNISTACK_CLUSTERS) if c["id"] != cluster_id)


def _new_to_a_cluster(fed: MemoryFederation) -> tuple[Row, Row]:
    """A VM and another cluster that keeps none of its backups, so that a backup there sends data."""
    return next(
        (v, c)
        for v in _vms(fed)
        if not _backups_of(fed, v, (c := _other_cluster(fed, v["omnistack_cluster_id"]))["id"])
    )


def _hosts(fed: MemoryFederation, cluster_id: object) -> list[Row]:
    return [h for h in fed.rows(HOSTS) if h["omnistack_cluster_id"] == cluster_id]


def _store(fed: MemoryFederation) -> Row:
    return fed.rows(EXTERNAL_STORES)[0]


def _backups_of(fed: MemoryFederation, vm: Row, place: object) -> list[Row]:
    """The VM's backups kept at a cluster, oldest first."""
    return sorted(
        (b for b in fed.rows(BACKUPS) if b["virtual_machine_id"] == vm["id"] and b["omnistack_cluster_id"] == place),
        key=lambda b: str(b["created_at"]),
    )  # fmt: skip


def _backup_row(fed: MemoryFederation, vm: Row, backup_id: str, *, cluster: object = None, store: object = None,
                consistency: str = "NONE", now: datetime = START) -> Row:  # fmt: skip
    """A new backup's row before the simulator fills its figures in, as the backup service makes it."""
    if store is not None:
        where: Row = {"omnistack_cluster_id": "", "omnistack_cluster_name": "", "external_store_name": store,
                      "associated_cluster": vm["omnistack_cluster_id"], "backup_store_type": "StoreOnceOnPrem"}  # fmt: skip
    else:
        target = fed.row(OMNISTACK_CLUSTERS, str(cluster or vm["omnistack_cluster_id"]))
        where = {"omnistack_cluster_id": target["id"], "omnistack_cluster_name": target["name"],
                 "external_store_name": "", "associated_cluster": target["id"],
                 "backup_store_type": "SimplivityStore"}  # fmt: skip
    return {
        "id": backup_id, "name": backup_id, "type": "MANUAL", "created_at": to_text(now),
        "expiration_time": None, "application_consistent": False, "consistency_type": consistency,
        "virtual_machine_id": vm["id"], "virtual_machine_name": vm["name"], "virtual_machine_state": "ALIVE",
        "virtual_machine_type": "VM", "datastore_id": vm["datastore_id"], "datastore_name": vm["datastore_name"],
        "unique_size_timestamp": to_text(now), **where,
    }  # fmt: skip


def _set(fed: MemoryFederation, coll: Collection[Any], key: object, values: Row) -> None:
    """Change stored fields directly, as a test's setup (no simulator involved)."""
    with fed.writing() as txn:
        txn.update(coll, str(key), values)


def _failure(raised: pytest.ExceptionInfo[TaskFailure]) -> tuple[int, str]:
    return raised.value.error_code, raised.value.message


# ---- virtual machines: the workload --------------------------------------------------------------------


def test_vm_now_applies_the_due_workload_and_cluster_figures_follow_at_finish(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _running(fed)
    vm_id, cluster_id = str(vm["id"]), str(vm["omnistack_cluster_id"])
    due = _due(fed, vm)
    now = _at(due) + timedelta(hours=3)
    steps, following = due_steps(_rate(fed, vm_id), due, epoch_ms(now))
    version = fed.ledger.holders[vm_id].version
    free = fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"]
    cluster = fed.row(OMNISTACK_CLUSTERS, cluster_id)
    hosts = _hosts(fed, cluster_id)
    elsewhere = _other_cluster(fed, cluster_id)
    with fed.writing() as txn:
        caught = sim.vm_now(txn, _got(txn, VIRTUAL_MACHINES, vm_id), now)
        size = mirror(txn).size(vm_id)
        assert size != _used(vm) and steps >= 2
        assert caught == {**vm, "hypervisor_free_space": vm["hypervisor_allocated_capacity"] - size}
        assert txn.get(VIRTUAL_MACHINES, vm_id) == caught
        assert _got(txn, DATASTORES, vm["datastore_id"])["hypervisor_free_space"] == free - (size - _used(vm))
        # The cluster's and its hosts' figures wait for the transaction to finish: they alone are off.
        waiting = txn.get(OMNISTACK_CLUSTERS, cluster_id)
        assert (
            waiting is not None
            and dict(waiting) == dict(cluster)
            and txn.find(HOSTS, omnistack_cluster_id=cluster_id) == hosts
        )
        pending = problems(txn)
        assert pending and {p.split()[1] for p in pending} == {cluster["name"], *(h["name"] for h in hosts)}
        # Asked again at the same instant: nothing more is due.
        assert sim.vm_now(txn, caught, now) is caught
        txn.finish()
        assert problems(txn) == []
        written = _got(txn, OMNISTACK_CLUSTERS, cluster_id)
        assert written["stored_virtual_machine_data"] == cluster[
            "stored_virtual_machine_data"
        ] + size - _used(vm)
        assert written["stored_uncompressed_data"] != cluster["stored_uncompressed_data"]
    assert fed.ledger.holders[vm_id].version == version + steps
    assert fed.ledger.workload_due(vm_id) == following > epoch_ms(now)
    assert problems(fed) == []
    assert fed.row(OMNISTACK_CLUSTERS, cluster_id) == written
    assert fed.row(OMNISTACK_CLUSTERS, str(elsewhere["id"])) == elsewhere


def test_vm_now_changes_nothing_when_no_step_is_due(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    running = _vm(_running(fed))
    stopped = _vm(_vms(fed, hypervisor_virtual_machine_power_state="OFF")[0])
    deleted = _vm(next(v for v in fed.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED"))
    before, ledger = fed.snapshot(), (dict(fed.ledger.holders), dict(fed.ledger.workloads))
    later = _at(_due(fed, dict(running))) + timedelta(days=1)
    with fed.writing() as txn:
        for vm, now in ((running, START), (stopped, later), (deleted, later)):
            assert sim.vm_now(txn, vm, now) is vm
    assert fed.snapshot() == before
    assert (fed.ledger.holders, fed.ledger.workloads) == ledger


def test_power_off_keeps_what_the_workload_wrote_then_stops_it(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _running(fed)
    vm_id = str(vm["id"])
    now = _at(_due(fed, vm)) + timedelta(minutes=30)
    with fed.writing() as txn:
        sim.power_changed(txn, _got(txn, VIRTUAL_MACHINES, vm_id), False, now)
        size = mirror(txn).size(vm_id)
    assert size != _used(vm)
    assert _used(fed.row(VIRTUAL_MACHINES, vm_id)) == size
    assert fed.ledger.workload_due(vm_id) is None
    assert problems(fed) == []
    # Stopped, it writes nothing however long it waits.
    with fed.writing() as txn:
        stored = _got(txn, VIRTUAL_MACHINES, vm_id)
        assert sim.vm_now(txn, stored, now + timedelta(days=3)) is stored


def test_power_on_starts_the_workload_one_interval_from_now(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _vm(_vms(fed, hypervisor_virtual_machine_power_state="OFF")[0])
    template = _vm(next(v for v in fed.rows(VIRTUAL_MACHINES) if v["hypervisor_is_template"]))
    assert fed.ledger.workload_due(vm["id"]) is None
    before = fed.snapshot()
    now = START + timedelta(minutes=5)
    with fed.writing() as txn:
        sim.power_changed(txn, vm, True, now)
        sim.power_changed(txn, template, True, now)
    expected = first_due(_rate(fed, vm["id"]), epoch_ms(now))
    assert expected is not None and fed.ledger.workload_due(vm["id"]) == expected
    assert fed.ledger.workload_due(template["id"]) is None  # a template has no workload
    assert fed.snapshot() == before  # nothing written yet: the first step is not due
    with fed.writing() as txn:
        caught = sim.vm_now(txn, vm, _at(expected))
    assert _used(caught) != _used(vm) and problems(fed) == []


# ---- virtual machines: clone, move, remove, hosts -------------------------------------------------------


def test_clone_shares_the_source_and_takes_its_size_on_the_datastore(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _running(fed)
    cluster = fed.row(OMNISTACK_CLUSTERS, str(vm["omnistack_cluster_id"]))
    free = fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"]
    with fed.writing() as txn:
        source = sim.vm_now(txn, _vm(vm), START)
        sim.clone_vm(txn, source, _got(txn, DATASTORES, vm["datastore_id"]), "clone-1", START)
        txn.insert(VIRTUAL_MACHINES, {**source, **sim.new_identity(source, "clone-1", "clone", START)})
    slots = mirror(fed)
    assert slots.maps["clone-1"] == slots.maps[str(vm["id"])] and slots.size("clone-1") == _used(vm)
    assert fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"] == free - _used(vm)
    after = fed.row(OMNISTACK_CLUSTERS, str(vm["omnistack_cluster_id"]))
    # It stores nothing new: only the logical bytes grow.
    assert (after["stored_uncompressed_data"], after["stored_compressed_data"]) == (
        cluster["stored_uncompressed_data"], cluster["stored_compressed_data"],
    )  # fmt: skip
    assert after["stored_virtual_machine_data"] == cluster["stored_virtual_machine_data"] + _used(vm)
    assert problems(fed, slots=slots) == []


def test_a_clone_that_does_not_fit_is_refused_and_rolls_back(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _running(fed)
    _set(fed, DATASTORES, vm["datastore_id"], {"hypervisor_free_space": 10**9})
    before, commits, holders = fed.snapshot(), fed.commits, dict(fed.ledger.holders)
    # Late enough that its workload wrote something first: that is rolled back too.
    now = _at(_due(fed, vm)) + timedelta(hours=1)
    with pytest.raises(TaskFailure) as refused, fed.writing() as txn:
        source = sim.vm_now(txn, _vm(vm), now)
        grown = _used(source) - _used(vm)
        sim.clone_vm(txn, source, _got(txn, DATASTORES, vm["datastore_id"]), "clone-x", now)
    assert _failure(refused) == (
        Codes.INSUFFICIENT_CAPACITY,
        f"Datastore {vm['datastore_name']} has {10**9 - grown} bytes free; {_used(source)} bytes are needed.",
    )
    assert (fed.snapshot(), fed.commits, fed.ledger.holders) == (before, commits, holders)


def test_move_to_another_cluster_moves_the_data_and_both_clusters_figures(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _vms(fed, hypervisor_virtual_machine_power_state="OFF")[0]
    home = str(vm["omnistack_cluster_id"])
    away = _other_cluster(fed, home)
    target = next(d for d in fed.rows(DATASTORES) if d["omnistack_cluster_id"] == away["id"])
    free = {d["id"]: d["hypervisor_free_space"] for d in fed.rows(DATASTORES)}
    clusters = {c["id"]: c for c in fed.rows(OMNISTACK_CLUSTERS)}
    with fed.writing() as txn:
        moved: Row = {**vm, **sim.new_identity(_vm(vm), "moved-1", "moved", START), "datastore_id": target["id"],
                      "datastore_name": target["name"], "created_at": vm["created_at"]}  # fmt: skip
        placed = sim.placement(txn, _ds(target))
        moved.update(placed)
        sim.move_vm(txn, _vm(vm), moved, _ds(target))
        txn.update(VIRTUAL_MACHINES, str(vm["id"]), {"state": "DELETED"})
        txn.insert(VIRTUAL_MACHINES, moved)
    used = _used(vm)
    assert fed.row(DATASTORES, str(target["id"]))["hypervisor_free_space"] == free[target["id"]] - used
    assert (
        fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"]
        == free[vm["datastore_id"]] + used
    )
    assert fed.ledger.holders["moved-1"].place == away["id"] and str(vm["id"]) not in fed.ledger.holders
    for cluster_id, sign in ((home, -1), (str(away["id"]), 1)):
        assert fed.row(OMNISTACK_CLUSTERS, cluster_id)["stored_virtual_machine_data"] == (
            clusters[cluster_id]["stored_virtual_machine_data"] + sign * used
        )
    # It runs on the least loaded hosts of its new cluster.
    assert placed["omnistack_cluster_id"] == away["id"] and placed["host_id"] in away["members"]
    assert {r["id"] for r in placed["replica_set"]} <= set(away["members"])
    assert [r["role"] for r in placed["replica_set"]] == ["PRIMARY", "SECONDARY"][
        : len(placed["replica_set"])
    ]
    assert problems(fed) == []


def test_a_move_that_does_not_fit_is_refused(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    vm = _vms(fed, hypervisor_virtual_machine_power_state="OFF")[0]
    target = next(d for d in fed.rows(DATASTORES) if d["id"] != vm["datastore_id"])
    _set(fed, DATASTORES, target["id"], {"hypervisor_free_space": 0})
    before, holders = fed.snapshot(), dict(fed.ledger.holders)
    with pytest.raises(TaskFailure) as refused, fed.writing() as txn:
        moved = {**vm, **sim.new_identity(_vm(vm), "moved-2", "moved", START), "datastore_id": target["id"]}
        sim.move_vm(txn, _vm(vm), moved, _got(txn, DATASTORES, target["id"]))
    assert _failure(refused) == (
        Codes.INSUFFICIENT_CAPACITY, f"Datastore {target['name']} has 0 bytes free; {_used(vm)} bytes are needed.",
    )  # fmt: skip
    assert (fed.snapshot(), fed.ledger.holders) == (before, holders)


def test_placement_needs_a_live_host(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    datastore = fed.rows(DATASTORES)[0]
    with fed.writing() as txn:
        txn.update_where(
            HOSTS, {"omnistack_cluster_id": datastore["omnistack_cluster_id"]}, {"state": "FAULTY"}
        )
    with pytest.raises(TaskFailure) as refused, fed.writing() as txn:
        sim.placement(txn, _ds(datastore))
    assert _failure(refused) == (Codes.INVALID_DESTINATION, "Invalid or unexpected destination specified.")


def test_remove_vm_frees_its_data_and_stops_its_workload(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _running(fed)
    cluster = fed.row(OMNISTACK_CLUSTERS, str(vm["omnistack_cluster_id"]))
    free = fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"]
    with fed.writing() as txn:
        sim.remove_vm(txn, _vm(vm))
        txn.update(VIRTUAL_MACHINES, str(vm["id"]), {"state": "REMOVED"})
    assert fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"] == free + _used(vm)
    assert fed.ledger.holder(str(vm["id"])) is None and fed.ledger.workload_due(str(vm["id"])) is None
    after = fed.row(OMNISTACK_CLUSTERS, str(vm["omnistack_cluster_id"]))
    assert after["stored_virtual_machine_data"] == cluster["stored_virtual_machine_data"] - _used(vm)
    assert problems(fed) == []


def test_hosts_changed_shares_the_cluster_among_the_hosts_left(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    cluster = fed.rows(OMNISTACK_CLUSTERS)[1]
    # Nothing changed: the figures written are the generated ones, to the byte.
    with fed.writing() as txn:
        sim.hosts_changed(txn, str(cluster["id"]))
    assert fed.row(OMNISTACK_CLUSTERS, str(cluster["id"])) == cluster
    gone, *left = cluster["members"]
    with fed.writing() as txn:
        txn.delete(HOSTS, gone)
        txn.update(OMNISTACK_CLUSTERS, str(cluster["id"]), {"members": left})
        sim.hosts_changed(txn, str(cluster["id"]))
        assert txn.get(HOSTS, left[0]) == fed.row(HOSTS, left[0])  # not before the transaction finishes
    after = fed.row(OMNISTACK_CLUSTERS, str(cluster["id"]))
    hosts = [fed.row(HOSTS, h) for h in left]
    assert after["allocated_capacity"] == sum(h["allocated_capacity"] for h in hosts)
    assert after["used_capacity"] == sum(h["used_capacity"] for h in hosts) == cluster["used_capacity"]
    assert problems(fed) == []


# ---- backups: taking and copying ------------------------------------------------------------------------


def test_a_local_backup_holds_the_vm_as_it_is(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    vm = _running(fed)
    cluster = fed.row(OMNISTACK_CLUSTERS, str(vm["omnistack_cluster_id"]))
    with fed.writing() as txn:
        source = sim.vm_now(txn, _vm(vm), START)
        row = sim.take_backup(txn, source, _backup_row(fed, vm, "bk-local"), False, START)
        txn.insert(BACKUPS, row)
    assert row == {
        **_backup_row(fed, vm, "bk-local"), "size": _used(vm), "unique_size_bytes": 0, "sent": 0,
        "state": PROTECTED, "sent_duration": 0, "sent_completion_time": None,
    }  # fmt: skip
    assert fed.ledger.holders["bk-local"].kind == "local"
    after = fed.row(OMNISTACK_CLUSTERS, str(cluster["id"]))
    assert after["local_backup_capacity"] == cluster["local_backup_capacity"] + _used(vm)
    assert after["stored_uncompressed_data"] == cluster["stored_uncompressed_data"]
    assert problems(fed, measured=["bk-local"]) == []


@pytest.mark.parametrize("destination", ["remote", "store"])
@pytest.mark.parametrize("paced", [False, True])
def test_a_backup_kept_elsewhere_sends_what_its_place_lacked(
    fed: MemoryFederation, sim: SimulatedFederation, destination: str, paced: bool
) -> None:
    store = _store(fed)
    vm = _vms(fed, omnistack_cluster_id=store["omnistack_cluster_id"])[0]
    if destination == "store":
        place = str(store["name"])
        skeleton = _backup_row(fed, vm, "bk-far", consistency="DEFAULT", store=place)
    else:
        place = str(_other_cluster(fed, vm["omnistack_cluster_id"])["id"])
        skeleton = _backup_row(fed, vm, "bk-far", consistency="DEFAULT", cluster=place)
    before = mirror(fed)
    with fed.writing() as txn:
        row = sim.take_backup(txn, _vm(vm), skeleton, paced, START)
        txn.insert(BACKUPS, row)
    after = mirror(fed)
    sent = lacked(before, after, "bk-far", place)
    assert 0 < sent < _used(vm)
    plan = data.transfer(_used(vm), sent, "DEFAULT", place)
    figures = {"size": _used(vm), "unique_size_bytes": after.unique_size("bk-far"), "sent": sent}
    if paced:
        assert row == {**skeleton, **figures, "state": NEW, "sent_duration": 0, "sent_completion_time": None}
    else:
        done = START + timedelta(seconds=plan.total)
        assert row == {**skeleton, **figures, "state": PROTECTED, "sent_duration": plan.send,
                       "sent_completion_time": to_text(done)}  # fmt: skip
    assert plan.send == data.send_seconds(sent, place) >= 1
    source = fed.ledger.holders[str(vm["id"])]
    assert fed.ledger.holders["bk-far"] == Holder("bk-far", place, source.lineage, source.version, "remote")
    assert problems(fed, measured=["bk-far"], slots=after) == []


def test_a_paced_backup_is_new_then_saving_then_protected(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm, other = _new_to_a_cluster(fed)
    remote = str(other["id"])
    with fed.writing() as txn:
        row = sim.take_backup(txn, _vm(vm), _backup_row(fed, vm, "bk-paced", cluster=remote), True, START)
        txn.insert(BACKUPS, row)
    plan = data.transfer(int(row["size"]), int(row["sent"]), "NONE", remote)
    assert plan.take >= 2 and plan.send >= 1

    def progress(backup: Row, seconds: int) -> Row:
        return sim.backup_progress(fed, _bk(backup), START + timedelta(seconds=seconds))

    assert progress(row, 0) == {}
    assert progress(row, data.NEW_SECONDS) == {"state": SAVING}
    saving = {**row, "state": SAVING}
    assert progress(saving, data.NEW_SECONDS) == {}
    assert progress(saving, plan.total - 1) == {}
    finished = {"state": PROTECTED, "sent": plan.sent, "sent_duration": plan.send,
                "sent_completion_time": to_text(START + timedelta(seconds=plan.total))}  # fmt: skip
    assert progress(saving, plan.total) == finished
    # A NEW backup nobody looked at until it was done ends as it would have; a finished one stays.
    assert progress(row, plan.total + 3600) == finished
    assert progress({**row, **finished}, plan.total + 3600) == {}
    # A local one sends nothing: it is done once taken.
    with fed.writing() as txn:
        local = sim.take_backup(txn, _vm(vm), _backup_row(fed, vm, "bk-paced-local"), True, START)
        txn.insert(BACKUPS, local)
    take = data.take_seconds(int(local["size"]), "NONE")
    assert (local["state"], local["sent"]) == (NEW, 0)
    assert progress(local, take - 1) == {"state": SAVING}
    assert progress(local, take) == {
        "state": PROTECTED,
        "sent": 0,
        "sent_duration": 0,
        "sent_completion_time": None,
    }
    assert problems(fed) == []


def test_a_canceled_backup_shows_what_it_had_sent(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    vm, other = _new_to_a_cluster(fed)
    remote = str(other["id"])
    with fed.writing() as txn:
        row = sim.take_backup(txn, _vm(vm), _backup_row(fed, vm, "bk-cancel", cluster=remote), True, START)
        txn.insert(BACKUPS, row)
    plan = data.transfer(int(row["size"]), int(row["sent"]), "NONE", remote)
    with pytest.raises(_Asked), fed.writing() as txn:  # asked, not done: rolled back
        assert sim.backup_canceled(txn, _bk(row), START + timedelta(seconds=plan.take)) == {
            "sent": 0, "sent_duration": 0, "sent_completion_time": None,
        }  # fmt: skip
        raise _Asked
    now = START + timedelta(seconds=plan.take + plan.send // 2)
    sent = plan.sent * (plan.send // 2) // plan.send
    with pytest.raises(_Asked), fed.writing() as txn:
        assert sim.backup_canceled(txn, _bk(row), now) == {
            "sent": sent, "sent_duration": plan.send // 2, "sent_completion_time": to_text(now) if sent else None,
        }  # fmt: skip
        raise _Asked
    # Canceled, its pieces go with it; deleting it later frees nothing more.
    with fed.writing() as txn:
        txn.update(BACKUPS, "bk-cancel", {"state": "CANCELED", **sim.backup_canceled(txn, _bk(row), now)})
        sim.delete_backups(txn, ["bk-cancel"])
    assert "bk-cancel" not in fed.ledger.holders and problems(fed) == []
    with fed.writing() as txn:
        sim.delete_backups(txn, ["bk-cancel"])
        txn.delete(BACKUPS, "bk-cancel")
    assert problems(fed) == []


def _copy_row(
    fed: MemoryFederation, source: Row, vm: Row, copy_id: str, now: datetime, **where: object
) -> Row:
    """A copy's row before the simulator fills its figures in: the source's, kept elsewhere."""
    kept = ("id", "unique_size_timestamp", "omnistack_cluster_id", "omnistack_cluster_name", "external_store_name",
            "associated_cluster", "backup_store_type")  # fmt: skip
    made = _backup_row(fed, vm, copy_id, now=now, **where)  # type: ignore[arg-type]
    return {**source, **{k: made[k] for k in kept}}


def test_copy_to_another_cluster_and_to_a_store(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    store = _store(fed)
    vm = _vms(fed, omnistack_cluster_id=store["omnistack_cluster_id"])[1]
    source = _backups_of(fed, vm, vm["omnistack_cluster_id"])[-1]
    remote = str(_other_cluster(fed, vm["omnistack_cluster_id"])["id"])
    now = START + timedelta(minutes=1)
    for copy_id, place, skeleton in (
        ("copy-remote", remote, _copy_row(fed, source, vm, "copy-remote", now, cluster=remote)),
        (
            "copy-store",
            str(store["name"]),
            _copy_row(fed, source, vm, "copy-store", now, store=store["name"]),
        ),
    ):
        before = mirror(fed)
        with fed.writing() as txn:
            row = sim.copy_backup(txn, _bk(source), skeleton, False, now)
            txn.insert(BACKUPS, row)
        after = mirror(fed)
        sent = lacked(before, after, copy_id, place)
        plan = data.transfer(int(source["size"]), sent, str(source["consistency_type"]), place)
        assert row == {
            **skeleton, "size": source["size"], "unique_size_bytes": after.unique_size(copy_id), "sent": sent,
            "state": PROTECTED, "sent_duration": plan.send,
            "sent_completion_time": to_text(now + timedelta(seconds=plan.total)),
        }  # fmt: skip
        assert after.maps[copy_id] == after.maps[str(source["id"])]
        assert problems(fed, measured=[copy_id], slots=after) == []


def test_a_copy_back_into_the_vms_own_cluster_is_a_local_backup_that_was_sent(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    """A backup kept in the other cluster, copied back home: the home cluster lacked some of its pieces
    (it is older than what the VM holds now), so they cross the link; kept where its VM is, it is local."""
    vms = {v["id"]: v for v in _vms(fed)}
    source = next(b for b in fed.rows(BACKUPS) if b["virtual_machine_id"] in vms and b["omnistack_cluster_id"]
                  and b["omnistack_cluster_id"] != vms[b["virtual_machine_id"]]["omnistack_cluster_id"])  # fmt: skip
    vm = vms[source["virtual_machine_id"]]
    home = str(vm["omnistack_cluster_id"])
    cluster = fed.row(OMNISTACK_CLUSTERS, home)
    before = mirror(fed)
    with fed.writing() as txn:
        row = sim.copy_backup(
            txn, _bk(source), _copy_row(fed, source, vm, "copy-home", START, cluster=home), False, START
        )
        txn.insert(BACKUPS, row)
    sent = lacked(before, mirror(fed), "copy-home", home)
    assert sent > 0
    after = fed.row(OMNISTACK_CLUSTERS, home)
    assert (after["local_backup_capacity"] - cluster["local_backup_capacity"],
            after["remote_backup_capacity"] - cluster["remote_backup_capacity"]) == (source["size"], 0)  # fmt: skip
    assert (row["sent"], row["sent_duration"]) == (sent, data.send_seconds(sent, home))


def test_delete_backups_frees_what_nothing_else_holds(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = next(v for v in _vms(fed) if len(_backups_of(fed, v, v["omnistack_cluster_id"])) >= 3)
    home = str(vm["omnistack_cluster_id"])
    kept = _backups_of(fed, vm, home)
    gone = [str(b["id"]) for b in kept[:3]]
    stored = mirror(fed).totals(home).uncompressed
    freed = sum(int(b["size"]) for b in kept[:3])
    cluster = fed.row(OMNISTACK_CLUSTERS, home)
    with fed.writing() as txn:
        for backup_id in gone:
            txn.delete(BACKUPS, backup_id)
        sim.delete_backups(txn, gone)
    assert not set(gone) & set(fed.ledger.holders)
    after = fed.row(OMNISTACK_CLUSTERS, home)
    assert after["local_backup_capacity"] == cluster["local_backup_capacity"] - freed
    slots = mirror(fed)
    assert after["stored_uncompressed_data"] == slots.totals(home).uncompressed < stored
    assert problems(fed, slots=slots) == []


def test_unique_size_is_what_deleting_the_backup_would_free(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    slots = mirror(fed)

    def grows(kept: list[Row]) -> bool:
        """Whether the older backup holds more of its own once the newer one is gone."""
        without = Mirror({**slots.place}, {**slots.kind}, {**slots.maps})
        without.drop(str(kept[-1]["id"]))
        return without.unique_size(str(kept[-2]["id"])) > slots.unique_size(str(kept[-2]["id"]))

    kept = next(
        k for v in _vms(fed) if len(k := _backups_of(fed, v, v["omnistack_cluster_id"])) >= 2 and grows(k)
    )
    older, newer = str(kept[-2]["id"]), str(kept[-1]["id"])
    with fed.writing() as txn:
        alone = sim.unique_size(txn, older)
        assert alone == slots.unique_size(older)
        txn.delete(BACKUPS, newer)
        sim.delete_backups(txn, [newer])
        assert sim.unique_size(txn, older) == mirror(txn).unique_size(older) > alone
    # Measuring changes nothing.
    with fed.writing() as txn:
        places = {place: totals.copy() for place, totals in ledger_of(txn).places.items()}
        sim.unique_size(txn, older)
        assert ledger_of(txn).places == places


# ---- restores --------------------------------------------------------------------------------------------


def test_restore_to_a_new_vm_here_and_in_another_cluster(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _vms(fed, hypervisor_virtual_machine_power_state="ON")[1]
    backup = _backups_of(fed, vm, vm["omnistack_cluster_id"])[0]
    elsewhere = next(
        d for d in fed.rows(DATASTORES) if d["omnistack_cluster_id"] != vm["omnistack_cluster_id"]
    )
    here = fed.row(DATASTORES, str(vm["datastore_id"]))
    for new_id, datastore in (("restored-1", here), ("restored-2", elsewhere)):
        with fed.writing() as txn:
            new: Row = {
                **vm,
                **sim.new_identity(_vm(vm), new_id, new_id, START),
                "datastore_id": datastore["id"],
            }
            capacity = sim.restore_vm(txn, _bk(backup), new, _ds(datastore), START)
            new.update(capacity)
            if datastore is elsewhere:
                new.update(sim.placement(txn, _ds(datastore)))
            txn.insert(VIRTUAL_MACHINES, new)
        allocated = max(int(vm["hypervisor_allocated_capacity"]), int(backup["size"]))
        assert capacity == {"hypervisor_allocated_capacity": allocated,
                            "hypervisor_free_space": allocated - int(backup["size"])}  # fmt: skip
        assert fed.ledger.holders[new_id].place == datastore["omnistack_cluster_id"]
        assert fed.row(DATASTORES, str(datastore["id"]))["hypervisor_free_space"] == (
            datastore["hypervisor_free_space"] - int(backup["size"])
        )
        slots = mirror(fed)
        assert slots.maps[new_id] == slots.maps[str(backup["id"])]
    assert problems(fed) == []
    # No room: refused, nothing made.
    _set(fed, DATASTORES, here["id"], {"hypervisor_free_space": 10})
    holders = dict(fed.ledger.holders)
    with pytest.raises(TaskFailure) as refused, fed.writing() as txn:
        sim.restore_vm(txn, _bk(backup), {**vm, "id": "restored-3"}, _got(txn, DATASTORES, here["id"]), START)
    assert _failure(refused) == (
        Codes.INSUFFICIENT_CAPACITY, f"Datastore {here['name']} has 10 bytes free; {backup['size']} bytes are needed.",
    )  # fmt: skip
    assert fed.ledger.holders == holders


def test_restore_over_puts_the_vm_back_and_stops_its_workload(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = next(v for v in _vms(fed, hypervisor_virtual_machine_power_state="ON")
              if any(b["size"] != _used(v) for b in _backups_of(fed, v, v["omnistack_cluster_id"])))  # fmt: skip
    backup = next(b for b in _backups_of(fed, vm, vm["omnistack_cluster_id"]) if b["size"] != _used(vm))
    free = fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"]
    # Long after its workload's steps were due: the restored content replaces them all.
    now = _at(_due(fed, vm)) + timedelta(days=1)
    with fed.writing() as txn:
        capacity = sim.restore_over(txn, _bk(backup), _vm(vm), START)
        txn.update(VIRTUAL_MACHINES, str(vm["id"]), capacity)
        restored = _got(txn, VIRTUAL_MACHINES, vm["id"])
        assert sim.vm_now(txn, restored, now) is restored
    allocated = max(int(vm["hypervisor_allocated_capacity"]), int(backup["size"]))
    assert capacity == {
        "hypervisor_allocated_capacity": allocated,
        "hypervisor_free_space": allocated - backup["size"],
    }
    assert (
        fed.row(DATASTORES, str(vm["datastore_id"]))["hypervisor_free_space"]
        == free + _used(vm) - backup["size"]
    )
    assert fed.ledger.workload_due(str(vm["id"])) is None
    slots = mirror(fed)
    assert slots.maps[str(vm["id"])] == slots.maps[str(backup["id"])]
    assert problems(fed, slots=slots) == []


def test_restore_over_that_grows_the_vm_needs_room(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    vm, backup = next(
        (v, b) for v in _vms(fed) for b in _backups_of(fed, v, v["omnistack_cluster_id"]) if b["size"] > _used(v)
    )  # fmt: skip
    _set(fed, DATASTORES, vm["datastore_id"], {"hypervisor_free_space": 0})
    before, holders = fed.snapshot(), dict(fed.ledger.holders)
    with pytest.raises(TaskFailure) as refused, fed.writing() as txn:
        sim.restore_over(txn, _bk(backup), _vm(vm), START)
    assert _failure(refused) == (
        Codes.INSUFFICIENT_CAPACITY,
        f"Datastore {vm['datastore_name']} has 0 bytes free; {backup['size'] - _used(vm)} bytes are needed.",
    )
    assert (fed.snapshot(), fed.ledger.holders) == (before, holders)


# ---- guests ----------------------------------------------------------------------------------------------


def test_guest_os_reads_the_row(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    assert {sim.guest_os(_vm(v)) for v in _vms(fed, app_aware_vm_status="CAPABLE")} == {WINDOWS}
    assert {sim.guest_os(_vm(v)) for v in _vms(fed, app_aware_vm_status="INVALID_OS")} == {LINUX}


def test_a_clone_runs_the_guest_of_its_source(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    """A clone (or a moved or restored VM) has its source's disks, so its source's guest; but
    new_identity resets app_aware_vm_status, and with VMXNET3 NICs and a name that hints nothing, the
    OS is drawn from the new id's hash (here a Windows VDI desktop comes back as Linux).

    The clone's row cannot tell (the API's VM has no OS field): the simulator records the source's guest
    for the new VM in the operation's transaction (guest_copied), and guest_os reads it from the state."""
    source = next(v for v in _vms(fed, app_aware_vm_status="CAPABLE") if str(v["name"]).startswith("vdi-")
                  and all(n.get("adapter_type") == "VMXNET3" for n in v["network_interfaces"]))  # fmt: skip
    clones = [{**source, **sim.new_identity(_vm(source), f"id-{i}", f"clone-{i}", START)} for i in range(20)]
    assert LINUX in {sim.guest_os(_vm(c)) for c in clones}  # the row alone: the hash's guess
    with fed.writing() as txn:
        for clone in clones:
            sim.guest_copied(txn, _vm(source), str(clone["id"]))
    with fed.reading() as state:
        assert (
            {sim.guest_os(_vm(c), state) for c in clones} == {sim.guest_os(_vm(source), state)} == {WINDOWS}
        )


@pytest.mark.parametrize("family", [WINDOWS, LINUX])
def test_a_clone_of_a_clone_of_a_stopped_vm_runs_its_guest(
    fed: MemoryFederation, sim: SimulatedFederation, family: str
) -> None:
    status = "CAPABLE" if family == WINDOWS else "INVALID_OS"
    vm = next(
        v
        for v in _vms(fed, app_aware_vm_status=status)
        if v["hypervisor_virtual_machine_power_state"] == "ON"
    )
    with fed.writing() as txn:
        sim.guest_stopped(txn, _vm(vm))
        txn.update(VIRTUAL_MACHINES, vm["id"], {"app_aware_vm_status": "VMWARE_TOOLS_UNAVAILABLE"})
    stopped = fed.row(VIRTUAL_MACHINES, str(vm["id"]))
    first = {**stopped, **sim.new_identity(_vm(stopped), "first", "first", START)}
    second = {**first, **sim.new_identity(_vm(first), "second", "second", START)}
    with fed.writing() as txn:
        sim.guest_copied(txn, _vm(stopped), "first")
        txn.insert(VIRTUAL_MACHINES, first)
        sim.guest_copied(txn, _vm(first), "second")
    with fed.reading() as state:
        assert [sim.guest_os(_vm(v), state) for v in (stopped, first, second)] == [family] * 3
        # What Tools knew is the stopped VM's own: the clones have not reported yet.
        assert [sim.guest_started(state, _vm(v)) for v in (stopped, first, second)] == [
            status,
            "UNKNOWN",
            "UNKNOWN",
        ]


def test_a_vm_removed_forgets_its_guest(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    vm = _running(fed)
    with fed.writing() as txn:
        sim.guest_stopped(txn, _vm(vm))
    with fed.reading() as state:
        assert state.guest_facts(str(vm["id"])) is not None
    with fed.writing() as txn:
        sim.remove_vm(txn, _vm(vm))
    with fed.reading() as state:
        assert state.guest_facts(str(vm["id"])) is None


def test_restore_files_quick_check_and_what_they_write(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = next(
        v for v in _vms(fed, app_aware_vm_status="CAPABLE") if _backups_of(fed, v, v["omnistack_cluster_id"])
    )
    backup = _bk(_backups_of(fed, vm, vm["omnistack_cluster_id"])[-1])
    disk = f"{vm['name']}.vmdk"
    assert sim.backup_disks(fed, backup)[0] == disk
    with fed.reading() as state:
        sim.check_restore_files(fed, state, backup, _vm(vm), [f"{disk}/2/Windows/win.ini"])
        with pytest.raises(InvalidBody) as refused:
            sim.check_restore_files(fed, state, backup, _vm(vm), [f"{disk}/2/Windows/none.txt"])
    assert refused.value.message == (
        f"Invalid body: paths: '{disk}/2/Windows/none.txt' names no file or directory in the backup"
    )
    target = _vms(fed, app_aware_vm_status="INVALID_OS")[0]
    free = fed.row(DATASTORES, str(target["datastore_id"]))["hypervisor_free_space"]
    with fed.writing() as txn:
        written = sim.restore_files(txn, backup, _vm(target), [f"{disk}/2/Windows/win.ini"], START)
    # Another OS's layout: it lands under restored/<disk>/<partition>/ on the target's main volume.
    assert [(f.path, f.directory) for f in written] == [(f"restored/{disk}/2/Windows/win.ini", False)]
    after = fed.row(VIRTUAL_MACHINES, str(target["id"]))
    slots = mirror(fed)
    assert _used(after) == slots.size(str(target["id"])) != _used(target)
    grown = _used(after) - _used(target)
    assert fed.row(DATASTORES, str(target["datastore_id"]))["hypervisor_free_space"] == free - grown
    assert problems(fed, slots=slots) == []


# ---- time ------------------------------------------------------------------------------------------------


def test_the_workload_chore_advances_the_due_vms_and_writes_exact_figures(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    clock = ManualClock(START)
    (chore,) = sim.chores(clock)
    commits = fed.commits
    assert chore() == 0 and fed.commits == commits  # nothing due: it only read
    due: list[str] = []
    while len(due) < 2:  # until two VMs' workloads are due
        clock.advance(timedelta(hours=1))
        due = fed.due(epoch_ms(clock.now()), 1000)
    # One of them stopped meanwhile, its schedule left behind: the chore drops it without writing it.
    stopped = due[0]
    _set(fed, VIRTUAL_MACHINES, stopped, {"hypervisor_virtual_machine_power_state": "OFF"})
    before = {v: fed.row(VIRTUAL_MACHINES, v) for v in due}
    assert chore() == len(due) - 1
    assert fed.ledger.workload_due(stopped) is None
    assert fed.row(VIRTUAL_MACHINES, stopped) == before[stopped]
    slots = mirror(fed)
    for vm_id in due[1:]:
        assert _used(fed.row(VIRTUAL_MACHINES, vm_id)) == slots.size(vm_id) != _used(before[vm_id])
        assert (fed.ledger.workload_due(vm_id) or 0) > epoch_ms(clock.now())
    assert problems(fed, slots=slots) == []
    assert chore() == 0


def test_the_fast_mirror_is_the_brute_force(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    """tests/support/memory_content.mirror equals content_check.mirror_of_memory, forks included."""
    vm = _running(fed)
    backup = _backups_of(fed, vm, vm["omnistack_cluster_id"])[0]
    with fed.writing() as txn:
        datastore = _got(txn, DATASTORES, vm["datastore_id"])
        sim.clone_vm(txn, _vm(vm), datastore, "clone-m", START)
        sim.restore_vm(
            txn, _bk(backup), {**vm, "id": "restored-m"}, _got(txn, DATASTORES, vm["datastore_id"]), START
        )
        sim.vm_now(txn, _vm(vm), _at(_due(fed, vm)) + timedelta(days=2))
        assert mirror(txn) == brute_mirror(txn)


# ---- the past of the metrics ----------------------------------------------------------------------------


def test_a_remote_backup_records_its_io_at_home_and_on_the_receiving_host(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm, remote = _new_to_a_cluster(fed)
    receiver = min(str(h["id"]) for h in _hosts(fed, remote["id"]) if h["state"] == "ALIVE")
    with fed.writing() as txn:
        row = sim.take_backup(txn, _vm(vm), _backup_row(fed, vm, "bk-io", cluster=remote["id"]), False, START)
        txn.insert(BACKUPS, row)
    plan = data.transfer(int(row["size"]), int(row["sent"]), "NONE", str(remote["id"]))
    assert plan.sent > 0
    at, sending = epoch_ms(START), epoch_ms(START) + plan.take * 1000
    assert sorted(fed.data.io) == sorted([
        IoSpan(str(vm["host_id"]), str(vm["id"]), at, sending, int(row["size"]) // io.METADATA_SHARE, 0, "bk-io"),
        IoSpan(str(vm["host_id"]), str(vm["id"]), sending, sending + plan.send * 1000, plan.sent, 0, "bk-io"),
        IoSpan(receiver, "", sending, sending + plan.send * 1000, 0, plan.sent, "bk-io"),
    ])  # fmt: skip


def test_a_canceled_backup_stops_its_io_then(fed: MemoryFederation, sim: SimulatedFederation) -> None:
    vm, other = _new_to_a_cluster(fed)
    remote = str(other["id"])
    with fed.writing() as txn:
        row = sim.take_backup(txn, _vm(vm), _backup_row(fed, vm, "bk-stop", cluster=remote), True, START)
        txn.insert(BACKUPS, row)
    plan = data.transfer(int(row["size"]), int(row["sent"]), "NONE", remote)
    now = START + timedelta(seconds=plan.take + plan.send // 2)
    with fed.writing() as txn:
        sim.backup_canceled(txn, _bk(row), now)
    cut = epoch_ms(now)
    assert {s.end_ms for s in fed.data.io} == {epoch_ms(START) + plan.take * 1000, cut}
    sent = [s for s in fed.data.io if s.end_ms == cut]
    length = plan.send * 1000
    assert [s.read_bytes + s.write_bytes for s in sent] == [
        plan.sent * (cut - sent[0].start_ms) // length
    ] * 2


def test_the_io_is_rolled_up_as_it_ages_and_gone_after_three_years(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = _running(fed)
    with fed.writing() as txn:
        sim.clone_vm(
            txn, sim.vm_now(txn, _vm(vm), START), _got(txn, DATASTORES, vm["datastore_id"]), "clone-io", START
        )
    walked = sorted(fed.data.io)
    assert {s.vm_id for s in walked} == {str(vm["id"]), "clone-io"} and all(s.step_ms == 0 for s in walked)
    for days, step in ((8, 3_600_000), (61, 86_400_000)):
        with fed.writing() as txn:
            sim.keep_history(txn, START + timedelta(days=days))
        assert {s.step_ms for s in fed.data.io} == {step}
        assert sum(s.read_bytes + s.write_bytes for s in fed.data.io) == sum(
            s.read_bytes + s.write_bytes for s in walked
        )
    with fed.writing() as txn:
        sim.keep_history(txn, START + timedelta(days=3 * 365 + 2))
    assert fed.data.io == []


def test_power_changes_are_recorded_and_a_restore_over_powers_off(
    fed: MemoryFederation, sim: SimulatedFederation
) -> None:
    vm = next(
        v
        for v in _vms(fed, hypervisor_virtual_machine_power_state="ON")
        if _backups_of(fed, v, v["omnistack_cluster_id"])
    )
    backup = _backups_of(fed, vm, vm["omnistack_cluster_id"])[0]
    later = START + timedelta(minutes=5)
    with fed.writing() as txn:
        sim.power_changed(txn, _vm(vm), False, START)
        sim.power_changed(txn, _vm(vm), True, later)
    assert fed.data.power == {(str(vm["id"]), epoch_ms(START)): False, (str(vm["id"]), epoch_ms(later)): True}
    with fed.writing() as txn:
        sim.restore_over(txn, _bk(backup), _vm(vm), later + timedelta(minutes=1))
    assert fed.data.power[(str(vm["id"]), epoch_ms(later + timedelta(minutes=1)))] is False
