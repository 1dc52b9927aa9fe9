"""Fuzz-tier fixtures: a real server on each database, and the guard its cases go through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.harness import Guard
from tests.fuzz.target import Target, running_target


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A fresh federation per database: what one database's cases deleted does not carry over."""
    with running_target(request.param, tmp_path_factory.mktemp(f"fuzz-{request.param}")) as started:
        yield started


@pytest.fixture(scope="module")
def guard(target: Target) -> Iterator[Guard]:
    found = Guard(target)
    yield found
    found.session.close()
