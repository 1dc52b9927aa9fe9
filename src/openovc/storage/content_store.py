"""The content model's ledger in the database: implements domain.content_ledger.PieceLedger on a connection."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from openovc.simulator.content.ledger import Held, Holder, MemoryLedger, SegmentState, SharedEntry, Totals
from openovc.simulator.content.lineage import Inherited, Lineage
from openovc.simulator.content.pieces import Layout, Segment
from openovc.storage import tables
from openovc.storage.batches import insert_batched
from openovc.storage.prepared import Prepared, equal_to_binds

_IN_CHUNK = 500  # pieces per IN (...) list: well under both engines' parameter limits
_TOTALS = ("uncompressed", "compressed", "pieces", "vm_logical", "local_logical", "remote_logical")


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


def _lineage(row: Mapping[str, Any]) -> Lineage:
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


def _holder_row(holder: Holder) -> dict[str, object]:
    # Not its workload's due time: saving a holder (a new version, a move) leaves its workload as it is.
    return {
        "holder_id": holder.id,
        "place": holder.place,
        "lineage_id": holder.lineage,
        "version": holder.version,
        "kind": holder.kind,
    }


def _held_row(place: str, lineage_id: int, held: Held) -> dict[str, object]:
    return {
        "place": place,
        "lineage_id": lineage_id,
        "versions": pack(held.versions),
        "counts": pack(held.counts),
    }


def _segment_row(place: str, seed: int, state: SegmentState) -> dict[str, object]:
    return {"place": place, "seed": seed, "holders": state.holders, "masks": pack(state.masks)}


def _totals_row(place: str, totals: Totals) -> dict[str, object]:
    return {"place": place, **{name: getattr(totals, name) for name in _TOTALS}}


def _by(table: Table, *keys: str) -> Prepared:
    """`table`'s rows whose `keys` equal the bind parameters of the same names."""
    return Prepared(select(table).where(*equal_to_binds(table, keys)))


_LINEAGE = _by(tables.content_lineages, "lineage_id")
_HOLDER = _by(tables.content_holders, "holder_id")
_HELD = _by(tables.content_held, "place", "lineage_id")
_TOTALS_OF = _by(tables.content_totals, "place")


def _gone(table: Table, *keys: str) -> Prepared:
    """DELETE of `table`'s rows whose `keys` equal the bind parameters of the same names."""
    return Prepared(delete(table).where(*equal_to_binds(table, keys)))


_WORKLOAD_DUE = Prepared(
    select(tables.content_holders.c.due_at).where(*equal_to_binds(tables.content_holders, ["holder_id"]))
)
_SET_WORKLOAD_DUE = Prepared(
    update(tables.content_holders)
    .where(tables.content_holders.c.holder_id == bindparam("holder_id"))
    .values(due_at=bindparam("due_at"))
)
_DROP_HOLDER = _gone(tables.content_holders, "holder_id")
_DROP_HELD = _gone(tables.content_held, "place", "lineage_id")
_DROP_SEGMENT = _gone(tables.content_segments, "place", "seed")

# SQLite: built once, with an expanding list (a statement per list length would be compiled anew each
# time), in chunks. PostgreSQL: one array parameter, so one prepared statement serves every length,
# and the upsert of any number of pieces is one statement, not one per piece.
_SHARED = select(tables.content_shared.c.piece, tables.content_shared.c.entry).where(
    tables.content_shared.c.place == bindparam("at"),
    tables.content_shared.c.piece.in_(bindparam("pieces", expanding=True)),
)
_DELETE_SHARED = delete(tables.content_shared).where(
    tables.content_shared.c.place == bindparam("at"),
    tables.content_shared.c.piece.in_(bindparam("pieces", expanding=True)),
)
_SEGMENTS = select(
    tables.content_segments.c.seed, tables.content_segments.c.holders, tables.content_segments.c.masks
).where(
    tables.content_segments.c.place == bindparam("at"),
    tables.content_segments.c.seed.in_(bindparam("seeds", expanding=True)),
)
_PG_SEGMENTS = Prepared(
    text(
        "SELECT seed, holders, masks FROM content_segments"
        " WHERE place = :at AND seed = ANY(CAST(:seeds AS bigint[]))"
    )
)
_PG_SHARED = Prepared(
    text(
        "SELECT piece, entry FROM content_shared WHERE place = :at AND piece = ANY(CAST(:pieces AS bigint[]))"
    )
)
_PG_DELETE_SHARED = Prepared(
    text("DELETE FROM content_shared WHERE place = :at AND piece = ANY(CAST(:pieces AS bigint[]))")
)
_PG_PUT_SHARED = Prepared(
    text(
        "INSERT INTO content_shared (place, piece, entry)"
        " SELECT :at, u.piece, u.entry"
        " FROM unnest(CAST(:pieces AS bigint[]), CAST(:entries AS bigint[])) AS u(piece, entry)"
        " ON CONFLICT (place, piece) DO UPDATE SET entry = EXCLUDED.entry"
    )
)


