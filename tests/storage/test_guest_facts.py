"""The guest facts the simulator keeps (storage/operations_state.py): stored, replaced, dropped, and
brought back by a snapshot restore, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openovc.domain.clock import ClockState
from openovc.domain.ports.operations import GuestFacts
from openovc.storage.clock_store import SqlClockStore
from openovc.storage.engine import make_engine, migrate
from openovc.storage.operations_state import SqlOperationsState
from openovc.storage.snapshots import SqlSnapshotStore
from tests.support.databases import BACKENDS, database_url

NOW_MS = 1_795_000_000_000


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with database_url(request.param, tmp_path) as url:
        made = make_engine(url)
        migrate(made)
        SqlClockStore(made).save(ClockState("manual", NOW_MS, NOW_MS), None)
        yield made
        made.dispose()


def _facts(engine: Engine, *vm_ids: str) -> list[GuestFacts | None]:
    with engine.connect() as conn:
        state = SqlOperationsState(conn)
        return [state.guest_facts(v) for v in vm_ids]


def test_guest_facts_are_stored_replaced_and_dropped(engine: Engine) -> None:
    with engine.begin() as conn:
        state = SqlOperationsState(conn)
        state.put_guest_facts(GuestFacts("vm-1", "windows", "VALID_CREDS"))
        state.put_guest_facts(GuestFacts("vm-2", "linux", None))
        state.put_guest_facts(GuestFacts("vm-1", "windows", "INVALID_CREDS"))
    assert _facts(engine, "vm-1", "vm-2", "vm-3") == [
        GuestFacts("vm-1", "windows", "INVALID_CREDS"),
        GuestFacts("vm-2", "linux", None),
        None,
    ]
    with engine.begin() as conn:
        state = SqlOperationsState(conn)
        assert (state.drop_guest_facts("vm-2"), state.drop_guest_facts("vm-2")) == (True, False)
    assert _facts(engine, "vm-1", "vm-2") == [GuestFacts("vm-1", "windows", "INVALID_CREDS"), None]


def test_a_snapshot_restore_brings_the_guest_facts_back(engine: Engine) -> None:
    with engine.begin() as conn:
        SqlOperationsState(conn).put_guest_facts(GuestFacts("vm-1", "windows", "VALID_CREDS"))
    store = SqlSnapshotStore(engine, lambda: NOW_MS)
    assert store.save("kept").tables["guest_facts"] == 1
    with engine.begin() as conn:
        state = SqlOperationsState(conn)
        state.put_guest_facts(GuestFacts("vm-1", "linux", "INVALID_OS"))
        state.put_guest_facts(GuestFacts("vm-2", "linux", None))
    assert store.restore("kept", "x") is not None
    assert _facts(engine, "vm-1", "vm-2") == [GuestFacts("vm-1", "windows", "VALID_CREDS"), None]
