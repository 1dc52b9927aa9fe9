"""The federation's clock over a store: its modes, starting over a stored clock, moves, and their refusals."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from openovc.domain.clock import ClockState, ManualClock, parse_clock_mode
from openovc.domain.errors import InvalidBody
from openovc.domain.timefmt import epoch_ms
from openovc.services import clock as shared
from openovc.services.clock import ClockConflict, SharedClock

REAL = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class MemoryClockStore:
    """The ClockStore port in memory; `lose` makes the next saves fail as if another process won."""

    def __init__(self) -> None:
        self.stored: ClockState | None = None
        self.lose = 0

    def load(self) -> ClockState | None:
        return self.stored

    def save(self, state: ClockState, expected: ClockState | None) -> bool:
        if self.lose:
            self.lose -= 1
            return False
        if self.stored != expected:
            return False
        self.stored = state
        return True


@pytest.fixture(autouse=True)
def always_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read goes to the store, as a change made by another process would be seen."""
    monkeypatch.setattr(shared, "FRESH_S", 0.0)


def _clock(store: MemoryClockStore | None = None) -> tuple[SharedClock, ManualClock, MemoryClockStore]:
    real = ManualClock(REAL)
    found = store or MemoryClockStore()
    return SharedClock(found, real), real, found


def test_a_store_without_a_clock_runs_in_real_time() -> None:
    clock, real, store = _clock()
    assert clock.now() == REAL and store.stored is None
    real.advance(timedelta(minutes=3))
    assert clock.now() == REAL + timedelta(minutes=3)


def test_each_mode_runs_as_it_says() -> None:
    clock, real, _ = _clock()
    clock.start("manual:2027-01-04T00:30:00Z")
    real.advance(timedelta(hours=1))
    assert clock.now() == datetime(2027, 1, 4, 0, 30, tzinfo=UTC)
    clock, real, _ = _clock()
    clock.start("accelerated:60")
    real.advance(timedelta(minutes=2))
    assert clock.now() == REAL + timedelta(hours=2)
    assert clock.state().as_json(clock.real_ms()) == {"mode": "accelerated:60", "now": "2026-12-06T14:00:00Z"}


def test_a_restart_keeps_the_stored_time_and_takes_the_new_pace() -> None:
    clock, _, store = _clock()
    clock.start("manual:2027-01-04T00:00:00Z")
    again, _, _ = _clock(store)  # another process, or the same store after a restart
    again.start("manual")  # a plain manual start does not move a stored clock back to real now
    assert again.now() == datetime(2027, 1, 4, tzinfo=UTC)
    again.start("real")  # from the stored instant on, at real pace
    real_after = ManualClock(REAL + timedelta(minutes=5))
    third = SharedClock(store, real_after)
    assert third.now() == datetime(2027, 1, 4, 0, 5, tzinfo=UTC)
    assert clock.now() == datetime(2027, 1, 4, tzinfo=UTC)  # same real instant as the start: no time passed


def test_a_later_manual_start_moves_the_clock_on_and_an_earlier_one_does_not() -> None:
    clock, _, store = _clock()
    clock.start("manual:2027-01-04T00:00:00Z")
    clock.start("manual:2027-01-05T00:00:00Z")
    assert clock.now() == datetime(2027, 1, 5, tzinfo=UTC)
    clock.start("manual:2027-01-01T00:00:00Z")
    assert clock.now() == datetime(2027, 1, 5, tzinfo=UTC)
    assert store.stored is not None and store.stored.version == 1


def test_moves_go_forward_only_and_keep_the_pace() -> None:
    clock, real, store = _clock()
    clock.start("accelerated:10")
    target = epoch_ms(REAL + timedelta(days=3))
    moved = clock.move_to(target)
    assert moved.mode == "accelerated" and clock.now_ms() == target
    real.advance(timedelta(seconds=6))
    assert clock.now() == REAL + timedelta(days=3, minutes=1)
    with pytest.raises(InvalidBody) as refused:
        clock.move_to(target)
    assert refused.value.message == (
        "Invalid body: the clock cannot go back from 2026-12-09T12:01:00Z to 2026-12-09T12:00:00Z"
    )
    assert store.stored == moved


def test_a_move_that_keeps_losing_the_race_says_so() -> None:
    clock, _, store = _clock()
    clock.start("manual")
    store.lose = 50
    with pytest.raises(ClockConflict):
        clock.move_to(clock.now_ms() + 1000)
    store.lose = 3  # a few lost races are retried
    assert clock.move_to(clock.now_ms() + 1000).anchor_ms == epoch_ms(REAL) + 1000


def test_while_a_move_passes_its_instants_this_process_reads_them_and_the_store_only_the_end() -> None:
    clock, _, store = _clock()
    clock.start("manual")
    before = store.stored
    with clock.passing() as pass_to:
        pass_to(epoch_ms(REAL) + 60_000)
        assert clock.now() == REAL + timedelta(minutes=1) and store.stored == before
        pass_to(epoch_ms(REAL) + 30_000)  # never backwards, even inside
        assert clock.now() == REAL + timedelta(minutes=1)
    assert clock.now() == REAL


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "clock mode must be real, manual, manual:<time> or accelerated:<factor>; got ''"),
        ("sundial", "clock mode must be real, manual, manual:<time> or accelerated:<factor>; got 'sundial'"),
        ("real:2027-01-01T00:00:00Z", "clock mode must be real, manual, manual:<time> or accelerated:<factor>; "
                                      "got 'real:2027-01-01T00:00:00Z'"),
        ("manual:tomorrow", "expected a time such as 2027-01-04T00:30:00Z; got 'tomorrow'"),
        ("manual:2027-01-04T00:30:00", "the time must name its offset (Z or +hh:mm); got '2027-01-04T00:30:00'"),
        ("accelerated", "accelerated needs a speed-up factor, as in accelerated:60; got 'accelerated'"),
        ("accelerated:0", "the speed-up factor must be above 0 and at most 1000000; got '0'"),
        ("accelerated:nan", "the speed-up factor must be above 0 and at most 1000000; got 'nan'"),
    ],
)  # fmt: skip
def test_bad_modes_are_refused_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_clock_mode(text, 0)
    assert str(refused.value) == problem
    clock, _, store = _clock()
    with pytest.raises(InvalidBody) as invalid:
        clock.start(text)
    assert invalid.value.message == f"Invalid clock: {problem}" and store.stored is None


class SlowClockStore(MemoryClockStore):
    """Its second load waits until released, as a read of the store held up by a busy writer would."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def load(self) -> ClockState | None:
        self.loads += 1
        if self.loads == 2:
            self.entered.set()
            assert self.release.wait(10), "the test released the load"
        return self.stored


def test_one_thread_reads_a_stale_clock_while_others_take_what_it_read_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared, "FRESH_S", 10.0)  # long: a stalled test machine cannot age it by mistake
    store = SlowClockStore()
    clock, _real, _ = _clock(store)
    first = clock.start(f"manual:{REAL.isoformat()}")
    assert store.loads == 1
    clock._read_at = time.monotonic() - 12  # stale, younger than 1.5 times FRESH_S
    reading = threading.Thread(target=clock.state)
    reading.start()
    assert store.entered.wait(10)
    assert clock.state() == first  # the other thread is reading: no second read
    assert store.loads == 2
    clock._read_at = time.monotonic() - 16  # too old even while another thread reads it
    assert clock.state() == first
    assert store.loads == 3
    store.release.set()
    reading.join(10)
    assert not reading.is_alive()
    assert clock.state() == first and store.loads == 3  # fresh again from the reads that ended
