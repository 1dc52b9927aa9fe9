"""Hardware faults: the pure rules (domain/hardware_faults.py: drives and arrays, shutdown and resync times)
and services/hardware.py with the HA of services/replicas.py against the in-memory fakes, refusals leaving
everything as it was."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pytest

from openovc.domain.catalog import HOSTS, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.errors import ObjectNotFound
from openovc.domain.hardware_faults import (
    REBUILD_RATE,
    RESYNC_RATE,
    SHUTDOWN_SECONDS,
    HardwareConflict,
    drive_in,
    rebuild_seconds,
    resync_progress,
    resync_seconds,
    running_ms,
    shutdown_done_ms,
    shutdown_status,
    storage_lost,
    usable_capacity,
    with_drive,
    with_progress,
)
from openovc.domain.ports.operations import DriveRebuild, Resync, Shutdown
from openovc.domain.timefmt import epoch_ms
from openovc.services import hosts
from openovc.services.hardware import HardwareService, settle_in
from openovc.simulator.generator.hardware import SSD_1_92, DriveLayout, document
from tests.support.fakes import Services
from tests.support.memory_content import problems, unchanged

Row = dict[str, Any]
C = SSD_1_92.capacity


def _document(drives: int) -> dict[str, Any]:
    return document(random.Random(7), "h1", "esx01", DriveLayout(drives, SSD_1_92))


# ---- the rules -------------------------------------------------------------------------------------


def _states(doc: dict[str, Any]) -> tuple[str, str, str, int]:
    logical = doc["logical_drives"][0]
    return doc["status"], logical["health"], logical["drive_sets"][0]["status"], logical["capacity"]


def test_raid_5_holds_one_failed_drive_and_gives_up_its_share() -> None:
    doc = _document(5)
    assert (_states(doc), usable_capacity(doc), storage_lost(doc)) == (
        ("GREEN", "HEALTHY", "GREEN", 4 * C),
        4 * C,
        False,
    )
    one = with_drive(doc, "h1", "3", failed=True)
    assert (_states(one), usable_capacity(one), storage_lost(one)) == (
        ("YELLOW", "DEGRADED", "YELLOW", 3 * C),
        3 * C,
        False,
    )
    assert drive_in(one, "h1", "3") | {"serial_number": ""} == drive_in(doc, "h1", "3") | {
        "health": "FAILED", "status": "RED", "percent_rebuilt": 0, "additional_status": "Drive failure",
        "serial_number": "",
    }  # fmt: skip
    assert _states(doc)[0] == "GREEN"  # the given document is not changed
    two = with_drive(one, "h1", "1", failed=True)
    assert (_states(two), usable_capacity(two), storage_lost(two)) == (("RED", "FAILED", "RED", 0), 0, True)
    back = with_drive(two, "h1", "1", failed=False)
    assert _states(back) == _states(one)  # the lost array made anew: the new drive a member at once
    assert drive_in(back, "h1", "1") | {"serial_number": ""} == drive_in(doc, "h1", "1") | {
        "life_remaining": 100, "serial_number": "",
    }  # fmt: skip
    # In an array that held, a new drive rebuilds from parity before it gives its share.
    rebuilding = with_drive(back, "h1", "3", failed=False)
    assert (_states(rebuilding), usable_capacity(rebuilding), storage_lost(rebuilding)) == (
        ("YELLOW", "REBUILDING", "YELLOW", 3 * C),
        3 * C,
        False,
    )
    assert drive_in(rebuilding, "h1", "3") | {"serial_number": ""} == drive_in(doc, "h1", "3") | {
        "health": "REBUILDING", "status": "YELLOW", "percent_rebuilt": 0, "additional_status": "Rebuilding",
        "life_remaining": 100, "serial_number": "",
    }  # fmt: skip
    half = with_progress(rebuilding, "h1", "3", 50)
    assert (_states(half), drive_in(half, "h1", "3")["percent_rebuilt"]) == (_states(rebuilding), 50)
    done = with_progress(half, "h1", "3", 100)
    assert (_states(done), usable_capacity(done)) == (_states(doc), 4 * C)
    assert drive_in(done, "h1", "3") | {"serial_number": ""} == drive_in(doc, "h1", "3") | {
        "life_remaining": 100, "serial_number": "",
    }  # fmt: skip


def test_a_failure_while_a_drive_rebuilds_counts_it_missing() -> None:
    doc = _document(5)
    rebuilding = with_drive(with_drive(doc, "h1", "2", True), "h1", "2", False)
    lost = with_drive(rebuilding, "h1", "4", True)
    assert (_states(lost), storage_lost(lost)) == (("RED", "FAILED", "RED", 0), True)
    # Replaced, the array is made anew: every drive a member, nothing left to rebuild.
    anew = with_drive(lost, "h1", "4", False)
    assert (_states(anew), [drive_in(anew, "h1", s)["health"] for s in ("2", "4")]) == (
        _states(doc),
        ["HEALTHY", "HEALTHY"],
    )
    # RAID 6 holds a drive rebuilding and another failed.
    six = _document(9)
    both = with_drive(with_drive(with_drive(six, "h1", "1", True), "h1", "1", False), "h1", "5", True)
    assert (_states(both), storage_lost(both)) == (("YELLOW", "DEGRADED", "YELLOW", 5 * C), False)


def test_a_rebuild_takes_the_whole_drive_at_the_rebuild_rate() -> None:
    sizes = (0, -1, 1, REBUILD_RATE, REBUILD_RATE + 1, C)
    assert [rebuild_seconds(b) for b in sizes] == [0, 0, 1, 1, 2, math.ceil(C / REBUILD_RATE)]
    assert 3 * 3600 < rebuild_seconds(C) < 6 * 3600  # a 1.92 TB SSD: hours, as a Smart Array takes


@pytest.mark.parametrize(
    ("changes", "on_now", "ran"),
    [
        ([], True, 10_000),
        ([], False, 0),
        ([(4_000, False)], False, 2_000),  # off at 4 s: it ran from 2 s
        ([(4_000, True)], True, 8_000),  # on at 4 s
        ([(4_000, False), (9_000, True)], True, 5_000),
        ([(4_000, True), (4_000, False)], False, 0),  # on and off at once
        ([(13_000, False)], False, 10_000),  # after the window: it ran throughout
    ],
)
def test_a_vm_runs_as_its_power_changes_say(changes: list[tuple[int, bool]], on_now: bool, ran: int) -> None:
    assert running_ms(changes, on_now, 2_000, 12_000) == ran


def test_raid_6_holds_two_failed_drives() -> None:
    doc = _document(9)
    assert _states(doc) == ("GREEN", "HEALTHY", "GREEN", 7 * C)
    two = with_drive(with_drive(doc, "h1", "1", True), "h1", "9", True)
    assert _states(two) == ("YELLOW", "DEGRADED", "YELLOW", 5 * C)
    assert _states(with_drive(two, "h1", "5", True)) == ("RED", "FAILED", "RED", 0)


def test_a_host_status_keeps_the_worst_of_its_parts() -> None:
    doc = _document(5)
    doc["battery"]["status"] = "YELLOW"
    assert with_drive(doc, "h1", "2", failed=False)["status"] == "YELLOW"
    assert with_drive(with_drive(doc, "h1", "2", True), "h1", "4", True)["status"] == "RED"


@pytest.mark.parametrize("slot", ["0", "6", "x", "1.0", ""])
def test_an_unknown_slot_is_not_found(slot: str) -> None:
    with pytest.raises(ObjectNotFound) as missing:
        with_drive(_document(5), "h1", slot, failed=True)
    assert missing.value.message == f"Object type: drive id: h1/{slot} could not be found"


def test_a_shutdown_is_done_after_its_time() -> None:
    waited = Shutdown("h", "IN_PROGRESS", True, 1_000)
    forced = Shutdown("h", "FORCE_IN_PROGRESS", False, 1_000)
    assert shutdown_done_ms(waited) == 1_000 + SHUTDOWN_SECONDS[True] * 1000
    assert shutdown_done_ms(forced) == 1_000 + SHUTDOWN_SECONDS[False] * 1000
    assert SHUTDOWN_SECONDS[False] < SHUTDOWN_SECONDS[True]
    assert shutdown_status(waited, shutdown_done_ms(waited) - 1) == "IN_PROGRESS"
    assert shutdown_status(waited, shutdown_done_ms(waited)) == "SUCCESS"
    assert shutdown_status(forced, shutdown_done_ms(forced) - 1) == "FORCE_IN_PROGRESS"
    assert shutdown_status(Shutdown("h", "SUCCESS", False, 5), 5) == "SUCCESS"


def test_resync_time_follows_what_changed() -> None:
    assert [resync_seconds(b) for b in (0, -1, 1, RESYNC_RATE, RESYNC_RATE + 1, 10 * RESYNC_RATE)] == [
        0,
        0,
        1,
        1,
        2,
        10,
    ]
    resync = Resync("vm", "h", 10_000, 20_000, 5)
    assert [resync_progress(resync, t) for t in (9_000, 10_000, 12_500, 19_999, 20_000, 30_000)] == [
        0,
        0,
        25,
        99,
        100,
        100,
    ]


# ---- the service on the fakes ----------------------------------------------------------------------


@pytest.fixture
def s() -> Services:
    return Services.start(simulated=[hosts])


def _service(s: Services) -> HardwareService:
    assert s.simulator is not None
    return HardwareService(s.federation, s.reader, s.simulator, s.clock)


def _peer_hosts(s: Services) -> list[Row]:
    """The hosts of a cluster the serving controller's host is not in."""
    serving = s.federation.row(HOSTS, str(s.reader.controller_host_id()))
    found = s.federation.rows(HOSTS)
    cluster = next(
        h["omnistack_cluster_id"]
        for h in found
        if h["omnistack_cluster_id"] != serving["omnistack_cluster_id"]
    )
    return [h for h in found if h["omnistack_cluster_id"] == cluster]


