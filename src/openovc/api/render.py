"""Wire formatting of stored rows: JSON fragments, `NA` times, `N.N : 1` ratios, booleans."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from openovc.domain.fields import Collection, Kind
from openovc.domain.ports.federation import Page
from openovc.domain.timefmt import NA

Convert = Callable[[Any], object]


def _ratio(value: object) -> str:
    return f"{float(value):.1f} : 1" if value is not None else "0.0 : 1"  # type: ignore[arg-type]


def _json(value: str | None) -> object:
    return orjson.Fragment(value) if value is not None else None


def _time(value: object) -> object:
    return NA if value is None else value


def _boolean(value: object) -> object:
    # SQLite's booleans may come as the integers stored (a read on the driver's cursor).
    return bool(value) if value is not None else None


_CONVERTERS: dict[Kind, Convert] = {
    Kind.JSON: _json,
    Kind.TIME: _time,
    Kind.RATIO: _ratio,
    Kind.BOOL: _boolean,
}
# Per collection and column set: the columns that need converting, by name, with their converters.
_PLANS: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, Convert], ...]] = {}


def _plan(coll: Collection[Any], columns: tuple[str, ...]) -> tuple[tuple[str, Convert], ...]:
    found = _PLANS.get((coll.plural, columns))
    if found is None:
        kinds = [(name, (fld.kind if (fld := coll.field(name)) else Kind.STR)) for name in columns]
        found = tuple((name, _CONVERTERS[kind]) for name, kind in kinds if kind in _CONVERTERS)
        if len(_PLANS) < 1024:  # the clients' `fields` choose the column sets: keep a bounded few
            _PLANS[(coll.plural, columns)] = found
    return found


def render_rows(
    coll: Collection[Any], columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[dict[str, object]]:
    """Stored rows of `columns` as wire objects."""
    names = tuple(columns)
    plan = _plan(coll, names)
    out = [dict(zip(names, row, strict=True)) for row in rows]
    # Only a few columns need converting: each is replaced in place, which keeps the columns' order.
    for obj in out:
        for name, conv in plan:
            obj[name] = conv(obj[name])
    return out


def render_record(coll: Collection[Any], record: Mapping[str, Any]) -> dict[str, object]:
    """One stored object with every field, in the catalog's order."""
    columns = _columns(coll)
    return render_rows(coll, columns, [[record.get(c) for c in columns]])[0]


def _columns(coll: Collection[Any]) -> tuple[str, ...]:
    found: tuple[str, ...] | None = coll.__dict__.get("_render_columns")
    if found is None:
        found = tuple(f.name for f in coll.fields)
        object.__setattr__(coll, "_render_columns", found)
    return found


def envelope(coll: Collection[Any], page: Page, offset: int, limit: int) -> dict[str, object]:
    """The real collection envelope: offset and limit echoed, count of all matches."""
    return {
        "offset": offset,
        "limit": limit,
        "count": page.count,
        coll.plural: render_rows(coll, page.columns, page.rows),
    }


def object_json(
    coll: Collection[Any], columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[bytes]:
    """Each stored row of `columns` as its wire object's JSON, as `dumps` writes it in a page."""
    return [orjson.dumps(obj) for obj in render_rows(coll, columns, rows)]


def envelope_json(
    coll: Collection[Any], count: int, objects: Sequence[bytes], offset: int, limit: int
) -> bytes:
    """`dumps(envelope(...))` of a page whose objects are JSON already (orjson writes a list as its
    items' JSON joined by commas, so the bytes are the same), copied once."""
    empty = orjson.dumps({"offset": offset, "limit": limit, "count": count, coll.plural: []})
    parts = [empty[:-2]]  # up to the list's "["
    for json in objects:
        parts += (json, b",")
    if objects:
        parts.pop()
    parts.append(b"]}")
    return b"".join(parts)


def dumps(payload: object) -> bytes:
    return orjson.dumps(payload)
