"""The task engine on both databases: pacing, object locks, atomic failure, compare-and-set, recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from openovc.domain.catalog import CLUSTER_GROUPS
from openovc.domain.clock import ManualClock
from openovc.domain.ports.federation import Txn
from openovc.domain.tasks import AffectedObject, Pacing, PacingMode, PacingTable, TaskFailure, parse_pacing
from openovc.operations import worker as worker_module
from openovc.operations.engine import DEAD_AFTER_MS, ORPHAN_MESSAGE, EndedTasks, TaskEngine
from openovc.operations.worker import Worker
from openovc.storage import tables
from openovc.storage.engine import make_engine, migrate
from openovc.storage.task_store import SqlTaskStore
from openovc.storage.transaction import SqlTxn, write_transaction
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START
from tests.support.waiting import wait_until


def _rename(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    group = txn.get(CLUSTER_GROUPS, payload["id"])
    assert group is not None
    txn.update(CLUSTER_GROUPS, payload["id"], {"name": group["name"] + payload["suffix"]})
    if payload.get("fail"):
        raise TaskFailure(77, "refused after writing")
    if payload.get("crash"):
        raise RuntimeError("bug")
    return [AffectedObject(payload["id"], "cluster_group")]


class Harness:
    def __init__(self, url: str) -> None:
        self.db = make_engine(url)
        migrate(self.db)
        with write_transaction(self.db) as conn:
            SqlTxn(conn).insert(CLUSTER_GROUPS, {"id": "g1", "name": "G", "clusters": []})
        self.clock = ManualClock(START)
        self.pacing = PacingTable()
        self.engine = self.make_engine()

    def make_engine(self) -> TaskEngine:
        engine = TaskEngine(SqlTaskStore(self.db), self.clock, self.pacing, lambda: "vc")
        engine.register("rename", _rename)
        return engine

    def name(self) -> str:
        with write_transaction(self.db) as conn:
            group = SqlTxn(conn).get(CLUSTER_GROUPS, "g1")
        assert group is not None
        return str(group["name"])


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with database_url(request.param, tmp_path) as url:
        built = Harness(url)
        yield built
        built.db.dispose()


def test_immediate_task_is_done_when_submit_returns(harness: Harness) -> None:
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-a"}, ["g1"])
    # What the 202 shows is the task as submitted; the store already has it ended, before any poll.
    assert task["id"].startswith("vc:vc:") and task["state"] == "QUEUED"
    assert harness.name() == "G-a"
    stored = harness.engine.store.get(task["id"])
    assert stored is not None and stored["state"] == "COMPLETED" and stored["end_time"] is not None
    assert stored["affected_objects"] == '[{"object_id":"g1","object_type":"cluster_group"}]'
    assert harness.engine.poll(task["id"]) == stored
    assert harness.engine.run_due() == 0  # nothing was left queued


def test_immediate_task_that_fails_is_recorded_failed(harness: Harness) -> None:
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-f", "fail": True}, ["g1"])
    stored = harness.engine.store.get(task["id"])
    assert stored is not None
    assert (stored["state"], stored["error_code"], stored["message"]) == (
        "FAILED",
        77,
        "refused after writing",
    )
    assert harness.name() == "G"


def test_duration_pacing_and_progress(harness: Harness) -> None:
    harness.pacing.default = Pacing(PacingMode.DURATION, seconds=10)
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-d"}, ["g1"])
    harness.clock.advance(timedelta(seconds=4))
    polled = harness.engine.poll(task["id"])
    assert polled is not None and polled["state"] == "QUEUED"
    assert harness.engine.percent_complete(polled) == 40
    harness.clock.advance(timedelta(seconds=6))
    polled = harness.engine.poll(task["id"])
    assert polled is not None and polled["state"] == "COMPLETED" and harness.name() == "G-d"


def test_poll_pacing(harness: Harness) -> None:
    harness.pacing.by_operation["rename"] = parse_pacing("polls:2")
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-p"}, ["g1"])
    assert harness.engine.poll(task["id"])["state"] == "QUEUED"  # type: ignore[index]
    assert harness.engine.poll(task["id"])["state"] == "COMPLETED"  # type: ignore[index]


def test_operations_on_one_object_run_in_order(harness: Harness) -> None:
    harness.pacing.default = Pacing(PacingMode.DURATION, seconds=5)
    harness.engine.submit("rename", {"id": "g1", "suffix": "-1"}, ["g1"])
    harness.pacing.default = Pacing()
    second = harness.engine.submit("rename", {"id": "g1", "suffix": "-2"}, ["g1"])
    other = harness.engine.submit("rename", {"id": "g1", "suffix": "-x"}, ["another-object"])
    # The second waits for the first although it is due; an unrelated object's task does not wait.
    assert harness.engine.poll(second["id"])["state"] == "QUEUED"  # type: ignore[index]
    assert harness.engine.poll(other["id"])["state"] == "COMPLETED"  # type: ignore[index]
    harness.clock.advance(timedelta(seconds=5))
    assert harness.engine.run_due() == 2
    assert harness.name() == "G-x-1-2"


def test_a_task_on_several_objects_waits_when_any_of_them_is_held(harness: Harness) -> None:
    harness.pacing.default = Pacing(PacingMode.DURATION, seconds=5)
    harness.engine.submit("rename", {"id": "g1", "suffix": "-1"}, ["vm-a", "datastore-1"])
    harness.pacing.default = Pacing()
    waits = harness.engine.submit("rename", {"id": "g1", "suffix": "-2"}, ["vm-b", "datastore-1"])
    free = harness.engine.submit("rename", {"id": "g1", "suffix": "-3"}, ["vm-c", "datastore-2", "x"])
    assert harness.engine.poll(waits["id"])["state"] == "QUEUED"  # type: ignore[index]
    assert harness.engine.poll(free["id"])["state"] == "COMPLETED"  # type: ignore[index]
    harness.clock.advance(timedelta(seconds=5))
    assert harness.engine.run_due() == 2
    assert harness.name() == "G-3-1-2"


def test_object_locks_with_quotes_backslashes_and_accents_are_matched_exactly(harness: Harness) -> None:
    # Name keys hold what clients send: a lock matches only the same text, whatever characters it has.
    odd = 'virtual_machine name a"b\\c\u00e9 [x]'
    harness.pacing.default = Pacing(PacingMode.DURATION, seconds=5)
    harness.engine.submit("rename", {"id": "g1", "suffix": "-1"}, ["vm-a", odd])
    harness.pacing.default = Pacing()
    waits = harness.engine.submit("rename", {"id": "g1", "suffix": "-2"}, ["vm-b", odd])
    near = harness.engine.submit("rename", {"id": "g1", "suffix": "-3"}, ["vm-c", odd[:-1], odd + " "])
    assert harness.engine.poll(waits["id"])["state"] == "QUEUED"  # type: ignore[index]
    assert harness.engine.poll(near["id"])["state"] == "COMPLETED"  # type: ignore[index]
    harness.clock.advance(timedelta(seconds=5))
    assert harness.engine.run_due() == 2
    assert harness.name() == "G-3-1-2"


def test_a_failure_changes_nothing(harness: Harness) -> None:
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-f", "fail": True}, ["g1"])
    polled = harness.engine.poll(task["id"])
    assert polled is not None
    assert (polled["state"], polled["error_code"], polled["message"]) == (
        "FAILED",
        77,
        "refused after writing",
    )
    assert harness.name() == "G"
    crash = harness.engine.submit("rename", {"id": "g1", "suffix": "-c", "crash": True}, ["g1"])
    polled = harness.engine.poll(crash["id"])
    assert polled is not None and polled["state"] == "FAILED" and polled["error_code"] == 500
    assert harness.name() == "G"


def test_a_final_state_is_never_overwritten(harness: Harness) -> None:
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-z"}, ["g1"])
    harness.engine.poll(task["id"])
    store = harness.engine.store
    assert store.fail(task["id"], 1, "late", "2026-11-20T12:00:00Z") is False
    assert harness.engine.run(task["id"]) is False
    assert store.get(task["id"])["state"] == "COMPLETED"  # type: ignore[index]


def test_tasks_of_a_dead_server_fail_and_change_nothing(harness: Harness) -> None:
    harness.pacing.default = Pacing(PacingMode.DURATION, seconds=60)
    dead = harness.engine
    dead.beat()
    orphan = dead.submit("rename", {"id": "g1", "suffix": "-o"}, ["g1"])
    survivor = harness.make_engine()
    survivor.beat()
    assert survivor.recover() == 0  # the first server is still beating
    harness.clock.advance(timedelta(seconds=30))
    survivor.beat()
    assert survivor.recover() == 1
    task = survivor.store.get(orphan["id"])
    assert task is not None and (task["state"], task["error_code"], task["message"]) == (
        "FAILED",
        500,
        ORPHAN_MESSAGE,
    )
    assert harness.name() == "G"


def test_concurrent_runs_never_run_a_task_twice(harness: Harness) -> None:
    tasks = [harness.engine.submit("rename", {"id": "g1", "suffix": "."}, ["g1"]) for _ in range(20)]
    workers = [harness.make_engine() for _ in range(4)]
    threads = [threading.Thread(target=lambda e=e: [e.run_due() for _ in range(10)]) for e in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    harness.engine.run_due()
    assert all(harness.engine.store.get(t["id"])["state"] == "COMPLETED" for t in tasks)  # type: ignore[index]
    assert harness.name() == "G" + "." * 20


def _heartbeat(harness: Harness, instance_id: str) -> int:
    table = tables.server_instances
    with harness.db.connect() as conn:
        beat = conn.execute(select(table.c.heartbeat_ms).where(table.c.id == instance_id)).scalar()
    return int(beat or 0)


def test_a_worker_busy_with_a_long_turn_still_beats(harness: Harness) -> None:
    harness.pacing.default = Pacing(PacingMode.DURATION, seconds=60)
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-b"}, ["g1"])
    busy, release = threading.Event(), threading.Event()

    def long_chore() -> int:
        busy.set()
        release.wait(30)
        return 0

    worker = Worker(harness.engine, alone=False, chores=long_chore)
    worker.start()
    try:
        assert busy.wait(10)
        # Longer than a dead server's silence passes while the worker's turn is still going on...
        harness.clock.advance(timedelta(milliseconds=DEAD_AFTER_MS + 5_000))
        wait_until(
            lambda: _heartbeat(harness, harness.engine.instance_id) >= harness.engine.now_ms(),
            interval=0.05,
            what="a heartbeat while the worker was busy",
        )
        # ...yet its heartbeat went on, so another server does not take it for dead.
        other = harness.make_engine()
        other.beat()
        assert other.recover() == 0
        assert harness.engine.store.get(task["id"])["state"] == "QUEUED"  # type: ignore[index]
    finally:
        release.set()
        worker.stop()


def test_a_task_that_ended_here_is_answered_from_memory(harness: Harness) -> None:
    done = harness.engine.submit("rename", {"id": "g1", "suffix": "-m"}, ["g1"])
    failed = harness.engine.submit("rename", {"id": "g1", "suffix": "-x", "fail": True}, ["g1"])
    for task, state in ((done, "COMPLETED"), (failed, "FAILED")):
        remembered = harness.engine.ended.get(task["id"])
        # What is remembered is what the store holds, field for field.
        assert remembered is not None and remembered["state"] == state
        assert remembered == harness.engine.store.get(task["id"])
    # A poll needs no store for it: another server's engine (no memory of it) reads the same.
    other = harness.make_engine()
    assert other.ended.get(done["id"]) is None
    assert other.poll(done["id"]) == harness.engine.poll(done["id"])
    assert other.ended.get(done["id"]) is not None  # read final once, remembered from then on
    assert harness.engine.ended.get("vc:vc:unknown") is None and harness.engine.poll("vc:vc:unknown") is None


def test_a_queued_task_is_not_remembered_until_it_ends(harness: Harness) -> None:
    harness.pacing.default = Pacing(PacingMode.POLLS, polls=1)
    task = harness.engine.submit("rename", {"id": "g1", "suffix": "-q"}, ["g1"])
    assert harness.engine.ended.get(task["id"]) is None
    assert harness.engine.poll(task["id"])["state"] == "COMPLETED"  # type: ignore[index]
    assert harness.engine.ended.get(task["id"])["state"] == "COMPLETED"  # type: ignore[index]


def test_ended_tasks_memory_is_bounded() -> None:
    memory = EndedTasks(capacity=3)
    for i in range(5):
        memory.remember({"id": f"t{i}", "state": "COMPLETED"})
    assert [memory.get(f"t{i}") is not None for i in range(5)] == [False, False, True, True, True]
    with pytest.raises(AssertionError):
        memory.remember({"id": "q", "state": "QUEUED"})


class _Monotonic:
    """Stands for the `time` module in operations.worker: its idle periods pass only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


