"""Login lockout: attempts counted per account and source address, each reserved before its password check."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutPolicy:
    """`max_failures` attempts within `window_ms` of the first lock an (account, source) pair for
    `lockout_ms`; a successful login forgets the pair's attempts.

    The defaults are vCenter SSO's: 5 failures within 3 minutes lock the account for 5 minutes. Counting
    per source as well keeps a stranger elsewhere from locking the administrator (or the emergency
    account) out.
    """

    max_failures: int = 5
    window_ms: int = 3 * 60 * 1000
    lockout_ms: int = 5 * 60 * 1000
    # Records of made-up usernames kept per source and in all; beyond, the oldest are forgotten, so that
    # guessing names cannot fill the database. Records of real accounts are never dropped early.
    unknown_per_source: int = 100
    unknown_total: int = 10_000


@dataclass(frozen=True)
class Attempts:
    """Login attempts for one account from one source, counted before each password check."""

    attempts: int
    first_at: int
    locked_until: int | None

    def expires_at(self, policy: LockoutPolicy) -> int:
        """When the record stops mattering: its lock ends, or its window closes."""
        return self.locked_until if self.locked_until is not None else self.first_at + policy.window_ms


def locked_for(record: Attempts | None, now_ms: int) -> int:
    """Milliseconds the pair stays locked (0 when it is not)."""
    if record is None or record.locked_until is None:
        return 0
    return max(0, record.locked_until - now_ms)


def reserve(record: Attempts | None, now_ms: int, policy: LockoutPolicy) -> Attempts | None:
    """The record after counting one more attempt, or None when the pair is locked (nothing counted).

    The attempt that reaches `max_failures` is still checked, and locks the pair from then on unless it
    succeeds: so at most `max_failures` passwords are ever checked per window, however many arrive at once.
    The stores do this in one atomic statement; this is its definition.
    """
    if locked_for(record, now_ms):
        return None
    if record is None or now_ms >= record.expires_at(policy):
        record = Attempts(0, now_ms, None)
    attempts = record.attempts + 1
    locked = now_ms + policy.lockout_ms if attempts >= policy.max_failures else None
    return Attempts(attempts, record.first_at, locked)


def locked_description(locked_ms: int) -> str:
    return f"User account is locked after too many failed logins; try again in {whole_seconds(locked_ms)} seconds"


def whole_seconds(ms: int) -> int:
    return -(-ms // 1000)


def source_key(address: str) -> str:
    """Where a login comes from, as the lockout counts it: an IPv4 address, or an IPv6 /64 (what one
    host is usually given), so that hopping between addresses of one network gives no fresh guesses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]  # not an IP address (a test client, a Unix socket): as it is, bounded
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
