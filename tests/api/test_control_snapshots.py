"""The snapshot controls under /_openovc: a restore brings back every object, relationship, task and the clock
as the API shows them, keeps tokens; every bad input is refused with its exact body and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, text

from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.timefmt import to_text
from openovc.storage import tables
from openovc.storage.snapshot_file import MAGIC, read_file
from tests.support.errors import PKG, error_body
from tests.support.inprocess import READER, Env, make_env, pick_vm
from tests.support.invariants import snapshot
from tests.support.tasks import media

SNAPSHOTS = "/_openovc/snapshots"
NOW = "2026-11-20T12:00:00Z"
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or a digit"
NOT_FOUND = PKG + "ObjectNotFoundException"
FILE = {"Content-Type": "application/vnd.openovc.snapshot"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A demo federation on a manual clock, tasks run as they are submitted; `base` is how it began."""
    built = make_env(tmp_path_factory.mktemp("snapshots"), clock_mode="manual", task_pacing="immediate")
    built.runtime.snapshots.store.save("base")
    yield built
    built.runtime.storage.engine.dispose()


@pytest.fixture
def fresh(env: Env) -> Env:
    """The federation as it began, with no snapshot but `base` and none kept for reset."""
    env.runtime.snapshots.restore("base")
    with env.runtime.storage.engine.begin() as conn:
        conn.execute(delete(tables.snapshots).where(tables.snapshots.c.name != "base"))
    return env


def _fetch(env: Env, h: dict[str, str]) -> Any:
    def fetch(path: str, params: dict[str, str]) -> Any:
        resp = env.client.get(path, headers=h, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    return fetch


def _everything(env: Env, h: dict[str, str]) -> dict[str, Any]:
    """Every object of every collection and the clock, as a client reads them."""
    state: dict[str, Any] = snapshot(_fetch(env, h))
    state["clock"] = env.client.get("/_openovc/clock", headers=h).json()
    return state


def _head(env: Env) -> str:
    with env.runtime.storage.engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())


def _summary(env: Env, h: dict[str, str], name: str) -> dict[str, Any]:
    """What a snapshot's summary says, from its own file."""
    data = env.client.get(f"{SNAPSHOTS}/{name}/export", headers=h).content
    header = read_file(data).header
    return {
        "name": name,
        "created_at": NOW,
        "clock": {
            "mode": "manual",
            "now": to_text(datetime.fromtimestamp(header["clock"]["now_ms"] / 1000, UTC)),
        },
        "counts": header["counts"],
        "rows": sum(t["rows"] for t in header["tables"].values()),
        "size": len(data),
        "schema_revision": _head(env),
        "format_version": 1,
    }


def _task(env: Env, h: dict[str, str], path: str, body: Any) -> dict[str, Any]:
    resp = env.client.post(path, headers={**h, **media("1.14")}, json=body)
    assert resp.status_code == 202, resp.text
    task: dict[str, Any] = resp.json()["task"]
    return task


def test_a_restore_brings_back_every_object_task_and_the_clock_and_tokens_stay_valid(fresh: Env) -> None:
    h = fresh.headers()  # this token is used throughout, across the restore
    before = _everything(fresh, h)
    resp = fresh.client.post(SNAPSHOTS, headers=h, json={"name": "clean"})
    assert resp.status_code == 201
    expected = _summary(fresh, h, "clean")
    assert resp.json() == expected
    counts = {plural: len(before[plural]) for plural in
              ("omnistack_clusters", "hosts", "datastores", "virtual_machines", "policies", "backups",
               "cluster_groups", "external_stores", "persistent_volumes")}  # fmt: skip
    assert expected["counts"] == {**counts, "tasks": 0}

    # Change things: a backup, a clone, a power-off, a deleted backup, the clock moved on, a VM gone.
    vm = pick_vm(fresh, "ON")
    backup = _task(fresh, h, f"/api/virtual_machines/{vm['id']}/backup", {"backup_name": "after-save"})
    _task(fresh, h, f"/api/virtual_machines/{vm['id']}/clone", {"virtual_machine_name": "clone-after-save"})
    _task(fresh, h, f"/api/virtual_machines/{vm['id']}/power_off", None)
    old_backup = before["backups"][0]["id"]
    assert fresh.client.delete(f"/api/backups/{old_backup}", headers=h).status_code == 202
    assert fresh.client.post("/_openovc/clock/advance", headers=h, json={"seconds": "6h"}).status_code == 200
    gone = next(v for v in before["virtual_machines"] if v["state"] == "ALIVE" and v["id"] != vm["id"])
    with fresh.runtime.operations.changing() as (txn, _):
        assert txn.delete(VIRTUAL_MACHINES, gone["id"])
    assert fresh.client.get(f"/api/tasks/{backup['id']}", headers=h).json()["task"]["state"] == "COMPLETED"
    assert _everything(fresh, h) != before

    resp = fresh.client.post(f"{SNAPSHOTS}/clean/restore", headers=h)
    assert (resp.status_code, resp.json()) == (
        200,
        {"name": "clean", "counts": expected["counts"], "rows": expected["rows"],
         "clock": {"mode": "manual", "now": NOW}},
    )  # fmt: skip
    assert _everything(fresh, h) == before
    # The backup's task is not in the snapshot: this server no longer answers it from memory.
    path = f"/api/tasks/{backup['id']}"
    resp = fresh.client.get(path, headers=h)
    assert (resp.status_code, resp.json()) == (
        404, error_body(path, NOT_FOUND, f"Object type: task id: {backup['id']} could not be found", 404)
    )  # fmt: skip
    # And the federation works on: the same VM is backed up again.
    again = _task(fresh, h, f"/api/virtual_machines/{vm['id']}/backup", {"backup_name": "after-restore"})
    assert fresh.client.get(f"/api/tasks/{again['id']}", headers=h).json()["task"]["state"] == "COMPLETED"