@lru_cache(maxsize=64)
def _put_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Prepared:
    """INSERT of a row, or UPDATE of its other columns where its key exists: one statement, built once
    per engine, table and set of columns (both engines speak INSERT ... ON CONFLICT DO UPDATE)."""
    keys = [c.name for c in table.primary_key.columns]
    upsert = sqlite_insert(table) if dialect == "sqlite" else postgresql_insert(table)
    changed = {c: upsert.excluded[c] for c in columns if c not in keys}
    if not changed:
        return Prepared(upsert.on_conflict_do_nothing(index_elements=keys), columns)
    return Prepared(upsert.on_conflict_do_update(index_elements=keys, set_=changed), columns)


class SqlPieceLedger:
    """PieceLedger over an open connection, inside the caller's transaction.

    Rows are remembered once read or written (lineages as rows, so that each read builds a fresh
    Lineage the caller may change): an operation reads them again and again, and within its
    transaction every change to them comes through this ledger.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._holders: dict[str, Holder | None] = {}
        self._totals: dict[str, Totals] = {}
        self._lineages: dict[int, Mapping[str, Any] | None] = {}
        self._helds: dict[tuple[str, int], Held] = {}
        self._segments: dict[tuple[str, int], SegmentState | None] = {}

    def _row(self, statement: Prepared, **keys: object) -> Mapping[str, Any] | None:
        found = statement.rows(self.conn, keys)
        return found[0] if found else None

    def _put(self, table: Table, row: dict[str, object]) -> None:
        _put_statement(self.conn.dialect.name, table, tuple(row)).run(self.conn, row)

    def lineage(self, lineage_id: int) -> Lineage | None:
        if lineage_id not in self._lineages:
            self._lineages[lineage_id] = self._row(_LINEAGE, lineage_id=lineage_id)
        row = self._lineages[lineage_id]
        return _lineage(row) if row is not None else None

    def save_lineage(self, lineage: Lineage) -> None:
        row = lineage_row(lineage)
        self._put(tables.content_lineages, row)
        self._lineages[lineage.id] = row

    def holder(self, holder_id: str) -> Holder | None:
        if holder_id in self._holders:
            return self._holders[holder_id]
        row = self._row(_HOLDER, holder_id=holder_id)
        found = (
            None
            if row is None
            else Holder(row["holder_id"], row["place"], row["lineage_id"], row["version"], row["kind"])
        )
        self._holders[holder_id] = found
        return found

    def save_holder(self, holder: Holder) -> None:
        self._put(tables.content_holders, _holder_row(holder))
        self._holders[holder.id] = holder

    def drop_holder(self, holder_id: str) -> None:
        _DROP_HOLDER.run(self.conn, {"holder_id": holder_id})
        self._holders[holder_id] = None

    def held(self, place: str, lineage_id: int) -> Held:
        # Held is immutable: the remembered one can be handed out.
        key = (place, lineage_id)
        if key not in self._helds:
            row = self._row(_HELD, place=place, lineage_id=lineage_id)
            self._helds[key] = (
                Held(unpack("I", row["versions"]), unpack("I", row["counts"])) if row is not None else Held()
            )
        return self._helds[key]

    def save_held(self, place: str, lineage_id: int, held: Held) -> None:
        t = tables.content_held
        self._helds[(place, lineage_id)] = held
        if held:
            self._put(t, _held_row(place, lineage_id, held))
        else:
            _DROP_HELD.run(self.conn, {"place": place, "lineage_id": lineage_id})

    def segment_states(self, place: str, seeds: Collection[int]) -> dict[int, SegmentState]:
        missing = [seed for seed in seeds if (place, seed) not in self._segments]
        if missing:
            if self.conn.dialect.name == "postgresql":
                rows = _PG_SEGMENTS.tuples(self.conn, {"at": place, "seeds": missing})
            else:
                rows = [tuple(r) for r in self.conn.execute(_SEGMENTS, {"at": place, "seeds": missing})]
            found = {seed: SegmentState(holders, unpack("I", masks)) for seed, holders, masks in rows}
            for seed in missing:
                self._segments[(place, seed)] = found.get(seed)
        # Not copies: the model copies what it will change (see PieceLedger).
        return {seed: state for seed in seeds if (state := self._segments[(place, seed)]) is not None}

    def save_segment(self, place: str, seed: int, state: SegmentState | None) -> None:
        t = tables.content_segments
        self._segments[(place, seed)] = state.copy() if state is not None else None
        if state is None:
            _DROP_SEGMENT.run(self.conn, {"place": place, "seed": seed})
        else:
            self._put(t, _segment_row(place, seed, state))

    def shared(self, place: str, pieces: Collection[int]) -> dict[int, SharedEntry]:
        wanted = list(pieces)
        if not wanted:
            return {}
        if self.conn.dialect.name == "postgresql":
            rows = _PG_SHARED.tuples(self.conn, {"at": place, "pieces": wanted})
            return dict(rows)
        found: dict[int, SharedEntry] = {}
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = {"at": place, "pieces": wanted[i : i + _IN_CHUNK]}
            found.update((row.piece, row.entry) for row in self.conn.execute(_SHARED, chunk))
        return found

    def save_shared(self, place: str, entries: Mapping[int, SharedEntry]) -> None:
        gone = [p for p, e in entries.items() if not e]
        kept = [(p, e) for p, e in entries.items() if e]
        if self.conn.dialect.name == "postgresql":
            if gone:
                _PG_DELETE_SHARED.run(self.conn, {"at": place, "pieces": gone})
            if kept:
                pieces, values = zip(*kept, strict=True)
                _PG_PUT_SHARED.run(self.conn, {"at": place, "pieces": list(pieces), "entries": list(values)})
            return
        for i in range(0, len(gone), _IN_CHUNK):
            self.conn.execute(_DELETE_SHARED, {"at": place, "pieces": gone[i : i + _IN_CHUNK]})
        if kept:
            # One statement run for many rows: an operation writes tens of pieces.
            _put_statement(
                self.conn.dialect.name, tables.content_shared, ("place", "piece", "entry")
            ).run_many(self.conn, [{"place": place, "piece": p, "entry": e} for p, e in kept])

    def totals(self, place: str) -> Totals:
        if place not in self._totals:
            row = self._row(_TOTALS_OF, place=place)
            self._totals[place] = Totals(*(row[n] for n in _TOTALS)) if row is not None else Totals()
        return replace(self._totals[place])  # a copy: Totals can change in place

    def save_totals(self, place: str, totals: Totals) -> None:
        self._put(tables.content_totals, _totals_row(place, totals))
        self._totals[place] = replace(totals)

    def workload_due(self, holder_id: str) -> int | None:
        found = _WORKLOAD_DUE.tuples(self.conn, {"holder_id": holder_id})
        return int(found[0][0]) if found and found[0][0] is not None else None

    def save_workload_due(self, holder_id: str, due_ms: int | None) -> None:
        if not _SET_WORKLOAD_DUE.run(self.conn, {"holder_id": holder_id, "due_at": due_ms}):
            raise KeyError(f"no content recorded for {holder_id!r}")

    def places(self) -> list[str]:
        t = tables.content_totals
        return list(self.conn.execute(select(t.c.place).order_by(t.c.place)).scalars())

    def row_counts(self) -> dict[str, int]:
        """Rows per content table (for the benchmark's report)."""
        return {
            table.name: int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in CONTENT_TABLES
        }


def due_workloads(conn: Connection, now_ms: int, limit: int) -> list[str]:
    """Up to `limit` VMs whose workload step is due by `now_ms`, the longest due first (an index range)."""
    t = tables.content_holders
    stmt = select(t.c.holder_id).where(t.c.due_at <= now_ms).order_by(t.c.due_at, t.c.holder_id).limit(limit)
    return list(conn.execute(stmt).scalars())


class SqlWorkloadSchedule:
    """WorkloadSchedule over an engine: one indexed read, so an idle server's chore only reads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def due(self, now_ms: int, limit: int) -> list[str]:
        with self.engine.connect() as conn:
            return due_workloads(conn, now_ms, limit)


CONTENT_TABLES = (
    tables.content_lineages,
    tables.content_holders,
    tables.content_held,
    tables.content_segments,
    tables.content_shared,
    tables.content_totals,
)


def _ledger_rows(ledger: MemoryLedger) -> Iterator[tuple[Table, Iterable[dict[str, object]]]]:
    yield tables.content_lineages, (lineage_row(lin) for lin in ledger.lineages.values())
    yield (
        tables.content_holders,
        ({**_holder_row(h), "due_at": ledger.workloads.get(h.id)} for h in ledger.holders.values()),
    )
    yield tables.content_held, (_held_row(p, lid, held) for (p, lid), held in ledger.helds.items())
    yield tables.content_segments, (_segment_row(p, seed, s) for (p, seed), s in ledger.segments.items())
    yield (
        tables.content_shared,
        ({"place": p, "piece": piece, "entry": entry} for p, piece, entry in ledger.shared_rows()),
    )
    yield tables.content_totals, (_totals_row(p, t) for p, t in ledger.places.items())


def bulk_load(conn: Connection, ledger: MemoryLedger) -> None:
    """Insert a ledger built in memory (the generator's) into empty content tables, in batches."""
    for table, rows in _ledger_rows(ledger):
        insert_batched(conn, table, rows)
