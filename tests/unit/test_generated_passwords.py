"""Generated passwords get argon2's cheapest cost, chosen ones the full cost, and both log in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import extract_parameters

from openovc import bootstrap
from openovc.app import AppRuntime
from openovc.domain.auth import EMERGENCY_GRANT, PASSWORD_GRANT, Role
from openovc.services import auth
from openovc.services.auth import LoginRefused, is_cheap_hash
from openovc.settings import Settings

FULL = (3, 65536, 4)  # time cost, memory cost (KiB), parallelism of a chosen password's hash
CHEAP = (1, 64, 1)


def _runtime(data_dir: Path, **options: Any) -> AppRuntime:
    settings = Settings(data_dir=data_dir, generate_demo=False, **options)
    return bootstrap.prepare(settings, announce=lambda _line: None)


def _cost(rt: AppRuntime, username: str) -> tuple[int, int, int]:
    user = rt.auth.store.user(username)
    assert user is not None
    made = extract_parameters(user[0])
    return made.time_cost, made.memory_cost, made.parallelism


def test_generated_passwords_are_hashed_cheaply_and_log_in(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    try:
        for account in bootstrap.accounts(rt.settings):
            assert _cost(rt, account.username) == CHEAP
            password = account.path.read_text().strip()
            assert len(password) == 24  # 18 random bytes
            grant = EMERGENCY_GRANT if account.role is Role.EMERGENCY else PASSWORD_GRANT
            token = rt.auth.login(account.username, password, grant, source="127.0.0.1")
            assert token.username == account.username
        with pytest.raises(LoginRefused) as refused:
            rt.auth.login(rt.settings.admin_username, "wrong", source="127.0.0.1")
        assert (refused.value.description, refused.value.retry_after_s) == ("Invalid credentials", 0)
    finally:
        rt.storage.dispose()


def test_a_kept_or_configured_password_keeps_the_full_cost(tmp_path: Path) -> None:
    # A kept file may have been written by a person: reused into a new store, it is hashed in full.
    (tmp_path / bootstrap.ADMIN_PASSWORD_FILE).write_text("chosen-by-a-person\n")
    rt = _runtime(tmp_path, emergency_password="Emergency-From-Env-1")
    try:
        assert _cost(rt, rt.settings.admin_username) == FULL
        assert _cost(rt, "svtcli") == FULL
        assert rt.auth.login(rt.settings.admin_username, "chosen-by-a-person").username == (
            rt.settings.admin_username
        )
        assert rt.auth.login("svtcli", "Emergency-From-Env-1", EMERGENCY_GRANT).username == "svtcli"
    finally:
        rt.storage.dispose()


def test_a_password_set_later_gets_the_full_cost(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    try:
        admin = rt.settings.admin_username
        assert _cost(rt, admin) == CHEAP
        rt.auth.set_user(admin, "Now-Chosen-1", Role.ADMINISTRATOR)
        assert _cost(rt, admin) == FULL
        assert rt.auth.login(admin, "Now-Chosen-1").username == admin
    finally:
        rt.storage.dispose()


def test_a_refusal_for_a_cheap_hash_also_pays_a_full_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime(tmp_path)
    checked: list[str] = []
    real = auth.verify_password

    def spy(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", spy)
    try:
        admin = rt.settings.admin_username
        with pytest.raises(LoginRefused):
            rt.auth.login(admin, "wrong")
        # The stored cheap hash, then the dummy one at the full cost: as long as an unknown user's refusal.
        assert [is_cheap_hash(each) for each in checked] == [True, False]
        checked.clear()
        password = bootstrap.admin_password_path(rt.settings).read_text().strip()
        assert rt.auth.login(admin, password).username == admin
        assert [is_cheap_hash(each) for each in checked] == [True]
        checked.clear()
        with pytest.raises(LoginRefused):
            rt.auth.login("nobody@vsphere.local", "wrong")
        assert [is_cheap_hash(each) for each in checked] == [False]
    finally:
        rt.storage.dispose()


def test_is_cheap_hash() -> None:
    assert is_cheap_hash(auth.hash_generated_secret("x")) is True
    assert is_cheap_hash(auth.hash_password("x")) is False
    assert is_cheap_hash("not a hash") is False
