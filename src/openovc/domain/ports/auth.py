"""Users, tokens and failed logins; storage implements it."""

from __future__ import annotations

from typing import Protocol

from openovc.domain.auth import Token
from openovc.domain.lockout import LockoutPolicy


class AuthStore(Protocol):
    """Users, tokens and failed-login records."""

    def user(self, username: str) -> tuple[str, str] | None:
        """(password_hash, role) of a user, or None."""
        ...

    def upsert_user(self, username: str, password_hash: str, role: str, now_ms: int) -> None: ...

    def delete_user(self, username: str) -> bool: ...

    def list_users(self) -> list[tuple[str, str]]: ...

    def reserve_attempt(
        self, username: str, source: str, now_ms: int, policy: LockoutPolicy, *, known: bool
    ) -> int:
        """Count one login attempt of (username, source) before its password is checked, atomically
        across threads, processes and servers (domain.lockout.reserve): 0 when counted, else the
        milliseconds the pair stays locked, and nothing is counted. `known`: the username is a user's."""
        ...

    def forget_attempts(self, username: str, source: str) -> None:
        """A login succeeded: the pair's attempts no longer count."""
        ...

    def prune_attempts(self, source: str, now_ms: int, policy: LockoutPolicy) -> None:
        """Forget expired records, and the oldest of made-up usernames beyond the policy's bounds."""
        ...

    def add_token(self, token: Token) -> None: ...

    def token(self, access_token: str) -> Token | None: ...

    def session_for(self, access_token: str) -> tuple[Token, str, list[str]] | None:
        """A token, and its user's role and groups."""
        ...

    def role_assignments(self) -> dict[str, list[str]]:
        """OmniStack role -> the vCenter groups it is assigned to."""
        ...

    def user_groups(self, username: str) -> list[str] | None: ...

    def set_user_groups(self, username: str, groups: list[str]) -> bool: ...

    def touch_token(self, access_token: str, now_ms: int) -> None: ...

    def revoke_token(self, access_token: str) -> None: ...

    def purge_tokens(self, older_than_ms: int) -> int: ...
