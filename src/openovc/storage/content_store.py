"""The content model's ledger in the database: PieceLedger (simulator/content/ledger.py) on a connection."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, select, text, update

from openovc.simulator.content.ledger import Held, Holder, SegmentState, SharedEntry, Totals
from openovc.simulator.content.lineage import Lineage
from openovc.storage import tables
from openovc.storage.content_rows import (
    CONTENT_TABLES,
    TOTALS,
    held_row,
    holder_row,
    lineage_from_row,
    lineage_row,
    segment_row,
    totals_row,
    unpack,
)
from openovc.storage.prepared import Prepared, equal_to_binds, upsert_statement

_IN_CHUNK = 500  # pieces per IN (...) list: well under both engines' parameter limits


def _by(table: Table, *keys: str) -> Prepared:
    """`table`'s rows whose `keys` equal the bind parameters of the same names."""
    return Prepared(select(table).where(*equal_to_binds(table, keys)))


_LINEAGE = _by(tables.content_lineages, "lineage_id")
_HOLDER = _by(tables.content_holders, "holder_id")
_HELD = _by(tables.content_held, "place", "lineage_id")
TOTALS_OF = _by(tables.content_totals, "place")


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
        self._dues: dict[str, int | None] = {}  # workload due times read by prefetch

    def prefetch(self, holder_ids: Collection[str]) -> None:
        """Read these holders, their lineages and their held versions a few statements at a time: what an
        operation on many VMs and backups at once (a policy's slot) would otherwise read one by one.

        Only where a statement is a round trip: on SQLite the prepared one-row reads are function calls,
        cheaper than building these lists.
        """
        if self.conn.dialect.name != "postgresql":
            return
        self._prefetch_holders([h for h in holder_ids if h not in self._holders])
        known = [h for h in (self._holders.get(i) for i in holder_ids) if h is not None]
        self._prefetch_lineages(sorted({h.lineage for h in known if h.lineage not in self._lineages}))
        pairs = {(h.place, h.lineage) for h in known if (h.place, h.lineage) not in self._helds}
        for place in sorted({p for p, _ in pairs}):
            self._prefetch_held(place, sorted(lid for p, lid in pairs if p == place))

    def _prefetch_holders(self, wanted: list[str]) -> None:
        t = tables.content_holders
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i : i + _IN_CHUNK]
            found = {r.holder_id: r for r in self.conn.execute(select(t).where(t.c.holder_id.in_(chunk)))}
            for holder_id in chunk:
                row = found.get(holder_id)
                if row is None:
                    self._holders[holder_id], self._dues[holder_id] = None, None
                    continue
                self._holders[holder_id] = Holder(
                    row.holder_id, row.place, row.lineage_id, row.version, row.kind
                )
                self._dues[holder_id] = None if row.due_at is None else int(row.due_at)

    def _prefetch_lineages(self, wanted: list[int]) -> None:
        t = tables.content_lineages
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i : i + _IN_CHUNK]
            query = select(t).where(t.c.lineage_id.in_(chunk))
            found = {r["lineage_id"]: dict(r) for r in self.conn.execute(query).mappings()}
            for lineage_id in chunk:
                self._lineages[lineage_id] = found.get(lineage_id)

    def _prefetch_held(self, place: str, wanted: list[int]) -> None:
        t = tables.content_held
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i : i + _IN_CHUNK]
            query = select(t).where(t.c.place == place, t.c.lineage_id.in_(chunk))
            found = {r.lineage_id: r for r in self.conn.execute(query)}
            for lineage_id in chunk:
                row = found.get(lineage_id)
                held = Held(unpack("I", row.versions), unpack("I", row.counts)) if row is not None else Held()
                self._helds[(place, lineage_id)] = held

    def _row(self, statement: Prepared, **keys: object) -> Mapping[str, Any] | None:
        found = statement.rows(self.conn, keys)
        return found[0] if found else None

    def _put(self, table: Table, row: dict[str, object]) -> None:
        upsert_statement(self.conn.dialect.name, table, tuple(row)).run(self.conn, row)

    def lineage(self, lineage_id: int) -> Lineage | None:
        if lineage_id not in self._lineages:
            self._lineages[lineage_id] = self._row(_LINEAGE, lineage_id=lineage_id)
        row = self._lineages[lineage_id]
        return lineage_from_row(row) if row is not None else None

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
        self._put(tables.content_holders, holder_row(holder))
        self._holders[holder.id] = holder

    def drop_holder(self, holder_id: str) -> None:
        _DROP_HOLDER.run(self.conn, {"holder_id": holder_id})
        self._holders[holder_id] = None
        self._dues[holder_id] = None

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
            self._put(t, held_row(place, lineage_id, held))
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
            self._put(t, segment_row(place, seed, state))

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
            upsert_statement(
                self.conn.dialect.name, tables.content_shared, ("place", "piece", "entry")
            ).run_many(self.conn, [{"place": place, "piece": p, "entry": e} for p, e in kept])

    def totals(self, place: str) -> Totals:
        if place not in self._totals:
            row = self._row(TOTALS_OF, place=place)
            self._totals[place] = Totals(*(row[n] for n in TOTALS)) if row is not None else Totals()
        return replace(self._totals[place])  # a copy: Totals can change in place

    def save_totals(self, place: str, totals: Totals) -> None:
        self._put(tables.content_totals, totals_row(place, totals))
        self._totals[place] = replace(totals)

    def workload_due(self, holder_id: str) -> int | None:
        if holder_id in self._dues:
            return self._dues[holder_id]
        found = _WORKLOAD_DUE.tuples(self.conn, {"holder_id": holder_id})
        due = int(found[0][0]) if found and found[0][0] is not None else None
        if found:
            self._dues[holder_id] = due  # only this ledger writes it in this transaction
        return due

    def save_workload_due(self, holder_id: str, due_ms: int | None) -> None:
        if not _SET_WORKLOAD_DUE.run(self.conn, {"holder_id": holder_id, "due_at": due_ms}):
            raise KeyError(f"no content recorded for {holder_id!r}")
        self._dues[holder_id] = due_ms

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