class _Turns:
    """Counts the worker loop's turns (each calls run_due once) and records its chores' turns."""

    def __init__(self, engine: TaskEngine, monkeypatch: pytest.MonkeyPatch, clock: _Monotonic) -> None:
        self.loops = 0
        self.chores: list[float] = []
        self._clock = clock
        run_due = engine.run_due

        def counted(limit: int = 50) -> int:
            self.loops += 1
            return run_due(limit)

        monkeypatch.setattr(engine, "run_due", counted)

    def chore_at(self) -> None:
        self.chores.append(self._clock.monotonic())

    def wake_once(self, engine: TaskEngine) -> None:
        """Wake the worker and wait for the loop turn that wakes it (it runs its chores if due)."""
        seen = self.loops
        engine.wake.set()
        wait_until(lambda: self.loops > seen, what="a worker turn after a wake")
        # The turn began with run_due and its chores follow: the next wake finds the turn over.
        wait_until(lambda: not engine.wake.is_set(), what="the worker waiting again")


@contextmanager
def _working(harness: Harness, chores: Callable[[], object]) -> Iterator[Worker]:
    """A worker with these chores and an idle period of 60 s, stopped at the end."""
    worker = Worker(harness.engine, alone=False, idle_seconds=60, chores=chores)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> _Monotonic:
    clock = _Monotonic()
    monkeypatch.setattr(worker_module, "time", clock)
    return clock