def _vms(s: Services, cluster_id: object) -> dict[str, Row]:
    return {
        str(v["id"]): v
        for v in s.federation.rows(VIRTUAL_MACHINES)
        if v["omnistack_cluster_id"] == cluster_id and v["state"] == "ALIVE"
    }


def _holding(vms: dict[str, Row], host_id: object) -> set[str]:
    return {v for v, vm in vms.items() if host_id in {r["id"] for r in vm["replica_set"]}}


def test_a_drive_fault_shares_the_cluster_anew_exactly(s: Services) -> None:
    host = _peer_hosts(s)[0]
    cluster = s.federation.row(OMNISTACK_CLUSTERS, str(host["omnistack_cluster_id"]))
    answer = _service(s).fail_drive(str(host["id"]), "1")
    after = s.federation.row(OMNISTACK_CLUSTERS, str(cluster["id"]))
    assert answer["capacity_change"] == -C
    assert after["allocated_capacity"] == cluster["allocated_capacity"] - C
    assert after["used_capacity"] == cluster["used_capacity"]  # nothing is lost, it is shared anew
    assert s.federation.row(HOSTS, str(host["id"]))["allocated_capacity"] == host["allocated_capacity"] - C
    assert problems(s.federation) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda svc, h: svc.repair_drive(h["id"], "1"), "Drive 1 of host {name} has not failed: there is nothing to repair"),
        (lambda svc, h: svc.repair_host(h["id"]), "Host {name} has not failed: there is nothing to repair"),
        (lambda svc, h: svc.restart_controller(h["id"]), "The Virtual Controller of host {name} runs already"),
    ],
)  # fmt: skip
def test_refusals_change_nothing(s: Services, call: Any, message: str) -> None:
    host = _peer_hosts(s)[0]
    before = unchanged(s.federation)
    with pytest.raises(HardwareConflict) as refused:
        call(_service(s), host)
    assert (refused.value.status, refused.value.message) == (409, message.format(name=host["name"]))
    assert unchanged(s.federation) == before


