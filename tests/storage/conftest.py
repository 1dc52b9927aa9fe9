"""Storage-tier fixtures: the same demo federation loaded into SQLite and into PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import load_federation
from openovc.storage.repositories import SqlFederationReader
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START


@dataclass
class Store:
    backend: str
    url: str
    engine: Engine
    reader: SqlFederationReader
    federation: Federation


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with database_url(request.param, tmp_path_factory.mktemp(request.param)) as url:
        engine = make_engine(url)
        migrate(engine)
        federation = generate(FederationSpec.demo(), START)
        load_federation(engine, federation)
        yield Store(request.param, url, engine, SqlFederationReader(engine), federation)
        engine.dispose()
