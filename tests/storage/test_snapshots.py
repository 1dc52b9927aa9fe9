"""Snapshots in the store, on SQLite and PostgreSQL: a restore brings back every row of every federation table
and the clock, keeps users and tokens, is all or nothing; files move between the two engines; damaged,
foreign and newer files are refused with nothing changed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, delete, insert, inspect, select, text, update

from openovc.domain.clock import ClockState
from openovc.domain.snapshots import SnapshotExists, SnapshotFileRefused
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import snapshot_file, tables
from openovc.storage.clock_store import SqlClockStore
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import load_federation
from openovc.storage.snapshot_file import MAGIC, SnapshotWriter, read_file
from openovc.storage.snapshots import (
    NOT_FEDERATION,
    RESTORES_KEY,
    SqlSnapshotStore,
    column_kind,
    snapshot_tables,
)
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START

NOW_MS = int(START.timestamp() * 1000)
HOUR_MS = 3_600_000


@dataclass
class Db:
    backend: str
    engine: Engine
    store: SqlSnapshotStore
    real: list[int]  # the real clock the store reads, moved by the tests


def _open(url: str, backend: str) -> Db:
    engine = make_engine(url)
    migrate(engine)
    load_federation(engine, generate(FederationSpec.demo(), START))
    # A manual clock two hours on, as a server would have left it.
    SqlClockStore(engine).save(ClockState("manual", NOW_MS + 2 * HOUR_MS, NOW_MS), None)
    real = [NOW_MS]
    return Db(backend, engine, SqlSnapshotStore(engine, lambda: real[0]), real)


@pytest.fixture(scope="module", params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    with database_url(request.param, tmp_path_factory.mktemp(request.param)) as url:
        opened = _open(url, request.param)
        opened.store.save("base")
        yield opened
        opened.engine.dispose()


@pytest.fixture
def fresh(db: Db) -> Db:
    """The module's store back at its base snapshot, its other snapshots, users and tokens gone."""
    db.store.restore("base", "test")
    with db.engine.begin() as conn:
        conn.execute(delete(tables.snapshots).where(tables.snapshots.c.name != "base"))
        conn.execute(delete(tables.tokens))
        conn.execute(delete(tables.users))
    return db


def _canonical(table: Any, row: tuple[Any, ...]) -> tuple[Any, ...]:
    kinds = [column_kind(c) for c in table.columns]
    return tuple(
        v
        if v is None
        else bool(v)
        if k == "bool"
        else float(v)
        if k == "float"
        else bytes(v)
        if k == "bytes"
        else v
        for k, v in zip(kinds, row, strict=True)
    )


