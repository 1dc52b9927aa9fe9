"""A federation's tables encoded as a snapshot's frames by a forked process while this one loads them.

`init` keeps what it loaded as the initial snapshot. Reading the rows back and encoding them waited for
the load and ran on one core (docs/architecture.md, Start-up); the rows are in memory before the load
starts, so a child process encodes them on the other core meanwhile. It encodes
only a table whose every value reads back from either engine as it is in memory (the kinds below), whose
rows give every column (none left to the database's default) and that has a primary key to order them by
as the dump does; any other table, and every table when the child fails, is read back as before.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import signal
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NoReturn

from sqlalchemy import Table

from openovc.domain.snapshots import EncodedTable
from openovc.simulator import forking
from openovc.storage.snapshot_file import encode_table
from openovc.storage.snapshots import snapshot_tables, table_columns

ENCODE_FROM = 50_000  # rows: below this the fork and the pickling cost more than they save
_LOG = logging.getLogger("openovc.snapshots")
_NONE = type(None)
# The Python types that each kind's column stores and reads back unchanged on SQLite and PostgreSQL
# (an int in a float column reads back as the same number, which the file writes as a float anyway).
_KEEPS: dict[str, frozenset[type]] = {
    "text": frozenset({str, _NONE}),
    "int": frozenset({int, _NONE}),
    "float": frozenset({float, int, _NONE}),
    "bool": frozenset({bool, _NONE}),
    "bytes": frozenset({bytes, _NONE}),
}

Inserts = Iterable[tuple[Table, Iterable[Mapping[str, object]]]]


def encode_inserts(inserts: Inserts) -> dict[str, EncodedTable]:
    """The tables of `inserts` that a snapshot holds and whose rows read back as they are, encoded."""
    held = {table.name for table in snapshot_tables()}
    gathered: dict[str, tuple[Table, list[Mapping[str, object]]]] = {}
    for table, rows in inserts:
        if table.name in held:
            gathered.setdefault(table.name, (table, []))[1].extend(rows)
    encoded = {}
    for name, (table, rows) in gathered.items():
        columns = table_columns(table)
        ordered = ordered_rows(table, [kind for _, kind in columns], rows)
        if ordered is not None:
            encoded[name] = encode_table(name, columns, ordered)
    return encoded


def ordered_rows(
    table: Table, kinds: list[str], rows: Sequence[Mapping[str, object]]
) -> list[tuple[Any, ...]] | None:
    """The rows as the dump reads them back (tuples in the table's column order, by primary key), or None
    when they may not read back as they are."""
    names = [column.name for column in table.columns]
    keys = [i for i, column in enumerate(table.columns) if column.primary_key]
    if not keys:
        return None  # the dump keeps the database's scan order
    pick = itemgetter(*names)
    try:
        tuples = [pick(row) for row in rows] if len(names) > 1 else [(pick(row),) for row in rows]
    except KeyError:
        return None  # a column left to its default
    for index, kind in enumerate(kinds):
        values = [row[index] for row in tuples]
        if not set(map(type, values)) <= _KEEPS[kind]:
            return None
        if kind == "float" and not all(math.isfinite(v) for v in values if type(v) is float):
            return None  # SQLite stores NaN as NULL
    tuples.sort(key=itemgetter(*keys))
    return tuples


class Ahead:
    """The child process encoding; result() once the load is done."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd

    def result(self) -> dict[str, EncodedTable]:
        """The child's tables, or none when it failed (its error is on stderr): all are then read back."""
        with os.fdopen(self.fd, "rb") as stream:
            data = stream.read()
        _, status = os.waitpid(self.pid, 0)
        if status != 0 or not data:
            _LOG.warning("encoding the initial snapshot beside the load failed: reading it back instead")
            return {}
        encoded: dict[str, EncodedTable] = pickle.loads(data)
        return encoded

    def cancel(self) -> None:
        """Stop the child (the load failed)."""
        os.kill(self.pid, signal.SIGKILL)
        os.close(self.fd)
        os.waitpid(self.pid, 0)


def encode_ahead(inserts: Inserts, rows: int) -> Ahead | None:
    """Start encoding `inserts` in a child process; None (nothing started) for fewer than ENCODE_FROM
    rows, or where there is no fork or no second core."""
    if rows < ENCODE_FROM or not hasattr(os, "fork") or forking.usable_cores() < 2:
        return None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _child(inserts, write)
    os.close(write)
    return Ahead(pid, read)


def _child(inserts: Inserts, out: int) -> NoReturn:
    forking.child_main(lambda: encode_inserts(inserts), out)
