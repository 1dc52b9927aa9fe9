"""Turns a checked CollectionQuery into SQL: filters, sort with a stable tie-break, paging, count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, Table, and_, false, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement as Col

from openovc.domain.fields import Collection, Kind, Op
from openovc.domain.ports.federation import Page
from openovc.domain.query import CollectionQuery, Condition
from openovc.storage import tables

_LIKE_ESCAPE = "\\"


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _match_one(
    column: Col[object], value: str, kind: Kind, wildcard: bool, insensitive: bool
) -> ColumnElement[bool]:
    text_col: Col[object] = column
    if insensitive and kind is Kind.STR:
        text_col = func.lower(column)
        value = value.lower()
    if wildcard and "*" in value:
        return text_col.like(_like_pattern(value), escape=_LIKE_ESCAPE)
    return text_col == value


def _cluster_ids_of_groups(conn: Connection, group_ids: Sequence[object]) -> list[str]:
    groups = tables.COLLECTION_TABLES["cluster_groups"]
    rows = conn.execute(select(groups.c.clusters).where(groups.c.id.in_(list(group_ids))))
    found: list[str] = []
    for (clusters,) in rows:
        found.extend(orjson.loads(clusters))
    return found


def _clause(
    conn: Connection | None, coll: Collection[Any], table: Table, cond: Condition, insensitive: bool
) -> ColumnElement[bool]:
    column = table.c[cond.field]
    fld = coll.field(cond.field)
    assert fld is not None
    if cond.op is Op.MATCH:
        if not cond.values:  # a list of nothing but commas matches nothing
            return false()
        return or_(*(_match_one(column, str(v), fld.kind, cond.wildcard, insensitive) for v in cond.values))
    if cond.op in (Op.MIN, Op.AFTER):
        return column >= cond.values[0]
    if cond.op in (Op.MAX, Op.BEFORE):
        return column <= cond.values[0]
    if cond.op is Op.BOOL:
        return column == cond.values[0]
    assert conn is not None, "a cluster group's filter reads the store's groups"
    cluster_ids = _cluster_ids_of_groups(conn, cond.values)
    return column.in_(cluster_ids) if cluster_ids else false()


def where_clause(
    conn: Connection | None, coll: Collection[Any], query: CollectionQuery
) -> ColumnElement[bool]:
    table = tables.COLLECTION_TABLES[coll.plural]
    return and_(true(), *(_clause(conn, coll, table, c, query.case_insensitive) for c in query.conditions))


def _order_by(coll: Collection[Any], table: Table, query: CollectionQuery) -> list[ColumnElement[object]]:
    fld = coll.field(query.sort)
    assert fld is not None
    column: Col[object] = table.c[query.sort]
    if fld.kind is Kind.STR and (query.case_insensitive or query.sort in coll.insensitive_sort):
        column = func.lower(column)
    key = table.c[coll.key]
    if query.descending:
        return [column.desc(), key.desc()]
    return [column.asc(), key.asc()]


def page_select(
    conn: Connection | None, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]
) -> tuple[Select[tuple[object, ...]], ColumnElement[bool]]:
    """The SELECT of one page of `columns`, and the WHERE clause for counting. `conn` reads the cluster
    groups a filter names (None: the query has no such filter)."""
    table = tables.COLLECTION_TABLES[coll.plural]
    where = where_clause(conn, coll, query)
    stmt = (
        select(*(table.c[name] for name in columns))
        .where(where)
        .order_by(*_order_by(coll, table, query))
        .offset(query.offset)
        .limit(query.limit)
    )
    return stmt, where


def count_select(coll: Collection[Any], where: ColumnElement[bool]) -> Select[int]:
    table = tables.COLLECTION_TABLES[coll.plural]
    return select(func.count()).select_from(table).where(where)


def read_page(
    conn: Connection, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]
) -> Page:
    """One page of `columns` and the count of every match, read on this connection."""
    stmt, where = page_select(conn, coll, query, columns)
    rows = conn.execute(stmt).all()
    if query.offset == 0 and len(rows) < query.limit:
        count = len(rows)  # the page holds every match: no need to count again
    else:
        count = conn.execute(count_select(coll, where)).scalar_one()
    return Page(count=count, columns=tuple(columns), rows=rows)