def test_a_restore_brings_back_fault_rules_with_their_counts(fresh: Env) -> None:
    h = fresh.headers()
    rule = {"match": {"operation": "getVersion"}, "effect": {"http": {"status": 503}}, "count": 1}
    assert fresh.client.post("/_openovc/faults", headers=h, json=rule).status_code == 201
    assert fresh.client.post(SNAPSHOTS, headers=h, json={"name": "armed"}).status_code == 201
    statuses = [fresh.client.get("/api/version", headers=h).status_code for _ in range(2)]
    assert statuses == [503, 200]  # spent after one
    assert fresh.client.post(f"{SNAPSHOTS}/armed/restore", headers=h).status_code == 200
    # The rule is back unspent: it fires once more, as it did after the save.
    statuses = [fresh.client.get("/api/version", headers=h).status_code for _ in range(2)]
    assert statuses == [503, 200]
    assert [f["fired"] for f in fresh.client.get("/_openovc/faults", headers=h).json()["faults"]] == [1]
    assert fresh.client.delete("/_openovc/faults", headers=h).status_code == 200


def test_snapshots_are_listed_read_and_deleted(fresh: Env) -> None:
    h = fresh.headers()
    for name in ("b-two", "a-one"):
        assert fresh.client.post(SNAPSHOTS, headers=h, json={"name": name}).status_code == 201
    summaries = {n: _summary(fresh, h, n) for n in ("a-one", "b-two", "base")}
    resp = fresh.client.get(SNAPSHOTS, headers=fresh.headers(READER))  # any user reads
    assert (resp.status_code, resp.json()) == (200, {"snapshots": list(summaries.values())})
    resp = fresh.client.get(f"{SNAPSHOTS}/a-one", headers=h)
    assert (resp.status_code, resp.json()) == (200, summaries["a-one"])
    resp = fresh.client.delete(f"{SNAPSHOTS}/a-one", headers=h)
    assert (resp.status_code, resp.json()) == (200, summaries["a-one"])
    resp = fresh.client.get(SNAPSHOTS, headers=h)
    assert resp.json() == {"snapshots": [summaries["b-two"], summaries["base"]]}


def test_an_export_is_a_file_that_imports_under_another_name(fresh: Env) -> None:
    h = fresh.headers()
    resp = fresh.client.get(f"{SNAPSHOTS}/base/export", headers=h)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/vnd.openovc.snapshot"
    assert resp.headers["content-disposition"] == 'attachment; filename="base.openovc-snapshot"'
    assert resp.content.startswith(MAGIC)
    data = resp.content
    imported = fresh.client.post(
        f"{SNAPSHOTS}/import", headers={**h, **FILE}, params={"name": "copy"}, content=data
    )
    assert (imported.status_code, imported.json()) == (201, {**_summary(fresh, h, "base"), "name": "copy"})
    path = f"{SNAPSHOTS}/import"
    resp = fresh.client.post(path, headers={**h, **FILE}, content=data)  # under its own name, base: taken
    message = "A snapshot named 'base' exists already; delete it first or choose another name"
    assert (resp.status_code, resp.json()) == (
        409, error_body(path, PKG + "ObjectAlreadyExistsException", message, 409)
    )  # fmt: skip
    assert fresh.client.post(f"{SNAPSHOTS}/copy/restore", headers=h).status_code == 200


