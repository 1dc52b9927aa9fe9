"""The operations state in the database: implements domain.ports.operations on one connection.

It imports nothing of transaction.py, whose transactions hand it out (`SqlTxn.state()`); the store that
opens it outside a task is operations_store.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Boolean, Connection, Table, bindparam, delete, func, insert, select, text, update

from openovc.domain.metrics import IoSpan, roll_up
from openovc.domain.ports.federation import Record
from openovc.domain.ports.operations import (
    DriveRebuild,
    GuestCredentials,
    GuestFacts,
    HostFault,
    RestoredFile,
    Resync,
    Shutdown,
    StoreCredentials,
)
from openovc.storage import tables
from openovc.storage.prepared import Prepared, array_type, insert_rows, new_row_statement, upsert_statement

_IO_COLUMNS = ("source", "host_id", "vm_id", "start_ms", "end_ms", "step_ms", "read_bytes", "write_bytes")
_SLOT_COLUMNS = ("rule_id", "slot_ms", "vm_id", "backup_id")
_ROLL_MS = 86_400_000

# PostgreSQL: every host's capacity point in one statement, from arrays: executemany ran one statement
# per host (a cluster's eight on each clone or move), each a step of a pipeline.
_PG_CAPACITY_POINTS = Prepared(
    text(
        "INSERT INTO capacity_history (host_id, at_ms, fields) SELECT * FROM unnest("
        f"CAST(:hosts AS {array_type(tables.capacity_history.c.host_id)}), CAST(:ats AS BIGINT[]),"
        f" CAST(:fields AS {array_type(tables.capacity_history.c.fields)}))"
        " ON CONFLICT (host_id, at_ms) DO UPDATE SET fields = excluded.fields"
    )
)


@lru_cache(maxsize=32)
def _by_key(table: Table) -> tuple[Prepared, tuple[str, ...]]:
    """The SELECT of a row by its key, and the table's boolean columns."""
    column = next(iter(table.primary_key.columns))
    booleans = tuple(c.name for c in table.columns if isinstance(c.type, Boolean))
    return Prepared(select(table).where(column == bindparam("key"))), booleans


@lru_cache(maxsize=32)
def _delete_by_key(table: Table) -> Prepared:
    return Prepared(delete(table).where(next(iter(table.primary_key.columns)) == bindparam("key")))


