"""The content ledger's writes, kept per row and written together: one statement per table and kind of change.

An operation on many VMs and backups (a policy's slot, its expiries, the workload steps due before them)
saves the same few rows again and again (a place's totals, a VM's holder and lineage, the versions held
of a lineage); kept by key, only each row's last state is written, and on PostgreSQL every row of a kind
goes in one statement binding arrays, where a statement per row was a round trip each (docs/architecture.md,
Performance notes). On SQLite each kind is one executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, delete, text, update
from sqlalchemy.dialects import postgresql

from openovc.simulator.content.ledger import Held, Holder, SegmentState, SharedEntry, Totals
from openovc.simulator.content.lineage import Lineage
from openovc.storage import tables
from openovc.storage.content_rows import held_row, holder_row, lineage_row, segment_row, totals_row
from openovc.storage.prepared import Prepared, equal_to_binds, upsert_statement

_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass
class PendingWrites:
    """Each row's last saved state since the last write; None (an empty Held, entry 0) drops the row."""

    lineages: dict[int, Lineage] = field(default_factory=dict)  # packed when written
    holders: dict[str, Holder | None] = field(default_factory=dict)
    dues: dict[str, int | None] = field(default_factory=dict)  # applied after the holders are saved
    helds: dict[tuple[str, int], Held] = field(default_factory=dict)
    segments: dict[tuple[str, int], SegmentState | None] = field(default_factory=dict)
    shared: dict[tuple[str, int], SharedEntry] = field(default_factory=dict)
    totals: dict[str, Totals] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(
            (self.lineages, self.holders, self.dues, self.helds, self.segments, self.shared, self.totals)
        )

    def write(self, conn: Connection) -> None:
        """Write every kept row, then forget them."""
        if not self:
            return
        saved_holders = [h for h in self.holders.values() if h is not None]
        _put(conn, tables.content_lineages, [lineage_row(lin) for lin in self.lineages.values()])
        # A holder saved, then its due time, then the holders dropped: a holder dropped and saved again
        # in between has its due time cleared (a dropped holder's due time is, see SqlPieceLedger).
        _put(conn, tables.content_holders, [holder_row(h) for h in saved_holders])
        _set_dues(conn, self.dues)
        _drop(conn, tables.content_holders, [(k,) for k, h in self.holders.items() if h is None])
        _put(conn, tables.content_held, [held_row(p, lid, h) for (p, lid), h in self.helds.items() if h])
        _drop(conn, tables.content_held, [key for key, h in self.helds.items() if not h])
        _put(
            conn,
            tables.content_segments,
            [segment_row(p, seed, s) for (p, seed), s in self.segments.items() if s is not None],
        )
        _drop(conn, tables.content_segments, [key for key, s in self.segments.items() if s is None])
        _put(
            conn,
            tables.content_shared,
            [{"place": p, "piece": piece, "entry": e} for (p, piece), e in self.shared.items() if e],
        )
        _drop(conn, tables.content_shared, [key for key, e in self.shared.items() if not e])
        _put(conn, tables.content_totals, [totals_row(p, t) for p, t in self.totals.items()])
        for kept in (
            self.lineages,
            self.holders,
            self.dues,
            self.helds,
            self.segments,
            self.shared,
            self.totals,
        ):
            kept.clear()


def _keys(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


def _array_type(column: Column[Any]) -> str:
    """The PostgreSQL array type of a column's values (a collation is the column's, not the array's)."""
    return column.type.compile(dialect=_POSTGRESQL).replace(' COLLATE "C"', "") + "[]"


def _arrays(table: Table, columns: Sequence[str]) -> str:
    return ", ".join(f"CAST(:{c} AS {_array_type(table.c[c])})" for c in columns)


def _matches(table: Table, columns: Sequence[str]) -> str:
    """`table.column = u.column` for each; text keys compared in the column's "C" collation, as its index."""
    return " AND ".join(
        f'"{table.name}"."{c}" = u."{c}"' + (' COLLATE "C"' if table.c[c].type.python_type is str else "")
        for c in columns
    )


@lru_cache(maxsize=16)
def _pg_put(table: Table, columns: tuple[str, ...]) -> Prepared:
    """INSERT of many rows from arrays (one per column, in the same order), or UPDATE where a key exists."""
    keys = _keys(table)
    names = ", ".join(f'"{c}"' for c in columns)
    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys)
    return Prepared(
        text(
            f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({_arrays(table, columns)})'
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        )
    )


@lru_cache(maxsize=16)
def _pg_drop(table: Table) -> Prepared:
    """DELETE of the rows whose keys are in arrays (one per key column)."""
    keys = _keys(table)
    return Prepared(
        text(
            f'DELETE FROM "{table.name}" USING unnest({_arrays(table, keys)}) AS u({", ".join(keys)})'
            f" WHERE {_matches(table, keys)}"
        )
    )


_PG_SET_DUES = Prepared(
    text(
        "UPDATE content_holders SET due_at = u.due_at"
        " FROM unnest(CAST(:holder_id AS text[]), CAST(:due_at AS bigint[])) AS u(holder_id, due_at)"
        f" WHERE {_matches(tables.content_holders, ['holder_id'])}"
    )
)
_SET_DUE = Prepared(
    update(tables.content_holders)
    .where(tables.content_holders.c.holder_id == bindparam("holder_id"))
    .values(due_at=bindparam("due_at"))
)


@lru_cache(maxsize=16)
def _drop_statement(table: Table) -> Prepared:
    return Prepared(delete(table).where(*equal_to_binds(table, _keys(table))))


def _put(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    columns = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        _pg_put(table, columns).run(conn, {c: [row[c] for row in rows] for c in columns})
    else:
        upsert_statement(conn.dialect.name, table, columns).run_many(conn, rows)


def _drop(conn: Connection, table: Table, keys: list[tuple[object, ...]]) -> None:
    if not keys:
        return
    names = _keys(table)
    if conn.dialect.name == "postgresql":
        _pg_drop(table).run(conn, {name: [key[i] for key in keys] for i, name in enumerate(names)})
    else:
        _drop_statement(table).run_many(conn, [dict(zip(names, key, strict=True)) for key in keys])


def _set_dues(conn: Connection, dues: dict[str, int | None]) -> None:
    if not dues:
        return
    if conn.dialect.name == "postgresql":
        _PG_SET_DUES.run(conn, {"holder_id": list(dues), "due_at": list(dues.values())})
    else:
        _SET_DUE.run_many(conn, [{"holder_id": h, "due_at": due} for h, due in dues.items()])
