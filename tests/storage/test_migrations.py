"""The migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from openovc.storage.engine import make_engine, migrate
from openovc.storage.tables import metadata
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
