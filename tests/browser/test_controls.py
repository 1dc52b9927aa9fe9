"""The control panels in a real browser: fault rules, snapshots and reset, task pacing, each against the
control API's answers, and all of them off for a read-only user."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import READER, Dashboard, show

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one worker, one browser, in turn

FAULTS = "/_openovc/faults"
PACING = "/_openovc/pacing"
SNAPSHOTS = "/_openovc/snapshots"
VENDOR = {"Content-Type": "application/vnd.simplivity.v1.14+json"}
MESSAGE = "Injected by the dashboard's test."
READ_ONLY = f"403: User {READER[0]} has a read-only role and may not perform this operation"


def _start_up(dashboard: Dashboard) -> None:
    assert dashboard.api.delete(FAULTS).status_code == 200
    assert dashboard.api.delete(PACING).status_code == 200


@pytest.fixture(autouse=True)
def no_rules_nor_pacing(dashboard: Dashboard) -> Iterator[None]:
    """Each test begins and ends with no fault rule and the servers' start-up pacing."""
    _start_up(dashboard)
    yield
    _start_up(dashboard)


def _refused(dashboard: Dashboard, method: str, path: str, body: Any) -> str:
    """What the server says to this request, which must be a 400, as the page shows it."""
    resp = dashboard.api.request(method, path, json=body)
    assert resp.status_code == 400, resp.text
    return f"400: {resp.json()['message']}"


def _backups(dashboard: Dashboard, vm_id: str) -> int:
    count: int = dashboard.get("/api/backups", {"virtual_machine_id": vm_id, "limit": "1", "fields": "id"})[
        "count"
    ]
    return count


def _alive_vm(dashboard: Dashboard) -> dict[str, Any]:
    vm: dict[str, Any] = dashboard.get(
        "/api/virtual_machines", {"limit": "1", "sort": "name", "order": "ascending"}
    )["virtual_machines"][0]
    return vm


def _back_up(dashboard: Dashboard, vm_id: str) -> None:
    """A backup taken through the API, outside the page; it completes at once (immediate pacing)."""
    resp = dashboard.api.post(
        f"/api/virtual_machines/{vm_id}/backup",
        json={"backup_name": f"outside-{uuid.uuid4().hex[:8]}"},
        headers=VENDOR,
    )
    assert resp.status_code == 202, resp.text
    assert dashboard.get(f"/api/tasks/{resp.json()['task']['id']}")["task"]["state"] == "COMPLETED"


def _wait_text(page: Page, selector: str, text: str) -> None:
    """Until the element shows exactly this text (it may be showing an earlier answer)."""
    page.wait_for_function("([s, t]) => document.querySelector(s)?.textContent === t", arg=[selector, text])


def _confirm(page: Page, selector: str) -> None:
    """A destructive button asks first: the second click does it."""
    page.click(selector)
    page.click(selector)


