"""The migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, text
from sqlalchemy.schema import CreateTable

from openovc.storage import engine as engine_module
from openovc.storage.engine import alembic_config, head_revision, make_engine, migrate
from openovc.storage.tables import FILLFACTOR, metadata
from tests.support.databases import BACKENDS, database_url


@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index")
@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_matches_the_tables(tmp_path: Path, backend: str) -> None:
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            migrate(engine)  # idempotent
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == []
        finally:
            engine.dispose()


def test_tables_updated_in_place_leave_room_on_their_pages_on_postgresql(tmp_path: Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
                    {"names": [*FILLFACTOR, "virtual_machines"]},
                ).all()
            options = {str(row[0]): row[1] for row in rows}
            assert options == {
                **{name: [f"fillfactor={percent}"] for name, percent in FILLFACTOR.items()},
                "virtual_machines": None,
            }
            # Declared as migrated: a database made from the tables (as the tests' is) is the same.
            for name in ("content_shared", "backups"):
                ddl = str(CreateTable(metadata.tables[name]).compile(dialect=engine.dialect))
                assert f"WITH (fillfactor = {FILLFACTOR[name]})" in ddl
        finally:
            engine.dispose()


def _migrated_one_by_one(engine: Engine, revision: str = "head") -> None:
    """The migrations run by Alembic, as every start ran them before a new store got the final schema."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _schema(engine: Engine) -> list[tuple[object, ...]]:
    """Everything the database knows of its schema: tables, columns in order, constraints, indexes, options."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master"))
            # Alembic's ADD COLUMN leaves other whitespace in the stored CREATE TABLE than CREATE TABLE does.
            return sorted((t, n, tbl, " ".join((sql or "").split())) for t, n, tbl, sql in rows)
        columns = conn.execute(
            text(
                "SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                " pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
                " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                " WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped"
                " AND c.relkind = 'r'"
            )
        )
        constraints = conn.execute(
            text(
                "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
                " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema()"
            )
        )
        relations = conn.execute(
            text(
                "SELECT c.relname, c.relkind, c.reloptions, pg_get_indexdef(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
                " AND c.relkind IN ('r', 'i', 'S')"
            )
        )
        return sorted(
            [("column", *map(str, r)) for r in columns]
            + [("constraint", *map(str, r)) for r in constraints]
            + [("relation", *map(str, r)) for r in relations]
        )


@contextmanager
def _two_stores(tmp_path: Path, backend: str) -> Iterator[tuple[Engine, Engine]]:
    """Two empty stores of the backend, side by side."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with (
        database_url(backend, tmp_path / "first") as first_url,
        database_url(backend, tmp_path / "second") as second_url,
    ):
        first, second = make_engine(first_url), make_engine(second_url)
        try:
            yield first, second
        finally:
            first.dispose()
            second.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_store_gets_the_schema_the_migrations_build(tmp_path: Path, backend: str) -> None:
    with _two_stores(tmp_path, backend) as (made, migrated):
        migrate(made)
        _migrated_one_by_one(migrated)
        made_schema = _schema(made)
        assert len(made_schema) > 100
        assert made_schema == _schema(migrated)
        with made.connect() as conn:
            stamped = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert stamped == [head_revision()]


def test_the_stamped_revision_is_alembics_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'openovc.db'}")
    assert ScriptDirectory.from_config(alembic_config(engine)).get_heads() == [head_revision()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_store_at_an_older_revision_is_upgraded_by_the_migrations(tmp_path: Path, backend: str) -> None:
    with _two_stores(tmp_path, backend) as (old, new):
        _migrated_one_by_one(old, "0018")
        with old.begin() as conn:
            conn.execute(text("INSERT INTO server_state (key, value) VALUES ('kept', '1')"))
        migrate(old)
        migrate(new)
        assert _schema(old) == _schema(new)
        with old.connect() as conn:
            assert conn.execute(text("SELECT value FROM server_state WHERE key = 'kept'")).scalar() == "1"
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()


def test_a_store_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'openovc.db'}")
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        with pytest.raises(CommandError, match="Can't locate revision identified by '0999'"):
            migrate(engine)
    finally:
        engine.dispose()


def _migration(versions: Path, revision: str, down: str | None) -> None:
    revises = "None" if down is None else f'"{down}"'
    (versions / f"{revision}_step.py").write_text(f'revision = "{revision}"\ndown_revision = {revises}\n')


def test_the_head_is_the_revision_no_other_revises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    _migration(versions, "0001", None)
    _migration(versions, "0003", "0002")
    _migration(versions, "0002", "0001")
    monkeypatch.setattr(engine_module, "MIGRATIONS", tmp_path)
    head_revision.cache_clear()
    try:
        assert head_revision() == "0003"
        _migration(versions, "0004", "0002")  # a second branch from 0002
        head_revision.cache_clear()
        with pytest.raises(RuntimeError, match=r"^the migrations have 2 heads: \['0003', '0004'\]$"):
            head_revision()
        (versions / "0005_odd.py").write_text('revision = "0005"\ndown_revision = ("0003", "0004")\n')
        head_revision.cache_clear()
        with pytest.raises(RuntimeError, match=r"^0005_odd\.py: no plain revision and down_revision$"):
            head_revision()
    finally:
        head_revision.cache_clear()
