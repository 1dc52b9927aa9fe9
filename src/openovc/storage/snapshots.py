"""SnapshotStore over an engine: save the federation as a snapshot file in the `snapshots` table, restore one.

A snapshot holds every table but those listed in NOT_FEDERATION (so a table added later is in snapshots
without a change here), the server state (how the federation was made) and the clock. Users, tokens,
role assignments and login attempts are not federation state: they stay as they are, so a client stays
logged in across a restore. A restore is one write transaction; it counts itself in the server state
(`restores`), which every process reads with the clock (generation.WatchedClockStore) to forget what it
remembered of the federation before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    Table,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from openovc.domain.clock import ClockState
from openovc.domain.ports.snapshots import Restored
from openovc.domain.snapshots import (
    EncodedTable,
    SnapshotClock,
    SnapshotExists,
    SnapshotFileRefused,
    SnapshotSummary,
    name_problem,
)
from openovc.domain.tasks import TaskState
from openovc.domain.timefmt import to_text
from openovc.storage import tables
from openovc.storage.clock_store import CLOCK_KEY
from openovc.storage.clock_store import _encoded as encoded_clock  # the text its compare-and-set expects
from openovc.storage.engine import MIGRATIONS
from openovc.storage.snapshot_file import SnapshotFile, SnapshotWriter, read_file
from openovc.storage.snapshot_load import replace_tables
from openovc.storage.transaction import write_transaction

# Who may log in and their sessions, the controller's own configuration, the live server processes, the
# snapshots themselves, the server state (kept apart: see _state), and the VMs' change feed (a restore's
# own changes go into it: see storage/change_feed.py).
NOT_FEDERATION = frozenset(
    {"users", "tokens", "role_assignments", "login_attempts", "certificates", "server_instances",
     "snapshots", "server_state", "virtual_machines_changes"}
)  # fmt: skip
RESTORES_KEY = "restores"  # in server_state: how many restores the store has seen
SAVED, INITIAL = "saved", "initial"
_KV = tables.settings_kv
_S = tables.snapshots


def snapshot_tables() -> list[Table]:
    """Every table a snapshot holds: all the store's tables but those that are not the federation's."""
    return [t for t in tables.metadata.sorted_tables if t.name not in NOT_FEDERATION]


def table_columns(table: Table) -> list[tuple[str, str]]:
    """The table's columns in a snapshot file: (name, kind)."""
    # str(): SQLAlchemy's names are a subclass of it, which orjson does not take as a key.
    return [(str(c.name), column_kind(c)) for c in table.columns]


def column_kind(column: Column[Any]) -> str:
    """A column's kind in the snapshot file, whatever the engine stores it as."""
    kind = column.type
    if isinstance(kind, LargeBinary):
        return "bytes"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, Integer):
        return "int"
    if isinstance(kind, Float):
        return "float"
    return "text"


@cache
def known_revisions() -> frozenset[str]:
    """Every schema revision this server's migrations know."""
    # Alembic only when a snapshot is restored: a start that needs no migration does not import it.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    return frozenset(s.revision for s in script.walk_revisions())