def test_a_fault_added_here_fires_on_a_vm_action_and_its_count_rises(
    admin_page: Page, dashboard: Dashboard
) -> None:
    page = admin_page
    show(page, dashboard, "/controls", "controls")
    form = "[data-control=faults] [data-testid=fault-form]"
    page.fill(f"{form} [name=operation]", "backupVm")
    page.select_option(f"{form} [name=effect]", "task_error")
    page.fill(f"{form} [name=error_code]", "130")
    page.fill(f"{form} [name=task_message]", MESSAGE)
    page.fill(f"{form} [name=count]", "1")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=faults-done]")
    [fault] = dashboard.get(FAULTS)["faults"]
    assert {k: v for k, v in fault.items() if k not in ("id", "seed")} == {
        "match": {"operation": "backupVm"},
        "effect": {"task_error": {"error_code": 130, "message": MESSAGE}},
        "probability": 1.0,
        "count": 1,
        "skip": 0,
        "fired": 0,
    }
    assert page.inner_text("[data-testid=faults-done]") == f"Added rule {fault['id']}."
    row = f"[data-control=faults] tr[data-fault='{fault['id']}']"
    assert page.inner_text(f"{row} [data-testid=fired]") == "0"
    assert page.inner_text(f"{row} td >> nth=1") == f"Task fails with 130: {MESSAGE}"

    vm = _alive_vm(dashboard)
    before = _backups(dashboard, vm["id"])
    show(page, dashboard, f"/vms/{vm['id']}", "vm")
    page.click("[data-action=backup]")
    page.click("text=follow its task")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready]")
    task_id = json.loads(page.evaluate("sessionStorage.getItem('openovc.tasks')"))[0]["id"]
    page.wait_for_selector(f"tr[data-task='{task_id}'] .badge.bad")
    assert page.inner_text(f"tr[data-task='{task_id}'] [data-testid=task-error]") == f"130: {MESSAGE}"
    assert (
        page.inner_text(f"tr[data-task='{task_id}'] td >> nth=0")
        == f"Back up {vm['name']}\nvirtual_machine.backup\n{task_id}"
    )
    task = dashboard.get(f"/api/tasks/{task_id}")["task"]
    assert (task["state"], task["error_code"], task["error_message"]) == ("FAILED", 130, MESSAGE)
    assert _backups(dashboard, vm["id"]) == before  # it changed nothing

    show(page, dashboard, "/controls", "controls")
    page.wait_for_selector(f"{row} [data-testid=fired]:text-is('1')")
    assert dashboard.get(FAULTS)["faults"][0]["fired"] == 1
    dashboard.screenshot(page, "controls-faults")
    _confirm(page, f"{row} button")
    page.wait_for_selector(
        "[data-testid=faults-done]:text-is('Removed the rule on backupVm; it fired once.')"
    )
    assert dashboard.get(FAULTS) == {"faults": []}
    page.wait_for_selector("[data-control=faults] td.empty")


def test_a_rule_refused_shows_the_server_s_word_and_json_rules_are_added_and_cleared(
    admin_page: Page, dashboard: Dashboard
) -> None:
    page = admin_page
    show(page, dashboard, "/controls", "controls")
    form = "[data-control=faults] [data-testid=fault-form]"
    page.fill(f"{form} [name=operation]", "getHost")
    page.select_option(f"{form} [name=effect]", "http")
    page.fill(f"{form} [name=status]", "700")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=faults-error]")
    bad = {"match": {"operation": "getHost"}, "effect": {"http": {"status": 700}}, "probability": 1}
    assert page.inner_text("[data-testid=faults-error]") == _refused(dashboard, "POST", FAULTS, bad)
    assert "effect.http.status" in page.inner_text("[data-testid=faults-error]")
    assert dashboard.get(FAULTS) == {"faults": []}

    page.click("[data-control=faults] [data-mode=json]")
    raw = "[data-control=faults] [data-testid=fault-json]"
    unknown = {"match": {"operation": "flyVm"}, "effect": {"drop_connection": True}}
    page.fill(f"{raw} textarea", json.dumps(unknown))
    page.click(f"{raw} button[type=submit]")
    _wait_text(page, "[data-testid=faults-error]", _refused(dashboard, "POST", FAULTS, unknown))
    page.fill(f"{raw} textarea", "{not json")
    page.click(f"{raw} button[type=submit]")
    page.wait_for_selector("[data-testid=faults-error]:text-matches('^Not JSON: ')")

    rule = {"match": {"method": "GET", "path": "/api/hosts/{hostId}"}, "effect": {"delay_ms": 1, "jitter_ms": 1},
            "probability": 0.5, "seed": 7}  # fmt: skip
    page.fill(f"{raw} textarea", json.dumps(rule))
    page.click(f"{raw} button[type=submit]")
    page.wait_for_selector("[data-testid=faults-done]")
    [added] = dashboard.get(FAULTS)["faults"]
    assert {k: added[k] for k in rule} == rule
    row = f"[data-control=faults] tr[data-fault='{added['id']}']"
    assert page.inner_text(f"{row} td >> nth=0") == "GET /api/hosts/{hostId}"
    assert page.inner_text(f"{row} td >> nth=1") == "Delay 1 ms ± 1 ms"
    _confirm(page, "[data-testid=faults-clear]")
    page.wait_for_selector("[data-testid=faults-done]:text-is('Removed 1 rule.')")
    assert dashboard.get(FAULTS) == {"faults": []}


