"""Login hardening (issue 14, defects 5-8): the lockout cannot be raced, is per account and source address
and configurable, password checks are capped and kept off the request threads, and made-up usernames
cost a password check and a bounded number of records."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from openovc.app import AppRuntime, build_runtime, create_app, lockout_policy
from openovc.cli import _parser
from openovc.cli.common import settings_from
from openovc.cli.login_options import login_settings
from openovc.domain.auth import EMERGENCY_USERNAME, Role
from openovc.domain.clock import ManualClock
from openovc.domain.lockout import LockoutPolicy
from openovc.services import auth as auth_service
from openovc.settings import Settings
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import tables
from openovc.storage.loading import load_federation
from tests.support.inprocess import ADMIN, BASIC, START
from tests.support.waiting import wait_until

EMERGENCY = (EMERGENCY_USERNAME, "Emerg-pass1")
INVALID = {"error": "invalid_grant", "error_description": "Invalid credentials"}
BUSY = {"error": "temporarily_unavailable", "error_description": "Too many logins at once; try again shortly"}
ATTACKER = ("203.0.113.66", 40000)
ADMIN_DESK = ("198.51.100.7", 40001)


def locked(seconds: int) -> dict[str, str]:
    return {
        "error": "invalid_grant",
        "error_description": f"User account is locked after too many failed logins; try again in {seconds} seconds",
    }


@dataclass
class Site:
    """An in-process server with its own settings, and clients at chosen source addresses."""

    runtime: AppRuntime
    clock: ManualClock
    app: Any

    def client(self, source: tuple[str, int] = ("testclient", 50000)) -> TestClient:
        return TestClient(self.app, client=source)

    @property
    def engine(self) -> Any:
        return self.runtime.storage.engine


def make_site(tmp_path: Path, *, federation: bool = False, **settings: Any) -> Site:
    clock = ManualClock(START)
    runtime = build_runtime(
        Settings(data_dir=tmp_path, generate_demo=False, task_worker=False, **settings), clock
    )
    if federation:
        load_federation(runtime.storage.engine, generate(FederationSpec.demo(), runtime.clock.now()))
    runtime.auth.set_user(ADMIN[0], ADMIN[1], Role.ADMINISTRATOR)
    runtime.auth.set_user(EMERGENCY[0], EMERGENCY[1], Role.EMERGENCY)
    return Site(runtime, clock, create_app(runtime))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = make_site(tmp_path)
    yield built
    built.engine.dispose()


def token_request(
    client: TestClient, user: tuple[str, str], grant: str = "password"
) -> tuple[int, dict[str, Any], str | None]:
    resp = client.post(
        "/api/oauth/token",
        headers={"Authorization": BASIC},
        data={"grant_type": grant, "username": user[0], "password": user[1]},
    )
    return resp.status_code, resp.json(), resp.headers.get("retry-after")


@dataclass
class Checks:
    """verify_password replaced: records each call (the hash, the thread it ran in) and, while `held`,
    keeps it waiting until released, so that a test can have many logins inside their check at once."""

    real: Callable[[str, str], bool]
    held: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.calls.append((password_hash, threading.current_thread().name))
        if self.held:
            assert self.released.wait(timeout=60), "never released"
        return self.real(password_hash, password)

    def count(self) -> int:
        with self._lock:
            return len(self.calls)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Checks]:
    spy = Checks(auth_service.verify_password)
    monkeypatch.setattr(auth_service, "verify_password", spy)
    yield spy
    spy.released.set()  # never leave a login thread waiting


def _in_threads(
    pool: ThreadPoolExecutor, count: int, call: Callable[[], tuple[int, dict[str, Any], str | None]]
) -> list[Future[tuple[int, dict[str, Any], str | None]]]:
    return [pool.submit(call) for _ in range(count)]


def _answered(futures: list[Future[Any]]) -> list[Any]:
    return [f.result() for f in futures if f.done()]


# --- 5: the lockout cannot be raced -----------------------------------------------------------------


def test_parallel_guesses_check_at_most_the_allowed_number(tmp_path: Path, checks: Checks) -> None:
    # Plenty of password-check slots, so that only the lockout decides how many guesses are checked.
    site = make_site(tmp_path, login_concurrency=64)
    checks.held = True
    client = site.client(ATTACKER)
    with ThreadPoolExecutor(41) as pool:
        guesses = _in_threads(pool, 40, lambda: token_request(client, (ADMIN[0], "guess")))
        try:
            # Five guesses are inside their password check, held there; the 35 others must already have
            # been refused without one, as the count was taken before the checks.
            wait_until(lambda: len(_answered(guesses)) == 35, what="35 guesses refused while 5 are checked")
            assert checks.count() == 5
            # The right password, now, is refused too: the guesses used up the window.
            assert token_request(client, ADMIN) == (400, locked(300), "300")
        finally:
            checks.released.set()
        answers = Counter(repr(f.result()) for f in guesses)
    assert answers == {repr((400, INVALID, None)): 5, repr((400, locked(300), "300")): 35}
    assert checks.count() == 5
    site.engine.dispose()


def test_a_good_password_after_failures_forgets_them(site: Site) -> None:
    client = site.client()
    for _ in range(4):
        assert token_request(client, (ADMIN[0], "wrong")) == (400, INVALID, None)
    assert token_request(client, ADMIN)[0] == 200
    for _ in range(4):
        assert token_request(client, (ADMIN[0], "wrong")) == (400, INVALID, None)
    assert token_request(client, ADMIN)[0] == 200


# --- 6: per account and source, configurable --------------------------------------------------------


def test_a_stranger_cannot_lock_the_administrator_out(site: Site) -> None:
    attacker, desk = site.client(ATTACKER), site.client(ADMIN_DESK)
    for _ in range(5):
        assert token_request(attacker, (ADMIN[0], "wrong")) == (400, INVALID, None)
    assert token_request(attacker, ADMIN) == (400, locked(300), "300")
    # From the administrator's own address the account works, and so does the emergency account from
    # anywhere, the attacker's address included.
    assert token_request(desk, ADMIN)[0] == 200
    assert token_request(attacker, EMERGENCY, grant="emergency")[0] == 200
    assert token_request(desk, EMERGENCY, grant="emergency")[0] == 200
    site.clock.advance(timedelta(seconds=300))
    assert token_request(attacker, ADMIN)[0] == 200


def test_the_emergency_account_locks_only_for_its_guesser(site: Site) -> None:
    attacker, desk = site.client(ATTACKER), site.client(ADMIN_DESK)
    for _ in range(5):
        assert token_request(attacker, (EMERGENCY[0], "wrong"), grant="emergency") == (400, INVALID, None)
    assert token_request(attacker, EMERGENCY, grant="emergency") == (400, locked(300), "300")
    assert token_request(desk, EMERGENCY, grant="emergency")[0] == 200
    assert token_request(attacker, ADMIN)[0] == 200


def test_addresses_of_one_ipv6_network_share_their_count(site: Site) -> None:
    for host in range(1, 6):
        assert token_request(site.client((f"2001:db8::{host}", 1)), (ADMIN[0], "wrong")) == (
            400,
            INVALID,
            None,
        )
    assert token_request(site.client(("2001:db8::99", 1)), ADMIN) == (400, locked(300), "300")
    assert token_request(site.client(("2001:db8:0:1::1", 1)), ADMIN)[0] == 200


def test_the_lockout_policy_is_configurable(tmp_path: Path) -> None:
    site = make_site(
        tmp_path, login_max_failures=3, login_failure_window_seconds=60, login_lockout_seconds=30
    )
    client = site.client()
    # Failures further apart than the window never add up to a lockout.
    for _ in range(4):
        assert token_request(client, (ADMIN[0], "wrong")) == (400, INVALID, None)
        assert token_request(client, (ADMIN[0], "wrong")) == (400, INVALID, None)
        site.clock.advance(timedelta(seconds=60))
    for _ in range(3):
        assert token_request(client, (ADMIN[0], "wrong")) == (400, INVALID, None)
    assert token_request(client, ADMIN) == (400, locked(30), "30")
    site.clock.advance(timedelta(seconds=29))
    assert token_request(client, ADMIN) == (400, locked(1), "1")
    site.clock.advance(timedelta(seconds=1))
    assert token_request(client, ADMIN)[0] == 200
    site.engine.dispose()


def test_the_lockout_settings_come_from_the_environment_and_serve_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lockout_policy(Settings()) == LockoutPolicy(max_failures=5, window_ms=180_000, lockout_ms=300_000)
    monkeypatch.setenv("OPENOVC_LOGIN_MAX_FAILURES", "7")
    monkeypatch.setenv("OPENOVC_LOGIN_FAILURE_WINDOW_SECONDS", "600")
    monkeypatch.setenv("OPENOVC_LOGIN_LOCKOUT_SECONDS", "900")
    monkeypatch.setenv("OPENOVC_LOGIN_CONCURRENCY", "3")
    settings = Settings()
    assert lockout_policy(settings) == LockoutPolicy(max_failures=7, window_ms=600_000, lockout_ms=900_000)
    assert settings.login_concurrency == 3
    args = _parser().parse_args(
        ["serve", "--data-dir", str(tmp_path), "--login-max-failures", "10", "--login-lockout", "60",
         "--login-concurrency", "4"]
    )  # fmt: skip
    settings = settings_from(args, **login_settings(args))
    # Options win over the environment; what they leave out comes from it.
    assert lockout_policy(settings) == LockoutPolicy(max_failures=10, window_ms=600_000, lockout_ms=60_000)
    assert settings.login_concurrency == 4
    with pytest.raises(ValueError):
        Settings(login_max_failures=0)


# --- 7: a flood of logins does not starve the API ---------------------------------------------------


def test_logins_beyond_the_cap_are_refused_and_the_api_keeps_answering(
    tmp_path: Path, checks: Checks
) -> None:
    site = make_site(tmp_path, federation=True, login_concurrency=2)
    checks.held = True
    # One client, so one event loop and one pool of request threads, as in a server process.
    with site.client() as client, ThreadPoolExecutor(42) as pool:
        checks.released.set()
        _, body, _ = token_request(client, ADMIN)
        headers = {"Authorization": f"Bearer {body['access_token']}", "Accept": "application/json"}
        checks.released.clear()
        flood = _in_threads(pool, 40, lambda: token_request(client, ("nobody@vsphere.local", "x")))
        try:
            # Two checks run, three wait for a slot: half the ten places, all one address may hold. The
            # other 35 are refused at once.
            wait_until(lambda: len(_answered(flood)) == 35, what="35 logins refused")
            assert Counter(repr(a) for a in _answered(flood)) == {repr((503, BUSY, "1")): 35}
            assert site.runtime.auth.gate.admitted == 5
            wait_until(lambda: checks.count() == 3, what="the administrator's check, then two of the flood's")
            # The password checks hold none of the request threads: the API answers meanwhile.
            hosts = pool.submit(client.get, "/api/hosts", headers=headers)
            assert wait_until(hosts.done, what="GET /api/hosts answered during the flood")
            assert hosts.result().status_code == 200
            # From elsewhere, a login still gets a place.
            desk = pool.submit(token_request, site.client(ADMIN_DESK), ADMIN)
            wait_until(lambda: site.runtime.auth.gate.admitted == 6, what="the login from elsewhere waits")
        finally:
            checks.released.set()
        assert [f.result() for f in flood].count((400, INVALID, None)) == 5
        assert desk.result()[0] == 200
    assert checks.count() == 7
    assert {thread for _, thread in checks.calls} == {"openovc-password_0", "openovc-password_1"}
    site.engine.dispose()


# --- 8: made-up usernames cost a check and bounded records -------------------------------------------


def test_a_made_up_username_costs_a_password_check(site: Site, checks: Checks) -> None:
    client = site.client()
    assert token_request(client, ("nobody@vsphere.local", "x")) == (400, INVALID, None)
    assert token_request(client, (ADMIN[0], "wrong")) == (400, INVALID, None)
    # The emergency account with the password grant is refused too, after a check like any other.
    assert token_request(client, EMERGENCY) == (400, INVALID, None)
    admin_hash = site.runtime.auth.store.user(ADMIN[0])
    emergency_hash = site.runtime.auth.store.user(EMERGENCY[0])
    assert admin_hash is not None and emergency_hash is not None
    hashes = [h for h, _ in checks.calls]
    assert len(hashes) == 3
    assert hashes[1:] == [admin_hash[0], emergency_hash[0]]
    # The made-up user's password was checked against a hash of the same kind and cost as a user's.
    assert hashes[0] not in (admin_hash[0], emergency_hash[0])
    assert hashes[0].split("$")[1:4] == admin_hash[0].split("$")[1:4]


def _records(site: Site, **where: Any) -> int:
    table = tables.login_attempts
    stmt = select(func.count()).select_from(table).where(*(table.c[k] == v for k, v in where.items()))
    with site.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_failed_logins_of_made_up_usernames_are_bounded(
    site: Site, checks: Checks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "real", lambda _hash, _password: False)  # fast: only the count matters
    site.runtime.auth.lockout = LockoutPolicy(unknown_per_source=10, unknown_total=25)
    attacker = site.client(ATTACKER)
    for _ in range(5):
        assert token_request(attacker, (ADMIN[0], "wrong")) == (400, INVALID, None)
    for n in range(30):
        assert token_request(attacker, (f"made-up-{n}", "x")) == (400, INVALID, None)
    assert _records(site, source=ATTACKER[0], known=False) == 10
    # The real account's record stays, whatever made-up names come.
    assert token_request(attacker, ("made-up-29", "x")) == (400, INVALID, None)
    assert token_request(attacker, ADMIN) == (400, locked(300), "300")
    for source in ("192.0.2.1", "192.0.2.2"):
        client = site.client((source, 1))
        for n in range(12):
            assert token_request(client, (f"made-up-{n}", "x")) == (400, INVALID, None)
    assert _records(site, known=False) == 25
    assert _records(site, known=True) == 1
    # Records whose window has passed are forgotten at the next failure.
    site.clock.advance(timedelta(seconds=300))
    assert token_request(site.client(("192.0.2.3", 1)), ("someone", "x")) == (400, INVALID, None)
    assert _records(site) == 1
    assert checks.count() == 5 + 30 + 1 + 24 + 1
