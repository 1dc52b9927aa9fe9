"""A brute-force reference of collection queries over generated rows, to check the SQL engine against."""

from __future__ import annotations

import fnmatch
from typing import Any

from openovc.domain.catalog import BY_PLURAL
from openovc.domain.fields import Collection, Kind, Op
from openovc.domain.query import CollectionQuery, parse_collection_query, visible_fields
from openovc.simulator.federation import Federation


def wire(coll: Collection[Any], row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        fld = coll.field(name)
        assert fld is not None
        value = row[name]
        if fld.kind is Kind.TIME and value is None:
            value = "NA"
        elif fld.kind is Kind.RATIO:
            value = f"{float(value):.1f} : 1"
        out[name] = value
    return out


def _matches_one(value: Any, wanted: str, wildcard: bool, insensitive: bool) -> bool:
    text = "" if value is None else str(value)
    if insensitive:
        text, wanted = text.lower(), wanted.lower()
    if wildcard and "*" in wanted:
        return fnmatch.fnmatchcase(text, wanted.replace("[", "[[]").replace("?", "[?]"))
    return text == wanted


def _groups_clusters(fed: Federation, group_ids: tuple[object, ...]) -> set[str]:
    return {c for g in fed.rows["cluster_groups"] if g["id"] in group_ids for c in g["clusters"]}


def _keep(fed: Federation, coll: Collection[Any], q: CollectionQuery, row: dict[str, Any]) -> bool:
    for cond in q.conditions:
        value = row[cond.field]
        fld = coll.field(cond.field)
        assert fld is not None
        insensitive = q.case_insensitive and fld.kind is Kind.STR
        if cond.op is Op.MATCH:
            ok = any(_matches_one(value, str(v), cond.wildcard, insensitive) for v in cond.values)
        elif cond.op is Op.CLUSTER_GROUP:
            ok = value in _groups_clusters(fed, cond.values)
        elif cond.op is Op.BOOL:
            ok = value == cond.values[0]
        elif value is None:
            ok = False
        elif cond.op in (Op.MIN, Op.AFTER):
            ok = value >= cond.values[0]
        else:
            ok = value <= cond.values[0]
        if not ok:
            return False
    return True


def _sort_key(coll: Collection[Any], q: CollectionQuery) -> Any:
    fld = coll.field(q.sort)
    assert fld is not None
    lower = fld.kind is Kind.STR and (q.case_insensitive or q.sort in coll.insensitive_sort)

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        value = row[q.sort]
        if isinstance(value, str):
            # Byte order, as SQLite's BINARY and PostgreSQL's "C" collations compare.
            value = (value.lower() if lower else value).encode()
        # NULLs sort first ascending on SQLite, last on PostgreSQL; tests avoid sorting on NULL columns.
        return (value is None, value, row[coll.key].encode())

    return key


def expected_page(fed: Federation, plural: str, params: dict[str, str]) -> dict[str, Any]:
    coll = BY_PLURAL[plural]
    q = parse_collection_query(coll, params)
    rows = [r for r in fed.rows[plural] if _keep(fed, coll, q, r)]
    rows.sort(key=_sort_key(coll, q), reverse=q.descending)
    page = rows[q.offset : q.offset + q.limit]
    names = visible_fields(coll, q)
    return {
        "offset": q.offset,
        "limit": q.limit,
        "count": len(rows),
        plural: [wire(coll, r, names) for r in page],
    }
