"""Collection query parameters, read and checked the way the Virtual Controller reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openovc.domain import timefmt
from openovc.domain.errors import InvalidParameter, InvalidSortCriteria, TypeMismatch
from openovc.domain.fields import Collection, Filter, Kind, Op

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
# Integers are Java longs there and BIGINT columns here: a value beyond them is refused as a bad parameter
# before any database sees it (SQLite's driver cannot even bind one).
MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1
PAGING_PARAMS = frozenset({"offset", "limit", "sort", "order", "case", "fields", "show_optional_fields"})


@dataclass(frozen=True)
class Condition:
    """One filter applied to one field; `values` are already parsed and normalised."""

    field: str
    op: Op
    values: tuple[object, ...]
    wildcard: bool = False


@dataclass(frozen=True)
class CollectionQuery:
    """A checked collection request: filters, sort, paging and projection."""

    conditions: tuple[Condition, ...] = ()
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    sort: str = "name"
    descending: bool = True
    case_insensitive: bool = False
    fields: tuple[str, ...] | None = None  # None: every field
    show_optional_fields: bool = False


def parse_bool(param: str, raw: str) -> bool:
    """Booleans arrive as true, True, FALSE...: compare case-insensitively."""
    value = raw.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    raise TypeMismatch(f"Invalid value '{raw}' for parameter '{param}': expected true or false")


def _whole(param: str, raw: str) -> int:
    try:
        # int() also refuses digit strings beyond Python's conversion limit (ValueError).
        return int(raw.strip())
    except ValueError:
        raise TypeMismatch(f"Invalid value '{raw}' for parameter '{param}': expected an integer") from None


def parse_int(param: str, raw: str, *, minimum: int = MIN_INT64, maximum: int = MAX_INT64) -> int:
    """An integer parameter within [minimum, maximum], which never exceed the signed 64-bit range."""
    value = _whole(param, raw)
    low, high = max(minimum, MIN_INT64), min(maximum, MAX_INT64)
    if value < low:
        raise InvalidParameter(f"Invalid value '{raw}' for parameter '{param}': must be at least {low}")
    if value > high:
        raise InvalidParameter(f"Invalid value '{raw}' for parameter '{param}': must be at most {high}")
    return value


def _given(params: Mapping[str, str], name: str) -> str | None:
    """A parameter's value, or None when absent or empty (empty means the default)."""
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip() != ""]


def _condition(coll: Collection[Any], flt: Filter, raw: str) -> Condition:
    fld = coll.field(flt.field)
    assert fld is not None, f"{coll.plural}.{flt.param} names an unknown field"
    if flt.op is Op.BOOL:
        return Condition(flt.field, flt.op, (parse_bool(flt.param, raw),))
    if flt.op in (Op.MIN, Op.MAX):
        return Condition(flt.field, flt.op, (parse_int(flt.param, raw),))
    if flt.op in (Op.AFTER, Op.BEFORE):
        try:
            when = timefmt.parse(raw)
        except ValueError:
            raise InvalidParameter(
                f"Invalid value '{raw}' for parameter '{flt.param}': expected an ISO-8601 date and time"
            ) from None
        return Condition(flt.field, flt.op, (timefmt.to_text(when),))
    values = _split(raw) if flt.listable or flt.op is Op.CLUSTER_GROUP else [raw.strip()]
    if fld.kind is Kind.ENUM:
        values = [_enum_value(flt.param, fld.enum, v) for v in values]
    return Condition(flt.field, flt.op, tuple(values), wildcard=flt.wildcard)


def _enum_value(param: str, allowed: tuple[str, ...], raw: str) -> str:
    by_upper = {a.upper(): a for a in allowed}
    value = by_upper.get(raw.upper())
    if value is None:
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter '{param}': expected one of {', '.join(allowed)}"
        )
    return value


def _sort(coll: Collection[Any], params: Mapping[str, str]) -> str:
    raw = _given(params, "sort")
    if raw is None:
        return coll.default_sort
    name = raw.strip()
    fld = coll.field(name)
    if fld is None or not fld.sortable:
        raise InvalidSortCriteria(f"Invalid sort criteria: '{name}' is not a sortable field of {coll.plural}")
    return name


def _order(params: Mapping[str, str]) -> bool:
    raw = _given(params, "order")
    if raw is None:
        return True
    value = raw.strip().lower()
    if value not in ("ascending", "descending"):
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'order': expected ascending or descending"
        )
    return value == "descending"


def _case(params: Mapping[str, str]) -> bool:
    raw = _given(params, "case")
    if raw is None:
        return False
    value = raw.strip().lower()
    if value not in ("sensitive", "insensitive"):
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'case': expected sensitive or insensitive"
        )
    return value == "insensitive"


def _limit(params: Mapping[str, str]) -> int:
    raw = _given(params, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    value = _whole("limit", raw)
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidSortCriteria(f"Invalid limit: {value}. The limit must be between 1 and {MAX_LIMIT}")
    return value


def _fields(coll: Collection[Any], params: Mapping[str, str]) -> tuple[str, ...] | None:
    raw = _given(params, "fields")
    if raw is None:
        return None
    names = tuple(dict.fromkeys(_split(raw)))
    unknown = [n for n in names if coll.field(n) is None]
    if unknown:
        raise InvalidParameter(
            f"Invalid value for parameter 'fields': {', '.join(unknown)} "
            f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of {coll.plural}"
        )
    return names


def parse_collection_query(coll: Collection[Any], params: Mapping[str, str]) -> CollectionQuery:
    """Read a collection GET's query string. Unknown parameter names are ignored, as the real one does."""
    conditions = []
    for flt in coll.filters:
        raw = _given(params, flt.param)
        if raw is None:
            raw = coll.default_filters.get(flt.param)
        if raw is not None:
            conditions.append(_condition(coll, flt, raw))
    show_raw = _given(params, "show_optional_fields")
    return CollectionQuery(
        conditions=tuple(conditions),
        offset=parse_int("offset", _given(params, "offset") or "0", minimum=0),
        limit=_limit(params),
        sort=_sort(coll, params),
        descending=_order(params),
        case_insensitive=_case(params),
        fields=_fields(coll, params),
        show_optional_fields=parse_bool("show_optional_fields", show_raw) if show_raw else False,
    )


def visible_fields(coll: Collection[Any], query: CollectionQuery) -> tuple[str, ...]:
    """The properties each returned object carries: optional ones only when asked for."""
    names = [f.name for f in coll.fields if query.show_optional_fields or not f.optional]
    if query.fields is None:
        return tuple(names)
    wanted = set(query.fields)
    return tuple(n for n in names if n in wanted)
