"""Users, roles and OAuth token lifetimes as the Virtual Controller enforces them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

CLIENT_ID = "simplivity"
SCOPE = "read write"


class Role(Enum):
    """What a user may do: administrators change state, read-only users may only read.

    EMERGENCY is the local `svtcli` account: it logs in only with the emergency grant, for when the
    hypervisor manager is unreachable, and its tokens reach only a handful of operations.
    """

    ADMINISTRATOR = "administrator"
    READ_ONLY = "read_only"
    EMERGENCY = "emergency"


PASSWORD_GRANT = "password"
EMERGENCY_USERNAME = "svtcli"
EMERGENCY_GRANT = "emergency"

# What an emergency-grant token may call (method, path pattern with {id}); documented by HPE.
EMERGENCY_OPERATIONS = frozenset(
    {
        ("GET", "/api/hosts"),
        ("GET", "/api/omnistack_clusters"),
        ("GET", "/api/backups"),
        ("GET", "/api/datastores"),
        ("GET", "/api/virtual_machines"),
        ("POST", "/api/backups/{id}/restore"),
        # A restore is a task: the client must be able to follow it.
        ("GET", "/api/tasks/{id}"),
        # The trust store can be repaired with the emergency account (HPE's certificate cmdlets).
        ("GET", "/api/security/certificates"),
        ("POST", "/api/security/certificates"),
        ("DELETE", "/api/security/certificates/{id}"),
        ("GET", "/api/certificates"),
        ("POST", "/api/certificates"),
        ("DELETE", "/api/certificates/{id}"),
    }
)


# OmniStack roles that role assignments give to vCenter groups, and what each lets a member do.
RBAC_ROLES = {"Administrator": Role.ADMINISTRATOR, "ReadOnly": Role.READ_ONLY}


def effective_role(own: Role, groups: list[str], assignments: dict[str, list[str]]) -> Role:
    """A user may do what their own role or any role assigned to one of their groups allows."""
    if own is Role.EMERGENCY or own is Role.ADMINISTRATOR:
        return own
    mine = set(groups)
    if any(
        RBAC_ROLES.get(role) is Role.ADMINISTRATOR and mine & set(members)
        for role, members in assignments.items()
    ):
        return Role.ADMINISTRATOR
    return own


def grant_allowed(role: Role, grant_type: str) -> bool:
    """The emergency account logs in only with the emergency grant, everyone else only with a password."""
    return (role is Role.EMERGENCY) == (grant_type == EMERGENCY_GRANT)


def emergency_may(method: str, route_path: str) -> bool:
    """Whether an emergency token may call a route (its path template, ids as {id})."""
    return (method, route_path) in EMERGENCY_OPERATIONS


@dataclass(frozen=True)
class TokenPolicy:
    """Token lifetimes in milliseconds: idle (sliding) and absolute."""

    idle_ms: int = 10 * 60 * 1000
    absolute_ms: int = 24 * 60 * 60 * 1000
    # Last-use times are written at most this often: an idle expiry can come this much early.
    touch_ms: int = 5000


@dataclass(frozen=True)
class Token:
    access_token: str
    username: str
    grant_type: str
    issued_at: int
    last_used_at: int
    revoked: bool


class TokenVerdict(Enum):
    VALID = "valid"
    UNKNOWN = "unknown"
    IDLE = "idle"
    EXPIRED = "expired"


def judge(token: Token | None, now_ms: int, policy: TokenPolicy) -> TokenVerdict:
    """Whether a presented token still grants access."""
    if token is None or token.revoked:
        return TokenVerdict.UNKNOWN
    if now_ms - token.issued_at >= policy.absolute_ms:
        return TokenVerdict.EXPIRED
    if now_ms - token.last_used_at >= policy.idle_ms:
        return TokenVerdict.IDLE
    return TokenVerdict.VALID


def invalid_token_description(verdict: TokenVerdict, token: str) -> str:
    """The error_description the real one sends for each kind of refused token."""
    if verdict is TokenVerdict.IDLE:
        return f"Access token expired due to inactivity: {token}"
    if verdict is TokenVerdict.EXPIRED:
        return f"Access token expired: {token}"
    return f"Invalid access token: {token}"


def expires_in(token: Token, now_ms: int, policy: TokenPolicy) -> int:
    """Whole seconds left of the token's absolute life (a fresh token shows 86399)."""
    return max(0, (token.issued_at + policy.absolute_ms - now_ms - 1) // 1000)


def needs_touch(token: Token, now_ms: int, policy: TokenPolicy) -> bool:
    return now_ms - token.last_used_at >= policy.touch_ms
