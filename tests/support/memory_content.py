"""The brute-force figure check (tests/support/content_check.py) over the in-memory fakes.

`problems(source)` recomputes every VM's, backup's, datastore's, cluster's and host's data figure from
the slot maps of a MemoryFederation's ledger (what it committed), or of a MemoryTxn's (what it would
commit, before or after its `finish()`), and lists those its rows do not show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, cast

from openovc.domain.catalog import (
    BACKUPS,
    DATASTORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    VIRTUAL_MACHINES,
)
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import R, Record
from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.lineage import Lineage
from openovc.simulator.content.pieces import Layout, piece_compressed
from tests.support.content_check import mirror_of_memory, mismatches
from tests.support.content_ops import Mirror
from tests.support.fakes import MemoryFederation, MemoryTxn

# Persistent volumes hold data as VMs do.
FIGURED: tuple[Collection[Any], ...] = (
    VIRTUAL_MACHINES,
    PERSISTENT_VOLUMES,
    BACKUPS,
    DATASTORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
)
Source = MemoryFederation | MemoryTxn


def typed(coll: Collection[R], row: Mapping[str, Any]) -> R:
    """A row as stored (MemoryFederation.rows/row give plain dicts), typed as its collection's rows."""
    del coll  # only its type parameter matters
    return cast(R, row)


def ledger_of(source: Source) -> MemoryLedger:
    """The federation's committed ledger, or the transaction's own copy."""
    ledger = source.content().ledger if isinstance(source, MemoryTxn) else source.ledger
    assert isinstance(ledger, MemoryLedger)
    return ledger


def mirror(source: Source) -> Mirror:
    """Every holder's whole slot map, from the federation's (or the transaction's) ledger: what
    content_check.mirror_of_memory gives (test_simulator_simulated.py checks it), faster."""
    ledger = ledger_of(source)
    found = Mirror()
    for holder in ledger.holders.values():
        found.put(
            holder.id, holder.place, holder.kind, slot_map(ledger.lineages[holder.lineage], holder.version)
        )
    return found


def slot_map(lineage: Lineage, version: int) -> list[int]:
    """Lineage.slot_map, with the version-0 pieces of its segments computed once per layout (a
    layout's pieces are a function of its segments' seeds): the brute force is most of a test's time."""
    pieces = list(_segment_pieces(lineage.layout))
    for slot, (piece, _, _) in lineage.inherited.items():
        pieces[slot] = piece
    for i in range(lineage.starts[version]):
        pieces[lineage.slots[i]] = lineage.pieces[i]
    return pieces


@lru_cache(maxsize=256)
def _segment_pieces(layout: Layout) -> tuple[int, ...]:
    probe = Lineage(0, layout)
    return tuple(probe.segment_piece(s) for s in range(layout.slots))


def brute_mirror(source: Source) -> Mirror:
    """content_check.mirror_of_memory itself (slow)."""
    return mirror_of_memory(ledger_of(source))


def rows(source: Source) -> dict[str, list[Record]]:
    """The collections whose figures follow the content, as stored (JSON values as Python)."""
    if isinstance(source, MemoryTxn):
        return {coll.plural: source.find(coll) for coll in FIGURED}
    return {coll.plural: source.rows(coll) for coll in FIGURED}


def problems(source: Source, *, measured: Iterable[str] = (), slots: Mirror | None = None) -> list[str]:
    """Every figure that differs from the brute force; `measured`: backups whose unique_size_bytes
    must be exact too (the real system keeps what it last measured, so the others may lag);
    `slots`: the source's mirror, when the caller has it already."""
    found_rows = rows(source)
    slots = slots if slots is not None else mirror(source)
    found = mismatches(slots, found_rows, unique_sizes=False)
    backups = {str(b["id"]): b for b in found_rows["backups"]}
    for key in measured:
        if backups[key]["unique_size_bytes"] != slots.unique_size(key):
            found.append(
                f"backup {key} unique {backups[key]['unique_size_bytes']} != {slots.unique_size(key)}"
            )
    return found


def lacked(before: Mirror, after: Mirror, holder_id: str, place: str) -> int:
    """Compressed bytes of a new holder's pieces its place did not store before: what it sent there."""
    stored: set[int] = set().union(*(before.maps[h] for h, p in before.place.items() if p == place))
    return sum(piece_compressed(p) for p in set(after.maps[holder_id]) - stored)


def unchanged(fed: MemoryFederation) -> tuple[object, ...]:
    """Everything a task that failed must have left as it was: the objects, the operations state, the
    content (holders, workloads, places' totals) and the count of commits. (Shallow copies: a
    MemoryFederation replaces the records a transaction changed, never changes them in place.)"""
    ledger = fed.ledger
    return (
        {plural: dict(stored) for plural, stored in fed.collections.items()},
        fed.data.copy(),
        dict(ledger.holders),
        dict(ledger.workloads),
        {place: totals.copy() for place, totals in ledger.places.items()},
        fed.commits,
    )
