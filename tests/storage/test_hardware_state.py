"""Hardware faults kept in the database, on SQLite and PostgreSQL: the operations state's hardware document,
host faults, resyncs, drive rebuilds and the power changes a resync reads, and what one server process does
seen by another on the same store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from openovc.app import build_runtime, create_app
from openovc.domain.hardware_faults import SHUTDOWN_SECONDS
from openovc.domain.ports.operations import DriveRebuild, HostFault, Resync
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import Env, make_env


@pytest.fixture(params=BACKENDS)
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Env, Env]]:
    """Two server runtimes over one store on a manual clock, as two processes would be."""
    with database_url(request.param, tmp_path) as url:
        first = make_env(tmp_path, database_url=url, clock_mode="manual", task_pacing="immediate")
        runtime = build_runtime(first.runtime.settings, first.clock)
        second = Env(runtime, TestClient(create_app(runtime)), first.clock, first.federation)
        yield first, second
        runtime.storage.engine.dispose()
        first.runtime.storage.engine.dispose()


def _peer(env: Env) -> dict[str, object]:
    hosts = env.federation.rows["hosts"]
    serving = min(hosts, key=lambda h: str(h["id"]))
    return next(h for h in hosts if h["omnistack_cluster_id"] != serving["omnistack_cluster_id"])


def test_the_state_round_trips(two: tuple[Env, Env]) -> None:
    env, _ = two
    host_id = str(_peer(env)["id"])
    with env.runtime.operations.changing() as (_, state):
        document = state.host_hardware(host_id)
        assert document is not None and document["host_id"] == host_id
        state.put_host_hardware(host_id, {**document, "status": "RED"})
        state.put_host_fault(HostFault(host_id, 5))
        for resync in (
            Resync("a", host_id, 1, 2, 3),
            Resync("b", host_id, 1, 4, 5),
            Resync("a", "other", 1, 6, 7),
        ):
            state.put_resync(resync)
        state.put_resync(Resync("a", host_id, 2, 9, 9))  # a VM and host resync once: the newer one
    with env.runtime.operations.reading() as state:
        found = state.host_hardware(host_id)
        assert found is not None and found == {**document, "status": "RED"}
        assert state.host_fault(host_id) == HostFault(host_id, 5)
        assert state.host_hardware("nope") is None and state.host_fault("nope") is None
        assert state.resyncs() == [
            Resync("a", host_id, 2, 9, 9), Resync("a", "other", 1, 6, 7), Resync("b", host_id, 1, 4, 5)
        ]  # fmt: skip
    with env.runtime.operations.changing() as (_, state):
        assert state.drop_resyncs(vm_id="a", host_id="other") == 1
        assert state.drop_resyncs(host_id=host_id) == 2
        assert state.drop_host_fault(host_id) and not state.drop_host_fault(host_id)
        with pytest.raises(ValueError, match="name the VM, the host or both"):
            state.drop_resyncs()
    with env.runtime.operations.reading() as state:
        assert state.resyncs() == [] and state.host_fault(host_id) is None


def test_drive_rebuilds_and_power_changes_round_trip(two: tuple[Env, Env]) -> None:
    env, other = two
    with env.runtime.operations.changing() as (_, state):
        for rebuild in (
            DriveRebuild("h2", "1", 1, 2),
            DriveRebuild("h1", "3", 1, 4),
            DriveRebuild("h1", "1", 1, 5),
        ):
            state.put_rebuild(rebuild)
        state.put_rebuild(DriveRebuild("h1", "3", 2, 9))  # a slot rebuilds once: the newer one
        for vm_id, at_ms, on in (
            ("a", 10, False),
            ("a", 30, True),
            ("a", 20, False),
            ("b", 5, True),
            ("c", 40, True),
        ):
            state.record_power(vm_id, at_ms, on)
    with other.runtime.operations.reading() as state:
        assert state.rebuilds() == [
            DriveRebuild("h1", "1", 1, 5), DriveRebuild("h1", "3", 2, 9), DriveRebuild("h2", "1", 1, 2)
        ]  # fmt: skip
        # Only the VMs asked for, only after the instant given, ascending.
        assert state.power_changes(["a", "b", "nope"], 10) == {"a": [(20, False), (30, True)]}
        assert state.power_changes(["b"], 0) == {"b": [(5, True)]}
        assert state.power_changes([], 0) == {}
    with env.runtime.operations.changing() as (_, state):
        assert state.drop_rebuilds("h1", "3") == 1 and state.drop_rebuilds("h1", "3") == 0
        assert state.drop_rebuilds("h1") == 1
    with other.runtime.operations.reading() as state:
        assert state.rebuilds() == [DriveRebuild("h2", "1", 1, 2)]


def test_another_process_sees_the_faults(two: tuple[Env, Env]) -> None:
    first, second = two
    h1, h2 = first.headers(), second.headers()
    host_id = str(_peer(first)["id"])
    slot = first.client.get(f"/api/hosts/{host_id}/hardware", headers=h1).json()["host"]["logical_drives"][0][
        "drive_sets"
    ][0]["physical_drives"][0]["slot"]
    failed = first.client.post(f"/_openovc/hardware/hosts/{host_id}/drives/{slot}/fail", headers=h1).json()
    seen = second.client.get(
        f"/api/hosts/{host_id}", headers=h2, params={"show_optional_fields": "true"}
    ).json()
    assert seen["host"]["allocated_capacity"] == failed["host"]["allocated_capacity"]
    assert (
        second.client.get(f"/api/hosts/{host_id}/hardware", headers=h2).json()["host"]["status"] == "YELLOW"
    )

    resp = first.client.post(f"/api/hosts/{host_id}/shutdown_virtual_controller", headers=h1)
    assert resp.json() == {"shutdown_status": {"status": "SUCCESS"}}
    status = f"/api/hosts/{host_id}/virtual_controller_shutdown_status"
    assert second.client.get(status, headers=h2).json() == {"shutdown_status": {"status": "IN_PROGRESS"}}
    moved = second.client.post(
        "/_openovc/clock/advance", headers=h2, json={"seconds": SHUTDOWN_SECONDS[True]}
    )
    assert moved.status_code == 200
    assert first.client.get(status, headers=h1).json() == {"shutdown_status": {"status": "SUCCESS"}}
    # The other process restarts the controller the first shut down; it refuses a second restart.
    restarted = second.client.post(f"/_openovc/hardware/hosts/{host_id}/controller/restart", headers=h2)
    assert restarted.status_code == 200 and restarted.json()["host"]["state"] == "ALIVE"
    again = first.client.post(f"/_openovc/hardware/hosts/{host_id}/controller/restart", headers=h1)
    assert again.status_code == 409
    assert first.client.get(status, headers=h1).json() == {"shutdown_status": {"status": "NONE"}}
