"""The migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.schema import CreateTable

from openovc.storage.engine import make_engine, migrate
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
