"""Group commit on SQLite: queued writers share a transaction and a commit, and each succeeds or fails alone."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, text

from openovc.storage.engine import make_engine
from openovc.storage.group_commit import GroupCommit
from openovc.storage.transaction import write_transaction
from tests.support.waiting import wait_until

CALLER = contextvars.ContextVar("caller", default="nobody")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    db = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE rows (name TEXT PRIMARY KEY)"))
    yield db
    db.dispose()


def _commits(engine: Engine) -> list[int]:
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    return commits


def _names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(name) for (name,) in conn.execute(text("SELECT name FROM rows ORDER BY name"))]


def _insert(name: str, *, fail: bool = False) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(text("INSERT INTO rows (name) VALUES (:name)"), {"name": name})
        if fail:
            raise ValueError(f"{name} refused after writing")
        return f"{name} by {CALLER.get()}"

    return work


def _callers(
    group: GroupCommit[str], works: list[Callable[[Connection], str]]
) -> tuple[list[threading.Thread], dict[int, str]]:
    """A thread per work, each calling group.run in its own context; what each got, by index."""
    got: dict[int, str] = {}

    def call(index: int) -> None:
        CALLER.set(f"caller {index}")
        try:
            got[index] = group.run(works[index])
        except ValueError as exc:
            got[index] = f"error: {exc}"

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    return threads, got


def _queued(group: GroupCommit[str], count: int) -> bool:
    return len(group._queue) == count


def _queued_behind_a_held_turn(
    engine: Engine, group: GroupCommit[str], threads: list[threading.Thread]
) -> None:
    """Start the callers while this thread holds the writers' turn, so that all of them queue; then let go."""
    with write_transaction(engine):
        # In order: the first leads and waits for the turn; all wait in the queue (the leader takes it in
        # its turn).
        for count, thread in enumerate(threads, 1):
            thread.start()
            wait_until(partial(_queued, group, count), what=f"{count} callers queued")
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_queued_writers_share_one_commit_and_fail_alone(engine: Engine) -> None:
    group: GroupCommit[str] = GroupCommit(engine)
    works = [_insert(f"row {i}", fail=i in (2, 5)) for i in range(8)]
    threads, got = _callers(group, works)
    commits = _commits(engine)
    _queued_behind_a_held_turn(engine, group, threads)
    assert len(commits) == 2  # the held turn's, and the batch's
    failed = {2: "error: row 2 refused after writing", 5: "error: row 5 refused after writing"}
    assert got == {i: failed.get(i, f"row {i} by caller {i}") for i in range(8)}
    assert _names(engine) == [f"row {i}" for i in (0, 1, 3, 4, 6, 7)]


def test_a_first_work_that_fails_is_rolled_back_and_the_rest_commit_after_it(engine: Engine) -> None:
    group: GroupCommit[str] = GroupCommit(engine)
    works = [_insert("first", fail=True), _insert("second"), _insert("third", fail=True), _insert("fourth")]
    threads, got = _callers(group, works)
    commits = _commits(engine)
    _queued_behind_a_held_turn(engine, group, threads)  # the first leads: its work runs without a savepoint
    assert len(commits) == 2  # the held turn's, and the second transaction's
    assert got == {
        0: "error: first refused after writing",
        1: "second by caller 1",
        2: "error: third refused after writing",
        3: "fourth by caller 3",
    }
    assert _names(engine) == ["fourth", "second"]


def test_a_batch_is_at_most_the_limit_and_the_next_caller_leads_the_rest(engine: Engine) -> None:
    group: GroupCommit[str] = GroupCommit(engine, limit=3)
    threads, got = _callers(group, [_insert(f"row {i}") for i in range(7)])
    commits = _commits(engine)
    _queued_behind_a_held_turn(engine, group, threads)
    assert len(commits) == 4  # the held turn's, then 3 + 3 + 1
    assert got == {i: f"row {i} by caller {i}" for i in range(7)}
    assert len(_names(engine)) == 7
    assert not group._leading and not group._queue


def test_one_caller_alone_commits_its_own_work(engine: Engine) -> None:
    group: GroupCommit[str] = GroupCommit(engine)
    CALLER.set("the only caller")
    assert group.run(_insert("alone")) == "alone by the only caller"
    with pytest.raises(ValueError, match="refused after writing"):
        group.run(_insert("refused", fail=True))
    assert _names(engine) == ["alone"]


def test_when_no_turn_can_be_had_every_waiting_caller_gets_the_error(tmp_path: Path) -> None:
    broken = make_engine(f"sqlite:///{tmp_path / 'no such directory' / 'store.db'}")
    group: GroupCommit[str] = GroupCommit(broken)
    got: list[str] = []

    def call() -> None:
        try:
            group.run(_insert("never"))
        except Exception as exc:
            got.append(type(exc).__name__)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert got == ["FileNotFoundError"] * 5  # the writers' lock file, beside the database
    assert not group._leading and not group._queue
    broken.dispose()


def test_work_cannot_start_another_write_of_its_own_group(engine: Engine) -> None:
    group: GroupCommit[str] = GroupCommit(engine)

    def nested(_conn: Connection) -> str:
        return group.run(_insert("inner"))

    with pytest.raises(RuntimeError, match="cannot start another"):
        group.run(nested)
    assert _names(engine) == []
