"""API-tier fixtures: a demo federation served in-process, users and their tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.inprocess import ADMIN, READER, Env, make_env


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A shared, read-mostly demo federation on SQLite; tests must not move its clock."""
    built = make_env(tmp_path_factory.mktemp("demo"))
    yield built
    built.runtime.storage.engine.dispose()


@pytest.fixture(scope="session")
def admin(env: Env) -> dict[str, str]:
    return env.headers(ADMIN)


@pytest.fixture(scope="session")
def reader(env: Env) -> dict[str, str]:
    return env.headers(READER)


@pytest.fixture
def own_env(tmp_path: Path) -> Iterator[Env]:
    """A private federation for tests that move the clock or change state."""
    built = make_env(tmp_path)
    yield built
    built.runtime.storage.engine.dispose()