def test_unknown_hosts_and_drives_are_not_found(s: Services) -> None:
    service = _service(s)
    before = unchanged(s.federation)
    for call in (
        service.fail_host,
        service.repair_host,
        service.shutdown_controller,
        service.restart_controller,
    ):
        with pytest.raises(ObjectNotFound) as missing:
            call("nope")
        assert missing.value.message == "Object type: host id: nope could not be found"
    host = str(_peer_hosts(s)[0]["id"])
    with pytest.raises(ObjectNotFound) as missing:
        service.fail_drive(host, "42")
    assert missing.value.message == f"Object type: drive id: {host}/42 could not be found"
    assert unchanged(s.federation) == before


def test_a_host_failure_fails_over_and_a_repair_resyncs_on_the_clock(s: Services) -> None:
    host, *_ = _peer_hosts(s)
    host_id, cluster_id = str(host["id"]), host["omnistack_cluster_id"]
    service = _service(s)
    before = _vms(s, cluster_id)
    kept = _holding(before, host_id)
    answer = service.fail_host(host_id)
    vms = _vms(s, cluster_id)
    ran = {v for v, vm in before.items() if vm["host_id"] == host_id}
    assert answer["virtual_machines"]["failed_over"] == len(ran) > 0
    assert all(vms[v]["host_id"] != host_id for v in ran)
    assert {vms[v]["ha_status"] for v in kept} == {"DEGRADED"}
    with s.federation.reading() as state:
        fault = state.host_fault(host_id)
    assert fault is not None and fault.since_ms == epoch_ms(s.clock.now())

    s.clock.advance(timedelta(days=1))
    answer = service.repair_host(host_id)
    with s.federation.reading() as state:
        pending = state.resyncs()
        assert state.host_fault(host_id) is None
    assert pending and {r.host_id for r in pending} == {host_id}
    now = epoch_ms(s.clock.now())
    assert all(r.began_ms == now and r.done_ms == now + resync_seconds(r.changed) * 1000 for r in pending)
    assert answer["resync"]["bytes"] == sum(r.changed for r in pending)
    assert {_vms(s, cluster_id)[r.vm_id]["ha_status"] for r in pending} == {"SYNCING"}
    # Settled when each is due: the last one ends them all.
    last = max(r.done_ms for r in pending)
    assert s.simulator is not None
    with s.federation.writing() as txn:
        assert settle_in(txn, s.simulator, last - 1) == sum(r.done_ms <= last - 1 for r in pending)
    with s.federation.writing() as txn:
        settle_in(txn, s.simulator, last)
    assert {vm["ha_status"] for v, vm in _vms(s, cluster_id).items() if v in kept} == {"SAFE"}
    with s.federation.reading() as state:
        assert state.resyncs() == []
    assert problems(s.federation) == []


