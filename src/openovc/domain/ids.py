"""UUID text: the dashed form, and backup ids that sort as the time they carry (version 7, RFC 9562)."""

from __future__ import annotations


def time_ordered_id(at_ms: int, random_bits: int) -> str:
    """A version-7 UUID: `at_ms` in its first 48 bits, then 74 of `random_bits`' low bits.

    Backups are taken together and expire together: with ids that grow with time they go to and from the
    ends of the key's indexes (and of those that end with it, as datastore and id), where random ids
    touched a page of each index per backup.
    """
    # 48 bits of time, the version (7), 12 random bits, the variant (binary 10), 62 random bits.
    value = (at_ms & 0xFFFF_FFFF_FFFF) << 80 | 7 << 76 | (random_bits >> 62 & 0xFFF) << 64 | 2 << 62
    return dashed(f"{value | random_bits & ((1 << 62) - 1):032x}")


def dashed(h: str) -> str:
    """32 hex digits in a UUID's 8-4-4-4-12 form, as uuid.UUID's str gives them, without making one."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
