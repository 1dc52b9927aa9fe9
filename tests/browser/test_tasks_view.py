"""The Tasks view in a real browser: every task of the federation as GET /_openovc/tasks lists it, a task
started outside the page followed to its end without a reload and known by its operation, and its state
and operation filters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from openovc.client import ControlClient
from tests.browser.conftest import ADMIN, Dashboard, show

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one worker, one browser, in turn

PACING = "/_openovc/pacing"
VENDOR = {"Content-Type": "application/vnd.simplivity.v1.14+json"}


@pytest.fixture
def paced_clones(dashboard: Dashboard) -> Iterator[None]:
    """Clones take a simulated minute, so that one is seen running (the clock is manual: it stands still)."""
    body = {"default": "immediate", "operations": {"virtual_machine.clone": "duration:60"}}
    assert dashboard.api.put(PACING, json=body).status_code == 200
    yield
    assert dashboard.api.delete(PACING).status_code == 200


def _clone(dashboard: Dashboard) -> str:
    vm = dashboard.get("/api/virtual_machines", {"limit": "1", "fields": "id", "sort": "name"})[
        "virtual_machines"
    ][0]
    resp = dashboard.api.post(
        f"/api/virtual_machines/{vm['id']}/clone",
        json={"virtual_machine_name": f"seen-{uuid.uuid4().hex[:8]}"},
        headers=VENDOR,
    )
    assert resp.status_code == 202, resp.text
    task_id: str = resp.json()["task"]["id"]
    return task_id


def _shown(text: str) -> str:
    return text.replace("T", " ").replace(":00Z", " UTC")


def _rows(page: Page) -> list[str | None]:
    return [row.get_attribute("data-task") for row in page.locator("#view tbody tr[data-task]").all()]


@pytest.mark.usefixtures("paced_clones")
def test_a_task_started_outside_the_page_is_seen_running_then_ended(
    admin_page: Page, dashboard: Dashboard
) -> None:
    page = admin_page
    show(page, dashboard, "/tasks", "tasks")
    task_id = _clone(dashboard)
    row = f"tr[data-task='{task_id}']"
    page.wait_for_selector(f"{row} .badge.warn")  # the page reads the list again: no reload
    assert page.inner_text(f"{row} .badge") == "IN_PROGRESS"
    # Not started here: no label, but the operation the listing names, which links to its tasks only.
    assert page.inner_text(f"{row} td >> nth=0") == f"virtual_machine.clone\n{task_id}"
    assert page.get_attribute(f"{row} [data-testid=task-operation]", "href") == (
        "#/tasks?operation=virtual_machine.clone"
    )
    assert page.get_attribute(f"{row}", "class") == "fresh"
    control = ControlClient(dashboard.server.base_url, *ADMIN)
    assert task_id in [t["id"] for t in control.tasks(state="IN_PROGRESS")]
    dashboard.screenshot(page, "tasks-running")

    moved = dashboard.api.post("/_openovc/clock/advance", json={"seconds": 60})
    assert moved.status_code == 200, moved.text  # it runs the clone, or the worker does as the clock passes
    page.wait_for_selector(f"{row} .badge.ok")
    task = dashboard.get(f"/api/tasks/{task_id}")["task"]
    assert task["state"] == "COMPLETED"
    assert page.inner_text(f"{row} .badge") == "COMPLETED"
    assert page.inner_text(f"{row} td >> nth=3") == _shown(task["start_time"])
    assert page.inner_text(f"{row} td >> nth=4") == _shown(task["end_time"])
    [made] = task["affected_objects"]
    assert page.get_attribute(f"{row} td >> nth=5 >> a", "href") == f"#/vms/{made['object_id']}"
    listed: list[dict[str, Any]] = control.tasks(limit=50)
    assert listed == dashboard.get("/_openovc/tasks")["tasks"]
    page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('#view tbody tr[data-task]')].map(r => r.dataset.task))"
        " === JSON.stringify(ids)",
        arg=[t["id"] for t in listed],
    )
    assert page.inner_text("[data-testid=tasks-status]") == (
        f"Nothing in progress among the newest {len(listed)} · updated every second"
    )
    dashboard.screenshot(page, "tasks")


def test_the_state_filter_shows_what_the_api_lists(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    vm = dashboard.get("/api/virtual_machines", {"limit": "1", "fields": "id"})["virtual_machines"][0]
    done = dashboard.api.post(
        f"/api/virtual_machines/{vm['id']}/backup",
        json={"backup_name": f"f-{uuid.uuid4().hex[:8]}"},
        headers=VENDOR,
    )
    assert done.status_code == 202, done.text
    show(page, dashboard, "/tasks", "tasks")
    page.click("[data-state=COMPLETED]")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready] [data-state=COMPLETED].on")
    assert "state=COMPLETED" in page.url
    completed = [t["id"] for t in dashboard.get("/_openovc/tasks", {"state": "COMPLETED"})["tasks"]]
    assert completed and _rows(page) == completed
    assert {page.locator("#view tbody .badge").nth(i).inner_text() for i in range(len(completed))} == {
        "COMPLETED"
    }
    page.select_option("select[aria-label='How many']", "100")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready] [data-state=COMPLETED].on")
    assert "limit=100" in page.url and "state=COMPLETED" in page.url
    page.click("[data-state=FAILED]")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready] [data-state=FAILED].on")
    failed = [t["id"] for t in dashboard.get("/_openovc/tasks", {"state": "FAILED", "limit": "100"})["tasks"]]
    assert _rows(page) == failed
    if not failed:
        assert page.inner_text("#view tbody") == "No task in this state"


def test_an_operation_lists_only_its_tasks(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    vm = dashboard.get("/api/virtual_machines", {"limit": "1", "fields": "id"})["virtual_machines"][0]
    done = dashboard.api.post(
        f"/api/virtual_machines/{vm['id']}/backup",
        json={"backup_name": f"o-{uuid.uuid4().hex[:8]}"},
        headers=VENDOR,
    )
    assert done.status_code == 202, done.text
    show(page, dashboard, "/tasks?state=COMPLETED", "tasks")
    row = f"tr[data-task='{done.json()['task']['id']}']"
    page.click(f"{row} [data-testid=task-operation]")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready] [data-testid=operation-filter]")
    assert page.url.endswith("#/tasks?state=COMPLETED&operation=virtual_machine.backup")
    backups = dashboard.get("/_openovc/tasks", {"state": "COMPLETED", "operation": "virtual_machine.backup"})
    assert backups["tasks"] and _rows(page) == [t["id"] for t in backups["tasks"]]
    operations = page.locator("#view tbody [data-testid=task-operation]")
    assert {operations.nth(i).inner_text() for i in range(operations.count())} == {"virtual_machine.backup"}
    assert page.locator("#view tbody a[data-testid=task-operation]").count() == 0  # the list shown already
    assert page.inner_text("[data-testid=operation-filter]") == "Only virtual_machine.backup Any operation"
    # The state filter keeps the operation; "Any operation" drops it and keeps the state.
    page.click("[data-state=all]")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready] [data-state=all].on")
    assert page.url.endswith("#/tasks?operation=virtual_machine.backup")
    page.click("[data-testid=any-operation]")
    page.wait_for_function("() => !document.querySelector('[data-testid=operation-filter]')")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready]")
    assert page.url.endswith("#/tasks")
    # An operation no task performs is an empty list; one the server does not know, its refusal.
    show(page, dashboard, "/tasks?operation=virtual_machine.move", "tasks")
    assert page.inner_text("#view tbody") == "No virtual_machine.move task yet"
    page.goto(dashboard.url + "#/tasks?operation=cloneVm")
    page.wait_for_selector("#view[data-view=tasks][data-state=error]")
    message = dashboard.api.get("/_openovc/tasks", params={"operation": "cloneVm"}).json()["message"]
    assert page.inner_text("#view [role=alert]") == f"400: {message}"