def test_a_snapshot_saved_here_undoes_a_change_when_restored(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    show(page, dashboard, "/controls", "controls")
    name = f"before-{uuid.uuid4().hex[:8]}"
    page.fill("[data-testid=snapshot-name]", name)
    page.click("[data-control=snapshots] button[type=submit]")
    page.wait_for_selector("[data-testid=snapshots-done]")
    saved = dashboard.get(f"{SNAPSHOTS}/{name}")
    assert page.inner_text("[data-testid=snapshots-done]") == (
        f"Saved {name}: {saved['rows']:,} rows, {_bytes(saved['size'])}."
    )
    row = f"[data-control=snapshots] tr[data-snapshot='{name}']"
    assert page.inner_text(f"{row} td >> nth=0") == name
    assert page.inner_text(f"{row} td >> nth=3") == f"{saved['counts']['virtual_machines']:,}"
    assert page.inner_text(f"{row} td >> nth=4") == f"{saved['counts']['backups']:,}"

    vm = _alive_vm(dashboard)
    before = _backups(dashboard, vm["id"])
    _back_up(dashboard, vm["id"])
    assert _backups(dashboard, vm["id"]) == before + 1
    dashboard.screenshot(page, "controls-snapshots")
    _confirm(page, f"{row} [data-restore='{name}']")
    page.wait_for_selector("[data-testid=snapshots-done]:text-matches('^Restored ')")
    assert _backups(dashboard, vm["id"]) == before  # the change is undone
    clock = dashboard.get("/_openovc/clock")
    assert page.inner_text("[data-testid=snapshots-done]") == (
        f"Restored {name}: {saved['rows']:,} rows written, {saved['counts']['virtual_machines']:,} VMs and "
        f"{saved['counts']['backups']:,} backups; the clock is at {_shown_time(clock['now'])}."
    )
    _confirm(page, f"{row} [data-delete='{name}']")
    page.wait_for_selector(f"[data-testid=snapshots-done]:text-is('Deleted {name}.')")
    page.wait_for_selector(row, state="detached")
    assert name not in [s["name"] for s in dashboard.get(SNAPSHOTS)["snapshots"]]


def _shown_time(text: str) -> str:
    return text.replace("T", " ").replace(":00Z", " UTC")


def _bytes(n: int) -> str:
    """As the dashboard writes a size: binary units, one decimal below 100."""
    value, unit = float(n), 0
    while value >= 1024 and unit < 5:
        value, unit = value / 1024, unit + 1
    digits = 0 if unit == 0 or value >= 100 else 1
    return f"{value:.{digits}f} {['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'][unit]}"


def test_reset_goes_back_to_the_initial_federation(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    initial = dashboard.api.post("/_openovc/reset")
    assert initial.status_code == 200, initial.text
    vm = _alive_vm(dashboard)
    before = _backups(dashboard, vm["id"])
    _back_up(dashboard, vm["id"])
    show(page, dashboard, "/controls", "controls")
    _confirm(page, "[data-testid=reset]")
    page.wait_for_selector("[data-testid=snapshots-done]")
    reset = initial.json()
    assert page.inner_text("[data-testid=snapshots-done]") == (
        f"Reset to the initial federation: {reset['rows']:,} rows written, "
        f"{reset['counts']['virtual_machines']:,} VMs and {reset['counts']['backups']:,} backups; "
        f"the clock is at {_shown_time(reset['clock']['now'])}."
    )
    assert _backups(dashboard, vm["id"]) == before
    # The top bar shows the initial federation's clock.
    page.wait_for_selector(f"#clock-now:text-is('{_shown_time(reset['clock']['now'])}')")


def test_pacing_is_set_per_operation_refused_with_the_server_s_word_and_reset(
    admin_page: Page, dashboard: Dashboard
) -> None:
    page = admin_page
    show(page, dashboard, "/controls", "controls")
    start = dashboard.get(PACING)
    assert page.inner_text("[data-testid=pacing-default]") == start["default"]
    form = "[data-testid=pacing-operation]"
    page.fill(f"{form} [name=operation]", "virtual_machine.clone")
    page.fill(f"{form} [name=pacing]", "later")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=pacing-error]")
    bad = {"default": start["default"], "operations": {"virtual_machine.clone": "later"}}
    assert page.inner_text("[data-testid=pacing-error]") == _refused(dashboard, "PUT", PACING, bad)
    assert dashboard.get(PACING) == start

    page.fill(f"{form} [name=pacing]", "duration:20:0.3")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=pacing-done]")
    assert dashboard.get(PACING) == {
        "default": start["default"], "operations": {"virtual_machine.clone": "duration:20:0.3"}, "set_at_run_time": True
    }  # fmt: skip
    row = "[data-control=pacing] tr[data-operation='virtual_machine.clone']"
    assert page.inner_text(f"{row} td >> nth=1") == "duration:20:0.3"
    page.fill("[data-testid=pacing-default-form] [name=default]", "polls:2")
    page.click("[data-testid=pacing-default-form] button[type=submit]")
    page.wait_for_selector("[data-testid=pacing-default]:text-is('polls:2')")
    assert dashboard.get(PACING)["default"] == "polls:2"
    dashboard.screenshot(page, "controls-pacing")
    page.click(f"{row} button")
    page.wait_for_selector(row, state="detached")
    assert dashboard.get(PACING)["operations"] == {}
    _confirm(page, "[data-testid=pacing-reset]")
    page.wait_for_selector(f"[data-testid=pacing-default]:text-is('{start['default']}')")
    assert dashboard.get(PACING) == start


