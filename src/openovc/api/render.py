"""Wire formatting of stored rows: JSON fragments, `NA` times, `N.N : 1` ratios."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from openovc.domain.fields import Collection, Kind
from openovc.domain.ports.federation import Page
from openovc.domain.timefmt import NA


def _ratio(value: object) -> str:
    return f"{float(value):.1f} : 1" if value is not None else "0.0 : 1"  # type: ignore[arg-type]


def _converters(coll: Collection[Any], columns: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for name in columns:
        fld = coll.field(name)
        kind = fld.kind if fld else Kind.STR
        if kind is Kind.JSON:
            out.append(lambda v: orjson.Fragment(v) if v is not None else None)
        elif kind is Kind.TIME:
            out.append(lambda v: NA if v is None else v)
        elif kind is Kind.RATIO:
            out.append(_ratio)
        else:
            out.append(None)
    return out


def render_rows(
    coll: Collection[Any], columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[dict[str, object]]:
    """Stored rows of `columns` as wire objects."""
    convs = _converters(coll, columns)
    if not any(convs):
        return [dict(zip(columns, row, strict=True)) for row in rows]
    pairs = list(zip(columns, convs, strict=True))
    return [
        {name: (conv(v) if conv else v) for (name, conv), v in zip(pairs, row, strict=True)} for row in rows
    ]


def render_record(coll: Collection[Any], record: Mapping[str, Any]) -> dict[str, object]:
    """One stored object with every field, in the catalog's order."""
    columns = [f.name for f in coll.fields]
    return render_rows(coll, columns, [[record.get(c) for c in columns]])[0]


def envelope(coll: Collection[Any], page: Page, offset: int, limit: int) -> dict[str, object]:
    """The real collection envelope: offset and limit echoed, count of all matches."""
    return {
        "offset": offset,
        "limit": limit,
        "count": page.count,
        coll.plural: render_rows(coll, page.columns, page.rows),
    }


def dumps(payload: object) -> bytes:
    return orjson.dumps(payload)