def rows_of(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a snapshot holds, engine-neutral and sorted, and the server state."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in snapshot_tables():
            found[table.name] = sorted(
                (_canonical(table, tuple(r)) for r in conn.execute(select(table))), key=repr
            )
        kv = tables.settings_kv
        found["server_state"] = sorted(
            tuple(r) for r in conn.execute(select(kv).where(kv.c.key.not_in(["clock", RESTORES_KEY])))
        )
    return found


def _kv(engine: Engine, key: str) -> str | None:
    kv = tables.settings_kv
    with engine.connect() as conn:
        found = conn.execute(select(kv.c.value).where(kv.c.key == key)).scalar_one_or_none()
    return None if found is None else str(found)


def _change_everything(engine: Engine) -> None:
    """A VM gone, a backup renamed, a queued task, an IO span, a user and a token, the clock moved on."""
    vms, backups = tables.COLLECTION_TABLES["virtual_machines"], tables.COLLECTION_TABLES["backups"]
    with engine.begin() as conn:
        vm = conn.execute(select(vms.c.id).order_by(vms.c.id).limit(1)).scalar_one()
        conn.execute(delete(vms).where(vms.c.id == vm))
        conn.execute(update(backups).values(name="renamed"))
        conn.execute(
            insert(tables.tasks).values(
                id="t-1", state="QUEUED", start_time="2026-11-20T12:00:00Z", operation="backup_vm",
                owner="gone-server",
            )
        )  # fmt: skip
        conn.execute(insert(tables.io_history).values(
            source="s", host_id="h", vm_id="v", start_ms=1, end_ms=2, step_ms=0, read_bytes=1, write_bytes=2
        ))  # fmt: skip
        conn.execute(insert(tables.users).values(username="later", password_hash="x", role="administrator",
                                                 created_at=1))  # fmt: skip
        conn.execute(insert(tables.tokens).values(access_token="tok-later", username="later",
                                                  grant_type="password", issued_at=1, last_used_at=1))  # fmt: skip
    clock = SqlClockStore(engine)
    stored = clock.load()
    assert stored is not None
    assert clock.save(stored.moved_to(NOW_MS + 9 * HOUR_MS, NOW_MS), stored)


def test_a_restore_brings_back_every_row_and_the_clock_and_keeps_users_and_tokens(fresh: Db) -> None:
    before = rows_of(fresh.engine)
    saved = fresh.store.save("clean")
    assert (saved.name, saved.clock.mode, saved.clock.now) == ("clean", "manual", "2026-11-20T14:00:00Z")
    assert saved.tables == {name: len(rows) for name, rows in before.items() if name != "server_state"}
    _change_everything(fresh.engine)
    assert rows_of(fresh.engine) != before
    restores = int(_kv(fresh.engine, RESTORES_KEY) or 0)
    replaced = SqlClockStore(fresh.engine).load()
    assert replaced is not None

    fresh.real[0] = NOW_MS + 5_000  # restored five real seconds later
    restored = fresh.store.restore("clean", "this-server")

    assert restored is not None
    assert (restored.summary.name, restored.rows) == ("clean", sum(saved.tables.values()))
    assert rows_of(fresh.engine) == before
    clock = SqlClockStore(fresh.engine).load()
    assert clock is not None
    # Manual time as it was saved, anchored now, one version on from the clock it replaced.
    assert (clock.mode, clock.anchor_ms, clock.real_ms, clock.rate, clock.version) == (
        "manual", NOW_MS + 2 * HOUR_MS, NOW_MS + 5_000, 1.0, replaced.version + 1
    )  # fmt: skip
    assert _kv(fresh.engine, RESTORES_KEY) == str(restores + 1)
    assert fresh.store.generation() == restores + 1
    with fresh.engine.connect() as conn:
        assert conn.execute(select(tables.users.c.username).where(tables.users.c.username == "later")).all()
        assert conn.execute(select(tables.tokens.c.access_token)).scalars().all() == ["tok-later"]
    # A new IO span takes an id past those the snapshot brought (PostgreSQL's sequence was moved on).
    with fresh.engine.begin() as conn:
        conn.execute(insert(tables.io_history).values(
            source="s", host_id="h", vm_id="v", start_ms=1, end_ms=2, step_ms=0, read_bytes=1, write_bytes=2
        ))  # fmt: skip


def test_queued_tasks_a_snapshot_holds_become_the_restoring_servers(fresh: Db) -> None:
    with fresh.engine.begin() as conn:
        conn.execute(insert(tables.tasks).values(
            id="queued", state="QUEUED", start_time="2026-11-20T12:00:00Z", operation="backup_vm", owner="a"
        ))  # fmt: skip
        conn.execute(insert(tables.tasks).values(
            id="ended", state="COMPLETED", start_time="2026-11-20T12:00:00Z", operation="backup_vm", owner="a"
        ))  # fmt: skip
    fresh.store.save("with-tasks")
    assert fresh.store.restore("with-tasks", "b") is not None
    with fresh.engine.connect() as conn:
        owners = {str(k): v for k, v in conn.execute(select(tables.tasks.c.id, tables.tasks.c.owner))}
    assert owners == {"queued": "b", "ended": "a"}


def test_snapshots_are_listed_shown_and_deleted_by_name(fresh: Db) -> None:
    first = fresh.store.save("b-second")
    second = fresh.store.save("a-first")
    assert [s.name for s in fresh.store.saved()] == ["a-first", "b-second", "base"]
    assert fresh.store.get("b-second") == first
    with pytest.raises(SnapshotExists) as taken:
        fresh.store.save("a-first")
    assert (
        str(taken.value)
        == "A snapshot named 'a-first' exists already; delete it first or choose another name"
    )
    assert fresh.store.delete("a-first") == second
    assert fresh.store.delete("a-first") is None
    assert fresh.store.get("a-first") is None
    assert fresh.store.restore("a-first", "x") is None
    assert fresh.store.export("a-first") is None


def test_the_initial_snapshot_is_kept_apart_and_replaced(fresh: Db) -> None:
    assert fresh.store.restore(None, "x") is None
    fresh.store.keep_initial()
    before = rows_of(fresh.engine)
    _change_everything(fresh.engine)
    fresh.store.keep_initial()  # init --force: the new federation is the one reset goes back to
    changed = rows_of(fresh.engine)
    fresh.store.restore("base", "x")
    assert rows_of(fresh.engine) == before
    assert fresh.store.restore(None, "gone-server") is not None  # its queued task's owner, as it was
    assert rows_of(fresh.engine) == changed
    assert [s.name for s in fresh.store.saved()] == ["base"]
    with fresh.engine.begin() as conn:
        conn.execute(delete(tables.snapshots).where(tables.snapshots.c.kind == "initial"))


def test_every_table_but_those_of_users_sessions_and_the_server_is_in_a_snapshot(fresh: Db) -> None:
    # Tables added later (by a migration) are in snapshots unless they are named as not the federation's.
    in_database = set(inspect(fresh.engine).get_table_names()) - {"alembic_version"}
    header = read_file(fresh.store.export("base") or b"").header
    assert set(header["tables"]) == in_database - NOT_FEDERATION
    assert NOT_FEDERATION <= in_database


def _rewritten(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The file with its header changed and its checksum made right again."""
    end = data.index(b"\n", len(MAGIC))
    header = orjson.loads(data[len(MAGIC) : end])
    change(header)
    body = MAGIC + orjson.dumps(header) + data[end:-32]
    return body + hashlib.sha256(body).digest()


def _damaged(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def _drop_column(header: dict[str, Any]) -> None:
    header["tables"]["virtual_machines"]["columns"][0][0] = "no_such_column"


_DAMAGED = "Invalid body: the snapshot file is damaged: "


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: b"PK\x03\x04" + d, "Invalid body: not an OpenOVC snapshot file (it does not begin with OPENOVC-SNAPSHOT)"),
        (lambda _: b"", "Invalid body: not an OpenOVC snapshot file (it does not begin with OPENOVC-SNAPSHOT)"),
        (_damaged, _DAMAGED + "its checksum does not match its content"),
        (lambda d: d[:-100], _DAMAGED + "its checksum does not match its content"),
        (lambda d: MAGIC + b"{not json\n" + d[len(MAGIC):], _DAMAGED + "its header is not JSON"),
        (lambda d: _rewritten(d, lambda h: h.update(format="something-else")),
         "Invalid body: not an OpenOVC snapshot file (its header names another format)"),
        (lambda d: _rewritten(d, lambda h: h.update(version=2)),
         "Invalid body: the snapshot file's format version 2 is newer than this server reads (1)"),
        (lambda d: _rewritten(d, lambda h: h.update(version="1")), _DAMAGED + "its format version '1' is not a version"),
        (lambda d: _rewritten(d, lambda h: h.update(schema_revision="0999")),
         "Invalid body: the snapshot's schema revision 0999 is unknown to this server, whose schema is at "
         "{head}: it was saved by a newer OpenOVC"),
        (lambda d: _rewritten(d, lambda h: h["tables"].update(no_such_table={"columns": [], "rows": 0})),
         "Invalid body: the snapshot holds the table no_such_table, which this server does not have"),
        (lambda d: _rewritten(d, _drop_column),
         "Invalid body: the snapshot's column virtual_machines.no_such_column (text) does not match this server's schema"),
        (lambda d: _rewritten(d, lambda h: h["tables"]["backups"].update(rows=1)),
         _DAMAGED + "the table backups holds another number of rows than its header says"),
        (lambda d: _rewritten(d, lambda h: h.update(clock={"mode": "manual"})),
         _DAMAGED + "its header's clock or state is malformed"),
        (lambda d: _rewritten(d, lambda h: h["tables"].update(hosts=[])),
         _DAMAGED + "its header describes the table 'hosts' wrongly"),
    ],
)  # fmt: skip
def test_a_damaged_foreign_or_newer_file_is_refused_and_nothing_changes(
    fresh: Db, make: Callable[[bytes], bytes], message: str
) -> None:
    good = fresh.store.export("base")
    assert good is not None
    before, listed = rows_of(fresh.engine), fresh.store.saved()
    with fresh.engine.connect() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    with pytest.raises(SnapshotFileRefused) as refused:
        fresh.store.import_file(make(good), "imported")
    assert refused.value.message == message.format(head=head)
    assert (rows_of(fresh.engine), fresh.store.saved()) == (before, listed)


def test_an_imported_file_is_kept_under_its_own_name_or_the_one_given(fresh: Db) -> None:
    data = fresh.store.export("base")
    assert data is not None
    with pytest.raises(SnapshotExists):
        fresh.store.import_file(data, None)  # "base" exists
    kept = fresh.store.import_file(data, "copy")
    assert (kept.name, kept.size, kept.tables) == ("copy", len(data), fresh.store.get("base").tables)  # type: ignore[union-attr]
    assert fresh.store.export("copy") == data
    renamed = _rewritten(data, lambda h: h.update(name="bad name!"))
    with pytest.raises(SnapshotFileRefused) as refused:
        fresh.store.import_file(renamed, None)
    assert refused.value.message == (
        "Invalid body: the file's snapshot name cannot name a snapshot here: expected 1 to 64 letters, digits, "
        "'.', '_' or '-', starting with a letter or a digit; got 'bad name!'"
    )


def test_a_restore_that_fails_half_way_changes_nothing(fresh: Db) -> None:
    data = fresh.store.export("base")
    assert data is not None
    file = read_file(data)
    writer = SnapshotWriter()
    for frame in file.frames():
        columns = file.tables[frame.table]["columns"]
        # Every backup twice: the second of each breaks the key, after the other tables went in.
        rows = frame.rows * 2 if frame.table == "backups" else frame.rows
        writer.add(frame.table, [tuple(c) for c in columns], rows)
    header = {k: v for k, v in file.header.items() if k not in ("tables", "format", "version")}
    broken = writer.finish(header)
    with fresh.engine.begin() as conn:
        conn.execute(insert(tables.snapshots).values(
            kind="saved", name="broken", created_ms=0, summary=orjson.dumps(_summary(fresh, "base")).decode(),
            body=broken,
        ))  # fmt: skip
    _change_everything(fresh.engine)
    before = rows_of(fresh.engine)
    clock = _kv(fresh.engine, "clock")
    with pytest.raises(SnapshotFileRefused) as refused:
        fresh.store.restore("broken", "x")
    assert refused.value.message.startswith("Invalid body: the snapshot's rows do not fit this database: ")
    assert (rows_of(fresh.engine), _kv(fresh.engine, "clock")) == (before, clock)


def _summary(db: Db, name: str) -> Any:
    with db.engine.connect() as conn:
        stored = conn.execute(
            select(tables.snapshots.c.summary).where(tables.snapshots.c.name == name)
        ).scalar()
    return orjson.loads(str(stored))


@pytest.mark.postgres
def test_a_file_from_sqlite_restores_into_postgresql_and_back(tmp_path: Path) -> None:
    with database_url("sqlite", tmp_path) as lite_url, database_url("postgresql", tmp_path) as pg_url:
        lite, pg = _open(lite_url, "sqlite"), _open(pg_url, "postgresql")
        try:
            _change_everything(lite.engine)  # so that the two differ before the copy
            original = rows_of(lite.engine)
            lite.store.save("from-sqlite")
            data = lite.store.export("from-sqlite")
            assert data is not None
            pg.store.import_file(data, None)
            assert pg.store.restore("from-sqlite", "gone-server") is not None
            assert rows_of(pg.engine) == original

            pg.store.save("from-postgresql")
            back = pg.store.export("from-postgresql")
            assert back is not None
            lite.store.restore("from-sqlite", "gone-server")
            with lite.engine.begin() as conn:
                conn.execute(delete(tables.COLLECTION_TABLES["backups"]))
            lite.store.import_file(back, None)
            assert lite.store.restore("from-postgresql", "gone-server") is not None
            assert rows_of(lite.engine) == original
        finally:
            lite.engine.dispose()
            pg.engine.dispose()


def test_a_written_file_holds_its_frames_in_the_order_they_were_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Frames are compressed on a thread while the next are made: the file keeps the order of add().
    monkeypatch.setattr(snapshot_file, "FRAME_ROWS", 3)
    writer = SnapshotWriter()
    a_rows = [(i, f"a{i}", i % 2 == 0) for i in range(8)]
    b_rows = [(b"\x00" * i, i / 2) for i in range(5)]
    writer.add("a", [("id", "int"), ("name", "text"), ("on", "bool")], a_rows[:4])
    writer.add("b", [("blob", "bytes"), ("x", "float")], b_rows)
    writer.add("a", [("id", "int"), ("name", "text"), ("on", "bool")], a_rows[4:])
    file = read_file(writer.finish({"schema_revision": "r"}))
    frames = [(frame.table, frame.rows) for frame in file.frames()]
    assert frames == [
        ("a", a_rows[0:3]), ("a", a_rows[3:4]), ("b", b_rows[0:3]), ("b", b_rows[3:5]),
        ("a", a_rows[4:7]), ("a", a_rows[7:8]),
    ]  # fmt: skip
    assert {name: entry["rows"] for name, entry in file.tables.items()} == {"a": 8, "b": 5}
    file.check()


def test_a_writer_finished_without_rows_holds_no_frame() -> None:
    file = read_file(SnapshotWriter().finish({"schema_revision": "r"}))
    assert (file.tables, list(file.frames())) == ({}, [])
