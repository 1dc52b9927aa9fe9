"""Snapshots of the whole federation: their names, what one holds, and the errors of the controls."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from openovc.domain.errors import InvalidBody, ObjectNotFound, OmniStackError

MAX_NAME = 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME_RULE = f"1 to {MAX_NAME} letters, digits, '.', '_' or '-', starting with a letter or a digit"


def name_problem(name: object) -> str | None:
    """Why `name` cannot name a snapshot, or None when it can (it is also a file name and a path part)."""
    if not isinstance(name, str):
        return f"must be a string, got {name!r}"
    if not name or len(name) > MAX_NAME or _NAME.match(name) is None:
        return f"expected {NAME_RULE}; got {name!r}"
    return None


@dataclass(frozen=True)
class EncodedTable:
    """One table of a snapshot file, encoded ahead: its columns as (name, kind), its rows, its frames."""

    columns: tuple[tuple[str, str], ...]
    rows: int
    frames: tuple[bytes, ...]


@dataclass(frozen=True)
class SnapshotClock:
    """The federation's clock as a snapshot holds it: its mode, and the simulated instant it was saved at."""

    mode: str | None  # None: no server had set the clock yet (it then ran on real time)
    now: str
    rate: float = 1.0

    def as_json(self) -> dict[str, object]:
        shown = self.mode if self.mode != "accelerated" else f"accelerated:{self.rate:g}"
        return {"mode": shown or "real", "now": self.now}


@dataclass(frozen=True)
class SnapshotSummary:
    """What a snapshot holds: when it was saved (real time), the clock it holds, its objects and size."""

    name: str
    created_at: str
    clock: SnapshotClock
    counts: dict[str, int]
    size: int
    schema_revision: str
    format_version: int = 1
    tables: dict[str, int] = field(default_factory=dict)  # rows per stored table

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "created_at": self.created_at,
            "clock": self.clock.as_json(),
            "counts": dict(self.counts),
            "rows": sum(self.tables.values()),
            "size": self.size,
            "schema_revision": self.schema_revision,
            "format_version": self.format_version,
        }


class SnapshotNotFound(ObjectNotFound):
    """No snapshot has this name."""

    def __init__(self, name: str) -> None:
        super().__init__("snapshot", name)


class SnapshotExists(OmniStackError):
    """A snapshot of this name exists already."""

    status = 409
    exception = "com.simplivity.restapi.exceptions.ObjectAlreadyExistsException"

    def __init__(self, name: str) -> None:
        super().__init__(f"A snapshot named {name!r} exists already; delete it first or choose another name")


class NoInitialFederation(OmniStackError):
    """Reset has nothing to go back to."""

    status = 409
    exception = "com.simplivity.restapi.exceptions.InvalidStateException"


class SnapshotFileRefused(InvalidBody):
    """A file that is not a snapshot this server can import (damaged, foreign, or newer): nothing changed."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"Invalid body: {problem}")