def test_the_reader_sees_the_panels_disabled_and_the_server_refuses_them(
    reader_page: Page, dashboard: Dashboard
) -> None:
    page = reader_page
    name = f"kept-{uuid.uuid4().hex[:8]}"
    assert dashboard.api.post(SNAPSHOTS, json={"name": name}).status_code == 201
    try:
        show(page, dashboard, "/controls", "controls")
        for panel in ("faults", "snapshots", "pacing"):
            controls = page.locator(f"[data-control={panel}] :is(input, select, textarea, button)")
            assert controls.count() > 0
            assert all(controls.nth(i).is_disabled() for i in range(controls.count())), panel
            assert page.is_visible(f"[data-control={panel}] [data-testid=read-only-note]")
        assert page.is_visible(f"[data-control=snapshots] tr[data-snapshot='{name}']")  # reading is allowed
        dashboard.screenshot(page, "controls-reader-panels")
        # Were its buttons on, the server's 403 is shown and nothing changes.
        page.eval_on_selector(f"[data-restore='{name}']", "b => { b.disabled = false; }")
        _confirm(page, f"[data-restore='{name}']")
        page.wait_for_selector("[data-testid=snapshots-error]")
        assert page.inner_text("[data-testid=snapshots-error]") == READ_ONLY
        page.eval_on_selector("[data-testid=fault-form] button[type=submit]", "b => { b.disabled = false; }")
        page.click("[data-testid=fault-form] button[type=submit]")
        page.wait_for_selector("[data-testid=faults-error]")
        assert page.inner_text("[data-testid=faults-error]") == READ_ONLY
        assert dashboard.get(FAULTS) == {"faults": []}
    finally:
        assert dashboard.api.delete(f"{SNAPSHOTS}/{name}").status_code == 200
