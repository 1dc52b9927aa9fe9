"""A page's kept objects (storage/lean_reads.LeanReads.page_objects, the VMs' change feed): exact after
any commit, by any connection or process, and byte for byte the reader's page."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.pool import NullPool

from openovc.api.render import envelope, envelope_json, object_json
from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.query import parse_collection_query, visible_fields
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import change_feed, lean_reads, tables
from openovc.storage.engine import make_engine, migrate
from openovc.storage.lean_reads import LeanReads
from openovc.storage.loading import load_federation
from openovc.storage.repositories import SqlFederationReader
from openovc.storage.snapshots import SqlSnapshotStore
from tests.support.databases import database_url
from tests.support.inprocess import START

VMS = VIRTUAL_MACHINES
FEED = change_feed.feed_table("virtual_machines")
EVERY_FIELD = {"limit": "500", "show_optional_fields": "true"}
PAGES = [
    {},
    EVERY_FIELD,
    {"fields": "name,hypervisor_is_template", "show_optional_fields": "true", "state": "ALIVE,DELETED"},
    {"fields": "id", "limit": "7"},
    {"sort": "hypervisor_free_space", "order": "descending", "offset": "3", "limit": "4"},
    {"name": "*A*", "case": "insensitive", "limit": "2"},
    {"name": "*a*"},
    {"name": "*A*"},
    {"hypervisor_is_template": "false", "created_after": "2000-01-01T00:00:00Z", "order": "ascending"},
    {"offset": "100000"},
]


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate(FederationSpec.demo(), START)


@pytest.fixture
def engine(tmp_path: Path, federation: Federation) -> Iterator[Engine]:
    """A store of its own for each test (they change VMs), on SQLite: the only engine with a feed."""
    with database_url("sqlite", tmp_path) as url:
        made = make_engine(url)
        migrate(made)
        load_federation(made, federation)
        yield made
        made.dispose()


class Rendering:
    """api.render's object_json for the VMs, counting the objects it renders."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def __call__(self, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[bytes]:
        made = object_json(VMS, columns, rows)
        self.rendered.extend(orjson.loads(m).get("id", "?") for m in made)
        return made


def _page(reads: LeanReads, render: Rendering, params: dict[str, str]) -> bytes:
    query = parse_collection_query(VMS, params)
    found = reads.page_objects(VMS, query, visible_fields(VMS, query), render)
    assert found is not None
    return envelope_json(VMS, found[0], found[1], query.offset, query.limit)


def _expected(engine: Engine, params: dict[str, str]) -> bytes:
    query = parse_collection_query(VMS, params)
    page = SqlFederationReader(engine).page(VMS, query, visible_fields(VMS, query))
    return orjson.dumps(envelope(VMS, page, query.offset, query.limit))


def _write(engine: Engine, sql: str, *params: object) -> None:
    """A commit of another connection than the lean reads' own."""
    with engine.begin() as conn:
        conn.exec_driver_sql(sql, params)


def _alive(engine: Engine) -> list[str]:
    """The page of every field's VMs, in its order."""
    return [vm["id"] for vm in orjson.loads(_expected(engine, EVERY_FIELD))["virtual_machines"]]


@pytest.mark.parametrize("params", PAGES, ids=[str(sorted(p.items())) for p in PAGES])
def test_a_page_is_the_reader_s_when_read_and_when_kept(engine: Engine, params: dict[str, str]) -> None:
    reads, render = LeanReads(engine), Rendering()
    expected = _expected(engine, params)
    assert _page(reads, render, params) == expected
    first = len(render.rendered)
    assert _page(reads, render, params) == expected
    assert len(render.rendered) == first  # every object kept


def test_a_commit_that_changes_no_vm_renders_none_again(engine: Engine) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    rendered = len(render.rendered)
    assert rendered == len(_alive(engine)) > 0
    _write(engine, "UPDATE policies SET name = 'renamed-alone'")  # the VMs' policy_name stay
    assert _page(reads, render, EVERY_FIELD) == _expected(engine, EVERY_FIELD)
    assert len(render.rendered) == rendered


