"""Submitting an operation over HTTP and following its task to the end, as clients do."""

from __future__ import annotations

from typing import Any

from tests.support.inprocess import Env

V = "application/vnd.simplivity.v{}+json"


def media(version: str = "1.8") -> dict[str, str]:
    return {"Content-Type": V.format(version)}


def submit(
    env: Env,
    method: str,
    path: str,
    headers: dict[str, str],
    json: Any = None,
    *,
    version: str = "1.8",
    **kw: Any,
) -> dict[str, Any]:
    """Send the request, expect 202 with an IN_PROGRESS task, and return the task as the first poll shows it."""
    resp = env.client.request(method, path, headers={**headers, **media(version)}, json=json, **kw)
    assert resp.status_code == 202, resp.text
    task = resp.json()["task"]
    assert task["state"] == "IN_PROGRESS" and task["affected_objects"] == []
    polled = env.client.get(f"/api/tasks/{task['id']}", headers=headers)
    assert polled.status_code == 200
    body: dict[str, Any] = polled.json()["task"]
    return body


def completed(
    env: Env, method: str, path: str, headers: dict[str, str], json: Any = None, **kw: Any
) -> list[dict[str, str]]:
    """Run an operation that must succeed; returns its affected objects."""
    task = submit(env, method, path, headers, json, **kw)
    assert task["state"] == "COMPLETED", task
    affected: list[dict[str, str]] = task["affected_objects"]
    return affected


def failed(
    env: Env, method: str, path: str, headers: dict[str, str], json: Any = None, **kw: Any
) -> tuple[int, str]:
    """Run an operation that must fail once it runs; returns (error_code, message)."""
    task = submit(env, method, path, headers, json, **kw)
    assert task["state"] == "FAILED", task
    assert task["message"] == task["error_message"]
    return task["error_code"], task["message"]
