"""Logging in, checking and revoking tokens, and managing users."""

from __future__ import annotations

import functools
import secrets
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, replace

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from openovc.domain.auth import (
    PASSWORD_GRANT,
    Role,
    Token,
    TokenPolicy,
    TokenVerdict,
    effective_role,
    grant_allowed,
    judge,
    needs_touch,
)
from openovc.domain.clock import Clock
from openovc.domain.lockout import LockoutPolicy, locked_description, source_key, whole_seconds
from openovc.domain.ports.auth import AuthStore
from openovc.domain.timefmt import epoch_ms
from openovc.services.login_gate import PasswordCheckGate

_HASHER = PasswordHasher()
# For secrets the server generates itself (`secrets.token_urlsafe(18)`, 144 random bits): a slow hash
# only slows guessing a password a person chose, and no guessing finds a 144-bit random secret, so these
# get argon2's cheapest cost; a fresh start then spends no third of a second per generated account.
# A hash carries its parameters, so `verify_password` checks both kinds.
_GENERATED_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
# Every request checks its token: re-reading it from the store at most once a second per token saves
# a database round trip on most requests (see AuthService._session_for).
SESSION_CACHE_S = 1.0
PURGE_EVERY_LOGINS = 100
KEEP_EXPIRED_MS = 24 * 60 * 60 * 1000


class LoginRefused(Exception):
    """Wrong username or password, or the account is locked."""

    def __init__(self, description: str, retry_after_s: int = 0) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Session:
    """Who a valid token belongs to."""

    token: Token
    role: Role


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def hash_generated_secret(secret: str) -> str:
    """The hash of a high-entropy secret the server generated (never one a person chose)."""
    return _GENERATED_HASHER.hash(secret)


def is_cheap_hash(password_hash: str) -> bool:
    """True when the hash was made at a lower cost than a chosen password's (a generated secret's)."""
    try:
        made = extract_parameters(password_hash)
    except InvalidHashError:
        return False
    return made.time_cost * made.memory_cost < _HASHER.time_cost * _HASHER.memory_cost


class AuthService:
    """Password grant, token checks with idle and absolute expiry, revocation, user admin."""

    def __init__(
        self,
        store: AuthStore,
        clock: Clock,
        policy: TokenPolicy,
        lockout: LockoutPolicy | None = None,
        password_checks: int = 2,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.lockout = lockout or LockoutPolicy()
        # Password checks cost a third of a second of CPU each: a few at a time, off the request threads.
        self.gate = PasswordCheckGate(password_checks)
        self._recent: dict[str, tuple[float, tuple[Token, str, list[str]]]] = {}
        self._logins = 0

    def now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    def submit_login(
        self, username: str, password: str, grant_type: str = PASSWORD_GRANT, source: str = ""
    ) -> Future[Token]:
        """login() in the password-check pool; raises LoginBusy when the pool is full."""
        check = functools.partial(self.login, username, password, grant_type, source)
        return self.gate.submit(check, source_key(source))

    def login(
        self, username: str, password: str, grant_type: str = PASSWORD_GRANT, source: str = ""
    ) -> Token:
        """Check a password grant from a source address; LoginRefused when wrong or locked."""
        now = self.now_ms()
        where = source_key(source)
        user = self.store.user(username)
        # The attempt is counted before the password is checked, so that guesses arriving together
        # cannot all be checked: at most the policy's number are, per window.
        locked = self.store.reserve_attempt(username, where, now, self.lockout, known=user is not None)
        if locked:
            raise LoginRefused(locked_description(locked), retry_after_s=whole_seconds(locked))
        # A made-up username is checked against a dummy hash: a refusal takes as long whoever it is for.
        matches = verify_password(user[0] if user else _dummy_hash(), password)
        if user is None or not matches or not grant_allowed(Role(user[1]), grant_type):
            if user is not None and is_cheap_hash(user[0]):
                # A generated secret's hash is checked at once: a refusal still takes a full check's
                # time, so that it does not tell which usernames exist.
                verify_password(_dummy_hash(), password)
            self.store.prune_attempts(where, now, self.lockout)
            raise LoginRefused("Invalid credentials")
        self.store.forget_attempts(username, where)
        token = Token(str(uuid.uuid4()), username, grant_type, now, now, False)
        self.store.add_token(token)
        self._logins += 1
        if self._logins % PURGE_EVERY_LOGINS == 1:
            # Forget tokens a day after their absolute expiry, so the table does not grow for ever;
            # until then they still get the precise "expired" answer.
            self.store.purge_tokens(now - self.policy.absolute_ms - KEEP_EXPIRED_MS)
        return token

    def _session_for(self, access_token: str) -> tuple[Token, str, list[str]] | None:
        """The stored token, role and groups, re-read at most every SESSION_CACHE_S per token.

        A revocation or user change made by another controller shows here within that time;
        those made through this one show at once (they clear the cache).
        """
        cached = self._recent.get(access_token)
        if cached is not None and time.monotonic() - cached[0] < SESSION_CACHE_S:
            return cached[1]
        found = self.store.session_for(access_token)
        if found is None:
            self._recent.pop(access_token, None)
        else:
            if len(self._recent) > 10_000:
                self._recent.clear()
            self._recent[access_token] = (time.monotonic(), found)
        return found

    def check_in_memory(self, access_token: str) -> tuple[TokenVerdict, Session] | None:
        """The verdict on a valid token when it takes no store access: the token was read within
        SESSION_CACHE_S, its use needs no recording yet, and its user is in no group. None otherwise:
        check() then judges it."""
        cached = self._recent.get(access_token)
        if cached is None or time.monotonic() - cached[0] >= SESSION_CACHE_S:
            return None
        token, own, groups = cached[1]
        now = self.now_ms()
        if groups or needs_touch(token, now, self.policy):
            return None
        verdict = judge(token, now, self.policy)
        if verdict is not TokenVerdict.VALID:
            return None
        return verdict, Session(token, Role(own))

    def check(self, access_token: str) -> tuple[TokenVerdict, Session | None]:
        """Judge a bearer token, and record its use when valid."""
        now = self.now_ms()
        found = self._session_for(access_token)
        token = found[0] if found else None
        verdict = judge(token, now, self.policy)
        if verdict is not TokenVerdict.VALID or found is None:
            self._recent.pop(access_token, None)
            return verdict, None
        token, own, groups = found
        if needs_touch(token, now, self.policy):
            self.store.touch_token(access_token, now)
            token = replace(token, last_used_at=now)
            self._recent[access_token] = (time.monotonic(), (token, own, groups))
        # Only users in groups can gain a role from an assignment: spare the others the read.
        assignments = self.store.role_assignments() if groups else {}
        return verdict, Session(token, effective_role(Role(own), groups, assignments))

    def revoke(self, access_token: str) -> None:
        self.store.revoke_token(access_token)
        self._recent.pop(access_token, None)

    def set_user(self, username: str, password: str, role: Role, *, generated: bool = False) -> None:
        """Create or replace a user; `generated`: the password is a secret the server generated."""
        hashed = hash_generated_secret(password) if generated else hash_password(password)
        self.store.upsert_user(username, hashed, role.value, self.now_ms())
        self._recent.clear()

    def ensure_user(self, username: str, password: str, role: Role) -> bool:
        """Create the user unless it exists; True when created."""
        if self.store.user(username) is not None:
            return False
        self.set_user(username, password, role)
        return True


@functools.cache
def _dummy_hash() -> str:
    """A hash of a password nobody knows, made once per process with the same cost as the users'."""
    return hash_password(secrets.token_urlsafe(24))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
