"""The server's default pacing, `immediate`, through HTTP: a task has ended before the 202 is answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openovc.domain.tasks import parse_pacing
from tests.support.inprocess import Env, make_env, pick_vm
from tests.support.tasks import media


@pytest.fixture
def immediate_env(tmp_path: Path) -> Iterator[Env]:
    built = make_env(tmp_path, task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _post(env: Env, h: dict[str, str], path: str, body: Any) -> dict[str, Any]:
    resp = env.client.post(path, headers={**h, **media("1.14")}, json=body)
    assert resp.status_code == 202, resp.text
    task: dict[str, Any] = resp.json()["task"]
    return task


def _named(env: Env, h: dict[str, str], name: str) -> list[dict[str, Any]]:
    resp = env.client.get("/api/virtual_machines", headers=h, params={"name": name})
    found: list[dict[str, Any]] = resp.json()["virtual_machines"]
    return found


def test_the_clone_exists_before_the_first_poll(immediate_env: Env) -> None:
    env, h = immediate_env, immediate_env.headers()
    source = pick_vm(env, "ON")
    task = _post(
        env, h, f"/api/virtual_machines/{source['id']}/clone", {"virtual_machine_name": "fast-clone"}
    )
    # The 202 shows the task as submitted, as the real one does...
    assert (task["state"], task["affected_objects"], task["percent_complete"]) == ("IN_PROGRESS", [], 0)
    assert task["end_time"] == "1970-01-01T00:00:00Z"
    # ...but the clone is there already, and the first poll finds the task ended.
    (clone,) = _named(env, h, "fast-clone")
    polled = env.client.get(f"/api/tasks/{task['id']}", headers=h).json()["task"]
    assert polled["state"] == "COMPLETED" and polled["percent_complete"] == 100
    assert polled["affected_objects"] == [{"object_id": clone["id"], "object_type": "virtual_machine"}]
    assert polled["end_time"] != "1970-01-01T00:00:00Z"


def test_a_failure_at_run_time_is_in_the_task_and_changes_nothing(immediate_env: Env) -> None:
    env, h = immediate_env, immediate_env.headers()
    on = pick_vm(env, "ON")
    target = next(d for d in env.federation.rows["datastores"] if d["id"] != on["datastore_id"])
    task = _post(env, h, f"/api/virtual_machines/{on['id']}/move", {"destination_datastore_id": target["id"]})
    assert task["state"] == "IN_PROGRESS"
    polled = env.client.get(f"/api/tasks/{task['id']}", headers=h).json()["task"]
    assert {
        k: polled[k] for k in ("state", "error_code", "message", "error_message", "affected_objects")
    } == {
        "state": "FAILED",
        "error_code": 130,
        "message": "The VM power state is not acceptable.",
        "error_message": "The VM power state is not acceptable.",
        "affected_objects": [],
    }
    after = env.client.get(f"/api/virtual_machines/{on['id']}", headers=h).json()["virtual_machine"]
    assert (after["state"], after["datastore_id"]) == ("ALIVE", on["datastore_id"])


def test_a_task_due_at_once_waits_behind_an_earlier_one_on_its_object(immediate_env: Env) -> None:
    env, h = immediate_env, immediate_env.headers()
    env.runtime.tasks.pacing.by_operation["virtual_machine.power_off"] = parse_pacing("polls:1")
    vm = pick_vm(env, "ON")
    path = f"/api/virtual_machines/{vm['id']}"
    power_off = _post(env, h, f"{path}/power_off", None)
    clone = _post(env, h, f"{path}/clone", {"virtual_machine_name": "after-power-off"})
    # The clone is due, but the power-off holds the VM and has not run: the clone waits for it.
    assert _named(env, h, "after-power-off") == []
    assert env.client.get(f"/api/tasks/{clone['id']}", headers=h).json()["task"]["state"] == "IN_PROGRESS"
    assert env.client.get(f"/api/tasks/{power_off['id']}", headers=h).json()["task"]["state"] == "COMPLETED"
    assert env.runtime.tasks.run_due() == 1  # what the worker does: the clone runs now
    assert env.client.get(f"/api/tasks/{clone['id']}", headers=h).json()["task"]["state"] == "COMPLETED"
    assert len(_named(env, h, "after-power-off")) == 1
