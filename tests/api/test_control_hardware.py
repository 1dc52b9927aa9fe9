"""Hardware faults through the control API (/_openovc/hardware): each fault's effect on the host, its
VMs, its hardware document and the capacity figures, its recovery as the manual clock moves, and every
refusal answered exactly with nothing changed."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.app import chores
from openovc.domain.hardware_faults import REBUILD_RATE, RESYNC_RATE, SHUTDOWN_SECONDS
from openovc.domain.timefmt import epoch_ms
from openovc.storage.content_store import SqlPieceLedger
from tests.api.test_openapi import conforms
from tests.support.content_check import checked_snapshot
from tests.support.errors import PKG, error_body
from tests.support.inprocess import READER, Env, make_env
from tests.support.invariants import problems
from tests.support.tasks import completed, media

HW = "/_openovc/hardware/hosts"
CONFLICT = PKG + "InvalidStateException"
Row = dict[str, Any]


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[Env]:
    """A private federation on a manual clock: only the clock controls move time."""
    built = make_env(tmp_path, clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A federation the refusals below must leave as it was."""
    built = make_env(tmp_path_factory.mktemp("hardware"), clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _get(env: Env, h: dict[str, str], path: str, **params: str) -> Any:
    resp = env.client.get(path, headers=h, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _post(env: Env, h: dict[str, str], path: str) -> Row:
    resp = env.client.post(path, headers=h)
    assert resp.status_code == 200, resp.text
    found: Row = resp.json()
    return found


def _peer_hosts(env: Env) -> list[Row]:
    """The hosts of a cluster that the serving controller's host is not in."""
    hosts = env.federation.rows["hosts"]
    serving = min(hosts, key=lambda h: str(h["id"]))
    cluster = next(
        h["omnistack_cluster_id"]
        for h in hosts
        if h["omnistack_cluster_id"] != serving["omnistack_cluster_id"]
    )
    return [h for h in hosts if h["omnistack_cluster_id"] == cluster]


def _host(env: Env, h: dict[str, str], host_id: str) -> Row:
    found: Row = _get(env, h, f"/api/hosts/{host_id}", show_optional_fields="true")["host"]
    return found


def _cluster(env: Env, h: dict[str, str], cluster_id: str) -> Row:
    found: Row = _get(env, h, f"/api/omnistack_clusters/{cluster_id}", show_optional_fields="true")[
        "omnistack_cluster"
    ]
    return found


def _hardware(env: Env, h: dict[str, str], host_id: str) -> Row:
    found: Row = _get(env, h, f"/api/hosts/{host_id}/hardware")["host"]
    return found


def _vms(env: Env, h: dict[str, str], cluster_id: str) -> dict[str, Row]:
    listed = _get(env, h, "/api/virtual_machines", omnistack_cluster_id=cluster_id, state="ALIVE",
                  show_optional_fields="true", limit="5000")["virtual_machines"]  # fmt: skip
    return {v["id"]: v for v in listed}


def _replicas(vm: Row) -> set[str]:
    return {r["id"] for r in vm["replica_set"]}


def _status(env: Env, h: dict[str, str], host_id: str) -> str:
    status: str = _get(env, h, f"/api/hosts/{host_id}/virtual_controller_shutdown_status")["shutdown_status"][
        "status"
    ]
    return status


def _advance(env: Env, h: dict[str, str], seconds: int) -> None:
    resp = env.client.post("/_openovc/clock/advance", headers=h, json={"seconds": seconds})
    assert resp.status_code == 200, resp.text


def _now_s(env: Env) -> int:
    return epoch_ms(env.runtime.clock.now()) // 1000


def _consistent(env: Env, h: dict[str, str]) -> None:
    """Every figure equals its recomputation from the stored pieces, and the objects agree."""
    assert problems(checked_snapshot(env, h)) == []


def _answer_host(host: Row, hardware_status: str, shutdown: str = "NONE") -> Row:
    return {
        "id": host["id"],
        "name": host["name"],
        "state": host["state"],
        "hardware_status": hardware_status,
        "virtual_controller_shutdown_status": shutdown,
        "allocated_capacity": host["allocated_capacity"],
        "free_space": host["free_space"],
    }


def _answer_cluster(cluster: Row) -> Row:
    keys = ("id", "name", "allocated_capacity", "free_space")
    return {k: cluster[k] for k in keys}


def _tally(safe: int = 0, syncing: int = 0, degraded: int = 0, defunct: int = 0, failed_over: int = 0) -> Row:
    return {
        "safe": safe,
        "syncing": syncing,
        "degraded": degraded,
        "defunct": defunct,
        "failed_over": failed_over,
    }


NO_RESYNC = {"virtual_machines": 0, "bytes": 0, "done_at": None}


# ------------------------------------------------------------------------------------------- drives


def _drives(document: Row) -> list[Row]:
    return [d for ld in document["logical_drives"] for s in ld["drive_sets"] for d in s["physical_drives"]]


def test_a_failed_drive_degrades_the_array_and_shrinks_the_capacity(hw: Env) -> None:
    h = hw.headers()
    host = _peer_hosts(hw)[0]
    cluster_id = host["omnistack_cluster_id"]
    before_doc = _hardware(hw, h, host["id"])
    before_host, before_cluster = _host(hw, h, host["id"]), _cluster(hw, h, cluster_id)
    before_vms = _vms(hw, h, cluster_id)
    drive = _drives(before_doc)[1]
    size = drive["capacity"]

    answer = _post(hw, h, f"{HW}/{host['id']}/drives/{drive['slot']}/fail")
    now_host, now_cluster = _host(hw, h, host["id"]), _cluster(hw, h, cluster_id)
    assert now_host["allocated_capacity"] == before_host["allocated_capacity"] - size
    assert now_cluster["allocated_capacity"] == before_cluster["allocated_capacity"] - size
    assert answer == {
        "drive": {"slot": drive["slot"], "drive_position": drive["drive_position"], "capacity": size,
                  "health": "FAILED", "status": "RED", "percent_rebuilt": 0,
                  "serial_number": drive["serial_number"], "rebuilt_at": None},
        "host": _answer_host(now_host, "YELLOW"),
        "omnistack_cluster": _answer_cluster(now_cluster),
        "capacity_change": -size,
        "virtual_machines": _tally(),
        "resync": NO_RESYNC,
    }  # fmt: skip
    # The document shows it from the drive up; parity keeps every byte, so no VM changes.
    doc = _hardware(hw, h, host["id"])
    want = copy.deepcopy(before_doc)
    want["status"] = "YELLOW"
    logical = want["logical_drives"][0]
    logical.update(health="DEGRADED", status="YELLOW", capacity=logical["capacity"] - size)
    logical["drive_sets"][0].update(health="DEGRADED", status="YELLOW")
    _drives(want)[1].update(
        health="FAILED", status="RED", percent_rebuilt=0, additional_status="Drive failure"
    )
    assert doc == want
    assert _vms(hw, h, cluster_id) == before_vms
    assert now_host["state"] == "ALIVE"
    _consistent(hw, h)

    # A datastore the cluster could hold before no longer fits.
    too_big = before_cluster["allocated_capacity"] - size + 1
    body = {"name": "DS-Too-Big", "omnistack_cluster_id": cluster_id, "size": too_big,
            "policy_id": hw.federation.rows["policies"][0]["id"]}  # fmt: skip
    resp = hw.client.post("/api/datastores", headers={**h, **media()}, json=body)
    message = (f"The datastore size ({too_big} bytes) exceeds the capacity of cluster {now_cluster['name']} "
               f"({now_cluster['allocated_capacity']} bytes).")  # fmt: skip
    assert (resp.status_code, resp.json()) == (
        400, error_body("/api/datastores", "com.simplivity.rpc.common.TaskException", message, code="50")
    )  # fmt: skip

    # A new drive in the slot rebuilds from parity, the whole drive at the rebuild rate on the simulated
    # clock; until then the array lacks its share, and serves: no VM changes.
    answer = _post(hw, h, f"{HW}/{host['id']}/drives/{drive['slot']}/repair")
    seconds = math.ceil(size / REBUILD_RATE)
    assert answer["drive"] == {
        "slot": drive["slot"], "drive_position": drive["drive_position"], "capacity": size,
        "health": "REBUILDING", "status": "YELLOW", "percent_rebuilt": 0,
        "serial_number": drive["serial_number"], "rebuilt_at": _text(_now_s(hw) + seconds),
    }  # fmt: skip
    assert answer["capacity_change"] == 0
    assert answer["host"] == _answer_host(_host(hw, h, host["id"]), "YELLOW")
    # A drive rebuilding has not failed: there is nothing to replace.
    repair = f"{HW}/{host['id']}/drives/{drive['slot']}/repair"
    resp = hw.client.post(repair, headers=h)
    message = f"Drive {drive['slot']} of host {host['name']} has not failed: there is nothing to repair"
    assert (resp.status_code, resp.json()) == (409, _at(error_body(repair, CONFLICT, message, 409), hw))
    assert answer["omnistack_cluster"] == _answer_cluster(now_cluster)
    rebuilding = copy.deepcopy(want)
    rebuilding["logical_drives"][0].update(health="REBUILDING")
    rebuilding["logical_drives"][0]["drive_sets"][0].update(health="REBUILDING")
    _drives(rebuilding)[1].update(
        health="REBUILDING",
        status="YELLOW",
        percent_rebuilt=0,
        additional_status="Rebuilding",
        life_remaining=100,
    )
    assert _hardware(hw, h, host["id"]) == rebuilding
    _advance(hw, h, seconds // 4)
    _drives(rebuilding)[1]["percent_rebuilt"] = (seconds // 4) * 100 // seconds  # as far as it got
    assert _hardware(hw, h, host["id"]) == rebuilding
    assert _vms(hw, h, cluster_id) == before_vms
    _advance(hw, h, seconds - seconds // 4 - 1)
    _drives(rebuilding)[1]["percent_rebuilt"] = 99
    assert _hardware(hw, h, host["id"]) == rebuilding
    assert _cluster(hw, h, cluster_id)["allocated_capacity"] == now_cluster["allocated_capacity"]
    # Rebuilt: a member of the array again, its share back in the host's and the cluster's capacity.
    _advance(hw, h, 1)
    want = copy.deepcopy(before_doc)
    _drives(want)[1]["life_remaining"] = 100
    assert _hardware(hw, h, host["id"]) == want
    assert _host(hw, h, host["id"])["allocated_capacity"] == before_host["allocated_capacity"]
    assert _cluster(hw, h, cluster_id)["allocated_capacity"] == before_cluster["allocated_capacity"]
    assert _ha(_vms(hw, h, cluster_id)) == _ha(before_vms)
    (made,) = completed(hw, "POST", "/api/datastores", h, body)
    assert made["object_type"] == "datastore"
    _consistent(hw, h)


def test_hardware_answers_are_as_the_control_document_says(hw: Env) -> None:
    h = hw.headers()
    document = hw.client.get("/_openovc/openapi.json").json()
    host = _peer_hosts(hw)[0]
    slot = _drives(_hardware(hw, h, host["id"]))[0]["slot"]
    for action, health, rebuilt in (("fail", "FAILED", False), ("repair", "REBUILDING", True)):
        resp = hw.client.post(f"{HW}/{host['id']}/drives/{slot}/{action}", headers=h)
        body = conforms(document, "/hardware/hosts/{hostId}/drives/{slot}/" + action, "post", resp)
        assert (body["drive"]["health"], body["drive"]["rebuilt_at"] is not None) == (health, rebuilt)
    # Host and controller answers, with resyncs begun (an hour down) and without.
    for down, up in (("fail", "repair"), ("controller/shutdown", "controller/restart")):
        conforms(
            document,
            "/hardware/hosts/{hostId}/" + down,
            "post",
            hw.client.post(f"{HW}/{host['id']}/{down}", headers=h),
        )
        _advance(hw, h, 3_600)
        resp = hw.client.post(f"{HW}/{host['id']}/{up}", headers=h)
        assert (
            conforms(document, "/hardware/hosts/{hostId}/" + up, "post", resp)["resync"]["done_at"]
            is not None
        )


def test_drives_failed_past_parity_lose_the_host_s_copy_until_it_is_rebuilt(hw: Env) -> None:
    h = hw.headers()
    host = _peer_hosts(hw)[0]
    cluster_id = host["omnistack_cluster_id"]
    before_host = _host(hw, h, host["id"])
    first, second = (d["slot"] for d in _drives(_hardware(hw, h, host["id"]))[:2])
    _post(hw, h, f"{HW}/{host['id']}/drives/{first}/fail")
    before = _vms(hw, h, cluster_id)
    kept = {v for v, vm in before.items() if host["id"] in _replicas(vm)}
    assert kept and {len(before[v]["replica_set"]) for v in kept} == {2}

    answer = _post(hw, h, f"{HW}/{host['id']}/drives/{second}/fail")
    # RAID 5 holds one failure: the second loses the logical drive, and the host holds nothing.
    doc = _hardware(hw, h, host["id"])
    assert (doc["status"], doc["logical_drives"][0]["health"], doc["logical_drives"][0]["capacity"]) == (
        "RED", "FAILED", 0,
    )  # fmt: skip
    assert _host(hw, h, host["id"])["allocated_capacity"] == 0
    vms = _vms(hw, h, cluster_id)
    assert {vms[v]["ha_status"] for v in kept} == {"DEGRADED"}  # the other replica lives on
    assert all(vm == before[v] for v, vm in vms.items() if v not in kept)
    assert answer["virtual_machines"] == _tally(degraded=len(kept))
    assert answer["capacity_change"] == -(before_host["allocated_capacity"] - _drives(doc)[0]["capacity"])
    _consistent(hw, h)

    # One drive back: the array holds again, and every replica there is rebuilt whole from its partner.
    answer = _post(hw, h, f"{HW}/{host['id']}/drives/{second}/repair")
    vms = _vms(hw, h, cluster_id)
    data = {v: vms[v]["hypervisor_allocated_capacity"] - vms[v]["hypervisor_free_space"] for v in kept}
    seconds = {v: math.ceil(data[v] / RESYNC_RATE) for v in kept}
    now = _now_s(hw)
    assert answer["virtual_machines"] == _tally(syncing=len(kept))
    assert answer["resync"]["virtual_machines"] == len(kept)
    assert answer["resync"]["bytes"] == sum(data.values())
    assert {(vms[v]["ha_status"], vms[v]["ha_resynchronization_progress"]) for v in kept} == {("SYNCING", 0)}
    # Halfway through the longest, the shorter ones may be done; none is past its own time.
    longest = max(seconds.values())
    _advance(hw, h, longest // 2)
    vms = _vms(hw, h, cluster_id)
    for v in kept:
        if seconds[v] <= longest // 2:
            assert (vms[v]["ha_status"], vms[v]["ha_resynchronization_progress"]) == ("SAFE", 100)
        else:
            progress = (longest // 2) * 100 // seconds[v]
            assert (vms[v]["ha_status"], vms[v]["ha_resynchronization_progress"]) == ("SYNCING", progress)
    _advance(hw, h, longest - longest // 2)
    assert _now_s(hw) == now + longest
    vms = _vms(hw, h, cluster_id)
    assert {(vms[v]["ha_status"], vms[v]["ha_resynchronization_progress"]) for v in kept} == {("SAFE", 100)}
    _consistent(hw, h)


# -------------------------------------------------------------------------------------------- hosts


def test_a_failed_host_fails_its_vms_over_and_resyncs_when_repaired(hw: Env) -> None:
    h = hw.headers()
    host, *others = _peer_hosts(hw)
    cluster_id = host["omnistack_cluster_id"]
    before = _vms(hw, h, cluster_id)
    before_doc, before_cluster = _hardware(hw, h, host["id"]), _cluster(hw, h, cluster_id)
    kept = {v for v, vm in before.items() if host["id"] in _replicas(vm)}
    ran = {v for v, vm in before.items() if vm["host_id"] == host["id"]}
    assert ran and kept >= ran

    share = _host(hw, h, host["id"])["allocated_capacity"]
    answer = _post(hw, h, f"{HW}/{host['id']}/fail")
    vms = _vms(hw, h, cluster_id)
    down, cluster = _host(hw, h, host["id"]), _cluster(hw, h, cluster_id)
    assert down["state"] == "FAULTY"
    # Its copy of the data is out of reach: its cluster counts none of its capacity until it returns, and
    # what the cluster stores is shared among the hosts that serve.
    assert (down["allocated_capacity"], down["free_space"], down["used_capacity"]) == (0, 0, 0)
    assert (cluster["allocated_capacity"], cluster["free_space"], cluster["used_capacity"]) == (
        before_cluster["allocated_capacity"] - share, before_cluster["free_space"] - share,
        before_cluster["used_capacity"],
    )  # fmt: skip
    assert answer["host"] == _answer_host(down, "GREEN")
    assert answer["omnistack_cluster"] == _answer_cluster(cluster)
    assert answer["virtual_machines"] == _tally(degraded=len(kept), failed_over=len(ran))
    assert answer["capacity_change"] == -share and answer["resync"] == NO_RESYNC
    names = {o["id"]: o["name"] for o in others}
    for v in ran:
        # Restarted on the host of its other replica, which is its primary now.
        (partner,) = _replicas(before[v]) - {host["id"]}
        assert (vms[v]["host_id"], vms[v]["host_name"]) == (partner, names[partner])
        assert {(r["id"], r["role"]) for r in vms[v]["replica_set"]} == {
            (partner, "PRIMARY"), (host["id"], "SECONDARY")
        }  # fmt: skip
    assert {vms[v]["ha_status"] for v in kept} == {"DEGRADED"}
    assert all(vms[v] == before[v] for v in before if v not in kept)
    assert _hardware(hw, h, host["id"]) == before_doc
    _consistent(hw, h)

    # A day down; what the running VMs wrote meanwhile is what their replicas here catch up.
    _advance(hw, h, 86_400)
    answer = _post(hw, h, f"{HW}/{host['id']}/repair")
    vms = _vms(hw, h, cluster_id)
    syncing = {v for v in kept if vms[v]["ha_status"] == "SYNCING"}
    powered_on = {v for v in kept if vms[v]["hypervisor_virtual_machine_power_state"] == "ON"}
    assert syncing and syncing <= powered_on
    assert {vms[v]["ha_status"] for v in kept - syncing} == {"SAFE"}
    assert answer["host"]["state"] == "ALIVE" and _host(hw, h, host["id"])["state"] == "ALIVE"
    assert answer["virtual_machines"] == _tally(safe=len(kept - syncing), syncing=len(syncing))
    # Back: its capacity counts again.
    assert (answer["capacity_change"], _host(hw, h, host["id"])["allocated_capacity"]) == (share, share)
    assert _cluster(hw, h, cluster_id)["allocated_capacity"] == before_cluster["allocated_capacity"]
    assert answer["resync"]["virtual_machines"] == len(syncing) and answer["resync"]["bytes"] > 0
    # They stay where they were restarted.
    assert {vms[v]["host_id"] for v in ran}.isdisjoint({host["id"]})
    # Done when the last has caught up its bytes at the resync rate: then SAFE.
    longest = math.ceil(max(_resync_bytes(hw, v) for v in syncing) / RESYNC_RATE)
    assert answer["resync"]["done_at"] == _text(_now_s(hw) + longest)
    _advance(hw, h, longest - 1)
    assert "SYNCING" in {vm["ha_status"] for vm in _vms(hw, h, cluster_id).values()}
    _advance(hw, h, 1)
    assert _ha(_vms(hw, h, cluster_id)) == _ha(before)
    _consistent(hw, h)


def _ha(vms: dict[str, Row]) -> dict[str, tuple[str, int]]:
    return {v: (vm["ha_status"], vm["ha_resynchronization_progress"]) for v, vm in vms.items()}


def _resync_bytes(env: Env, vm_id: str) -> int:
    with env.runtime.operations.reading() as state:
        return sum(r.changed for r in state.resyncs() if r.vm_id == vm_id)


def _rate(env: Env, vm_id: str) -> float:
    """Bytes a second the VM's workload writes (its content's lineage)."""
    with env.runtime.storage.engine.connect() as conn:
        ledger = SqlPieceLedger(conn)
        holder = ledger.holder(vm_id)
        assert holder is not None
        lineage = ledger.lineage(holder.lineage)
        assert lineage is not None
        return lineage.rate


def _text(epoch_s: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------ Virtual Controllers


def test_an_hpe_shutdown_completes_on_the_clock_and_a_restart_brings_it_back(hw: Env) -> None:
    h = hw.headers()

    def running_on(candidate: dict[str, Any]) -> bool:
        """Whether a running VM keeps a replica on the host: what it writes meanwhile must resync."""
        return any(vm["hypervisor_virtual_machine_power_state"] == "ON" and candidate["id"] in _replicas(vm)
                   for vm in _vms(hw, h, candidate["omnistack_cluster_id"]).values())  # fmt: skip

    host = next(x for x in _peer_hosts(hw) if running_on(x))
    cluster_id = host["omnistack_cluster_id"]
    before, before_cluster = _vms(hw, h, cluster_id), _cluster(hw, h, cluster_id)
    kept = {v for v, vm in before.items() if host["id"] in _replicas(vm)}
    path = f"/api/hosts/{host['id']}/shutdown_virtual_controller"
    assert hw.client.post(path, headers=h).json() == {"shutdown_status": {"status": "SUCCESS"}}
    _advance(hw, h, SHUTDOWN_SECONDS[True] - 1)
    assert _status(hw, h, host["id"]) == "IN_PROGRESS"
    # Not off yet: the control API will not restart it.
    resp = hw.client.post(f"{HW}/{host['id']}/controller/restart", headers=h)
    message = (f"The Virtual Controller of host {host['name']} is still shutting down; cancel the shutdown "
               "(cancel_virtual_controller_shutdown) to keep it running")  # fmt: skip
    restart = f"{HW}/{host['id']}/controller/restart"
    assert (resp.status_code, resp.json()) == (409, _at(error_body(restart, CONFLICT, message, 409), hw))
    _advance(hw, h, 1)
    assert _status(hw, h, host["id"]) == "SUCCESS"
    assert _host(hw, h, host["id"])["state"] == "FAULTY"
    assert {_vms(hw, h, cluster_id)[v]["ha_status"] for v in kept} == {"DEGRADED"}
    # Its controller off, its storage is out of its cluster's capacity.
    share = host["allocated_capacity"]
    down, cluster = _host(hw, h, host["id"]), _cluster(hw, h, cluster_id)
    assert (down["allocated_capacity"], cluster["allocated_capacity"]) == (
        0, before_cluster["allocated_capacity"] - share
    )  # fmt: skip
    # Off: too late to cancel, nothing left to shut down.
    cancel = f"/api/hosts/{host['id']}/cancel_virtual_controller_shutdown"
    assert hw.client.post(cancel, headers=h).json() == {"cancellation_status": {"status": "FAILURE"}}
    assert hw.client.post(path, headers=h).json() == {"shutdown_status": {"status": "FAILURE"}}

    # Another server process on the same store sees it as this one does.
    other = make_env_on(hw)
    oh = other.headers()
    assert (_status(other, oh, host["id"]), _host(other, oh, host["id"])["state"]) == ("SUCCESS", "FAULTY")

    _advance(hw, h, 7_200)
    answer = _post(hw, h, restart)
    assert answer["host"] == _answer_host(_host(hw, h, host["id"]), "GREEN")
    assert answer["virtual_machines"]["failed_over"] == 0  # the host ran on: its VMs stayed
    assert (_status(hw, h, host["id"]), _host(hw, h, host["id"])["state"]) == ("NONE", "ALIVE")
    assert answer["capacity_change"] == share
    assert answer["omnistack_cluster"]["allocated_capacity"] == before_cluster["allocated_capacity"]
    vms = _vms(hw, h, cluster_id)
    assert {v: vm["host_id"] for v, vm in vms.items()} == {v: vm["host_id"] for v, vm in before.items()}
    # Its replicas missed what every running VM wrote since the request (the host was FAULTY from then):
    # its workload's rate over those seconds, byte for byte; the VMs powered off wrote nothing.
    away = SHUTDOWN_SECONDS[True] + 7_200
    running = {v for v in kept if before[v]["hypervisor_virtual_machine_power_state"] == "ON"}
    wrote = {v: round(_rate(hw, v) * away) for v in running}
    assert running and kept - running and all(wrote.values())
    assert {v for v in kept if vms[v]["ha_status"] == "SYNCING"} == running
    assert answer["virtual_machines"] == _tally(safe=len(kept - running), syncing=len(running))
    assert {v: _resync_bytes(hw, v) for v in running} == wrote
    seconds = {v: math.ceil(b / RESYNC_RATE) for v, b in wrote.items()}
    longest = max(seconds.values())
    assert answer["resync"] == {
        "virtual_machines": len(running), "bytes": sum(wrote.values()), "done_at": _text(_now_s(hw) + longest)
    }  # fmt: skip
    _advance(hw, h, longest - 1)
    vms = _vms(hw, h, cluster_id)
    assert {v for v in kept if vms[v]["ha_status"] == "SYNCING"} == {
        v for v in running if seconds[v] == longest
    }
    _advance(hw, h, 1)
    assert _ha(_vms(hw, h, cluster_id)) == _ha(before)
    assert (_status(other, oh, host["id"]), _host(other, oh, host["id"])["state"]) == ("NONE", "ALIVE")
    other.runtime.storage.engine.dispose()
    _consistent(hw, h)


def make_env_on(env: Env) -> Env:
    """A second server runtime over the same store, as another process would be."""
    from starlette.testclient import TestClient

    from openovc.app import build_runtime, create_app

    runtime = build_runtime(env.runtime.settings, env.clock)
    return Env(runtime, TestClient(create_app(runtime)), env.clock, env.federation)


def _at(body: Row, env: Env) -> Row:
    """An error body stamped with the clock's now (these tests move it)."""
    return {**body, "timestamp": _text(_now_s(env))}


def test_a_forced_shutdown_takes_less_and_a_cancel_before_it_resyncs(hw: Env) -> None:
    h = hw.headers()
    first, second = _peer_hosts(hw)[:2]
    cluster_id = first["omnistack_cluster_id"]
    before = _vms(hw, h, cluster_id)
    forced = f"/api/hosts/{second['id']}/shutdown_virtual_controller"
    resp = hw.client.post(forced, headers={**h, "Content-Type": "application/json"}, json={"ha_wait": False})
    assert resp.json() == {"shutdown_status": {"status": "SUCCESS"}}
    _advance(hw, h, SHUTDOWN_SECONDS[False] - 1)
    assert _status(hw, h, second["id"]) == "FORCE_IN_PROGRESS"
    _advance(hw, h, 1)
    assert _status(hw, h, second["id"]) == "SUCCESS"
    _post(hw, h, f"{HW}/{second['id']}/controller/restart")

    # A shutdown cancelled after an hour: the controller never went off, but its replicas missed an hour.
    hw.client.post(f"/api/hosts/{first['id']}/shutdown_virtual_controller", headers=h)
    _advance(hw, h, 3_600)
    assert _status(hw, h, first["id"]) == "SUCCESS"  # an hour is more than its shutdown takes
    _post(hw, h, f"{HW}/{first['id']}/controller/restart")
    _advance(hw, h, 3_600)
    hw.client.post(f"/api/hosts/{first['id']}/shutdown_virtual_controller", headers=h)
    _advance(hw, h, SHUTDOWN_SECONDS[True] - 60)
    cancel = f"/api/hosts/{first['id']}/cancel_virtual_controller_shutdown"
    assert hw.client.post(cancel, headers=h).json() == {"cancellation_status": {"status": "SUCCESS"}}
    vms = _vms(hw, h, cluster_id)
    assert (_status(hw, h, first["id"]), _host(hw, h, first["id"])["state"]) == ("NONE", "ALIVE")
    assert {v for v, vm in vms.items() if vm["ha_status"] != before[v]["ha_status"]} == {
        v for v, vm in vms.items() if vm["ha_status"] == "SYNCING"
    }
    _advance(hw, h, 600)
    assert _ha(_vms(hw, h, cluster_id)) == _ha(before)
    _consistent(hw, h)


def test_the_control_shutdown_is_immediate_and_conflicts_are_refused(hw: Env) -> None:
    h = hw.headers()
    host, partner = _peer_hosts(hw)[:2]
    cluster_id = host["omnistack_cluster_id"]
    before = _vms(hw, h, cluster_id)
    kept = {v for v, vm in before.items() if host["id"] in _replicas(vm)}
    answer = _post(hw, h, f"{HW}/{host['id']}/controller/shutdown")
    assert answer["host"] == _answer_host(_host(hw, h, host["id"]), "GREEN", "SUCCESS")
    assert answer["virtual_machines"] == _tally(degraded=len(kept))
    assert _status(hw, h, host["id"]) == "SUCCESS"

    def refused(path: str, message: str) -> None:
        resp = hw.client.post(path, headers=h)
        assert (resp.status_code, resp.json()) == (409, error_body(path, CONFLICT, message, 409))

    name = host["name"]
    refused(
        f"{HW}/{host['id']}/controller/shutdown",
        f"The Virtual Controller of host {name} is shut down already",
    )
    refused(f"{HW}/{host['id']}/fail", f"Host {name} is FAULTY already")
    refused(f"{HW}/{host['id']}/repair", f"Host {name} has not failed: there is nothing to repair")
    refused(f"{HW}/{partner['id']}/controller/restart",
            f"The Virtual Controller of host {partner['name']} runs already")  # fmt: skip
    _post(hw, h, f"{HW}/{partner['id']}/fail")
    refused(
        f"{HW}/{partner['id']}/controller/shutdown",
        f"Host {partner['name']} is FAULTY: its controller does not run",
    )
    # Both replicas of some VMs are down now.
    vms = _vms(hw, h, cluster_id)
    both = {v for v, vm in vms.items() if {host["id"], partner["id"]} >= _replicas(vm)}
    assert both and {vms[v]["ha_status"] for v in both} == {"DEFUNCT"}
    _post(hw, h, f"{HW}/{partner['id']}/repair")
    answer = _post(hw, h, f"{HW}/{host['id']}/controller/restart")
    assert (answer["host"]["state"], answer["host"]["virtual_controller_shutdown_status"]) == (
        "ALIVE",
        "NONE",
    )
    refused(f"{HW}/{host['id']}/controller/restart", f"The Virtual Controller of host {name} runs already")
    slot = _drives(_hardware(hw, h, host["id"]))[0]["slot"]
    refused(f"{HW}/{host['id']}/drives/{slot}/repair",
            f"Drive {slot} of host {name} has not failed: there is nothing to repair")  # fmt: skip
    _post(hw, h, f"{HW}/{host['id']}/drives/{slot}/fail")
    refused(f"{HW}/{host['id']}/drives/{slot}/fail", f"Drive {slot} of host {name} has failed already")
    assert _ha(_vms(hw, h, cluster_id)) == _ha(before)  # no time passed: nothing to catch up
    _consistent(hw, h)


def test_the_worker_chore_ends_resyncs_on_a_running_clock(tmp_path: Path) -> None:
    env = make_env(tmp_path, task_pacing="immediate")  # the clock runs (on the test's manual real time)
    try:
        h = env.headers()
        host = _peer_hosts(env)[0]
        cluster_id = host["omnistack_cluster_id"]
        _post(env, h, f"{HW}/{host['id']}/fail")
        env.clock.advance(timedelta(days=1))
        h = env.headers()  # tokens live on real time: the day ended the first
        answer = _post(env, h, f"{HW}/{host['id']}/repair")
        syncing = answer["virtual_machines"]["syncing"]
        assert syncing > 0
        work = chores(env.runtime)
        work()
        assert sum(vm["ha_status"] == "SYNCING" for vm in _vms(env, h, cluster_id).values()) == syncing
        env.clock.advance(timedelta(hours=1))
        assert work() >= syncing
        assert "SYNCING" not in {vm["ha_status"] for vm in _vms(env, env.headers(), cluster_id).values()}
        with env.runtime.operations.reading() as state:
            assert state.resyncs() == []
    finally:
        env.runtime.storage.engine.dispose()


def test_a_snapshot_keeps_the_faults(hw: Env) -> None:
    h = hw.headers()
    host = _peer_hosts(hw)[0]
    slot = _drives(_hardware(hw, h, host["id"]))[0]["slot"]
    _post(hw, h, f"{HW}/{host['id']}/drives/{slot}/fail")
    _post(hw, h, f"{HW}/{host['id']}/fail")
    broken = (
        _host(hw, h, host["id"]),
        _hardware(hw, h, host["id"]),
        _vms(hw, h, host["omnistack_cluster_id"]),
    )
    assert (broken[0]["state"], broken[1]["status"]) == ("FAULTY", "YELLOW")
    assert hw.client.post("/_openovc/snapshots", headers=h, json={"name": "broken"}).status_code == 201
    _post(hw, h, f"{HW}/{host['id']}/repair")
    _post(hw, h, f"{HW}/{host['id']}/drives/{slot}/repair")
    assert _host(hw, h, host["id"])["state"] == "ALIVE"
    assert hw.client.post("/_openovc/snapshots/broken/restore", headers=h).status_code == 200
    assert (
        _host(hw, h, host["id"]),
        _hardware(hw, h, host["id"]),
        _vms(hw, h, host["omnistack_cluster_id"]),
    ) == broken
    # The fault itself came back with it: the host can be repaired again.
    assert _post(hw, h, f"{HW}/{host['id']}/repair")["host"]["state"] == "ALIVE"
    _consistent(hw, h)


# --------------------------------------------------------------------------------------- refusals


_ACTIONS = ["drives/1/fail", "drives/1/repair", "fail", "repair", "controller/shutdown", "controller/restart"]


@pytest.mark.parametrize("action", _ACTIONS)
def test_an_unknown_host_is_404(still: Env, action: str) -> None:
    h = still.headers()
    path = f"{HW}/nope/{action}"
    resp = still.client.post(path, headers=h)
    message = "Object type: host id: nope could not be found"
    assert (resp.status_code, resp.json()) == (
        404,
        error_body(path, PKG + "ObjectNotFoundException", message, 404),
    )


@pytest.mark.parametrize("slot", ["99", "0", "x", "1.0"])
@pytest.mark.parametrize("action", ["fail", "repair"])
def test_an_unknown_drive_is_404_and_changes_nothing(still: Env, slot: str, action: str) -> None:
    h = still.headers()
    host = _peer_hosts(still)[0]
    before = (_hardware(still, h, host["id"]), _host(still, h, host["id"]))
    path = f"{HW}/{host['id']}/drives/{slot}/{action}"
    resp = still.client.post(path, headers=h)
    message = f"Object type: drive id: {host['id']}/{slot} could not be found"
    assert (resp.status_code, resp.json()) == (
        404,
        error_body(path, PKG + "ObjectNotFoundException", message, 404),
    )
    assert (_hardware(still, h, host["id"]), _host(still, h, host["id"])) == before


@pytest.mark.parametrize("action", _ACTIONS)
def test_a_reader_may_not_and_nothing_changes(still: Env, action: str) -> None:
    h = still.headers()
    host = _peer_hosts(still)[0]
    before = (
        _hardware(still, h, host["id"]),
        _host(still, h, host["id"]),
        _vms(still, h, host["omnistack_cluster_id"]),
    )
    path = f"{HW}/{host['id']}/{action}"
    resp = still.client.post(path, headers=still.headers(READER))
    message = "User auditor@vsphere.local has a read-only role and may not perform this operation"
    assert (resp.status_code, resp.json()) == (
        403,
        error_body(path, PKG + "PermissionDeniedException", message, 403),
    )
    resp = still.client.post(path)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}
    )  # fmt: skip
    after = (
        _hardware(still, h, host["id"]),
        _host(still, h, host["id"]),
        _vms(still, h, host["omnistack_cluster_id"]),
    )
    assert after == before
    assert _status(still, h, host["id"]) == "NONE"
