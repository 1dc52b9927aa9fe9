"""The lockout rule, the source addresses it counts by, and the cap on concurrent password checks."""

from __future__ import annotations

import threading

import pytest

from openovc.domain.lockout import Attempts, LockoutPolicy, locked_description, reserve, source_key
from openovc.services.login_gate import LoginBusy, PasswordCheckGate
from tests.support.waiting import wait_until

POLICY = LockoutPolicy(max_failures=3, window_ms=60_000, lockout_ms=300_000)


def test_the_attempt_that_reaches_the_limit_is_checked_and_locks() -> None:
    record = None
    for n in (1, 2):
        record = reserve(record, 1_000, POLICY)
        assert record == Attempts(n, 1_000, None)
    record = reserve(record, 2_000, POLICY)
    assert record == Attempts(3, 1_000, 302_000)
    assert reserve(record, 2_001, POLICY) is None
    assert reserve(record, 301_999, POLICY) is None
    assert reserve(record, 302_000, POLICY) == Attempts(1, 302_000, None)


def test_the_window_runs_from_the_first_attempt() -> None:
    record = reserve(reserve(None, 0, POLICY), 59_999, POLICY)
    assert record == Attempts(2, 0, None)
    assert reserve(record, 60_000, POLICY) == Attempts(1, 60_000, None)


def test_a_policy_of_one_attempt_locks_at_the_first() -> None:
    assert reserve(None, 5, LockoutPolicy(max_failures=1, lockout_ms=10)) == Attempts(1, 5, 15)


def test_the_lock_message_rounds_up() -> None:
    assert locked_description(1) == (
        "User account is locked after too many failed logins; try again in 1 seconds"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("testclient", "testclient"),
        ("x" * 500, "x" * 100),
    ],
)
def test_sources_are_counted_by_address_or_ipv6_network(address: str, key: str) -> None:
    assert source_key(address) == key


def test_the_gate_runs_its_slots_lets_a_few_wait_and_refuses_the_rest() -> None:
    gate = PasswordCheckGate(2, waiting_per_slot=1)
    release = threading.Event()
    names: list[str] = []

    def check() -> int:
        names.append(threading.current_thread().name)
        assert release.wait(timeout=30)
        return 1

    futures = [gate.submit(check, "192.0.2.1"), gate.submit(check, "192.0.2.1")]
    # One source holds at most half the places...
    with pytest.raises(LoginBusy) as busy:
        gate.submit(check, "192.0.2.1")
    assert busy.value.retry_after_s == 1
    futures += [gate.submit(check, "192.0.2.2"), gate.submit(check, "192.0.2.3")]
    # ... and all of them together the capacity: two running, one waiting per slot.
    with pytest.raises(LoginBusy):
        gate.submit(check, "192.0.2.4")
    assert gate.admitted == 4
    release.set()
    assert [f.result(timeout=30) for f in futures] == [1, 1, 1, 1]
    assert set(names) <= {"openovc-password_0", "openovc-password_1"}
    # Finished checks give their places back (just after their result is out).
    wait_until(lambda: gate.admitted == 0, what="every place given back")
    assert gate.submit(lambda: 2).result(timeout=30) == 2


def test_a_failing_check_gives_its_place_back() -> None:
    gate = PasswordCheckGate(1, waiting_per_slot=0)

    def fails() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        gate.submit(fails).result(timeout=30)
    wait_until(lambda: gate.admitted == 0, what="the place given back")
    assert gate.submit(lambda: 3).result(timeout=30) == 3
