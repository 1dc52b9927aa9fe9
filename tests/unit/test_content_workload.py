"""A VM's workload over time: its steps are due at fixed instants, whoever looks and whenever."""

from __future__ import annotations

import math

import pytest

from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import MiB, image_segment
from openovc.simulator.content.workload import (
    DAY,
    PIECE,
    WEEK,
    due_steps,
    first_due,
    workload_pieces,
    workload_rate,
)

GiB = 1024 * MiB
RHEL = image_segment("unit-rhel", 6 * GiB, 2.1)
RATE = workload_rate(8 * GiB, 0.02)  # 2% of 8 GiB a day: about 2.6 pieces a day
INTERVAL = PIECE * 1000 / RATE


def _model(start_ms: int = 0) -> ContentModel:
    model = ContentModel(MemoryLedger())
    model.create_vm("vm", "c1", own_bytes=8 * GiB, compression=2.0, image=RHEL, rate=RATE)
    model.backup("vm", "b0")
    model.start_workload("vm", start_ms)
    return model


def test_the_rate_is_a_share_of_the_vms_own_data_a_day() -> None:
    assert workload_rate(8 * GiB, 0.02) == 8 * GiB * 0.02 / DAY
    assert workload_pieces(RATE, DAY) == round(8 * GiB * 0.02 / PIECE)
    assert workload_pieces(RATE, 30 * DAY) == workload_pieces(RATE, WEEK)  # a week at most
    assert workload_pieces(RATE, -5) == 0


def test_steps_fall_due_one_interval_apart() -> None:
    assert first_due(0.0, 1000) is None
    due = first_due(RATE, 0)
    assert due == math.ceil(INTERVAL)
    assert due_steps(RATE, due, due - 1) == (0, due)
    assert due_steps(RATE, due, due) == (1, due + math.ceil(INTERVAL))
    count, following = due_steps(RATE, due, due + int(3.5 * INTERVAL))
    assert (count, following) == (4, due + math.ceil(4 * INTERVAL))
    with pytest.raises(ValueError):
        due_steps(0.0, due, due)


def test_more_than_a_weeks_worth_is_skipped() -> None:
    now = 60 * DAY * 1000
    count, following = due_steps(RATE, 0, now)
    assert count == workload_pieces(RATE, WEEK)
    assert following == now + math.ceil(INTERVAL)


def test_the_content_at_an_instant_does_not_depend_on_who_looked_before() -> None:
    often, once = _model(), _model()
    end = 4 * DAY * 1000
    for now in range(0, end + 1, 3_600_000):  # every hour
        often.advance("vm", now)
    written = once.advance("vm", end)
    assert written == often.holder("vm").version == once.holder("vm").version > 0
    assert often.lineage("vm").slot_map(written) == once.lineage("vm").slot_map(written)
    assert often.totals("c1") == once.totals("c1")
    assert often.unique_size("b0") == once.unique_size("b0") > 0


def test_a_stopped_workload_writes_nothing_and_starts_from_when_it_restarts() -> None:
    model = _model()
    model.stop_workload("vm")
    assert model.advance("vm", 10 * DAY * 1000) == 0
    assert model.holder("vm").version == 0
    model.start_workload("vm", 10 * DAY * 1000)
    assert model.advance("vm", 10 * DAY * 1000 + math.ceil(INTERVAL) - 1) == 0
    assert model.advance("vm", 10 * DAY * 1000 + math.ceil(INTERVAL)) == 1


def test_a_clone_keeps_the_rate_and_starts_stopped() -> None:
    model = _model()
    model.clone("vm", "twin")
    assert model.lineage("twin").rate == RATE
    assert model.advance("twin", WEEK * 1000) == 0
    model.delete("vm")
    assert model.ledger.workload_due("vm") is None
