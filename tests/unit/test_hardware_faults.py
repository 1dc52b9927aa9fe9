"""Hardware faults: the pure rules (domain/hardware_faults.py: drives and arrays, shutdown and resync times)
and services/hardware.py with the HA of services/replicas.py against the in-memory fakes, refusals leaving
everything as it was."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from openovc.domain.catalog import HOSTS, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.errors import ObjectNotFound
from openovc.domain.hardware_faults import (
    RESYNC_RATE,
    SHUTDOWN_SECONDS,
    HardwareConflict,
    drive_in,
    resync_progress,
    resync_seconds,
    shutdown_done_ms,
    shutdown_status,
    storage_lost,
    usable_capacity,
    with_drive,
)
from openovc.domain.ports.operations import Resync, Shutdown
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
    assert _states(back) == _states(one)
    assert drive_in(back, "h1", "1")["life_remaining"] == 100  # a new drive
    assert _states(with_drive(back, "h1", "3", failed=False)) == _states(doc)


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
    with s.federation.writing() as txn:
        assert settle_in(txn, last - 1) == sum(r.done_ms <= last - 1 for r in pending)
    with s.federation.writing() as txn:
        settle_in(txn, last)
    assert {vm["ha_status"] for v, vm in _vms(s, cluster_id).items() if v in kept} == {"SAFE"}
    with s.federation.reading() as state:
        assert state.resyncs() == []
    assert problems(s.federation) == []
