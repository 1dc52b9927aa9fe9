"""Backup ids: version-7 UUIDs whose text sorts as the time they carry, live and generated alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from openovc.domain import ids
from openovc.domain.timefmt import epoch_ms, parse
from openovc.services.schedule import time_ordered_id
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate

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


def test_the_random_bits_fill_the_74_the_version_and_variant_leave() -> None:
    assert ids.time_ordered_id(SLOT_MS, 0) == "01a3185c-4c18-7000-8000-000000000000"
    assert ids.time_ordered_id(SLOT_MS, (1 << 74) - 1) == "01a3185c-4c18-7fff-bfff-ffffffffffff"
    # Bits above the 74 are ignored, so a generator may hand over a whole 128-bit draw.
    assert ids.time_ordered_id(SLOT_MS, (1 << 128) - 1) == ids.time_ordered_id(SLOT_MS, (1 << 74) - 1)


def test_generated_backups_carry_their_creation_time_and_sort_as_it() -> None:
    backups = generate(FederationSpec.demo(), datetime(2026, 11, 21, 12, 0, tzinfo=UTC)).rows["backups"]
    assert len(backups) > 100
    for backup in backups:
        value = uuid.UUID(str(backup["id"]))
        assert (value.version, value.variant) == (7, uuid.RFC_4122)
        assert value.int >> 80 == epoch_ms(parse(str(backup["created_at"])))
    by_id = sorted(backups, key=lambda b: str(b["id"]))
    assert [b["created_at"] for b in by_id] == sorted(str(b["created_at"]) for b in backups)
    assert len({b["id"] for b in backups}) == len(backups)
