"""The official SDK sees a Virtual Controller shutdown complete on the simulated clock, the controller come
back through the control API, and a failed drive in the host's hardware; on a private manual-clock server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openovc.client import ControlError
from openovc.domain.hardware_faults import SHUTDOWN_SECONDS, rebuild_seconds
from openovc.testing import OpenOVCServer
from tests.contract.conftest import manual_clock

pytestmark = pytest.mark.slow

START = "2026-11-20T12:00:00Z"


def _peer_host(ovc: Any) -> Any:
    """A host of a cluster the serving controller's host is not in."""
    hosts = [h.data for h in ovc.hosts.get_all()]
    serving = min(hosts, key=lambda h: str(h["id"]))
    peer = next(h for h in hosts if h["omnistack_cluster_id"] != serving["omnistack_cluster_id"])
    return ovc.hosts.get_by_id(peer["id"])


def _ha(ovc: Any, cluster_id: str) -> dict[str, str]:
    vms = ovc.virtual_machines.get_all(
        filters={"omnistack_cluster_id": cluster_id}, show_optional_fields=True
    )
    return {vm.data["id"]: vm.data["ha_status"] for vm in vms}


def test_the_sdk_sees_a_shutdown_complete_and_the_controller_come_back(
    openovc_start: Callable[..., OpenOVCServer],
) -> None:
    server = openovc_start(manual_clock(START))
    ovc, control = server.ovc, server.control
    host = _peer_host(ovc)
    cluster_id = host.data["omnistack_cluster_id"]
    before = _ha(ovc, cluster_id)

    assert host.shutdown_virtual_controller(ha_wait=True) == "SUCCESS"
    control.advance(SHUTDOWN_SECONDS[True] - 1)
    assert host.get_virtual_controller_shutdown_status() == "IN_PROGRESS"
    control.advance(1)
    assert host.get_virtual_controller_shutdown_status() == "SUCCESS"
    host.reload_data()
    assert host.data["state"] == "FAULTY"
    assert "DEGRADED" in _ha(ovc, cluster_id).values()
    assert host.cancel_virtual_controller_shutdown() == "FAILURE"  # it is off: too late

    control.advance("6h")
    change = control.restart_controller(host.data["id"])
    assert (change.host["state"], change.host["virtual_controller_shutdown_status"]) == ("ALIVE", "NONE")
    assert host.get_virtual_controller_shutdown_status() == "NONE"
    host.reload_data()
    assert host.data["state"] == "ALIVE"
    assert set(_ha(ovc, cluster_id).values()) <= {*before.values(), "SYNCING"}
    control.advance("1h")
    assert _ha(ovc, cluster_id) == before
    with pytest.raises(ControlError) as refused:
        control.restart_controller(host.data["id"])
    assert (refused.value.status, refused.value.message) == (
        409,
        f"The Virtual Controller of host {host.data['name']} runs already",
    )


def test_the_sdk_sees_a_failed_drive(openovc_start: Callable[..., OpenOVCServer]) -> None:
    server = openovc_start(manual_clock(START))
    ovc, control = server.ovc, server.control
    host = _peer_host(ovc)
    hardware = host.get_hardware()["host"]
    slot = hardware["logical_drives"][0]["drive_sets"][0]["physical_drives"][0]["slot"]
    allocated = _allocated(ovc, host.data["id"])
    change = control.fail_drive(host.data["id"], slot)
    assert change.drive is not None and (change.drive["health"], change.drive["status"]) == ("FAILED", "RED")
    assert host.get_hardware()["host"]["status"] == "YELLOW"
    assert change.capacity_change < 0
    assert (
        _allocated(ovc, host.data["id"])
        == allocated + change.capacity_change
        == change.host["allocated_capacity"]
    )
    repaired = control.repair_drive(host.data["id"], slot)
    # The new drive rebuilds on the simulated clock before the array is whole and gives its share again.
    assert repaired.drive is not None and repaired.drive["health"] == "REBUILDING"
    assert host.get_hardware()["host"]["status"] == "YELLOW"
    assert _allocated(ovc, host.data["id"]) == allocated + change.capacity_change
    control.advance(rebuild_seconds(repaired.drive["capacity"]))
    assert host.get_hardware()["host"]["status"] == "GREEN"
    assert _allocated(ovc, host.data["id"]) == allocated


def _allocated(ovc: Any, host_id: str) -> int:
    (found,) = ovc.hosts.get_all(filters={"id": host_id}, show_optional_fields=True)
    allocated: int = found.data["allocated_capacity"]
    return allocated
