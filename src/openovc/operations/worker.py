"""The background worker: runs due tasks nobody polls, beats, and fails the tasks of dead servers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from openovc.operations.engine import HEARTBEAT_MS, TaskEngine

log = logging.getLogger(__name__)


def every(*chores: Callable[[], int]) -> Callable[[], int]:
    """One chore that runs each of these in turn; how many changes they made together."""

    def run() -> int:
        return sum(chore() for chore in chores)

    return run


class Worker:
    """Two threads per server process: one does the work, one beats.

    The heartbeat has its own thread so that a long turn of work (many due tasks, a long chore, a wait
    for the store's lock) never makes a live server look dead to the others, which would fail its tasks.
    """

    def __init__(
        self,
        engine: TaskEngine,
        *,
        alone: bool,
        idle_seconds: float = 0.25,
        chores: Callable[[], object] | None = None,
    ) -> None:
        self.engine = engine
        # Time-driven changes no task carries (backups finishing a send, expiring), run each turn.
        self.chores = chores
        self.alone = alone
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # Before serving: the tasks a previous run of this server accepted and never finished fail now.
        self.engine.beat()
        self.engine.recover(alone=self.alone)
        self._threads = [
            threading.Thread(target=self._loop, name="openovc-tasks", daemon=True),
            threading.Thread(target=self._beat, name="openovc-heartbeat", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.engine.wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.engine.store.leave(self.engine.instance_id)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_MS / 1000):
            try:
                self.engine.beat()
            except Exception:
                log.exception("heartbeat failed")

    def _chores_due(self, last_chores: float, busy: bool) -> bool:
        # Tasks wake the loop many times a second under load; the chores' time-driven changes need a
        # turn only once per idle period, unless the last turn changed something (more may be waiting).
        return busy or time.monotonic() - last_chores >= self.idle_seconds

    def _idle_for(self, last_chores: float, busy: bool) -> float:
        # Left alone, chores that found work turn again an idle period after their last turn began: at
        # once when that turn took as long (a schedule behind a fast clock, with more waiting).
        if not busy:
            return self.idle_seconds
        return max(0.0, self.idle_seconds - (time.monotonic() - last_chores))

    def _loop(self) -> None:
        last_check = 0
        last_chores, chores_busy = 0.0, False
        while not self._stop.is_set():
            try:
                now = self.engine.wall_ms()
                if now - last_check >= HEARTBEAT_MS:
                    self.engine.recover()
                    last_check = now
                ran = self.engine.run_due()
                if self.chores is not None and self._chores_due(last_chores, chores_busy):
                    last_chores = time.monotonic()
                    chores_busy = bool(self.chores())
            except Exception:
                log.exception("task worker iteration failed")
                ran, chores_busy = 0, False  # a failing chore is not retried at once
            if not ran:
                self.engine.wake.wait(self._idle_for(last_chores, chores_busy))
                self.engine.wake.clear()
