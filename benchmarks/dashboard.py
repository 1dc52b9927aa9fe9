"""Dashboard load times: each view in headless Chromium against `openovc serve` over a federation of the
largest supported size (12 clusters x 8 hosts, 10,000 VMs, 300,000 backups) on SQLite.

A run loads each view `--runs` times from a blank page (HTML, modules, session, data: a full page load)
and prints the medians, with the time the view itself took from its first read to its last render.
`--data-dir` reuses a store (made with `openovc init --largest` the first time it is empty).

    .venv/bin/python benchmarks/dashboard.py --data-dir /tmp/largest --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from report import loadavg, machine_facts, machine_line  # noqa: E402

from tests.support.server import admin_token, clean_environment, start_server  # noqa: E402

PASSWORD = "Bench-Adm1n-pass!"
USER = "administrator@vsphere.local"
UI = "/_openovc/ui/"


def _init_largest(data_dir: Path) -> None:
    if (data_dir / "openovc.db").exists():
        return
    print(f"Generating the largest federation into {data_dir} (about a minute)...", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "openovc", "init", "--largest", "--data-dir", str(data_dir)],
        check=True, env=clean_environment(None), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)


def _routes(api: httpx.Client) -> list[tuple[str, str, str]]:
    """(label, route, view) for each view, with objects found through the API."""

    def first(path: str, key: str, **params: str) -> dict[str, Any]:
        found: dict[str, Any] = api.get(path, params={"limit": "1", **params}).json()[key][0]
        return found

    backup = first("/api/backups", "backups", fields="virtual_machine_id", sort="created_at")
    cluster = first("/api/omnistack_clusters", "omnistack_clusters", fields="id")
    host = first("/api/hosts", "hosts", fields="id", omnistack_cluster_id=cluster["id"])
    return [
        ("federation overview", "/overview", "overview"),
        ("VM list, first page", "/vms", "vms"),
        ("VM list, name search", "/vms?name=web-1", "vms"),
        ("VM list, page 100", "/vms?page=99", "vms"),
        ("VM page (backups, policy, metrics)", f"/vms/{backup['virtual_machine_id']}", "vm"),
        ("cluster page (8 hosts' capacity, metrics, replication)", f"/clusters/{cluster['id']}", "cluster"),
        ("host page", f"/hosts/{host['id']}", "host"),
        ("tasks", "/tasks", "tasks"),
        ("controls", "/controls", "controls"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="store to use (initialised with --largest if empty)")
    parser.add_argument("--runs", type=int, default=5, help="loads of each view (default 5)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="openovc-dashboard-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    _init_largest(data_dir)
    server = start_server(data_dir, env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}, timeout_s=300)
    rows = []
    try:
        with server.client() as api:
            api.headers["Authorization"] = f"Bearer {admin_token(api, PASSWORD, USER)}"
            counts = {
                name: api.get(f"/api/{name}", params={"limit": "1", "fields": "id"}).json()["count"]
                for name in ("omnistack_clusters", "hosts", "virtual_machines", "backups")
            }
            routes = _routes(api)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(ignore_https_errors=True, viewport={"width": 1440, "height": 900})
            page.goto(server.base_url + UI)
            page.fill("#login-username", USER)
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#view[data-state=ready]", timeout=60_000)
            for label, route, view in routes:
                shown, charts, inner = [], [], []
                for _ in range(args.runs + 1):  # the first load warms the server's caches: not counted
                    page.goto("about:blank")
                    started = time.perf_counter()
                    page.goto(server.base_url + UI + "#" + route)
                    page.wait_for_selector(f"#view[data-view={view}][data-state=ready]", timeout=60_000)
                    shown.append((time.perf_counter() - started) * 1000)
                    inner.append(float(page.get_attribute("#view", "data-load-ms") or "nan"))
                    # Charts fill their panels after the page shows; done when none is loading.
                    page.wait_for_function(
                        "!document.querySelector('section[data-window][data-state=loading]')", timeout=60_000
                    )
                    charts.append((time.perf_counter() - started) * 1000)
                medians = [statistics.median(x[1:]) for x in (shown, inner, charts)]
                rows.append((label, medians[0], medians[1], medians[2], max(charts[1:])))
            browser.close()
    finally:
        server.stop()

    print()
    print(f"Federation: {counts['omnistack_clusters']} clusters, {counts['hosts']} hosts, "
          f"{counts['virtual_machines']:,} VMs, {counts['backups']:,} backups (SQLite, TLS, one server process)")  # fmt: skip
    print(f"{'view':<58} {'shown ms':>9} {'its reads ms':>13} {'with charts ms':>15} {'max ms':>7}")
    for label, shown_ms, inner_ms, charts_ms, worst in rows:
        print(f"{label:<58} {shown_ms:>9.0f} {inner_ms:>13.0f} {charts_ms:>15.0f} {worst:>7.0f}")
    print("shown: from a blank page to the view on screen (page, modules, login check, its reads);")
    print("its reads: the view's own reads and rendering; with charts: until every chart panel has drawn")
    print(f"medians of {args.runs} loads each; load average {loadavg()}")
    print(machine_line(machine_facts()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
