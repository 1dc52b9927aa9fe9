"""The snapshot file: the federation's rows, table by table, in a versioned, compressed, checksummed form.

    OPENOVC-SNAPSHOT\\n        the format's name
    header\\n                  one line of JSON: format, version, schema (Alembic) revision, the tables with
                              their columns, kinds and row counts, the clock, the server state kept
    frames                    each a 4-byte big-endian length, then zlib(4-byte JSON length, JSON, blobs):
                              up to FRAME_ROWS rows of one table, column by column; a bytes column holds
                              each value's length (null for NULL) and its bytes follow the JSON, in order
    4 zero bytes              the end of the frames
    32 bytes                  SHA-256 of everything before them

Column kinds are `text`, `int`, `float`, `bool` and `bytes`, whatever the database stored them as, so a
file saved from SQLite loads into PostgreSQL and back. The same bytes are what the store keeps and what an
export hands out.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from openovc.domain.snapshots import EncodedTable, SnapshotFileRefused

MAGIC = b"OPENOVC-SNAPSHOT\n"
FORMAT = "openovc-snapshot"
VERSION = 1
FRAME_ROWS = 20_000
KINDS = ("text", "int", "float", "bool", "bytes")
_MAX_HEADER = 4 * 1024 * 1024
_U32 = struct.Struct(">I")
_DIGEST = 32
# What each kind may hold in a file (ints are JSON numbers; a bool is not an int here).
_ALLOWED: dict[str, frozenset[type]] = {
    "text": frozenset({str, type(None)}),
    "int": frozenset({int, type(None)}),
    "float": frozenset({float, int, type(None)}),
    "bool": frozenset({bool, type(None)}),
}


@dataclass(frozen=True)
class Frame:
    """Rows of one table: the columns' names (as the header lists them) and the rows, as tuples."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class SnapshotWriter:
    """Builds a file: add() each table's rows, then finish() with the header's other fields.

    Frames are compressed on a thread while the caller reads the next rows: zlib lets go of the GIL,
    and compressing was about a third of the CPU of keeping the largest federation's snapshot.
    """

    def __init__(self) -> None:
        self._parts: list[Future[bytes] | bytes] = []
        self._tables: dict[str, dict[str, Any]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def add(self, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of `table`, whose columns are (name, kind) pairs; a table may be added in several calls."""
        entry = self._tables.setdefault(table, {"columns": [list(c) for c in columns], "rows": 0})
        for chunk in _chunks(rows):
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="snapshot-zlib")
            self._parts.append(self._pool.submit(_compressed, _payload(table, columns, chunk)))
            entry["rows"] += len(chunk)

    def add_encoded(self, table: str, encoded: EncodedTable) -> None:
        """A whole table encoded ahead (encode_table), in place of its rows."""
        if table in self._tables:
            raise ValueError(f"the table {table} was added before")
        self._tables[table] = {"columns": [list(c) for c in encoded.columns], "rows": encoded.rows}
        self._parts += encoded.frames

    def finish(self, header: dict[str, Any]) -> bytes:
        head = {
            "format": FORMAT,
            "version": VERSION,
            "compression": "zlib",
            "checksum": "sha256",
            **header,
            "tables": self._tables,
        }
        try:
            frames = [part if isinstance(part, bytes) else part.result() for part in self._parts]
        finally:
            if self._pool is not None:
                self._pool.shutdown()
        body = b"".join([MAGIC, orjson.dumps(head), b"\n", *frames, _U32.pack(0)])
        return body + hashlib.sha256(body).digest()


def encode_table(
    table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> EncodedTable:
    """A table's rows as the frames SnapshotWriter.add makes of them, for add_encoded (in this thread)."""
    frames = tuple(_compressed(_payload(table, columns, chunk)) for chunk in _chunks(rows))
    return EncodedTable(tuple((str(n), str(k)) for n, k in columns), len(rows), frames)


def _chunks(rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
    for start in range(0, len(rows), FRAME_ROWS):
        yield rows[start : start + FRAME_ROWS]


def _payload(table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> bytes:
    """A frame before compression: the JSON of its columns, then the bytes columns' values."""
    values: list[Any] = []
    blobs: list[bytes] = []
    for (_, kind), column in zip(columns, zip(*rows, strict=True), strict=True):
        if kind == "bool":  # SQLite gives 0 and 1
            column = tuple(None if v is None else bool(v) for v in column)
        elif kind == "float":
            column = tuple(None if v is None else float(v) for v in column)
        elif kind == "bytes":
            blobs += [bytes(v) for v in column if v is not None]
            column = tuple(None if v is None else len(v) for v in column)
        values.append(column)
    described = orjson.dumps({"table": table, "rows": len(rows), "columns": values})
    return b"".join([_U32.pack(len(described)), described, *blobs])


def _compressed(payload: bytes) -> bytes:
    compressed = zlib.compress(payload, 1)  # level 1: six times as fast as the default, a tenth larger
    return _U32.pack(len(compressed)) + compressed


@dataclass(frozen=True)
class SnapshotFile:
    """A file whose format, version and checksum were checked: its header, and where its frames begin."""

    header: dict[str, Any]
    data: bytes
    frames_at: int

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = self.header["tables"]
        return tables

    def frames(self) -> Iterator[Frame]:
        """Each frame's rows, decoded; SnapshotFileRefused when one does not match the header."""
        at, end = self.frames_at, len(self.data) - _DIGEST
        while True:
            if at + 4 > end:
                raise _damaged("its frames run past its end")
            (size,) = _U32.unpack_from(self.data, at)
            at += 4
            if size == 0:
                if at != end:
                    raise _damaged("it holds bytes after its last frame")
                return
            if at + size > end:
                raise _damaged("a frame runs past its end")
            yield self._frame(self.data[at : at + size])
            at += size

    def _frame(self, compressed: bytes) -> Frame:
        try:
            payload = zlib.decompress(compressed)
            (length,) = _U32.unpack_from(payload, 0)
            described = orjson.loads(payload[4 : 4 + length])
            table, count, values = described["table"], described["rows"], described["columns"]
        except (zlib.error, struct.error, orjson.JSONDecodeError, KeyError, TypeError):
            raise _damaged("a frame cannot be decoded") from None
        entry = self.tables.get(table) if isinstance(table, str) else None
        if entry is None or not isinstance(values, list) or len(values) != len(entry["columns"]):
            raise _damaged(f"a frame does not match the table {table!r} its header describes")
        blobs = memoryview(payload)[4 + length :]
        columns: list[list[Any]] = []
        for (name, kind), column in zip(entry["columns"], values, strict=True):
            if not isinstance(column, list) or len(column) != count:
                raise _damaged(f"the column {table}.{name} has a wrong number of values")
            if kind == "bytes":
                column, blobs = _blobs(table, name, column, blobs)
            columns.append(column)
        if len(blobs):
            raise _damaged(f"a frame of {table} holds bytes no column takes")
        return Frame(table, tuple(name for name, _ in entry["columns"]), list(zip(*columns, strict=True)))

    def check(self) -> None:
        """Decode every frame and check each value's kind: what is kept then loads without surprises."""
        seen = dict.fromkeys(self.tables, 0)
        for frame in self.frames():
            seen[frame.table] += len(frame.rows)
            kinds = [kind for _, kind in self.tables[frame.table]["columns"]]
            for index, kind in enumerate(kinds):
                found = {type(row[index]) for row in frame.rows}
                if kind != "bytes" and not found <= _ALLOWED[kind]:
                    name = frame.columns[index]
                    raise _damaged(f"the column {frame.table}.{name} holds a value that is not {kind}")
        wrong = [t for t, n in seen.items() if n != self.tables[t]["rows"]]
        if wrong:
            raise _damaged(f"the table {wrong[0]} holds another number of rows than its header says")


def _blobs(table: str, name: str, lengths: list[Any], blobs: memoryview) -> tuple[list[Any], memoryview]:
    column: list[Any] = []
    at = 0
    for length in lengths:
        if length is None:
            column.append(None)
            continue
        if type(length) is not int or length < 0 or at + length > len(blobs):
            raise _damaged(f"the column {table}.{name} holds lengths its bytes do not match")
        column.append(bytes(blobs[at : at + length]))
        at += length
    return column, blobs[at:]


def _damaged(why: str) -> SnapshotFileRefused:
    return SnapshotFileRefused(f"the snapshot file is damaged: {why}")


def read_file(data: bytes) -> SnapshotFile:
    """Check a file's format, version and checksum (not yet its frames); SnapshotFileRefused otherwise."""
    if not data.startswith(MAGIC):
        raise SnapshotFileRefused("not an OpenOVC snapshot file (it does not begin with OPENOVC-SNAPSHOT)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise _damaged("its header does not end")
    try:
        header = orjson.loads(data[len(MAGIC) : end])
    except orjson.JSONDecodeError:
        raise _damaged("its header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotFileRefused("not an OpenOVC snapshot file (its header names another format)")
    version = header.get("version")
    if type(version) is not int or version < 1:
        raise _damaged(f"its format version {version!r} is not a version")
    if version > VERSION:
        raise SnapshotFileRefused(
            f"the snapshot file's format version {version} is newer than this server reads ({VERSION})"
        )
    if len(data) < end + 1 + 4 + _DIGEST:
        raise _damaged("it is cut short")
    if hashlib.sha256(memoryview(data)[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise _damaged("its checksum does not match its content")
    _check_header(header)
    return SnapshotFile(header, data, end + 1)


def _check_header(header: dict[str, Any]) -> None:
    tables = header.get("tables")
    if not isinstance(tables, dict) or not isinstance(header.get("schema_revision"), str):
        raise _damaged("its header lacks its tables or its schema revision")
    for name, entry in tables.items():
        columns = entry.get("columns") if isinstance(entry, dict) else None
        if (
            not isinstance(columns, list)
            or type(entry.get("rows")) is not int
            or not all(
                isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and c[1] in KINDS
                for c in columns
            )
        ):
            raise _damaged(f"its header describes the table {name!r} wrongly")