def _rule(value: Any) -> str:
    return f"Invalid body: name: expected {NAME_RULE}; got {value!r}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, f"Invalid body: name: Field required (a snapshot's name: {NAME_RULE})"),
        ({"nmae": "x"}, f"Invalid body: name: Field required (a snapshot's name: {NAME_RULE})"),
        ({"name": ""}, _rule("")),
        ({"name": "two words"}, _rule("two words")),
        ({"name": "-dash-first"}, _rule("-dash-first")),
        ({"name": "a/b"}, _rule("a/b")),
        ({"name": "x" * 65}, _rule("x" * 65)),
        ({"name": 7}, "Invalid body: name: must be a string, got 7"),
        ({"name": None}, "Invalid body: name: must be a string, got None"),
        (["clean"], "Invalid body: expected a JSON object"),
        ("clean", "Invalid body: expected a JSON object"),
    ],
)
def test_a_bad_body_is_refused_naming_the_field_and_nothing_is_saved(
    fresh: Env, body: Any, message: str
) -> None:
    h = fresh.headers()
    resp = fresh.client.post(SNAPSHOTS, headers=h, json=body)
    assert (resp.status_code, resp.json()) == (
        400,
        error_body(SNAPSHOTS, PKG + "InvalidBodyException", message),
    )
    assert [s["name"] for s in fresh.client.get(SNAPSHOTS, headers=h).json()["snapshots"]] == ["base"]


def test_a_body_that_is_not_json_is_refused(fresh: Env) -> None:
    h = {**fresh.headers(), "Content-Type": "application/json"}
    raw = b"{name: clean}"
    with pytest.raises(orjson.JSONDecodeError) as problem:
        orjson.loads(raw)
    resp = fresh.client.post(SNAPSHOTS, headers=h, content=raw)
    message = f"Invalid body: not JSON: {problem.value}"
    assert (resp.status_code, resp.json()) == (
        400,
        error_body(SNAPSHOTS, PKG + "InvalidBodyException", message),
    )


def test_a_taken_name_is_a_conflict(fresh: Env) -> None:
    h = fresh.headers()
    resp = fresh.client.post(SNAPSHOTS, headers=h, json={"name": "base"})
    message = "A snapshot named 'base' exists already; delete it first or choose another name"
    assert (resp.status_code, resp.json()) == (
        409, error_body(SNAPSHOTS, PKG + "ObjectAlreadyExistsException", message, 409)
    )  # fmt: skip


@pytest.mark.parametrize("name", ["nope", "bad name", "x" * 65])
@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("DELETE", ""), ("POST", "/restore"), ("GET", "/export")]
)
def test_an_unknown_snapshot_is_not_found(fresh: Env, name: str, method: str, suffix: str) -> None:
    h = fresh.headers()
    before = _everything(fresh, h)
    path = f"{SNAPSHOTS}/{name}{suffix}"
    resp = fresh.client.request(method, path, headers=h)
    message = f"Object type: snapshot id: {name} could not be found"
    assert (resp.status_code, resp.json()) == (404, error_body(path, NOT_FOUND, message, 404))
    assert _everything(fresh, h) == before


def _damaged(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda _: b"", "Invalid body: expected a snapshot file, got an empty body"),
        (lambda d: b"PK\x03\x04" + d, "Invalid body: not an OpenOVC snapshot file (it does not begin with OPENOVC-SNAPSHOT)"),
        (_damaged, "Invalid body: the snapshot file is damaged: its checksum does not match its content"),
        (lambda d: d[: len(d) // 3], "Invalid body: the snapshot file is damaged: its checksum does not match its content"),
    ],
)  # fmt: skip
def test_a_damaged_or_foreign_file_is_refused_and_nothing_changes(
    fresh: Env, make: Any, message: str
) -> None:
    h = fresh.headers()
    data = fresh.client.get(f"{SNAPSHOTS}/base/export", headers=h).content
    path = f"{SNAPSHOTS}/import"
    resp = fresh.client.post(path, headers={**h, **FILE}, params={"name": "other"}, content=make(data))
    assert (resp.status_code, resp.json()) == (400, error_body(path, PKG + "InvalidBodyException", message))
    assert [s["name"] for s in fresh.client.get(SNAPSHOTS, headers=h).json()["snapshots"]] == ["base"]


