"""The content model's ledger in the database: PieceLedger (simulator/content/ledger.py) on a connection."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, text

from openovc.simulator.content.ledger import Held, Holder, SegmentState, SharedEntry, Totals
from openovc.simulator.content.lineage import Lineage
from openovc.storage import tables
from openovc.storage.content_rows import CONTENT_TABLES, TOTALS, lineage_from_row, unpack
from openovc.storage.content_writes import PendingWrites
from openovc.storage.prepared import Prepared, equal_to_binds, in_json_array, json_array


def _by(table: Table, *keys: str) -> Prepared:
    """`table`'s rows whose `keys` equal the bind parameters of the same names."""
    return Prepared(select(table).where(*equal_to_binds(table, keys)))


_LINEAGE = _by(tables.content_lineages, "lineage_id")
_HOLDER = _by(tables.content_holders, "holder_id")
_HELD = _by(tables.content_held, "place", "lineage_id")
TOTALS_OF = _by(tables.content_totals, "place")


_WORKLOAD_DUE = Prepared(
    select(tables.content_holders.c.due_at).where(*equal_to_binds(tables.content_holders, ["holder_id"]))
)

# SQLite: the list bound as one JSON array (json_each), in chunks, so one prepared statement serves
# every length; an expanding IN list was rendered by SQLAlchemy and compiled by SQLite anew each time
# (230 us for a clone's 36 pieces, now 67 us). PostgreSQL: one array parameter, and the upsert of any
# number of pieces is one statement, not one per piece.
_SHARED = Prepared(
    text(f"SELECT piece, entry FROM content_shared WHERE place = :at AND {in_json_array('piece', 'pieces')}")
)
_SEGMENTS = Prepared(
    text(
        "SELECT seed, holders, masks FROM content_segments"
        f" WHERE place = :at AND {in_json_array('seed', 'seeds')}"
    )
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

# Read ahead (prefetch) on PostgreSQL: one array parameter, so any number of rows in one statement.
_PG_HOLDERS = Prepared(
    text(
        "SELECT holder_id, place, lineage_id, version, kind, due_at FROM content_holders"
        " WHERE holder_id = ANY(CAST(:ids AS text[]))"
    )
)
_PG_LINEAGES_COLUMNS = tuple(c.name for c in tables.content_lineages.columns)
_PG_LINEAGES = Prepared(
    text(
        f"SELECT {', '.join(_PG_LINEAGES_COLUMNS)} FROM content_lineages"
        " WHERE lineage_id = ANY(CAST(:ids AS bigint[]))"
    )
)
_PG_HELDS = Prepared(
    text(
        "SELECT lineage_id, versions, counts FROM content_held"
        " WHERE place = :at AND lineage_id = ANY(CAST(:ids AS bigint[]))"
    )
)

# The same on SQLite, the ids bound as one JSON array (`prepared.in_json_array`): one prepared statement
# for any number of them.
_SQLITE_HOLDERS = Prepared(
    text(
        "SELECT holder_id, place, lineage_id, version, kind, due_at FROM content_holders"
        f" WHERE {in_json_array('holder_id', 'ids')}"
    )
)
_SQLITE_LINEAGES = Prepared(
    text(
        f"SELECT {', '.join(_PG_LINEAGES_COLUMNS)} FROM content_lineages WHERE {in_json_array('lineage_id', 'ids')}"
    )
)
_SQLITE_HELDS = Prepared(
    text(
        "SELECT lineage_id, versions, counts FROM content_held"
        f" WHERE place = :at AND {in_json_array('lineage_id', 'ids')}"
    )
)


class SqlPieceLedger:
    """PieceLedger over an open connection, inside the caller's transaction.

    Rows are remembered once read or written: an operation reads them again and again, and within its
    transaction every change to them comes through this ledger. A lineage is remembered as the object
    handed out, as MemoryLedger does: the model changes one only to save it (UnitOfWork.touch), and an
    operation that fails leaves its transaction to be rolled back.

    `deferred`: what it saves is kept (content_writes.PendingWrites) until `flush()`, which the owner
    calls before the transaction commits (SqlTxn.finish): the ledger answers from what it remembers, so
    nothing reads the tables in between but `places` and `row_counts`, which flush first. Otherwise each
    save is written at once.
    """

    def __init__(self, conn: Connection, *, deferred: bool = False) -> None:
        self.conn = conn
        self.deferred = deferred
        self._pending = PendingWrites()
        self._holders: dict[str, Holder | None] = {}
        self._totals: dict[str, Totals] = {}
        self._lineages: dict[int, Lineage | None] = {}
        self._helds: dict[tuple[str, int], Held] = {}
        self._segments: dict[tuple[str, int], SegmentState | None] = {}
        self._shared: dict[str, dict[int, SharedEntry]] = {}  # per place; 0: no entry
        self._dues: dict[str, int | None] = {}  # workload due times read by prefetch

    def flush(self) -> None:
        """Write what was saved and not written yet."""
        self._pending.write(self.conn)

    def _saved(self) -> None:
        if not self.deferred:
            self.flush()

    def prefetch(self, holder_ids: Collection[str]) -> None:
        """Read these holders, their lineages and their held versions a few statements at a time: what an
        operation on many VMs and backups at once (a policy's slot) would otherwise read one by one.

        On PostgreSQL each statement is a round trip; on SQLite, where a one-row read is a function call,
        a few hundred rows per statement still cost less than as many one-row reads.
        """
        self._prefetch_holders([h for h in holder_ids if h not in self._holders])
        known = [h for h in (self._holders.get(i) for i in holder_ids) if h is not None]
        self._prefetch_lineages(sorted({h.lineage for h in known if h.lineage not in self._lineages}))
        pairs = {(h.place, h.lineage) for h in known if (h.place, h.lineage) not in self._helds}
        for place in sorted({p for p, _ in pairs}):
            self._prefetch_held(place, sorted(lid for p, lid in pairs if p == place))

    def _prefetch_holders(self, wanted: list[str]) -> None:
        found = {row[0]: row for row in self._read_ahead(_PG_HOLDERS, _SQLITE_HOLDERS, wanted)}
        for holder_id in wanted:
            row = found.get(holder_id)
            if row is None:
                self._holders[holder_id], self._dues[holder_id] = None, None
                continue
            _, place, lineage_id, version, kind, due_at = row
            self._holders[holder_id] = Holder(holder_id, place, lineage_id, version, kind)
            self._dues[holder_id] = None if due_at is None else int(due_at)

    def _prefetch_lineages(self, wanted: list[int]) -> None:
        names = _PG_LINEAGES_COLUMNS
        found = {row[0]: row for row in self._read_ahead(_PG_LINEAGES, _SQLITE_LINEAGES, wanted)}
        for lineage_id in wanted:
            row = found.get(lineage_id)
            self._lineages[lineage_id] = (
                lineage_from_row(dict(zip(names, row, strict=True))) if row is not None else None
            )

    def _prefetch_held(self, place: str, wanted: list[int]) -> None:
        found = {row[0]: row for row in self._read_ahead(_PG_HELDS, _SQLITE_HELDS, wanted, place)}
        for lineage_id in wanted:
            row = found.get(lineage_id)
            held = Held(unpack("I", row[1]), unpack("I", row[2])) if row is not None else Held()
            self._helds[(place, lineage_id)] = held

    def _read_ahead(
        self, postgresql: Prepared, sqlite: Prepared, ids: list[Any], place: str | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of `ids`, in one statement: an array on PostgreSQL, a JSON array on SQLite."""
        if not ids:
            return []
        keys = {} if place is None else {"at": place}
        if self.conn.dialect.name == "postgresql":
            return postgresql.tuples(self.conn, {**keys, "ids": ids})
        return sqlite.tuples(self.conn, {**keys, "ids": json_array(ids)})

    def _row(self, statement: Prepared, **keys: object) -> Mapping[str, Any] | None:
        found = statement.rows(self.conn, keys)
        return found[0] if found else None

    def lineage(self, lineage_id: int) -> Lineage | None:
        if lineage_id not in self._lineages:
            row = self._row(_LINEAGE, lineage_id=lineage_id)
            self._lineages[lineage_id] = lineage_from_row(row) if row is not None else None
        # Not a copy: decoding a row again (its layout above all) or copying its log cost more than the
        # database did for it (docs/architecture.md, Performance notes).
        return self._lineages[lineage_id]

    def save_lineage(self, lineage: Lineage) -> None:
        # Packed when written: saved again and again in a transaction, it is packed once.
        self._lineages[lineage.id] = self._pending.lineages[lineage.id] = lineage
        self._saved()

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
        self._holders[holder.id] = self._pending.holders[holder.id] = holder
        self._saved()

    def drop_holder(self, holder_id: str) -> None:
        self._holders[holder_id] = self._pending.holders[holder_id] = None
        # Its workload goes with it: should the holder be saved again, it has none.
        self._dues[holder_id] = self._pending.dues[holder_id] = None
        self._saved()

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
        self._helds[(place, lineage_id)] = self._pending.helds[(place, lineage_id)] = held
        self._saved()

    def segment_states(self, place: str, seeds: Collection[int]) -> dict[int, SegmentState]:
        missing = [seed for seed in seeds if (place, seed) not in self._segments]
        if missing:
            if self.conn.dialect.name == "postgresql":
                rows = _PG_SEGMENTS.tuples(self.conn, {"at": place, "seeds": missing})
            else:
                rows = _SEGMENTS.tuples(self.conn, {"at": place, "seeds": json_array(missing)})
            found = {seed: SegmentState(holders, unpack("I", masks)) for seed, holders, masks in rows}
            for seed in missing:
                self._segments[(place, seed)] = found.get(seed)
        # Not copies: the model copies what it will change (see PieceLedger).
        return {seed: state for seed in seeds if (state := self._segments[(place, seed)]) is not None}

    def save_segment(self, place: str, seed: int, state: SegmentState | None) -> None:
        # A copy, remembered and written as it is now (the caller's may change on).
        kept = state.copy() if state is not None else None
        self._segments[(place, seed)] = self._pending.segments[(place, seed)] = kept
        self._saved()

    def shared(self, place: str, pieces: Collection[int]) -> dict[int, SharedEntry]:
        known = self._shared.setdefault(place, {})
        wanted = [p for p in pieces if p not in known]
        if wanted:
            for piece, entry in self._read_shared(place, wanted):
                known[piece] = entry
            for piece in wanted:
                known.setdefault(piece, 0)
        return {p: entry for p in pieces if (entry := known[p])}

    def _read_shared(self, place: str, wanted: list[int]) -> list[tuple[int, SharedEntry]]:
        if self.conn.dialect.name == "postgresql":
            return [
                (piece, entry)
                for piece, entry in _PG_SHARED.tuples(self.conn, {"at": place, "pieces": wanted})
            ]
        return [
            (piece, entry)
            for piece, entry in _SHARED.tuples(self.conn, {"at": place, "pieces": json_array(wanted)})
        ]

    def save_shared(self, place: str, entries: Mapping[int, SharedEntry]) -> None:
        known = self._shared.setdefault(place, {})
        pending = self._pending.shared
        for piece, entry in entries.items():
            known[piece] = pending[(place, piece)] = entry
        self._saved()

    def totals(self, place: str) -> Totals:
        if place not in self._totals:
            row = self._row(TOTALS_OF, place=place)
            self._totals[place] = Totals(*(row[n] for n in TOTALS)) if row is not None else Totals()
        return replace(self._totals[place])  # a copy: Totals can change in place

    def save_totals(self, place: str, totals: Totals) -> None:
        self._totals[place] = self._pending.totals[place] = replace(totals)
        self._saved()

    def workload_due(self, holder_id: str) -> int | None:
        if holder_id in self._dues:
            return self._dues[holder_id]
        found = _WORKLOAD_DUE.tuples(self.conn, {"holder_id": holder_id})
        due = int(found[0][0]) if found and found[0][0] is not None else None
        if found:
            self._dues[holder_id] = due  # only this ledger writes it in this transaction
        return due

    def save_workload_due(self, holder_id: str, due_ms: int | None) -> None:
        if self.holder(holder_id) is None:
            raise KeyError(f"no content recorded for {holder_id!r}")
        self._dues[holder_id] = self._pending.dues[holder_id] = due_ms
        self._saved()

    def places(self) -> list[str]:
        self.flush()
        t = tables.content_totals
        return list(self.conn.execute(select(t.c.place).order_by(t.c.place)).scalars())

    def row_counts(self) -> dict[str, int]:
        """Rows per content table (for the benchmark's report)."""
        self.flush()
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