def _revision(conn: Connection) -> str:
    found = sorted(str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return "+".join(found)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _raw_rows(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
    """The table's rows in key order: loaded in that order, each key index grows at its end (on SQLite,
    300,000 backups by random id took several times as long)."""
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.execute(f'SELECT {columns} FROM "{table.name}"')
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    keys = [i for i, c in enumerate(table.columns) if c.primary_key]
    if keys:
        # Sorted here rather than by ORDER BY: a scan of the table, not a walk of its key index.
        rows.sort(key=itemgetter(*keys))
    return rows


class SqlSnapshotStore:
    """SnapshotStore over an engine; `real_ms` reads the real clock the federation's clock is anchored to."""

    def __init__(self, engine: Engine, real_ms: Callable[[], int]) -> None:
        self.engine = engine
        self._real_ms = real_ms

    # ---- saving ---------------------------------------------------------------------------------

    def dump(self, name: str, encoded: Mapping[str, EncodedTable] | None = None) -> bytes:
        """The federation as a snapshot file, read in one consistent transaction; a table in `encoded`
        (encoded ahead from the rows loaded) is taken from there while the store holds as many rows."""
        real_ms = self._real_ms()
        writer = SnapshotWriter()
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                for table in snapshot_tables():
                    columns = table_columns(table)
                    ready = (encoded or {}).get(table.name)
                    if (
                        ready is not None
                        and list(ready.columns) == columns
                        and ready.rows == _count(conn, table)
                    ):
                        writer.add_encoded(str(table.name), ready)
                        held = ready.rows
                    else:
                        rows = _raw_rows(conn, table)
                        writer.add(str(table.name), columns, rows)
                        held = len(rows)
                    if table.name in tables.COLLECTION_TABLES or table is tables.tasks:
                        counts[str(table.name)] = held
                state = {str(k): str(v) for k, v in conn.execute(select(_KV.c.key, _KV.c.value))}
                revision = _revision(conn)
        stored = state.pop(CLOCK_KEY, None)
        state.pop(RESTORES_KEY, None)
        clock = ClockState(**orjson.loads(stored)) if stored is not None else None
        header = {
            "name": name,
            "created_at": to_text(datetime.fromtimestamp(real_ms / 1000, UTC)),
            "created_ms": real_ms,
            "schema_revision": revision,
            "clock": {
                "mode": clock.mode if clock else None,
                "now_ms": clock.at(real_ms) if clock else real_ms,
                "rate": clock.rate if clock else 1.0,
            },
            "counts": counts,
            "state": state,
        }
        return writer.finish(header)

    def save(self, name: str) -> SnapshotSummary:
        if self.get(name) is not None:  # before the work of reading everything
            raise SnapshotExists(name)
        return self._keep(SAVED, name, self.dump(name))

    def keep_initial(self, encoded: Mapping[str, EncodedTable] | None = None) -> SnapshotSummary:
        return self._keep(INITIAL, INITIAL, self.dump(INITIAL, encoded), replace=True)

    def import_file(self, data: bytes, name: str | None) -> SnapshotSummary:
        file = read_file(data)
        chosen = name if name is not None else file.header.get("name")
        problem = name_problem(chosen)
        if problem is not None or not isinstance(chosen, str):
            raise SnapshotFileRefused(f"the file's snapshot name cannot name a snapshot here: {problem}")
        if self.get(chosen) is not None:
            raise SnapshotExists(chosen)
        self.fits(file)
        file.check()
        return self._keep(SAVED, chosen, data, file)

    def _keep(
        self, kind: str, name: str, body: bytes, file: SnapshotFile | None = None, *, replace: bool = False
    ) -> SnapshotSummary:
        summary = summary_of((file or read_file(body)).header, name, len(body))
        row = {
            "kind": kind,
            "name": name,
            "created_ms": self._real_ms(),
            "summary": orjson.dumps(_summary_json(summary)).decode(),
            "body": body,
        }
        try:
            with write_transaction(self.engine, exclusive=False) as conn:
                if replace:
                    conn.execute(delete(_S).where(_S.c.kind == kind, _S.c.name == name))
                conn.execute(insert(_S), row)
        except IntegrityError:
            raise SnapshotExists(name) from None  # another call took the name meanwhile
        return summary

    # ---- reading --------------------------------------------------------------------------------

    def saved(self) -> list[SnapshotSummary]:
        stmt = select(_S.c.name, _S.c.summary).where(_S.c.kind == SAVED).order_by(_S.c.name)
        with self.engine.connect() as conn:
            return [_summary_from(str(s)) for _, s in conn.execute(stmt)]

    def get(self, name: str) -> SnapshotSummary | None:
        stmt = select(_S.c.summary).where(_S.c.kind == SAVED, _S.c.name == name)
        with self.engine.connect() as conn:
            found = conn.execute(stmt).scalar_one_or_none()
        return None if found is None else _summary_from(str(found))

    def export(self, name: str) -> bytes | None:
        return self._body(SAVED, name)

    def _body(self, kind: str, name: str) -> bytes | None:
        stmt = select(_S.c.body).where(_S.c.kind == kind, _S.c.name == name)
        with self.engine.connect() as conn:
            found = conn.execute(stmt).scalar_one_or_none()
        return None if found is None else bytes(found)

    def delete(self, name: str) -> SnapshotSummary | None:
        where = (_S.c.kind == SAVED, _S.c.name == name)
        with write_transaction(self.engine, exclusive=False) as conn:
            found = conn.execute(delete(_S).where(*where).returning(_S.c.summary)).scalar_one_or_none()
        return None if found is None else _summary_from(str(found))

    def generation(self) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(select(_KV.c.value).where(_KV.c.key == RESTORES_KEY)).scalar_one_or_none()
        return int(found or 0)

    # ---- restoring ------------------------------------------------------------------------------

    def fits(self, file: SnapshotFile) -> list[Table]:
        """The tables a restore replaces; SnapshotFileRefused when the file does not fit this schema."""
        with self.engine.connect() as conn:
            current = _revision(conn)
        revision = str(file.header["schema_revision"])
        if revision != current and not set(revision.split("+")) <= known_revisions():
            raise SnapshotFileRefused(
                f"the snapshot's schema revision {revision} is unknown to this server, whose schema is at "
                f"{current}: it was saved by a newer OpenOVC"
            )
        _check_state(file.header)
        ours = {t.name: t for t in snapshot_tables()}
        for name, entry in file.tables.items():
            table = ours.get(name)
            if table is None:
                raise SnapshotFileRefused(
                    f"the snapshot holds the table {name}, which this server does not have"
                )
            given = set()
            for column, kind in entry["columns"]:
                found = table.c.get(column)
                if found is None or column_kind(found) != kind:
                    raise SnapshotFileRefused(
                        f"the snapshot's column {name}.{column} ({kind}) does not match this server's schema"
                    )
                given.add(column)
            needed = [
                c.name for c in table.columns
                if c.name not in given and not c.nullable and c.server_default is None
            ]  # fmt: skip
            if needed and entry["rows"]:
                raise SnapshotFileRefused(f"the snapshot's table {name} lacks the column {needed[0]}")
        return list(ours.values())

    def restore(self, name: str | None, owner: str) -> Restored | None:
        kind, key = (SAVED, name) if name is not None else (INITIAL, INITIAL)
        body = self._body(kind, key)
        if body is None:
            return None
        file = read_file(body)
        ours = self.fits(file)
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            with write_transaction(self.engine) as conn:
                rows = replace_tables(conn, file, ours)
                self._replace_state(conn, file.header, owner)
        except (dbapi.IntegrityError, dbapi.DataError) as problem:
            # Rolled back: the federation is as it was. Only a file made by other means gets here.
            why = " ".join(str(problem).split())
            raise SnapshotFileRefused(f"the snapshot's rows do not fit this database: {why}") from None
        return Restored(summary_of(file.header, key, len(body)), rows)

    def _replace_state(self, conn: Connection, header: dict[str, Any], owner: str) -> None:
        """The snapshot's server state and clock (as it stood, running on from now), one more restore
        counted, and the tasks still queued made the restoring server's (their own may be long gone)."""
        values = {str(k): v for k, v in conn.execute(select(_KV.c.key, _KV.c.value))}
        current = ClockState(**orjson.loads(values[CLOCK_KEY])) if CLOCK_KEY in values else None
        saved = header["clock"]
        mode = saved["mode"] or (current.mode if current else "real")
        rate = float(saved["rate"] if saved["mode"] else (current.rate if current else 1.0))
        clock = ClockState(
            mode, int(saved["now_ms"]), self._real_ms(), rate, (current.version if current else 0) + 1
        )
        restores = int(values.get(RESTORES_KEY) or 0) + 1
        conn.execute(delete(_KV))
        rows = [{"key": str(k), "value": str(v)} for k, v in header["state"].items()]
        rows += [
            {"key": CLOCK_KEY, "value": encoded_clock(clock)},
            {"key": RESTORES_KEY, "value": str(restores)},
        ]
        conn.execute(insert(_KV), rows)
        queued = tables.tasks.c.state == TaskState.QUEUED.value
        conn.execute(update(tables.tasks).where(queued).values(owner=owner))


def _check_state(header: dict[str, Any]) -> None:
    clock, state = header.get("clock"), header.get("state")
    well_formed = (
        isinstance(clock, dict)
        and (clock.get("mode") is None or isinstance(clock.get("mode"), str))
        and type(clock.get("now_ms")) is int
        and isinstance(clock.get("rate"), int | float)
        and isinstance(state, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in state.items())
        and CLOCK_KEY not in state
        and RESTORES_KEY not in state
    )
    if not well_formed:
        raise SnapshotFileRefused("the snapshot file is damaged: its header's clock or state is malformed")


def summary_of(header: dict[str, Any], name: str, size: int) -> SnapshotSummary:
    """A snapshot's summary from its file's header."""
    clock = header["clock"]
    now = to_text(datetime.fromtimestamp(int(clock["now_ms"]) / 1000, UTC))
    tables_rows = {str(t): int(e["rows"]) for t, e in header["tables"].items()}
    return SnapshotSummary(
        name=name,
        created_at=str(header.get("created_at")),
        clock=SnapshotClock(clock["mode"], now, float(clock["rate"])),
        counts={str(k): int(v) for k, v in dict(header.get("counts") or {}).items()},
        size=size,
        schema_revision=str(header["schema_revision"]),
        format_version=int(header["version"]),
        tables=tables_rows,
    )


def _summary_json(summary: SnapshotSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "created_at": summary.created_at,
        "clock": {"mode": summary.clock.mode, "now": summary.clock.now, "rate": summary.clock.rate},
        "counts": summary.counts,
        "size": summary.size,
        "schema_revision": summary.schema_revision,
        "format_version": summary.format_version,
        "tables": summary.tables,
    }


def _summary_from(stored: str) -> SnapshotSummary:
    found = orjson.loads(stored)
    clock = found["clock"]
    return SnapshotSummary(
        name=found["name"],
        created_at=found["created_at"],
        clock=SnapshotClock(clock["mode"], clock["now"], float(clock["rate"])),
        counts=found["counts"],
        size=found["size"],
        schema_revision=found["schema_revision"],
        format_version=found["format_version"],
        tables=found["tables"],
    )