class SqlOperationsState:
    """OperationsState over an open connection (inside the caller's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # A row by its one-column key, prepared: a clone or a move reads and writes its guest's facts inside
    # the store's single write turn, where SQLAlchemy's work per statement cost more than SQLite's.
    def _one(self, table: Table, key: str) -> Record | None:
        read, booleans = _by_key(table)
        rows = read.rows(self.conn, {"key": key})
        if not rows:
            return None
        row = rows[0]
        for name in booleans:  # SQLite gives its booleans back as integers
            if row[name] is not None:
                row[name] = bool(row[name])
        return row

    def _put(self, table: Table, values: Record) -> None:
        upsert_statement(self.conn.dialect.name, table, tuple(values)).run(self.conn, values)

    def _drop(self, table: Table, key: str) -> bool:
        return bool(_delete_by_key(table).run(self.conn, {"key": key}))

    def shutdown(self, host_id: str) -> Shutdown | None:
        row = self._one(tables.host_shutdowns, host_id)
        return Shutdown(**row) if row is not None else None

    def put_shutdown(self, shutdown: Shutdown) -> None:
        self._put(tables.host_shutdowns, vars(shutdown))

    def drop_shutdown(self, host_id: str) -> bool:
        return self._drop(tables.host_shutdowns, host_id)

    def drop_host_hardware(self, host_id: str) -> bool:
        return self._drop(tables.host_hardware, host_id)

    def host_hardware(self, host_id: str) -> dict[str, Any] | None:
        row = self._one(tables.host_hardware, host_id)
        if row is None:
            return None
        document: dict[str, Any] = orjson.loads(row["document"])
        return document

    def put_host_hardware(self, host_id: str, document: dict[str, Any]) -> None:
        self._put(tables.host_hardware, {"host_id": host_id, "document": orjson.dumps(document).decode()})

    def host_fault(self, host_id: str) -> HostFault | None:
        row = self._one(tables.host_faults, host_id)
        return HostFault(**row) if row is not None else None

    def put_host_fault(self, fault: HostFault) -> None:
        self._put(tables.host_faults, vars(fault))

    def drop_host_fault(self, host_id: str) -> bool:
        return self._drop(tables.host_faults, host_id)

    def resyncs(self) -> list[Resync]:
        t = tables.vm_resyncs
        found = self.conn.execute(select(t).order_by(t.c.vm_id, t.c.host_id)).mappings()
        return [Resync(**row) for row in found]

    def put_resync(self, resync: Resync) -> None:
        t = tables.vm_resyncs
        where = (t.c.vm_id == resync.vm_id, t.c.host_id == resync.host_id)
        self.conn.execute(delete(t).where(*where))
        self.conn.execute(insert(t).values(**vars(resync)))

    def drop_resyncs(self, vm_id: str | None = None, host_id: str | None = None) -> int:
        t = tables.vm_resyncs
        where = [c == v for c, v in ((t.c.vm_id, vm_id), (t.c.host_id, host_id)) if v is not None]
        if not where:
            raise ValueError("name the VM, the host or both")
        return self.conn.execute(delete(t).where(*where)).rowcount

    def rebuilds(self) -> list[DriveRebuild]:
        t = tables.drive_rebuilds
        found = self.conn.execute(select(t).order_by(t.c.host_id, t.c.slot)).mappings()
        return [DriveRebuild(**row) for row in found]

    def put_rebuild(self, rebuild: DriveRebuild) -> None:
        self.drop_rebuilds(rebuild.host_id, rebuild.slot)
        self.conn.execute(insert(tables.drive_rebuilds).values(**vars(rebuild)))

    def drop_rebuilds(self, host_id: str, slot: str | None = None) -> int:
        t = tables.drive_rebuilds
        where = [t.c.host_id == host_id, *([t.c.slot == slot] if slot is not None else [])]
        return self.conn.execute(delete(t).where(*where)).rowcount

    def store_credentials(self, name: str) -> StoreCredentials | None:
        row = self._one(tables.external_store_credentials, name)
        return StoreCredentials(**row) if row is not None else None

    def put_store_credentials(self, credentials: StoreCredentials) -> None:
        self._put(tables.external_store_credentials, vars(credentials))

    def drop_store_credentials(self, name: str) -> bool:
        return self._drop(tables.external_store_credentials, name)

    def guest_credentials(self, vm_id: str) -> GuestCredentials | None:
        row = self._one(tables.vm_guest_credentials, vm_id)
        return GuestCredentials(**row) if row is not None else None

    def put_guest_credentials(self, credentials: GuestCredentials) -> None:
        self._put(tables.vm_guest_credentials, vars(credentials))

    def guest_facts(self, vm_id: str) -> GuestFacts | None:
        row = self._one(tables.guest_facts, vm_id)
        return GuestFacts(**row) if row is not None else None

    def put_guest_facts(self, facts: GuestFacts) -> None:
        self._put(tables.guest_facts, vars(facts))

    def drop_guest_facts(self, vm_id: str) -> bool:
        return self._drop(tables.guest_facts, vm_id)

    def restored_files(self, vm_id: str) -> list[RestoredFile]:
        t = tables.restored_files
        rows = self.conn.execute(
            select(t).where(t.c.vm_id == vm_id).order_by(t.c.restored_at, t.c.seq)
        ).mappings()
        return [RestoredFile(**{k: v for k, v in row.items() if k not in ("seq", "vm_id")}) for row in rows]

    def add_restored_files(self, vm_id: str, files: list[RestoredFile]) -> None:
        if files:
            self.conn.execute(insert(tables.restored_files), [{"vm_id": vm_id, **vars(f)} for f in files])

    def undo_restored_files(self, vm_id: str, after: int, at: int) -> int:
        t = tables.restored_files
        kept = (t.c.vm_id == vm_id, t.c.restored_at > after, t.c.undone_at.is_(None))
        return self.conn.execute(update(t).where(*kept).values(undone_at=at)).rowcount

    # ---- the policy schedule ----

    def schedule_marks(self) -> dict[tuple[str, str], int]:
        t = tables.schedule_marks
        return {(r.rule_id, r.cluster_id): int(r.through_ms) for r in self.conn.execute(select(t))}

    def move_schedule_mark(self, rule_id: str, cluster_id: str, expected: int | None, through: int) -> bool:
        t = tables.schedule_marks
        if expected is None:
            # A new mark: the primary key keeps a second out (and the transaction goes on).
            new = new_row_statement(self.conn.dialect.name, t, ("rule_id", "cluster_id", "through_ms"))
            return (
                new.run(self.conn, {"rule_id": rule_id, "cluster_id": cluster_id, "through_ms": through}) == 1
            )
        where = (t.c.rule_id == rule_id, t.c.cluster_id == cluster_id, t.c.through_ms == expected)
        return self.conn.execute(update(t).where(*where).values(through_ms=through)).rowcount == 1

    def claim_slots(self, rule_id: str, slot_ms: int, backups: dict[str, str]) -> None:
        if backups:
            rows = [
                {"rule_id": rule_id, "vm_id": vm, "slot_ms": slot_ms, "backup_id": b}
                for vm, b in backups.items()
            ]
            insert_rows(self.conn, tables.schedule_slots, _SLOT_COLUMNS, rows)

    def slot_backups(self, rule_id: str, vm_ids: list[str]) -> dict[str, list[str]]:
        t = tables.schedule_slots
        found: dict[str, list[str]] = {vm: [] for vm in vm_ids}
        if not vm_ids:
            return found
        query = select(t.c.vm_id, t.c.backup_id).where(t.c.rule_id == rule_id, t.c.vm_id.in_(vm_ids))
        for row in self.conn.execute(query.order_by(t.c.vm_id, t.c.slot_ms)):
            found[row.vm_id].append(row.backup_id)
        return found

    def forget_slots(self, rule_id: str, before_ms: int) -> int:
        t = tables.schedule_slots
        return self.conn.execute(delete(t).where(t.c.rule_id == rule_id, t.c.slot_ms < before_ms)).rowcount

    # ---- the past of the hosts' capacity figures ----

    def record_capacity(self, at_ms: int, hosts: list[tuple[str, dict[str, object]]]) -> None:
        if not hosts:
            return
        if self.conn.dialect.name == "postgresql":
            # One row per host, its last figures (as the upserts one after another left it).
            points = {h: orjson.dumps(f).decode() for h, f in hosts}
            params = {"hosts": list(points), "ats": [at_ms] * len(points), "fields": list(points.values())}
            _PG_CAPACITY_POINTS.run(self.conn, params)
            return
        rows = [{"host_id": h, "at_ms": at_ms, "fields": orjson.dumps(f).decode()} for h, f in hosts]
        # Written by every operation that changes figures: a statement built once, run for all hosts.
        point = upsert_statement(
            self.conn.dialect.name, tables.capacity_history, ("host_id", "at_ms", "fields")
        )
        point.run_many(self.conn, rows)

    def capacity_history(
        self, host_id: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, dict[str, object]]]:
        t = tables.capacity_history
        mine = t.c.host_id == host_id
        before = (
            select(t.c.at_ms, t.c.fields)
            .where(mine, t.c.at_ms <= since_ms)
            .order_by(t.c.at_ms.desc())
            .limit(1)
        )
        within = select(t.c.at_ms, t.c.fields).where(mine, t.c.at_ms > since_ms, t.c.at_ms <= until_ms)
        rows = [*self.conn.execute(before), *self.conn.execute(within.order_by(t.c.at_ms))]
        return [(int(at), orjson.loads(fields)) for at, fields in rows]

    def thin_capacity(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        t = tables.capacity_history
        later = t.alias("later")
        gone = 0
        for age, bucket in keep:
            cut = now_ms - age
            same_bucket = select(later.c.at_ms).where(
                later.c.host_id == t.c.host_id, later.c.at_ms > t.c.at_ms, later.c.at_ms < cut,
                later.c.at_ms // bucket == t.c.at_ms // bucket,
            )  # fmt: skip
            gone += self.conn.execute(delete(t).where(t.c.at_ms < cut, same_bucket.exists())).rowcount
        if keep:
            cut = now_ms - max(age for age, _ in keep)
            newer = select(later.c.at_ms).where(
                later.c.host_id == t.c.host_id, later.c.at_ms > t.c.at_ms, later.c.at_ms < cut
            )
            gone += self.conn.execute(delete(t).where(t.c.at_ms < cut, newer.exists())).rowcount
        return gone

    # ---- the past of the metrics ----

    def record_power(self, vm_id: str, at_ms: int, on: bool) -> None:
        t = tables.power_history
        here = (t.c.vm_id == vm_id) & (t.c.at_ms == at_ms)
        if not self.conn.execute(delete(t).where(here)).rowcount:
            self.conn.execute(insert(t).values(vm_id=vm_id, at_ms=at_ms, powered_on=on))

    def power_changes(self, vm_ids: Sequence[str], since_ms: int) -> dict[str, list[tuple[int, bool]]]:
        t = tables.power_history
        found: dict[str, list[tuple[int, bool]]] = {}
        if vm_ids:
            mine = t.c.vm_id.in_(list(vm_ids)) & (t.c.at_ms > since_ms)
            stmt = select(t.c.vm_id, t.c.at_ms, t.c.powered_on).where(mine).order_by(t.c.vm_id, t.c.at_ms)
            for vm_id, at_ms, on in self.conn.execute(stmt):
                found.setdefault(str(vm_id), []).append((int(at_ms), bool(on)))
        return found

    def record_io(self, spans: Sequence[IoSpan]) -> None:
        if spans:
            # Written with every backup a schedule takes: one statement for all of a slot's spans.
            rows = [{c: getattr(s, c) for c in _IO_COLUMNS} for s in spans]
            insert_rows(self.conn, tables.io_history, _IO_COLUMNS, rows)

    def stop_io(self, source: str, at_ms: int) -> int:
        t = tables.io_history
        mine = select(t).where(t.c.source == source, t.c.end_ms > at_ms)
        changed = 0
        for row in self.conn.execute(mine).all():
            kept = _span(row._mapping).until(at_ms)
            if kept is None:
                self.conn.execute(delete(t).where(t.c.id == row.id))
            else:
                values = {
                    "end_ms": kept.end_ms,
                    "read_bytes": kept.read_bytes,
                    "write_bytes": kept.write_bytes,
                }
                self.conn.execute(update(t).where(t.c.id == row.id).values(**values))
            changed += 1
        return changed

    def thin_io(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        t = tables.io_history
        gone = 0
        for age, bucket in keep:
            if not bucket:
                gone += self.conn.execute(delete(t).where(t.c.end_ms <= now_ms - age)).rowcount
                continue
            cut = (now_ms - age) - (now_ms - age) % bucket
            old = (t.c.end_ms <= cut) & (t.c.step_ms < bucket)
            first = self.conn.execute(select(func.min(t.c.end_ms)).where(old)).scalar()
            # A day of spans at a time: after a long move there are weeks of them, and memory stays flat.
            # A span rolled in a later day than its bucket's others only adds a row (readers sum them).
            for since in range(int(first), cut, _ROLL_MS) if first is not None else ():
                chunk = old & (t.c.end_ms >= since) & (t.c.end_ms < since + _ROLL_MS)
                rows = self.conn.execute(select(t).where(chunk)).all()
                self.conn.execute(delete(t).where(chunk))
                self.record_io(roll_up([_span(r._mapping) for r in rows], bucket))
                gone += len(rows)
        return gone

    def thin_power(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        if not keep:
            return 0
        t = tables.power_history
        later = t.alias("later")
        cut = now_ms - max(age for age, _ in keep)
        newer = select(later.c.at_ms).where(
            later.c.vm_id == t.c.vm_id, later.c.at_ms > t.c.at_ms, later.c.at_ms < cut
        )
        return int(self.conn.execute(delete(t).where(t.c.at_ms < cut, newer.exists())).rowcount)


def _span(row: object) -> IoSpan:
    values = dict(row)  # type: ignore[call-overload]
    return IoSpan(**{c: values[c] for c in _IO_COLUMNS})