def _rate(s: Services, vm_id: str) -> float:
    ledger = s.federation.ledger
    return ledger.lineages[ledger.holders[vm_id].lineage].rate


def test_a_host_down_leaves_its_cluster_s_capacity_until_it_returns(s: Services) -> None:
    host, *others = _peer_hosts(s)
    host_id, cluster_id = str(host["id"]), str(host["omnistack_cluster_id"])
    cluster = s.federation.row(OMNISTACK_CLUSTERS, cluster_id)
    service = _service(s)
    answer = service.fail_host(host_id)
    down, after = s.federation.row(HOSTS, host_id), s.federation.row(OMNISTACK_CLUSTERS, cluster_id)
    share = int(host["allocated_capacity"])
    assert (answer["capacity_change"], down["allocated_capacity"], down["used_capacity"]) == (-share, 0, 0)
    assert (after["allocated_capacity"], after["free_space"], after["used_capacity"]) == (
        cluster["allocated_capacity"] - share, cluster["free_space"] - share, cluster["used_capacity"],
    )  # fmt: skip
    # What the cluster stores is shared among the hosts that serve, to the byte.
    assert (
        sum(s.federation.row(HOSTS, str(o["id"]))["used_capacity"] for o in others) == after["used_capacity"]
    )
    assert problems(s.federation) == []
    answer = service.repair_host(host_id)
    assert answer["capacity_change"] == share
    assert (
        s.federation.row(OMNISTACK_CLUSTERS, cluster_id)["allocated_capacity"]
        == cluster["allocated_capacity"]
    )
    assert problems(s.federation) == []


def test_a_controller_shutdown_leaves_its_cluster_s_capacity_too(s: Services) -> None:
    host = _peer_hosts(s)[0]
    host_id, cluster_id = str(host["id"]), str(host["omnistack_cluster_id"])
    cluster = s.federation.row(OMNISTACK_CLUSTERS, cluster_id)
    assert s.simulator is not None
    now = epoch_ms(s.clock.now())
    assert hosts.shutdown(s.federation, s.reader, s.simulator, host_id, False, now) == "SUCCESS"
    after = s.federation.row(OMNISTACK_CLUSTERS, cluster_id)
    assert after["allocated_capacity"] == cluster["allocated_capacity"] - int(host["allocated_capacity"])
    assert hosts.cancel_shutdown(s.federation, s.reader, s.simulator, host_id, now + 1_000) == "SUCCESS"
    assert (
        s.federation.row(OMNISTACK_CLUSTERS, cluster_id)["allocated_capacity"]
        == cluster["allocated_capacity"]
    )
    assert problems(s.federation) == []