def test_a_changed_vm_is_seen_at_once_and_alone_rendered_again(engine: Engine) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    vm = _alive(engine)[3]
    render.rendered.clear()
    _write(engine, "UPDATE virtual_machines SET hypervisor_free_space = 12345 WHERE id = ?", vm)
    body = _page(reads, render, EVERY_FIELD)
    assert body == _expected(engine, EVERY_FIELD)
    assert orjson.loads(body)["virtual_machines"][3]["hypervisor_free_space"] == 12345
    assert render.rendered == [vm]


def test_a_rename_of_a_vm_s_policy_datastore_cluster_or_host_is_seen(engine: Engine) -> None:
    """A VM's names of other objects are its own columns, written with them (as services.policies' rename
    writes them): the feed has the VM."""
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    vm = orjson.loads(_expected(engine, EVERY_FIELD))["virtual_machines"][0]
    for column, value in [
        ("policy_name", "policy-renamed"),
        ("datastore_name", "datastore-renamed"),
        ("omnistack_cluster_name", "cluster-renamed"),
        ("host_name", "host-renamed"),
    ]:
        id_column = column.replace("_name", "_id")
        _write(
            engine, f"UPDATE virtual_machines SET {column} = ? WHERE {id_column} = ?", value, vm[id_column]
        )
        body = _page(reads, render, EVERY_FIELD)
        assert body == _expected(engine, EVERY_FIELD)
        assert orjson.loads(body)["virtual_machines"][0][column] == value


def test_a_deleted_vm_goes_and_a_new_one_comes(engine: Engine) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    gone, model = _alive(engine)[0], _alive(engine)[1]
    _write(engine, "DELETE FROM virtual_machines WHERE id = ?", gone)
    columns = [
        c.name for c in tables.COLLECTION_TABLES["virtual_machines"].columns if c.name not in ("id", "name")
    ]
    listed = ", ".join(columns)
    _write(
        engine,
        f"INSERT INTO virtual_machines (id, name, {listed}) SELECT 'new-vm', 'AAA-new', {listed}"
        " FROM virtual_machines WHERE id = ?",
        model,
    )
    body = _page(reads, render, EVERY_FIELD)
    assert body == _expected(engine, EVERY_FIELD)
    ids = [vm["id"] for vm in orjson.loads(body)["virtual_machines"]]
    assert gone not in ids and "new-vm" in ids