def test_the_worker_runs_its_chores_once_per_idle_period_however_often_it_is_woken(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, monotonic: _Monotonic
) -> None:
    turns = _Turns(harness.engine, monkeypatch, monotonic)
    with _working(harness, turns.chore_at):
        wait_until(lambda: turns.chores, what="the worker's first chores")
        # Woken again and again (as tasks queued behind others do) within one idle period: the loop
        # takes a turn each time, the chores none.
        loops = turns.loops
        for _ in range(5):
            turns.wake_once(harness.engine)
        assert turns.loops >= loops + 5
        assert turns.chores == [1_000.0]
        # Once an idle period has passed, the next turn runs them again.
        monotonic.now += 60
        turns.wake_once(harness.engine)
        wait_until(lambda: len(turns.chores) == 2, what="the chores' second turn")
        assert turns.chores == [1_000.0, 1_060.0]


def test_chores_that_found_work_get_the_next_turn_at_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, monotonic: _Monotonic
) -> None:
    turns = _Turns(harness.engine, monkeypatch, monotonic)
    left = [3]

    def chore() -> int:
        turns.chore_at()
        if left[0]:
            left[0] -= 1
            monotonic.now += 60  # the turn took an idle period
            return 1
        return 0

    with _working(harness, chore):
        # Nothing wakes the worker, yet each long turn that found work is followed by another at once,
        # until one finds none; then it waits.
        wait_until(lambda: len(turns.chores) >= 4, what="four turns of chores that found work")
        turns.wake_once(harness.engine)
        assert turns.chores == [1_000.0, 1_060.0, 1_120.0, 1_180.0]


