"""Database URLs for the storage and integration tiers: SQLite always, PostgreSQL when reachable.

CI sets OPENOVC_REQUIRE_POSTGRES=1 so an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "OPENOVC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("OPENOVC_REQUIRE_POSTGRES") == "1"


def _admin_conninfo() -> str:
    return POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


def postgres_unreachable_reason() -> str | None:
    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable ({exc.__class__.__name__}); set OPENOVC_TEST_POSTGRES_URL"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database for one test or module, dropped afterwards."""
    reason = postgres_unreachable_reason()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"openovc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = _admin_conninfo().rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'openovc.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


BACKENDS = ["sqlite", "postgresql"]
