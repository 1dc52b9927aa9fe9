"""The policy backups' ids: version-7 UUIDs whose text sorts as the time they carry."""

from __future__ import annotations

import uuid

from openovc.services.schedule import time_ordered_id

SLOT_MS = 1_799_999_999_000  # 2027-01-15T08:39:59Z


def test_an_id_is_a_version_7_uuid_carrying_the_time_in_its_first_48_bits() -> None:
    text = time_ordered_id(SLOT_MS)
    value = uuid.UUID(text)
    assert str(value) == text
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == SLOT_MS
    assert text.startswith("01a3185c-4c18-7")


def test_ids_of_one_instant_differ_and_later_ones_sort_after() -> None:
    same = {time_ordered_id(SLOT_MS) for _ in range(1000)}
    assert len(same) == 1000
    later = time_ordered_id(SLOT_MS + 1)
    assert max(same) < later
    assert time_ordered_id(0).startswith("00000000-0000-7")
