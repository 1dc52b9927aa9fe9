"""The content ledger's records as rows of the content tables, and back; and the bulk load of a built ledger."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, Table

from openovc.domain.ports.progress import SILENT, Progress
from openovc.simulator.content.ledger import Held, Holder, MemoryLedger, SegmentState, Totals
from openovc.simulator.content.lineage import Inherited, Lineage
from openovc.simulator.content.pieces import Layout, Segment
from openovc.storage import tables
from openovc.storage.batches import insert_batched

# The fields of Totals, which are also the columns of content_totals.
TOTALS = ("uncompressed", "compressed", "pieces", "vm_logical", "local_logical", "remote_logical")
CONTENT_TABLES = (
    tables.content_lineages,
    tables.content_holders,
    tables.content_held,
    tables.content_segments,
    tables.content_shared,
    tables.content_totals,
)


def pack(values: array[int]) -> bytes:
    """An array as a little-endian blob, whatever the machine's byte order."""
    if sys.byteorder != "little":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def unpack(typecode: str, blob: bytes) -> array[int]:
    values = array(typecode)
    values.frombytes(blob)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def _layout_text(layout: Layout) -> str:
    return orjson.dumps(
        [
            [s.seed, s.kind, s.length, s.size_class, s.profile, s.logical, s.compressed]
            for s in layout.segments
        ]
    ).decode()


def _layout(text: str) -> Layout:
    return Layout.of([Segment(*row) for row in orjson.loads(text)])


def _inherited_blob(inherited: Inherited) -> bytes:
    slots = sorted(inherited)
    return b"".join(
        (
            pack(array("I", slots)),
            pack(array("q", (inherited[s][0] for s in slots))),
            pack(array("q", (inherited[s][1] for s in slots))),
            pack(array("I", (inherited[s][2] for s in slots))),
        )
    )


def _inherited(blob: bytes) -> Inherited:
    n = len(blob) // 24
    slots = unpack("I", blob[: 4 * n])
    pieces = unpack("q", blob[4 * n : 12 * n])
    writers = unpack("q", blob[12 * n : 20 * n])
    steps = unpack("I", blob[20 * n :])
    return {slots[i]: (pieces[i], writers[i], steps[i]) for i in range(n)}


def lineage_row(lineage: Lineage) -> dict[str, object]:
    return {
        "lineage_id": lineage.id,
        "layout": _layout_text(lineage.layout),
        "inherited": _inherited_blob(lineage.inherited),
        "starts": pack(lineage.starts),
        "slots": pack(lineage.slots),
        "prevs": pack(lineage.prevs),
        "pieces": pack(lineage.pieces),
        "logical": pack(lineage.logical),
        "forked": lineage.forked,
        "rate": lineage.rate,
    }


def lineage_from_row(row: Mapping[str, Any]) -> Lineage:
    return Lineage(
        row["lineage_id"],
        _layout(row["layout"]),
        _inherited(row["inherited"]),
        starts=unpack("I", row["starts"]),
        slots=unpack("I", row["slots"]),
        prevs=unpack("I", row["prevs"]),
        pieces=unpack("q", row["pieces"]),
        logical=unpack("q", row["logical"]),
        forked=bool(row["forked"]),
        rate=row["rate"],
    )


def holder_row(holder: Holder) -> dict[str, object]:
    # Not its workload's due time: saving a holder (a new version, a move) leaves its workload as it is.
    return {
        "holder_id": holder.id,
        "place": holder.place,
        "lineage_id": holder.lineage,
        "version": holder.version,
        "kind": holder.kind,
    }


def held_row(place: str, lineage_id: int, held: Held) -> dict[str, object]:
    return {
        "place": place,
        "lineage_id": lineage_id,
        "versions": pack(held.versions),
        "counts": pack(held.counts),
    }


def segment_row(place: str, seed: int, state: SegmentState) -> dict[str, object]:
    return {"place": place, "seed": seed, "holders": state.holders, "masks": pack(state.masks)}


def totals_row(place: str, totals: Totals) -> dict[str, object]:
    return {"place": place, **{name: getattr(totals, name) for name in TOTALS}}


def ledger_rows(ledger: MemoryLedger) -> Iterator[tuple[Table, Iterable[dict[str, object]]]]:
    """The ledger's rows, table by table, as bulk_load inserts them."""
    yield tables.content_lineages, (lineage_row(lin) for lin in ledger.lineages.values())
    yield (
        tables.content_holders,
        ({**holder_row(h), "due_at": ledger.workloads.get(h.id)} for h in ledger.holders.values()),
    )
    yield tables.content_held, (held_row(p, lid, held) for (p, lid), held in ledger.helds.items())
    yield tables.content_segments, (segment_row(p, seed, s) for (p, seed), s in ledger.segments.items())
    yield (
        tables.content_shared,
        ({"place": p, "piece": piece, "entry": entry} for p, piece, entry in ledger.shared_rows()),
    )
    yield tables.content_totals, (totals_row(p, t) for p, t in ledger.places.items())


def ledger_row_count(ledger: MemoryLedger) -> int:
    """How many rows bulk_load inserts for the ledger."""
    shared = sum(len(entries) for entries in ledger.shares.values())
    return (
        len(ledger.lineages) + len(ledger.holders) + len(ledger.helds) + len(ledger.segments) + shared
        + len(ledger.places)
    )  # fmt: skip


def bulk_load(
    conn: Connection,
    ledger: MemoryLedger,
    progress: Progress = SILENT,
    insert: Callable[[Connection, Table, Iterable[dict[str, Any]], Progress], None] = insert_batched,
) -> None:
    """Insert a ledger built in memory (the generator's) into empty content tables, in batches."""
    for table, rows in ledger_rows(ledger):
        insert(conn, table, rows, progress)
