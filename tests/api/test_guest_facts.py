"""What VMware Tools knew of a guest, and which guest a clone runs, through HTTP: a power cycle keeps a
VM's accepted credentials (VALID_CREDS), and a clone's guest takes its source's administrator."""

from __future__ import annotations

from typing import Any

from tests.support.inprocess import Env
from tests.support.tasks import completed, media


def _vm(env: Env, headers: dict[str, str], vm_id: str) -> dict[str, Any]:
    resp = env.client.get(f"/api/virtual_machines/{vm_id}", headers=headers)
    assert (resp.status_code, set(resp.json())) == (200, {"virtual_machine"})
    vm: dict[str, Any] = resp.json()["virtual_machine"]
    return vm


def _post(env: Env, headers: dict[str, str], path: str, body: Any = None) -> list[dict[str, str]]:
    return completed(env, "POST", path, headers, body, version="1.14")


def _windows(env: Env) -> dict[str, Any]:
    return next(
        v for v in env.federation.rows["virtual_machines"]
        if v["state"] == "ALIVE" and v["app_aware_vm_status"] == "CAPABLE"
        and v["hypervisor_virtual_machine_power_state"] == "ON" and not v["hypervisor_is_template"]
    )  # fmt: skip


def test_a_power_cycle_keeps_accepted_guest_credentials(own_env: Env) -> None:
    h = own_env.headers()
    vm_id = str(_windows(own_env)["id"])
    path = f"/api/virtual_machines/{vm_id}"
    _post(
        own_env, h, f"{path}/backup_parameters", {"guest_username": "Administrator", "guest_password": "pw"}
    )
    before = _vm(own_env, h, vm_id)
    assert before["app_aware_vm_status"] == "VALID_CREDS"
    assert _post(own_env, h, f"{path}/power_off") == [{"object_id": vm_id, "object_type": "virtual_machine"}]
    off = _vm(own_env, h, vm_id)
    assert (off["hypervisor_virtual_machine_power_state"], off["app_aware_vm_status"]) == (
        "OFF",
        "VMWARE_TOOLS_UNAVAILABLE",
    )
    assert _post(own_env, h, f"{path}/power_on") == [{"object_id": vm_id, "object_type": "virtual_machine"}]
    # As it was, VALID_CREDS included; a running guest uses a steady share of what it was given.
    assert _vm(own_env, h, vm_id) == {
        **before,
        "hypervisor_consumed_cpu": before["hypervisor_cpu_count"] * 260,
        "hypervisor_consumed_memory": before["hypervisor_total_memory"] // 4,
    }


def test_a_clone_runs_its_sources_guest(own_env: Env) -> None:
    h = own_env.headers()
    source = _windows(own_env)
    ((made,),) = [
        _post(own_env, h, f"/api/virtual_machines/{source['id']}/clone", {"virtual_machine_name": "twin"})
    ]
    clone = made["object_id"]
    _post(own_env, h, f"/api/virtual_machines/{clone}/power_on")
    check = f"/api/virtual_machines/{clone}/validate_backup_credentials"
    answers = []
    for username in ("Administrator", "root"):
        resp = own_env.client.post(
            check, headers={**h, **media("1.8")}, json={"guest_username": username, "guest_password": "pw"}
        )
        answers.append((resp.status_code, resp.json()))
    assert answers == [
        (200, {"credentials_validation": {"status": "VALID"}}),
        (200, {"credentials_validation": {"status": "INVALID"}}),
    ]
