"""The dashboard in a real browser: login, every view, the figures it shows against the API's answers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import ADMIN, READER, START, Dashboard, show

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one worker, one browser, in turn


def _tile(page: Page, testid: str) -> str:
    return page.inner_text(f"[data-testid={testid}] .tile-value")


def _vm_with_backups(dashboard: Dashboard) -> dict[str, Any]:
    """A live VM with at least two backups, found through the API."""
    backups = dashboard.get(
        "/api/backups", {"limit": "1", "fields": "virtual_machine_id", "sort": "created_at"}
    )
    vm_id = backups["backups"][0]["virtual_machine_id"]
    vm: dict[str, Any] = dashboard.get(f"/api/virtual_machines/{vm_id}")["virtual_machine"]
    return vm


def test_a_bad_password_shows_the_api_s_refusal(fresh_page: Page, dashboard: Dashboard) -> None:
    page = fresh_page
    page.goto(dashboard.url)
    page.fill("#login-username", "nobody@vsphere.local")
    page.fill("#login-password", "wrong")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:not([hidden])")
    refused = dashboard.api.post(
        "/api/oauth/token",
        headers={"Authorization": "Basic c2ltcGxpdml0eTo="},
        data={"grant_type": "password", "username": "nobody@vsphere.local", "password": "wrong"},
    )
    assert refused.status_code == 400
    assert page.inner_text("#login-error") == f"Sign-in refused: {refused.json()['error_description']}"
    assert page.is_hidden("#shell")
    dashboard.screenshot(page, "login-refused")


def test_the_overview_shows_the_api_s_counts_and_capacity(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    show(page, dashboard, "/overview", "overview")
    hosts = dashboard.get("/api/hosts", {"fields": "id,state", "limit": "5000"})
    clusters = dashboard.get(
        "/api/omnistack_clusters",
        {"show_optional_fields": "true", "limit": "500", "fields": "id,used_capacity,allocated_capacity"},
    )
    vms = dashboard.get("/api/virtual_machines", {"limit": "1", "fields": "id"})
    backups = dashboard.get("/api/backups", {"limit": "1", "fields": "id"})
    assert _tile(page, "hosts") == str(hosts["count"])
    assert (
        page.inner_text("[data-testid=hosts] .tile-sub")
        == f"{sum(h['state'] == 'ALIVE' for h in hosts['hosts'])} alive"
    )
    assert _tile(page, "clusters") == str(clusters["count"])
    assert _tile(page, "vms") == f"{vms['count']:,}"
    assert _tile(page, "backups") == f"{backups['count']:,}"
    for cluster in clusters["omnistack_clusters"]:
        bar = page.locator(f"[data-cluster='{cluster['id']}'] .capacity")
        assert bar.get_attribute("data-used") == str(cluster["used_capacity"])
        assert bar.get_attribute("data-allocated") == str(cluster["allocated_capacity"])
    assert page.locator(".host-chip").count() == hosts["count"]
    dashboard.screenshot(page, "overview")


def test_the_vm_search_finds_a_vm_by_part_of_its_name(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    show(page, dashboard, "/vms", "vms")
    everything = dashboard.get("/api/virtual_machines", {"limit": "1", "fields": "id"})
    assert page.get_attribute("[data-testid=vm-count]", "data-count") == str(everything["count"])
    target = dashboard.get(
        "/api/virtual_machines", {"limit": "1", "offset": "7", "fields": "id,name", "sort": "name"}
    )
    vm = target["virtual_machines"][0]
    part = vm["name"][1:-1].upper()  # the middle of the name, in the other case: a case-insensitive substring
    expected = dashboard.get(
        "/api/virtual_machines", {"name": f"*{part}*", "case": "insensitive", "limit": "1", "fields": "id"}
    )
    page.fill("[data-filter=name]", part)
    page.wait_for_selector(f"[data-testid=vm-count][data-count='{expected['count']}']")
    page.wait_for_selector(f"tr[data-vm='{vm['id']}']")
    assert page.inner_text(f"tr[data-vm='{vm['id']}'] td >> nth=0") == vm["name"]
    assert f"name={part}" in page.url  # the search is kept in the address, for the back button and links
    dashboard.screenshot(page, "vms-search")
    page.fill("[data-filter=name]", "no-such-vm-anywhere")
    page.wait_for_selector("[data-testid=vm-count][data-count='0']")
    assert page.inner_text("#view tbody") == "No virtual machine matches"


def test_the_vm_list_pages_through_the_server(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    show(page, dashboard, "/vms", "vms")
    first = dashboard.get(
        "/api/virtual_machines", {"limit": "50", "fields": "id", "sort": "name", "order": "ascending"}
    )
    ids = [r.get_attribute("data-vm") for r in page.locator("tr[data-vm]").all()]
    assert ids == [v["id"] for v in first["virtual_machines"]]
    if first["count"] > 50:
        second = dashboard.get(
            "/api/virtual_machines",
            {"limit": "50", "offset": "50", "fields": "id", "sort": "name", "order": "ascending"},
        )
        page.click("[data-page=next]")
        page.wait_for_selector(f"tr[data-vm='{second['virtual_machines'][0]['id']}']")


def test_a_vm_page_shows_its_backups_policy_and_metrics(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    vm = _vm_with_backups(dashboard)
    show(page, dashboard, f"/vms/{vm['id']}", "vm")
    backups = dashboard.get("/api/backups", {"virtual_machine_id": vm["id"], "limit": "1", "fields": "id"})
    assert page.get_attribute("[data-testid=backup-count]", "data-count") == str(backups["count"])
    assert page.locator(".timeline circle").count() == min(backups["count"], 500)
    assert page.inner_text("h1") == vm["name"]
    if vm["policy_id"]:
        policy = dashboard.get(f"/api/policies/{vm['policy_id']}")["policy"]
        assert page.get_by_text(f"Policy: {policy['name']}").count() == 1
    page.wait_for_selector("section[data-window][data-state=ready]")
    assert page.locator("section[data-window] svg").count() == 3  # IOPS, throughput, latency
    dashboard.screenshot(page, "vm")
    page.click("[data-window='1 h']")
    page.wait_for_selector("section[data-window='1 h'][data-state=ready]")


def test_the_cluster_and_host_pages_show_the_api_s_capacity(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    cluster = dashboard.get("/api/omnistack_clusters", {"limit": "1", "show_optional_fields": "true"})
    c = cluster["omnistack_clusters"][0]
    show(page, dashboard, f"/clusters/{c['id']}", "cluster")
    hosts = dashboard.get("/api/hosts", {"omnistack_cluster_id": c["id"], "show_optional_fields": "true"})
    assert _tile(page, "hosts") == str(hosts["count"])
    assert page.locator(".capacity").first.get_attribute("data-used") == str(c["used_capacity"])
    page.wait_for_selector("section[data-window='7 d'][data-state=ready]")
    history = page.locator("section[data-window='7 d'] [data-used]").first
    # The newest point of the summed history is the hosts' own figures now.
    assert history.get_attribute("data-used") == str(sum(h["used_capacity"] for h in hosts["hosts"]))
    dashboard.screenshot(page, "cluster")

    host = hosts["hosts"][0]
    page.click(f"a[href='#/hosts/{host['id']}'] >> nth=0")
    page.wait_for_selector("#view[data-view=host][data-state=ready]")
    assert page.inner_text("h1") == host["name"]
    assert page.locator(".capacity").first.get_attribute("data-used") == str(host["used_capacity"])
    vms = dashboard.get("/api/virtual_machines", {"host_id": host["id"], "limit": "1", "fields": "id"})
    assert _tile(page, "vms") == str(vms["count"])
    dashboard.screenshot(page, "host")


def test_the_administrator_moves_the_clock(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    show(page, dashboard, "/controls", "controls")
    before = datetime.fromisoformat(dashboard.get("/_openovc/clock")["now"])
    page.click("[data-advance='3600']")
    page.wait_for_selector("[data-testid=clock-moved]")
    after = dashboard.get("/_openovc/clock")
    assert datetime.fromisoformat(after["now"]) == before + timedelta(hours=1)
    shown = page.inner_text("[data-testid=clock-now]")
    assert shown == after["now"].replace("T", " ").replace(":00Z", " UTC")
    assert re.fullmatch(r"Now .* UTC: [\d,]+ backups taken, [\d,]+ expired, [\d,]+ tasks completed\.",
                        page.inner_text("[data-testid=clock-moved]"))  # fmt: skip
    dashboard.screenshot(page, "controls")


def test_the_reader_cannot_move_the_clock(reader_page: Page, dashboard: Dashboard) -> None:
    page = reader_page
    assert page.text_content("#whoami") == f"{READER[0]} read-only"
    show(page, dashboard, "/controls", "controls")
    assert page.is_disabled("[data-advance='3600']")
    assert page.is_visible("[data-testid=read-only-note]")
    before = dashboard.get("/_openovc/clock")
    # Were the button enabled, the server's 403 is shown and nothing moves.
    page.eval_on_selector("[data-advance='3600']", "b => { b.disabled = false; }")
    page.click("[data-advance='3600']")
    page.wait_for_selector("[data-testid=clock-error]")
    assert page.inner_text("[data-testid=clock-error]") == (
        f"403: User {READER[0]} has a read-only role and may not perform this operation"
    )
    assert dashboard.get("/_openovc/clock") == before
    dashboard.screenshot(page, "controls-reader")


def test_a_backup_started_here_is_followed_on_the_tasks_page(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    vm = _vm_with_backups(dashboard)
    count = dashboard.get("/api/backups", {"virtual_machine_id": vm["id"], "limit": "1", "fields": "id"})[
        "count"
    ]
    show(page, dashboard, f"/vms/{vm['id']}", "vm")
    page.click("[data-action=backup]")
    page.click("text=follow its task")
    page.wait_for_selector("#view[data-view=tasks][data-state=ready]")
    task_id = json.loads(page.evaluate("sessionStorage.getItem('openovc.tasks')"))[0]["id"]
    row = f"tr[data-task='{task_id}']"
    page.wait_for_selector(f"{row} .badge.ok")
    assert page.inner_text(f"{row} .badge") == "COMPLETED"
    assert page.inner_text(f"{row} td >> nth=0") == f"Back up {vm['name']}\nvirtual_machine.backup\n{task_id}"
    task = dashboard.get(f"/api/tasks/{task_id}")["task"]
    assert task["state"] == "COMPLETED"
    assert (
        dashboard.get("/api/backups", {"virtual_machine_id": vm["id"], "limit": "1", "fields": "id"})["count"]
        == count + 1
    )
    dashboard.screenshot(page, "tasks")


def test_the_reader_may_not_back_up(reader_page: Page, dashboard: Dashboard) -> None:
    page = reader_page
    vm = _vm_with_backups(dashboard)
    show(page, dashboard, f"/vms/{vm['id']}", "vm")
    assert page.is_disabled("[data-action=backup]")


def test_a_revoked_token_returns_to_the_login_form(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    token = page.evaluate("sessionStorage.getItem('openovc.token')")
    assert (
        dashboard.api.get("/api/oauth/revoke", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    page.goto(dashboard.url + "#/vms")
    page.wait_for_selector("#login:not([hidden])")
    assert page.inner_text("#login-error") == "Your session has ended: please sign in again."
    assert page.evaluate("sessionStorage.getItem('openovc.token')") is None
    page.fill("#login-username", ADMIN[0])
    page.fill("#login-password", ADMIN[1])
    page.click("#login-submit")
    page.wait_for_selector("#view[data-view=vms][data-state=ready]")


def test_the_clock_in_the_top_bar_is_the_simulator_s(admin_page: Page, dashboard: Dashboard) -> None:
    now = dashboard.get("/_openovc/clock")["now"]
    admin_page.wait_for_function(
        "t => document.getElementById('clock-now').textContent === t",
        arg=now.replace("T", " ").replace(":00Z", " UTC"),
    )
    assert now >= START
    assert datetime.fromisoformat(now).tzinfo == UTC
