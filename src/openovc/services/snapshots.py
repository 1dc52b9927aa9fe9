"""The snapshot controls of /_openovc/snapshots and /_openovc/reset: save, list, restore, delete, export, import.

They are synchronous: a restore answers once the federation is replaced and every server process on the
store will see it (they read the restores' count with the clock, and forget what they remembered), as
a clock change answers once every process will read the new time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from openovc.domain.errors import InvalidBody, InvalidParameter
from openovc.domain.ports.snapshots import Restored, SnapshotStore
from openovc.domain.snapshots import (
    NAME_RULE,
    EncodedTable,
    NoInitialFederation,
    SnapshotFileRefused,
    SnapshotNotFound,
    SnapshotSummary,
    name_problem,
)
from openovc.services.clock import SharedClock

INITIAL = "initial"


class Snapshots:
    """What the snapshot controls do. `owner`: this server's task-engine instance, which takes the queued
    tasks a restore brings back; `forget`: clears what this process remembers of the federation."""

    def __init__(
        self, store: SnapshotStore, clock: SharedClock, owner: str, forget: Callable[[], None]
    ) -> None:
        self.store = store
        self._clock = clock
        self._owner = owner
        self._forget = forget

    def saved(self) -> dict[str, object]:
        return {"snapshots": [s.as_json() for s in self.store.saved()]}

    def show(self, name: str) -> dict[str, object]:
        return self._found(name).as_json()

    def save(self, body: Mapping[str, object]) -> dict[str, object]:
        if "name" not in body:
            raise InvalidBody(f"Invalid body: name: Field required (a snapshot's name: {NAME_RULE})")
        problem = name_problem(body["name"])
        if problem is not None:
            raise InvalidBody(f"Invalid body: name: {problem}")
        return self.store.save(str(body["name"])).as_json()

    def restore(self, name: str) -> dict[str, object]:
        if name_problem(name) is not None:
            raise SnapshotNotFound(name)
        return self._restored(self.store.restore(name, self._owner), name)

    def reset(self) -> dict[str, object]:
        """Back to the federation init or the first start loaded (kept then as the initial snapshot)."""
        restored = self.store.restore(None, self._owner)
        if restored is None:
            raise NoInitialFederation(
                "No initial federation is kept in this store (it was loaded before snapshots existed, "
                "or by other means); save a snapshot and restore it instead, or run openovc init --force"
            )
        return self._restored(restored, INITIAL)

    def _restored(self, restored: Restored | None, name: str) -> dict[str, object]:
        if restored is None:
            raise SnapshotNotFound(name)
        self._forget()
        self._clock.settle()  # every process now reads the restored clock, and the restores' count with it
        summary = restored.summary
        return {
            "name": name,
            "counts": summary.counts,
            "rows": restored.rows,
            "clock": self._clock.state().as_json(self._clock.real_ms()),
        }

    def delete(self, name: str) -> dict[str, object]:
        if name_problem(name) is not None:
            raise SnapshotNotFound(name)
        gone = self.store.delete(name)
        if gone is None:
            raise SnapshotNotFound(name)
        return gone.as_json()

    def export(self, name: str) -> bytes:
        if name_problem(name) is not None:
            raise SnapshotNotFound(name)
        data = self.store.export(name)
        if data is None:
            raise SnapshotNotFound(name)
        return data

    def import_file(self, data: bytes, name: str | None) -> dict[str, object]:
        if name is not None:
            problem = name_problem(name)
            if problem is not None:
                raise InvalidParameter(f"Invalid value for parameter 'name': {problem}")
        if not data:
            raise SnapshotFileRefused("expected a snapshot file, got an empty body")
        return self.store.import_file(data, name).as_json()

    def keep_initial(self, encoded: Mapping[str, EncodedTable] | None = None) -> SnapshotSummary:
        """Keep the federation as it is now as the one reset goes back to (init and the first start)."""
        return self.store.keep_initial(encoded)

    def _found(self, name: str) -> SnapshotSummary:
        found = self.store.get(name) if name_problem(name) is None else None
        if found is None:
            raise SnapshotNotFound(name)
        return found