def test_a_resync_catches_up_what_the_vm_wrote_while_it_ran(s: Services) -> None:
    host = _peer_hosts(s)[0]
    host_id, cluster_id = str(host["id"]), host["omnistack_cluster_id"]
    vms = _vms(s, cluster_id)
    running = sorted(
        v for v in _holding(vms, host_id) if vms[v]["hypervisor_virtual_machine_power_state"] == "ON"
    )
    stopped, still = running[0], running[1]
    service = _service(s)
    began = epoch_ms(s.clock.now())
    service.fail_host(host_id)
    # One VM is powered off an hour into the absence (its power change kept, as a power-off keeps it).
    with s.federation.changing() as (txn, state):
        state.record_power(stopped, began + 3_600_000, False)
        txn.update(VIRTUAL_MACHINES, stopped, {"hypervisor_virtual_machine_power_state": "OFF"})
    s.clock.advance(timedelta(hours=3))
    service.repair_host(host_id)
    with s.federation.reading() as state:
        changed = {r.vm_id: r.changed for r in state.resyncs()}
    assert changed[stopped] == round(_rate(s, stopped) * 3_600)
    assert changed[still] == round(_rate(s, still) * 3 * 3_600)
    assert 0 < changed[stopped] < 64 * 1024**2  # less than one of the model's pieces, resynced all the same


def test_a_new_drive_rebuilds_on_the_clock_and_then_gives_its_share(s: Services) -> None:
    host = _peer_hosts(s)[0]
    host_id, cluster_id = str(host["id"]), str(host["omnistack_cluster_id"])
    cluster = s.federation.row(OMNISTACK_CLUSTERS, cluster_id)
    service = _service(s)
    service.fail_drive(host_id, "2")
    vms = _vms(s, cluster_id)
    began = epoch_ms(s.clock.now())
    answer = service.repair_drive(host_id, "2")
    seconds = rebuild_seconds(C)
    assert (answer["drive"]["health"], answer["drive"]["percent_rebuilt"], answer["capacity_change"]) == (
        "REBUILDING", 0, 0,
    )  # fmt: skip
    with s.federation.reading() as state:
        assert state.rebuilds() == [DriveRebuild(host_id, "2", began, began + seconds * 1000)]
    assert s.federation.row(HOSTS, host_id)["allocated_capacity"] == int(host["allocated_capacity"]) - C
    assert s.simulator is not None
    with s.federation.writing() as txn:
        assert settle_in(txn, s.simulator, began + seconds * 500) == 0
    with s.federation.reading() as state:
        document = state.host_hardware(host_id)
    assert document is not None and drive_in(document, host_id, "2")["percent_rebuilt"] == 50
    assert _vms(s, cluster_id) == vms  # the array serves throughout: no VM changes
    with s.federation.writing() as txn:
        assert settle_in(txn, s.simulator, began + seconds * 1000) == 1
    with s.federation.reading() as state:
        document = state.host_hardware(host_id)
        assert state.rebuilds() == []
    assert document is not None and (document["status"], drive_in(document, host_id, "2")["health"]) == (
        "GREEN", "HEALTHY",
    )  # fmt: skip
    assert (
        s.federation.row(OMNISTACK_CLUSTERS, cluster_id)["allocated_capacity"]
        == cluster["allocated_capacity"]
    )
    assert _vms(s, cluster_id) == vms
    assert problems(s.federation) == []


def test_a_drive_failing_while_it_rebuilds_ends_its_rebuild(s: Services) -> None:
    host_id = str(_peer_hosts(s)[0]["id"])
    service = _service(s)
    service.fail_drive(host_id, "2")
    service.repair_drive(host_id, "2")
    answer = service.fail_drive(host_id, "2")
    assert (answer["drive"]["health"], answer["drive"]["rebuilt_at"]) == ("FAILED", None)
    with s.federation.reading() as state:
        assert state.rebuilds() == []
    # Another drive past parity while one rebuilds: the array is lost and nothing rebuilds.
    service.repair_drive(host_id, "2")
    answer = service.fail_drive(host_id, "3")
    assert answer["host"]["hardware_status"] == "RED" and answer["host"]["allocated_capacity"] == 0
    with s.federation.reading() as state:
        assert state.rebuilds() == []
    assert problems(s.federation) == []
