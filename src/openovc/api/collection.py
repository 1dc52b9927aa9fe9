"""Shared handlers for collection GETs and single-object GETs, and their OpenAPI description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from openovc.api.deps import emergency
from openovc.api.render import envelope, render_record
from openovc.api.responses import JSON
from openovc.domain.fields import Collection, Field, Kind, Op
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


_JSON_TYPES = {
    Kind.STR: "string", Kind.ENUM: "string", Kind.TIME: "string", Kind.RATIO: "string",
    Kind.INT: "integer", Kind.BOOL: "boolean",
}  # fmt: skip


def _field_schema(fld: Field) -> dict[str, Any]:
    if fld.kind is Kind.JSON:
        return {}
    schema: dict[str, Any] = {"type": _JSON_TYPES[fld.kind]}
    if fld.enum:
        schema["enum"] = list(fld.enum)
    return schema


def object_schema(coll: Collection[Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": coll.singular,
        "properties": {f.name: _field_schema(f) for f in coll.fields},
    }


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


_PAGING = [
    ("fields", "string", "Comma-separated list of fields to return"),
    ("limit", "integer", "Maximum number of objects (1-5000, default 500)"),
    ("offset", "integer", "Index of the first object (default 0)"),
    ("case", "string", "sensitive (default) or insensitive: applies to filters and sort"),
    ("sort", "string", "Field to sort on"),
    ("order", "string", "ascending or descending (default)"),
]


def list_openapi(coll: Collection[Any]) -> dict[str, Any]:
    """openapi_extra for a collection GET: every filter and paging parameter, and the envelope."""
    params = [_filter_param(coll, f.param, f.op, f.field) for f in coll.filters]
    params += [
        {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
        for n, t, d in _PAGING
    ]
    if coll.has_optional_fields:
        params.append(
            {"name": "show_optional_fields", "in": "query", "required": False, "schema": {"type": "boolean"}}
        )
    return {
        "parameters": params,
        "responses": {
            "200": {
                "description": f"A page of {coll.plural}",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "offset": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "count": {"type": "integer"},
                                coll.plural: {"type": "array", "items": object_schema(coll)},
                            },
                        }
                    }
                },
            }
        },
    }


def get_openapi(coll: Collection[Any]) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": f"One {coll.singular}",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {coll.singular: object_schema(coll)}}
                    }
                },
            }
        }
    }