def test_an_import_name_that_cannot_name_a_snapshot_is_refused(fresh: Env) -> None:
    h = fresh.headers()
    data = fresh.client.get(f"{SNAPSHOTS}/base/export", headers=h).content
    path = f"{SNAPSHOTS}/import"
    resp = fresh.client.post(path, headers={**h, **FILE}, params={"name": "no good"}, content=data)
    message = f"Invalid value for parameter 'name': expected {NAME_RULE}; got 'no good'"
    assert (resp.status_code, resp.json()) == (
        400,
        error_body(path, PKG + "InvalidParameterException", message),
    )


def test_reset_goes_back_to_the_federation_kept_when_it_was_loaded(fresh: Env) -> None:
    h = fresh.headers()
    resp = fresh.client.post("/_openovc/reset", headers=h)
    message = (
        "No initial federation is kept in this store (it was loaded before snapshots existed, or by other "
        "means); save a snapshot and restore it instead, or run openovc init --force"
    )
    assert (resp.status_code, resp.json()) == (
        409, error_body("/_openovc/reset", PKG + "InvalidStateException", message, 409)
    )  # fmt: skip
    initial = fresh.runtime.snapshots.keep_initial()  # as init and the first start do
    before = _everything(fresh, h)
    vm = pick_vm(fresh, "ON")
    _task(fresh, h, f"/api/virtual_machines/{vm['id']}/clone", {"virtual_machine_name": "before-reset"})
    assert fresh.client.post("/_openovc/clock/advance", headers=h, json={"seconds": "1d"}).status_code == 200
    resp = fresh.client.post("/_openovc/reset", headers=h)
    assert (resp.status_code, resp.json()) == (
        200,
        {"name": "initial", "counts": initial.counts, "rows": sum(initial.tables.values()),
         "clock": {"mode": "manual", "now": NOW}},
    )  # fmt: skip
    assert _everything(fresh, h) == before
    assert [s["name"] for s in fresh.client.get(SNAPSHOTS, headers=h).json()["snapshots"]] == ["base"]


_CHANGES = [
    ("POST", SNAPSHOTS, {"name": "mine"}),
    ("POST", f"{SNAPSHOTS}/base/restore", None),
    ("DELETE", f"{SNAPSHOTS}/base", None),
    ("GET", f"{SNAPSHOTS}/base/export", None),
    ("POST", f"{SNAPSHOTS}/import", None),
    ("POST", "/_openovc/reset", None),
]


@pytest.mark.parametrize(("method", "path", "body"), _CHANGES)
def test_only_an_administrator_changes_or_exports_snapshots(
    fresh: Env, method: str, path: str, body: Any
) -> None:
    h = fresh.headers()
    resp = fresh.client.request(method, path, headers=fresh.headers(READER), json=body)
    message = "User auditor@vsphere.local has a read-only role and may not perform this operation"
    assert (resp.status_code, resp.json()) == (
        403,
        error_body(path, PKG + "PermissionDeniedException", message, 403),
    )
    assert [s["name"] for s in fresh.client.get(SNAPSHOTS, headers=h).json()["snapshots"]] == ["base"]


@pytest.mark.parametrize(
    ("method", "path", "body"), [*_CHANGES, ("GET", SNAPSHOTS, None), ("GET", f"{SNAPSHOTS}/base", None)]
)
def test_no_token_and_a_bad_token_get_hpe_s_401(fresh: Env, method: str, path: str, body: Any) -> None:
    resp = fresh.client.request(method, path, json=body)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}
    )  # fmt: skip
    resp = fresh.client.request(method, path, headers={"Authorization": "Bearer not-a-token"}, json=body)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"}
    )  # fmt: skip
    h = fresh.headers()
    assert [s["name"] for s in fresh.client.get(SNAPSHOTS, headers=h).json()["snapshots"]] == ["base"]


def test_the_snapshot_controls_are_in_the_control_api_s_document(env: Env) -> None:
    paths = env.client.get("/_openovc/openapi.json").json()["paths"]
    found = {
        (method.upper(), path, operation["operationId"])
        for path, item in paths.items() if path.startswith(("/snapshots", "/reset"))
        for method, operation in item.items()
    }  # fmt: skip
    assert found == {
        ("GET", "/snapshots", "listSnapshots"), ("POST", "/snapshots", "saveSnapshot"),
        ("POST", "/snapshots/import", "importSnapshot"), ("GET", "/snapshots/{name}", "getSnapshot"),
        ("DELETE", "/snapshots/{name}", "deleteSnapshot"), ("POST", "/snapshots/{name}/restore", "restoreSnapshot"),
        ("GET", "/snapshots/{name}/export", "exportSnapshot"), ("POST", "/reset", "resetFederation"),
    }  # fmt: skip