def test_a_quick_turn_that_found_work_waits_out_its_idle_period(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, monotonic: _Monotonic
) -> None:
    turns = _Turns(harness.engine, monkeypatch, monotonic)

    def chore() -> int:
        turns.chore_at()
        return 1

    with _working(harness, chore):
        wait_until(lambda: turns.chores, what="the worker's first chores")
        time.sleep(0.3)  # not a loop of tiny turns: the next waits for the idle period or a wake
        assert turns.chores == [1_000.0]
        monotonic.now += 30
        turns.wake_once(harness.engine)  # woken (a task), it runs them, as before
        assert turns.chores == [1_000.0, 1_030.0]


def test_a_chore_that_fails_after_finding_work_waits_for_the_next_idle_period(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, monotonic: _Monotonic
) -> None:
    turns = _Turns(harness.engine, monkeypatch, monotonic)

    def chore() -> int:
        turns.chore_at()
        if len(turns.chores) == 1:
            monotonic.now += 60  # a long turn that found work: the next comes at once
            return 1
        monotonic.now += 60  # and fails as long after
        raise RuntimeError("the store is unreachable")

    with _working(harness, chore):
        wait_until(lambda: len(turns.chores) >= 2, what="the turn after one that found work")
        # The failure is logged once, not retried in a tight loop: the worker waits to be woken.
        time.sleep(0.3)
        assert turns.chores == [1_000.0, 1_060.0]
        monotonic.now += 60
        turns.wake_once(harness.engine)
        wait_until(lambda: len(turns.chores) == 3, what="the chores' turn after an idle period")
