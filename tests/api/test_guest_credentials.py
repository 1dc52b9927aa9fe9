"""A VM's guest credentials through HTTP: backup_parameters (a task) and validate_backup_credentials (direct)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import MEDIA_EXCEPTION, NOT_A_DICT, PKG, TASK_EXCEPTION
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env
from tests.support.tasks import completed, media


def _post(env: Env, headers: dict[str, str], path: str, body: Any, version: str = "1.8") -> Any:
    h = {**headers, **media(version)}
    if isinstance(body, str):
        return env.client.post(path, headers=h, content=body.encode())
    return env.client.post(path, headers=h, json=body)


def _pick(env: Env, status: str, power: str = "ON") -> dict[str, Any]:
    return next(
        v for v in env.federation.rows["virtual_machines"]
        if v["state"] == "ALIVE" and v["app_aware_vm_status"] == status
        and v["hypervisor_virtual_machine_power_state"] == power and not v["hypervisor_is_template"]
    )  # fmt: skip


def _windows(env: Env) -> dict[str, Any]:
    return _pick(env, "CAPABLE")


def _linux(env: Env) -> dict[str, Any]:
    return _pick(env, "INVALID_OS")


def _check(env: Env, headers: dict[str, str], vm_id: str, username: str, password: str) -> str:
    path = f"/api/virtual_machines/{vm_id}/validate_backup_credentials"
    resp = _post(env, headers, path, {"guest_username": username, "guest_password": password})
    assert resp.status_code == 200, resp.text
    assert set(resp.json()) == {"credentials_validation"}
    status: str = resp.json()["credentials_validation"]["status"]
    return status


def _status(env: Env, headers: dict[str, str], vm_id: str) -> str:
    vm = env.client.get(f"/api/virtual_machines/{vm_id}", headers=headers).json()["virtual_machine"]
    status: str = vm["app_aware_vm_status"]
    return status


def _set(env: Env, headers: dict[str, str], vm_id: str, body: dict[str, Any]) -> list[dict[str, str]]:
    return completed(env, "POST", f"/api/virtual_machines/{vm_id}/backup_parameters", headers, body)


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("username", "password", "status"),
    [
        ("Administrator", "any-password", "VALID"),
        ("administrator", "x", "VALID"),
        (".\\Administrator", "x", "VALID"),
        ("CORP\\ADMINISTRATOR", "x", "VALID"),
        ("\\Administrator", "x", "INVALID"),
        ("Administrator", "", "INVALID"),
        ("root", "x", "INVALID"),
        ("backup-operator", "x", "INVALID"),
        ("", "", "INVALID"),
    ],
)
def test_a_windows_guest_accepts_its_administrator(
    env: Env, admin: dict[str, str], username: str, password: str, status: str
) -> None:
    assert _check(env, admin, _windows(env)["id"], username, password) == status


@pytest.mark.parametrize(
    ("username", "status"), [("root", "VALID"), ("ROOT", "INVALID"), ("Administrator", "INVALID")]
)
def test_a_linux_guest_accepts_root(env: Env, admin: dict[str, str], username: str, status: str) -> None:
    assert _check(env, admin, _linux(env)["id"], username, "secret") == status


def test_a_powered_off_guest_cannot_answer(env: Env, admin: dict[str, str]) -> None:
    vm = _pick(env, "VMWARE_TOOLS_UNAVAILABLE", "OFF")
    assert _check(env, admin, vm["id"], "Administrator", "x") == "VM_POWERED_OFF"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"guest_username": "Administrator"}, "Invalid body: guest_password: Field required"),
        ({"guest_password": "x"}, "Invalid body: guest_username: Field required"),
        ({"guest_username": 1, "guest_password": "x"}, "Invalid body: guest_username: Input should be a valid string"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
    ],
)  # fmt: skip
def test_validate_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    path = f"/api/virtual_machines/{_windows(env)['id']}/validate_backup_credentials"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))


def test_validate_refusals(env: Env, admin: dict[str, str]) -> None:
    body = {"guest_username": "Administrator", "guest_password": "x", "domain": "ignored"}
    path = "/api/virtual_machines/nope/validate_backup_credentials"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (
        404, _error(path, PKG + "ObjectNotFoundException", "Object type: virtual_machine id: nope could not be found", 404),
    )  # fmt: skip
    deleted = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "DELETED")
    path = f"/api/virtual_machines/{deleted['id']}/validate_backup_credentials"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (
        400, _error(path, TASK_EXCEPTION, f"The virtual machine {deleted['name']} is DELETED.", code="60"),
    )  # fmt: skip
    path = f"/api/virtual_machines/{_windows(env)['id']}/validate_backup_credentials"
    resp = _post(env, admin, path, body, version="1.7")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.7+json' not supported", 415),
    )  # fmt: skip
    resp = _post(env, env.headers(READER), path, body)
    assert (resp.status_code, resp.json()["exception"]) == (403, PKG + "PermissionDeniedException")


# --------------------------------------------------------------------------------- backup parameters


def test_backup_parameters_teach_the_guest_its_password(own_env: Env) -> None:
    h = own_env.headers()
    vm = _windows(own_env)
    affected = _set(own_env, h, vm["id"], {"guest_username": "Administrator", "guest_password": "pw-1",
                                           "override_guest_validation": False, "app_aware_type": "VSS"})  # fmt: skip
    assert affected == [{"object_id": vm["id"], "object_type": "virtual_machine"}]
    assert _status(own_env, h, vm["id"]) == "VALID_CREDS"
    # From now on the guest accepts exactly those credentials.
    assert _check(own_env, h, vm["id"], "administrator", "pw-1") == "VALID"
    assert _check(own_env, h, vm["id"], "Administrator", "pw-2") == "INVALID"
    # Other credentials are stored but not accepted.
    _set(
        own_env,
        h,
        vm["id"],
        {"guest_username": "Administrator", "guest_password": "pw-2", "app_aware_type": None},
    )
    assert _status(own_env, h, vm["id"]) == "INVALID_CREDS"
    assert _check(own_env, h, vm["id"], "Administrator", "pw-2") == "INVALID"
    assert _check(own_env, h, vm["id"], "Administrator", "pw-1") == "VALID"
    # Overriding validation marks them valid without teaching the guest anything.
    _set(
        own_env,
        h,
        vm["id"],
        {"guest_username": "svc", "guest_password": "pw-3", "override_guest_validation": True},
    )
    assert _status(own_env, h, vm["id"]) == "VALID_CREDS"
    assert _check(own_env, h, vm["id"], "svc", "pw-3") == "INVALID"
    # The Go SDK's misspelt key works too.
    _set(
        own_env,
        h,
        vm["id"],
        {"guest_username": "svc", "guest_password": "pw-4", "override_validation": False},
    )
    assert _status(own_env, h, vm["id"]) == "INVALID_CREDS"
    _set(
        own_env, h, vm["id"], {"guest_username": "svc", "guest_password": "pw-4", "override_validation": True}
    )
    assert _status(own_env, h, vm["id"]) == "VALID_CREDS"
    with own_env.runtime.storage.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT username, app_aware_type, override_validation, account_username FROM vm_guest_credentials "
            "WHERE vm_id = ?", (vm["id"],),
        ).one()  # fmt: skip
        stored = " ".join(str(r[0]) for r in conn.exec_driver_sql(
            "SELECT payload FROM tasks UNION ALL SELECT password_hash FROM vm_guest_credentials "
            "UNION ALL SELECT account_password_hash FROM vm_guest_credentials"))  # fmt: skip
    # null app_aware_type kept the type set before; passwords are kept only as hashes.
    assert tuple(row) == ("svc", "VSS", True, "Administrator")
    assert not any(f"pw-{n}" in stored for n in range(1, 5))


def test_backup_parameters_for_other_guests(own_env: Env) -> None:
    h = own_env.headers()
    linux = _linux(own_env)
    _set(own_env, h, linux["id"], {"guest_username": "root", "guest_password": "toor"})
    # VSS needs a Windows guest: a Linux guest's credentials are stored, its status stays.
    assert _status(own_env, h, linux["id"]) == "INVALID_OS"
    assert _check(own_env, h, linux["id"], "root", "toor") == "VALID"
    assert _check(own_env, h, linux["id"], "root", "other") == "INVALID"
    off = _pick(own_env, "VMWARE_TOOLS_UNAVAILABLE", "OFF")
    _set(
        own_env,
        h,
        off["id"],
        {"guest_username": "Administrator", "guest_password": "pw", "app_aware_type": "DEFAULT"},
    )
    assert _check(own_env, h, off["id"], "Administrator", "pw") == "VM_POWERED_OFF"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"guest_username": "Administrator"}, "Invalid body: guest_password: Field required"),
        ({"guest_username": "", "guest_password": "x"}, "Invalid body: guest_username: must not be empty"),
        ({"guest_username": "a", "guest_password": ""}, "Invalid body: guest_password: must not be empty"),
        ({"guest_username": "a", "guest_password": "x", "app_aware_type": "FAILEDVSS"},
         "Invalid body: app_aware_type: Input should be 'NONE', 'DEFAULT' or 'VSS'"),
        ({"guest_username": "a", "guest_password": "x", "override_guest_validation": "perhaps"},
         "Invalid body: override_guest_validation: Input should be a valid boolean, unable to interpret input"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
    ],
)  # fmt: skip
def test_backup_parameters_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    vm = _windows(env)
    path = f"/api/virtual_machines/{vm['id']}/backup_parameters"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
    assert _status(env, admin, vm["id"]) == "CAPABLE"


def test_backup_parameters_refusals(env: Env, admin: dict[str, str]) -> None:
    body = {"guest_username": "Administrator", "guest_password": "x"}
    path = "/api/virtual_machines/nope/backup_parameters"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (
        404, _error(path, PKG + "ObjectNotFoundException", "Object type: virtual_machine id: nope could not be found", 404),
    )  # fmt: skip
    vm = _windows(env)
    path = f"/api/virtual_machines/{vm['id']}/backup_parameters"
    resp = _post(env, admin, path, body, version="1.7")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.7+json' not supported", 415),
    )  # fmt: skip
    assert _post(env, env.headers(READER), path, body).status_code == 403
    deleted = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "DELETED")
    resp = _post(env, admin, f"/api/virtual_machines/{deleted['id']}/backup_parameters", body)
    assert (resp.status_code, resp.json()["error_code"]) == (400, "60")
    assert _status(env, admin, vm["id"]) == "CAPABLE"


def test_backup_parameters_answered_twice_at_once(own_env: Env) -> None:
    """The guest is asked when a request is accepted: once another request has taught it a password,
    an answer given before that is stale, and the task fails without changing anything."""
    h = own_env.headers()
    vm = _windows(own_env)
    path = f"/api/virtual_machines/{vm['id']}/backup_parameters"
    first = _post(own_env, h, path, {"guest_username": "Administrator", "guest_password": "one"})
    second = _post(own_env, h, path, {"guest_username": "Administrator", "guest_password": "two"})
    tasks = [own_env.client.get(f"/api/tasks/{r.json()['task']['id']}", headers=h).json()["task"]
             for r in (first, second)]  # fmt: skip
    assert tasks[0]["state"] == "COMPLETED"
    assert (tasks[1]["state"], tasks[1]["error_code"], tasks[1]["message"]) == (
        "FAILED", 60, f"The guest credentials of virtual machine {vm['name']} changed after this request was "
                      "accepted; send it again.",
    )  # fmt: skip
    assert _check(own_env, h, vm["id"], "Administrator", "one") == "VALID"
    assert _check(own_env, h, vm["id"], "Administrator", "two") == "INVALID"


def test_backup_parameters_fail_when_the_vm_is_gone(own_env: Env) -> None:
    h = own_env.headers()
    vm = _windows(own_env)
    resp = _post(own_env, h, f"/api/virtual_machines/{vm['id']}/backup_parameters",
                 {"guest_username": "Administrator", "guest_password": "x"})  # fmt: skip
    with own_env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE virtual_machines SET state = 'DELETED' WHERE id = ?", (vm["id"],))
    task = own_env.client.get(f"/api/tasks/{resp.json()['task']['id']}", headers=h).json()["task"]
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 60, f"The virtual machine {vm['name']} is DELETED.",
    )  # fmt: skip
    assert _status(own_env, h, vm["id"]) == "CAPABLE"
    with own_env.runtime.storage.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM vm_guest_credentials").scalar_one() == 0
