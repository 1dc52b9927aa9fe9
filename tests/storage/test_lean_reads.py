"""The lean path's reads (storage/lean_reads.py) find what the reader finds, rendered to the same bytes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.pool import NullPool

from openovc.api.render import envelope, render_record
from openovc.domain.catalog import ALL, BY_PLURAL, VIRTUAL_MACHINES
from openovc.domain.query import parse_collection_query, visible_fields
from openovc.storage import tables
from openovc.storage.lean_reads import LeanReads
from tests.storage.conftest import Store

PAGES = [
    {},
    {"limit": "500", "show_optional_fields": "true"},
    {"fields": "name,hypervisor_is_template", "show_optional_fields": "true", "state": "ALIVE,DELETED"},
    {"sort": "hypervisor_free_space", "order": "descending", "offset": "3", "limit": "4"},
    {"name": "*A*", "case": "insensitive", "limit": "2"},
    {"offset": "100000"},
]


@pytest.mark.parametrize("plural", [c.plural for c in ALL if c.key != "hash"])
def test_an_object_by_key_renders_as_the_reader_s(store: Store, plural: str) -> None:
    reads = LeanReads(store.engine)
    coll = BY_PLURAL[plural]
    assert reads.inline() is (store.backend == "sqlite")
    if store.backend != "sqlite":
        return  # read in the pool through the reader
    for row in store.federation.rows[plural][:5]:
        key = str(row[coll.key])
        expected = store.reader.get(coll, key)
        assert expected is not None
        found = reads.record(coll, key)
        assert found is not None
        assert orjson.dumps(render_record(coll, found)) == orjson.dumps(render_record(coll, expected))
    assert reads.record(coll, "no-such-object") is None


def _sqlite_reads(store: Store) -> LeanReads:
    if store.backend != "sqlite":
        pytest.skip("read in the pool through the reader on PostgreSQL")
    return LeanReads(store.engine)


@contextmanager
def _renamed(store: Store, vm: dict[str, Any]) -> Iterator[None]:
    """The VM renamed by a commit of another connection inside, its name given back by another after."""
    table = tables.COLLECTION_TABLES["virtual_machines"]
    try:
        with store.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == vm["id"]).values(name="renamed-by-the-test"))
        yield
    finally:
        with store.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == vm["id"]).values(name=vm["name"]))


def test_a_commit_is_seen_by_the_next_read_by_key(store: Store) -> None:
    reads = _sqlite_reads(store)
    vm = store.federation.rows["virtual_machines"][0]
    first = reads.record(VIRTUAL_MACHINES, vm["id"])
    assert first is not None and first["name"] == vm["name"]
    with _renamed(store, vm):
        again = reads.record(VIRTUAL_MACHINES, vm["id"])
        assert again is not None and again["name"] == "renamed-by-the-test"
    assert (reads.record(VIRTUAL_MACHINES, vm["id"]) or {}).get("name") == vm["name"]


def test_a_view_is_made_again_after_any_commit(store: Store) -> None:
    reads = _sqlite_reads(store)
    vm = store.federation.rows["virtual_machines"][1]
    made: list[str] = []

    def name(record: dict[str, object]) -> bytes:
        made.append(str(record["name"]))
        return str(record["name"]).encode()

    assert reads.view(VIRTUAL_MACHINES, vm["id"], name) == vm["name"].encode()
    assert reads.view(VIRTUAL_MACHINES, vm["id"], name) == vm["name"].encode()
    assert made == [vm["name"]]  # the second answer was the kept one
    assert reads.view(VIRTUAL_MACHINES, "no-such-vm", name) is None
    with _renamed(store, vm):
        assert reads.view(VIRTUAL_MACHINES, vm["id"], name) == b"renamed-by-the-test"
        assert made == [vm["name"], "renamed-by-the-test"]
    assert reads.view(VIRTUAL_MACHINES, vm["id"], name) == vm["name"].encode()


def test_an_answer_made_before_a_commit_is_not_kept_past_it(store: Store) -> None:
    if store.backend != "sqlite":
        pytest.skip("nothing is kept on PostgreSQL")
    reads = LeanReads(store.engine)
    stamp = reads.stamp()
    assert reads.stamp() == stamp  # nothing committed in between
    reads.keep(stamp, "answer", b"made at the stamp")
    assert reads.recall("answer") == b"made at the stamp"
    settings = tables.settings_kv
    with store.engine.begin() as conn:
        conn.execute(settings.insert().values(key="lean-reads-test", value="1"))
        conn.execute(settings.delete().where(settings.c.key == "lean-reads-test"))
    assert reads.recall("answer") == b"made at the stamp"  # until the next stamp sees the commit
    moved = reads.stamp()
    assert moved != stamp
    assert reads.recall("answer") is None
    reads.keep(stamp, "late", b"made before the commit, kept after it")
    assert reads.recall("late") is None
    reads.keep(moved, "late", b"made after the commit")
    assert reads.recall("late") == b"made after the commit"


@pytest.mark.parametrize("params", PAGES, ids=[str(sorted(p.items())) for p in PAGES])
def test_a_page_renders_as_the_reader_s(store: Store, params: dict[str, str]) -> None:
    coll = VIRTUAL_MACHINES
    query = parse_collection_query(coll, params)
    columns = visible_fields(coll, query)
    page = LeanReads(store.engine).page(coll, query, columns)
    if store.backend != "sqlite":
        assert page is None  # the reader's own page is used
        return
    assert page is not None
    expected = store.reader.page(coll, query, columns)
    assert page.count == expected.count
    assert page.columns == expected.columns
    body = orjson.dumps(envelope(coll, page, query.offset, query.limit))
    assert body == orjson.dumps(envelope(coll, expected, query.offset, query.limit))


@pytest.mark.parametrize(
    ("url", "inline"),
    [
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", False),
        ("sqlite:///{dir}/store.db", True),
    ],
)
def test_only_a_store_in_a_file_is_read_inline(tmp_path: Path, url: str, inline: bool) -> None:
    engine = create_engine(url.format(dir=tmp_path), poolclass=NullPool)
    try:
        assert LeanReads(engine).inline() is inline
    finally:
        engine.dispose()
