"""How long tasks take, changeable at run time (/_openovc/pacing) for every process sharing the store.

The table set at run time is stored in OPENOVC_TASK_PACING's syntax; without one each process uses its
start-up setting. Each process re-reads it at most every `FRESH_S` seconds, as it does the clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from openovc.domain.errors import InvalidBody
from openovc.domain.ports.faults import PacingStore
from openovc.domain.tasks import Pacing, PacingMode, PacingTable, parse_pacing, parse_pacing_table
from openovc.services.clock import FRESH_S


def pacing_text(pacing: Pacing) -> str:
    """A pacing as OPENOVC_TASK_PACING writes it."""
    if pacing.mode is PacingMode.DURATION:
        jitter = f":{pacing.jitter:g}" if pacing.jitter else ""
        return f"duration:{pacing.seconds:g}{jitter}"
    if pacing.mode is PacingMode.POLLS:
        return f"polls:{pacing.polls}"
    return "immediate"


def table_text(table: PacingTable) -> str:
    parts = [pacing_text(table.default)]
    parts += [f"{name}={pacing_text(p)}" for name, p in sorted(table.by_operation.items())]
    return ",".join(parts)


class SharedPacing(PacingTable):
    """The task engine's pacing: the table set at run time when there is one, else this table's own
    fields (the start-up setting, which tests may change in place)."""

    def __init__(self, store: PacingStore, startup: PacingTable) -> None:
        super().__init__(startup.default, startup.by_operation)
        self._store = store
        self._lock = threading.Lock()
        self._text: str | None = None
        self._run_time: PacingTable | None = None
        self._read_at = -math.inf

    def for_operation(self, operation: str) -> Pacing:
        table = self.set_at_run_time()
        return super().for_operation(operation) if table is None else table.for_operation(operation)

    def set_at_run_time(self) -> PacingTable | None:
        """The table set at run time, as fresh as FRESH_S; None: the start-up one holds."""
        if time.monotonic() - self._read_at < FRESH_S:
            return self._run_time
        with self._lock:
            text = self._store.load()
            if text != self._text:
                self._run_time = None if text is None else parse_pacing_table(text)
                self._text = text
            self._read_at = time.monotonic()
            return self._run_time

    def show(self) -> dict[str, Any]:
        table = self.set_at_run_time()
        shown = self if table is None else table
        return {
            "default": pacing_text(shown.default),
            "operations": {name: pacing_text(p) for name, p in sorted(shown.by_operation.items())},
            "set_at_run_time": table is not None,
        }

    def put(self, body: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
        """Replace the table: {"default": PACING, "operations": {OPERATION: PACING}}, where each
        OPERATION is one of `known`, the operations the engine runs."""
        for key in body:
            if key not in ("default", "operations"):
                raise InvalidBody(f"Invalid body: {key}: unknown field; expected default, operations")
        table = PacingTable(default=_pacing(body.get("default"), "default"))
        raw = body.get("operations", {})
        if not isinstance(raw, dict):
            raise InvalidBody(
                f"Invalid body: operations: must be an object of pacings by operation, got {raw!r}"
            )
        names = sorted(known)
        for name, value in raw.items():
            if name not in names:
                raise InvalidBody(
                    f"Invalid body: operations.{name}: unknown operation; expected one of {', '.join(names)}"
                )
            table.by_operation[name] = _pacing(value, f"operations.{name}")
        self._save(table_text(table))
        return self.show()

    def reset(self) -> dict[str, Any]:
        """Back to each process's start-up pacing."""
        self._save(None)
        return self.show()

    def _save(self, text: str | None) -> None:
        self._store.save(text)
        with self._lock:
            self._read_at = -math.inf
        time.sleep(2 * FRESH_S)  # every other process has let go of the table it read


def _pacing(value: object, where: str) -> Pacing:
    if value is None:
        raise InvalidBody(
            f"Invalid body: {where}: Field required (immediate, duration:SECONDS[:JITTER] or polls:N)"
        )
    if not isinstance(value, str):
        raise InvalidBody(f"Invalid body: {where}: must be a string such as duration:20:0.3, got {value!r}")
    try:
        return parse_pacing(value)
    except ValueError as problem:
        raise InvalidBody(f"Invalid body: {where}: {problem}") from None