def test_a_change_by_another_process_is_seen(engine: Engine) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    vm = _alive(engine)[2]
    database = engine.url.database
    script = (
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute(\"UPDATE virtual_machines SET name = 'zz-by-another-process' WHERE id = ?\", (sys.argv[2],))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(database), vm], check=True)
    body = _page(reads, render, EVERY_FIELD)
    assert body == _expected(engine, EVERY_FIELD)
    assert "zz-by-another-process" in [v["name"] for v in orjson.loads(body)["virtual_machines"]]


def test_the_feed_records_every_key_inserted_updated_or_deleted(engine: Engine) -> None:
    feed = tables.vm_changes
    with engine.connect() as conn:
        start = conn.execute(select(func.max(feed.c.seq))).scalar_one()
    vm = _alive(engine)[0]
    _write(engine, "UPDATE virtual_machines SET id = 'moved' WHERE id = ?", vm)
    _write(engine, "DELETE FROM virtual_machines WHERE id = 'moved'")
    with engine.connect() as conn:
        rows = conn.execute(
            select(feed.c.seq, feed.c.id).where(feed.c.seq > start).order_by(feed.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [(start + 1, vm), (start + 2, "moved"), (start + 3, "moved")]


def test_a_gap_in_the_feed_forgets_everything(engine: Engine) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    render.rendered.clear()
    vm = _alive(engine)[0]
    _write(engine, "UPDATE virtual_machines SET name = 'aaa-first' WHERE id = ?", vm)
    _write(engine, f"DELETE FROM {FEED}")  # the change can no longer be told from the feed
    _write(engine, "UPDATE virtual_machines SET ha_status = ha_status WHERE id = ?", _alive(engine)[-1])
    assert _page(reads, render, EVERY_FIELD) == _expected(engine, EVERY_FIELD)
    assert len(render.rendered) == len(_alive(engine))


def test_a_reader_further_behind_than_the_feed_keeps_forgets_everything(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    render.rendered.clear()
    monkeypatch.setattr(change_feed, "FEED_ROWS", 1)
    _write(engine, "UPDATE virtual_machines SET name = name")  # every VM: more changes than it keeps
    assert _page(reads, render, EVERY_FIELD) == _expected(engine, EVERY_FIELD)
    assert len(render.rendered) == len(_alive(engine))


def test_a_restore_writes_nothing_to_the_feed_and_every_reader_forgets_all(engine: Engine) -> None:
    snapshots = SqlSnapshotStore(engine, lambda: 0)
    snapshots.save("before")
    reads, render = LeanReads(engine), Rendering()
    vm = _alive(engine)[2]
    _write(engine, "UPDATE virtual_machines SET name = 'zz-renamed' WHERE id = ?", vm)
    _page(reads, render, EVERY_FIELD)
    with engine.connect() as conn:
        changes = conn.scalar(select(func.count()).select_from(tables.vm_changes))
    render.rendered.clear()
    assert snapshots.restore("before", "test") is not None
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(tables.vm_changes)) == changes
        triggers = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
        assert sorted(triggers) == [f"{FEED}_delete", f"{FEED}_insert", f"{FEED}_update"]
    body = _page(reads, render, EVERY_FIELD)
    assert body == _expected(engine, EVERY_FIELD)
    assert "zz-renamed" not in body.decode()
    assert len(render.rendered) == len(_alive(engine))
    _write(engine, "UPDATE virtual_machines SET name = 'yy-after' WHERE id = ?", vm)  # followed again
    render.rendered.clear()
    assert _page(reads, render, EVERY_FIELD) == _expected(engine, EVERY_FIELD)
    assert render.rendered == [vm]


def test_objects_made_in_an_older_read_are_not_kept(engine: Engine) -> None:
    reads, render = LeanReads(engine), Rendering()
    _page(reads, render, EVERY_FIELD)
    objects = reads._objects["virtual_machines"]
    seq = objects.seq
    objects.add(seq - 1, ("name",), {"x": b"{}"})  # made before the last change kept ones were synced to
    assert ("name",) not in objects.by_columns
    objects.add(seq, ("name",), {"x": b"{}"})
    assert objects.by_columns[("name",)] == {"x": b"{}"}


def test_past_the_byte_limit_what_is_kept_starts_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads, render = LeanReads(engine), Rendering()
    monkeypatch.setattr(lean_reads, "MAX_OBJECT_BYTES", 3000)
    expected = _expected(engine, EVERY_FIELD)
    assert _page(reads, render, EVERY_FIELD) == expected
    assert _page(reads, render, EVERY_FIELD) == expected
    objects = reads._objects["virtual_machines"]
    assert objects.nbytes == 0  # a page's objects are more than the limit: none kept
    monkeypatch.setattr(lean_reads, "MAX_OBJECT_BYTES", 4000)
    one = {"fields": "id", "limit": "1"}
    assert _page(reads, render, one) == _expected(engine, one)
    assert 0 < objects.nbytes <= 4000
    assert _page(reads, render, EVERY_FIELD) == expected
    assert objects.nbytes == 0  # the page did not fit: what was kept went with it


def test_nothing_is_kept_on_postgresql_or_in_memory(tmp_path: Path) -> None:
    query = parse_collection_query(VMS, {})
    with database_url("postgresql", tmp_path) as url:
        for made in (make_engine(url), create_engine("sqlite://", poolclass=NullPool)):
            try:
                assert LeanReads(made).page_objects(VMS, query, ["id"], Rendering()) is None
            finally:
                made.dispose()


def test_a_filter_by_cluster_group_is_left_to_the_engine_s_page(engine: Engine) -> None:
    query = parse_collection_query(VMS, {"cluster_group_id": "no-such-group"})
    assert LeanReads(engine).page_objects(VMS, query, ["id"], Rendering()) is None
