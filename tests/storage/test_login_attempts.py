"""Login attempts in the database: each reserved atomically before its password check, across threads and
processes, on SQLite and PostgreSQL; the records of made-up usernames bounded."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier as ProcessBarrier

import pytest
from sqlalchemy import Engine, delete, func, select

from openovc.domain.lockout import Attempts, LockoutPolicy, reserve
from openovc.storage import tables
from openovc.storage.auth_store import SqlAuthStore
from openovc.storage.engine import make_engine, migrate
from tests.support.databases import database_url

POLICY = LockoutPolicy()
NOW = 1_800_000_000_000
PROCESSES, THREADS = 3, 8


@dataclass
class Db:
    url: str
    engine: Engine
    store: SqlAuthStore


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    with database_url(request.param, tmp_path_factory.mktemp(request.param)) as url:
        engine = make_engine(url)
        migrate(engine)
        yield Db(url, engine, SqlAuthStore(engine))
        engine.dispose()


@pytest.fixture
def store(db: Db) -> SqlAuthStore:
    with db.engine.begin() as conn:
        conn.execute(delete(tables.login_attempts))
    return db.store


def _records(store: SqlAuthStore, **where: object) -> int:
    table = tables.login_attempts
    stmt = select(func.count()).select_from(table).where(*(table.c[k] == v for k, v in where.items()))
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _reserve_in_threads(store: SqlAuthStore, barrier: threading.Barrier | ProcessBarrier) -> list[int]:
    def one() -> int:
        barrier.wait(timeout=60)
        return store.reserve_attempt("administrator@vsphere.local", "203.0.113.66", NOW, POLICY, known=True)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda _: one(), range(THREADS)))


def _reserve_in_process(url: str, barrier: ProcessBarrier, results: Queue[list[int]]) -> None:
    """A server process of its own: its engine, its pool, its SQLite writer lock."""
    engine = make_engine(url)
    try:
        results.put(_reserve_in_threads(SqlAuthStore(engine), barrier))
    finally:
        engine.dispose()


def test_racing_reservations_count_exactly_the_allowed_number(db: Db, store: SqlAuthStore) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES * THREADS)
    results: Queue[list[int]] = context.Queue()
    processes = [
        context.Process(target=_reserve_in_process, args=(db.url, barrier, results)) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    answers = [answer for _ in processes for answer in results.get(timeout=120)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    # Five were counted (and would be checked); every other one found the pair locked, for the whole lockout.
    assert sorted(answers) == [0] * 5 + [POLICY.lockout_ms] * (PROCESSES * THREADS - 5)
    assert _records(store, attempts=5) == 1


@pytest.mark.parametrize("max_failures", [3, 1])
def test_reservations_follow_the_domain_rule(store: SqlAuthStore, max_failures: int) -> None:
    """Random attempts, successes and pauses: the store answers as domain.lockout.reserve says."""
    policy = LockoutPolicy(max_failures=max_failures, window_ms=60_000, lockout_ms=90_000)
    rng = random.Random(14)
    model: dict[tuple[str, str], Attempts] = {}
    now = NOW
    for _ in range(300):
        pair = (rng.choice(["admin", "svtcli"]), rng.choice(["192.0.2.1", "192.0.2.2"]))
        step = rng.random()
        if step < 0.15:
            now += rng.choice([1_000, 30_000, 59_999, 60_000, 89_999, 90_000])
        elif step < 0.25:
            store.forget_attempts(*pair)
            model.pop(pair, None)
        else:
            after = reserve(model.get(pair), now, policy)
            answer = store.reserve_attempt(*pair, now, policy, known=True)
            if after is None:
                left = model[pair].locked_until
                assert left is not None and answer == left - now
            else:
                assert answer == 0
                model[pair] = after


def test_a_locked_reservation_counts_nothing_and_says_how_long(store: SqlAuthStore) -> None:
    for _ in range(5):
        assert store.reserve_attempt("admin", "192.0.2.1", NOW, POLICY, known=True) == 0
    assert store.reserve_attempt("admin", "192.0.2.1", NOW + 1_000, POLICY, known=True) == 299_000
    assert store.reserve_attempt("admin", "192.0.2.2", NOW + 1_000, POLICY, known=True) == 0
    assert _records(store, username="admin", source="192.0.2.1", attempts=5) == 1
    # The lock ends on time, and the count starts again.
    assert store.reserve_attempt("admin", "192.0.2.1", NOW + POLICY.lockout_ms, POLICY, known=True) == 0
    assert _records(store, username="admin", source="192.0.2.1", attempts=1) == 1


def test_pruning_bounds_made_up_usernames_and_keeps_real_ones(store: SqlAuthStore) -> None:
    policy = LockoutPolicy(unknown_per_source=4, unknown_total=6)
    store.reserve_attempt("admin", "192.0.2.1", NOW, policy, known=True)
    for n in range(10):
        store.reserve_attempt(f"made-up-{n}", "192.0.2.1", NOW + n, policy, known=False)
        store.prune_attempts("192.0.2.1", NOW + n, policy)
    assert _records(store, source="192.0.2.1", known=False) == 4
    # The newest are kept.
    assert _records(store, username="made-up-9") == 1 and _records(store, username="made-up-5") == 0
    for n in range(4):
        store.reserve_attempt(f"other-{n}", "192.0.2.2", NOW + 20 + n, policy, known=False)
        store.prune_attempts("192.0.2.2", NOW + 20 + n, policy)
    assert _records(store, known=False) == 6
    assert _records(store, source="192.0.2.2") == 4
    assert _records(store, known=True) == 1
    # Everything whose window has closed goes at the next prune, real accounts' records too.
    store.prune_attempts("192.0.2.3", NOW + 30 + POLICY.window_ms, policy)
    assert _records(store) == 0
