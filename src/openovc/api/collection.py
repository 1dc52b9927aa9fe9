"""Shared handlers for collection GETs and single-object GETs, and their OpenAPI description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from openovc.api import schemas
from openovc.api.deps import emergency
from openovc.api.render import envelope, render_record
from openovc.api.responses import JSON
from openovc.api.schemas import answer
from openovc.domain.fields import Collection, Kind, Op
from openovc.domain.ports.federation import FederationReader
from openovc.services import reads


def list_response(
    request: Request, reader: FederationReader, coll: Collection[Any], fixed: Mapping[str, str] | None = None
) -> JSON:
    params: Mapping[str, str] = request.query_params
    if emergency(request):
        params = {k: v for k, v in params.items() if k in ("offset", "limit")}
    page, query = reads.list_objects(reader, coll, params, fixed)
    return JSON(envelope(coll, page, query.offset, query.limit))


def get_response(reader: FederationReader, coll: Collection[Any], key: str) -> JSON:
    return JSON({coll.singular: render_record(coll, reads.get_object(reader, coll, key))})


def _filter_param(coll: Collection[Any], param: str, op: Op, field_name: str) -> dict[str, Any]:
    fld = coll.field(field_name)
    kind = fld.kind if fld else Kind.STR
    typ = {Op.MIN: "integer", Op.MAX: "integer", Op.BOOL: "boolean"}.get(op, "string")
    notes = {
        Op.MATCH: "Single value or comma-separated list (OR)",
        Op.AFTER: "ISO-8601 UTC",
        Op.BEFORE: "ISO-8601 UTC",
    }
    desc = notes.get(op, "")
    if kind is Kind.ENUM and fld is not None:
        desc += f"; one of {', '.join(fld.enum)}"
    return {"name": param, "in": "query", "required": False, "schema": {"type": typ}, "description": desc}


_PAGING: list[tuple[str, dict[str, Any], str]] = [
    ("fields", {"type": "string"}, "Comma-separated list of fields to return"),
    ("limit", {"type": "integer", "minimum": 1, "maximum": 5000}, "Maximum number of objects (default 500)"),
    ("offset", {"type": "integer", "minimum": 0}, "Index of the first object (default 0)"),
    ("case", {"type": "string", "enum": ["sensitive", "insensitive"]}, "Applies to filters and sort"),
    ("order", {"type": "string", "enum": ["ascending", "descending"]}, "descending by default"),
]


def list_openapi(coll: Collection[Any]) -> dict[str, Any]:
    """openapi_extra for a collection GET: every filter and paging parameter, and the envelope."""
    params = [_filter_param(coll, f.param, f.op, f.field) for f in coll.filters]
    params += [
        {"name": n, "in": "query", "required": False, "schema": schema, "description": d}
        for n, schema, d in _PAGING
    ]
    sortable = [f.name for f in coll.fields if f.sortable]
    params.append(
        {"name": "sort", "in": "query", "required": False, "schema": {"type": "string", "enum": sortable},
         "description": f"Field to sort on (default {coll.default_sort})"}
    )  # fmt: skip
    if coll.has_optional_fields:
        params.append(
            {"name": "show_optional_fields", "in": "query", "required": False, "schema": {"type": "boolean"}}
        )
    return {"parameters": params, **answer(schemas.envelope(coll), description=f"A page of {coll.plural}")}


def get_openapi(coll: Collection[Any]) -> dict[str, Any]:
    """openapi_extra for a single-object GET: the object with every field."""
    return answer(schemas.single(coll), description=f"One {coll.singular}")
