"""Browser tier: the dashboard in headless Chromium (Playwright) against a real `openovc serve` over TLS.

Debian's Chromium drives it (Playwright's own browser download cannot be reached). Without Chromium or
Playwright the tier is skipped with the reason, unless OPENOVC_REQUIRE_BROWSER=1, where it fails.
Screenshots of every view go to $OPENOVC_ARTIFACTS/browser (default tmp/browser), named at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.server import RunningServer, admin_token, clean_environment, start_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ADMIN = ("administrator@vsphere.local", "Browser-Adm1n-pass!")
READER = ("auditor@vsphere.local", "Browser-Read0nly-pass")
START = "2026-11-20T12:00:00Z"  # a manual clock: nothing moves unless a test moves it
CHROMIUM = os.environ.get("OPENOVC_CHROMIUM", "/usr/bin/chromium")
UI = "/_openovc/ui/"


def artifacts_dir() -> Path:
    return Path(os.environ.get("OPENOVC_ARTIFACTS", "tmp")) / "browser"


def _missing() -> str | None:
    """Why the browser tier cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


# Package-scoped, and the tier runs on one xdist worker in one go (xdist_group "browser"): Playwright's sync
# API keeps its event loop marked running in the thread while it lives, so a session-long browser made every
# later asyncio.run() in that worker fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("OPENOVC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OPENOVC_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Dashboard:
    """The running server, an API client logged in as the administrator, and where screenshots go."""

    server: RunningServer
    api: httpx.Client
    artifacts: Path

    @property
    def url(self) -> str:
        return self.server.base_url + UI

    def get(self, path: str, params: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = self.api.get(path, params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def screenshot(self, page: Page, name: str) -> None:
        """The whole page, once no chart panel is still loading."""
        page.wait_for_function("!document.querySelector('section[data-window][data-state=loading]')")
        page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)


def _cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openovc", *args],
        capture_output=True, text=True, env=clean_environment(None), timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="package")
def dashboard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    request.getfixturevalue("browser")  # no server is started where the tier is skipped
    data_dir = tmp_path_factory.mktemp("browser-store")
    _cli(
        "users", "add", READER[0], "--role", "read_only", "--password", READER[1], "--data-dir", str(data_dir)
    )
    server = start_server(
        data_dir, env={"OPENOVC_ADMIN_PASSWORD": ADMIN[1]}, extra_args=["--clock", f"manual:{START}"]
    )
    artifacts = artifacts_dir()
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        with server.client() as client:
            client.headers["Authorization"] = f"Bearer {admin_token(client, ADMIN[1], ADMIN[0])}"
            client.headers["Accept"] = "application/json"
            yield Dashboard(server, client, artifacts)
    finally:
        server.stop()


def sign_in(page: Page, dashboard: Dashboard, user: tuple[str, str]) -> None:
    """Open the dashboard, log in through its form, and wait for the first view."""
    page.goto(dashboard.url)
    page.fill("#login-username", user[0])
    page.fill("#login-password", user[1])
    page.click("#login-submit")
    page.wait_for_selector("#view[data-state=ready]")


# What the browser itself logs when the server refuses a request the test provoked (a bad password, a
# read-only user's change, a malformed rule): nothing else may reach the console.
REFUSED = re.compile(r"Failed to load resource: the server responded with a status of (400|401|403|409) ")


def watch_console(page: Page) -> list[str]:
    """Every console message above debug level and every uncaught error of the page, as they come."""
    said: list[str] = []
    page.on(
        "console", lambda m: said.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: said.append(f"uncaught: {e}"))
    return said


def assert_clean(said: list[str]) -> None:
    unexpected = [m for m in said if not REFUSED.search(m)]
    assert unexpected == [], "the page's console: " + "; ".join(unexpected)


@contextmanager
def _watched_page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own, whose console must say nothing unexpected by the test's end."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    said = watch_console(page)
    yield page
    context.close()
    assert_clean(said)


@pytest.fixture
def admin_page(browser: Browser, dashboard: Dashboard) -> Iterator[Page]:
    with _watched_page(browser) as page:
        sign_in(page, dashboard, ADMIN)
        yield page


@pytest.fixture
def reader_page(browser: Browser, dashboard: Dashboard) -> Iterator[Page]:
    with _watched_page(browser) as page:
        sign_in(page, dashboard, READER)
        yield page


@pytest.fixture
def fresh_page(browser: Browser) -> Iterator[Page]:
    with _watched_page(browser) as page:
        yield page


def show(page: Page, dashboard: Dashboard, route: str, view: str) -> None:
    """Navigate to a route of the dashboard and wait until its view has loaded."""
    page.goto(dashboard.url + "#" + route)
    page.wait_for_selector(f"#view[data-view={view}][data-state=ready]")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    shots = artifacts_dir()
    if shots.is_dir() and any(shots.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {shots.resolve()}")
