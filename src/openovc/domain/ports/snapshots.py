"""Where snapshots of the federation are kept, and how one replaces the stored federation; storage implements it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from openovc.domain.snapshots import EncodedTable, SnapshotSummary


@dataclass(frozen=True)
class Restored:
    """What a restore wrote: the snapshot's summary, and the rows that replaced the federation's."""

    summary: SnapshotSummary
    rows: int


class SnapshotStore(Protocol):
    """Snapshots kept in the store. `initial` is the federation as init or the first start loaded it,
    which reset goes back to; it is kept apart from the named snapshots and is not listed among them."""

    def saved(self) -> list[SnapshotSummary]:
        """The named snapshots, by name."""
        ...

    def get(self, name: str) -> SnapshotSummary | None: ...

    def save(self, name: str) -> SnapshotSummary:
        """Save the federation as it is now (one consistent read); SnapshotExists if the name is taken."""
        ...

    def keep_initial(self, encoded: Mapping[str, EncodedTable] | None = None) -> SnapshotSummary:
        """Save the federation as the one reset goes back to, replacing any kept before; `encoded`: its
        tables as the load encoded them ahead (Storage.load), taken in place of reading them back."""
        ...

    def restore(self, name: str | None, owner: str) -> Restored | None:
        """Replace the federation by a snapshot's (None: the initial one) in one transaction; None when
        there is no such snapshot. The clock goes back to the snapshot's; users and tokens stay. Tasks
        it holds still queued become `owner`'s, the restoring server's."""
        ...

    def delete(self, name: str) -> SnapshotSummary | None: ...

    def export(self, name: str) -> bytes | None:
        """The snapshot as a file (see storage/snapshot_file.py), or None when there is none."""
        ...

    def import_file(self, data: bytes, name: str | None) -> SnapshotSummary:
        """Keep a snapshot file under `name` (None: the name it was saved under); SnapshotFileRefused for
        a damaged, foreign or newer file, SnapshotExists if the name is taken. Nothing changes on refusal."""
        ...

    def generation(self) -> int:
        """How many restores the store has seen: a server whose caches hold an older one forgets them."""
        ...
