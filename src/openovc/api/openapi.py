"""The published OpenAPI document: FastAPI's, rewritten from the routes to say what the server really does.

FastAPI describes a route from its Python signature: bodies as `application/json`, answers as a bare
string, errors as its own 422. The server answers otherwise (api/errors.py, api/deps.py, api/guard.py), so
each operation is rewritten here from what its route depends on: the vendor media types its body takes,
its answers' schemas (api/schemas.py, or the route's openapi_extra), the errors it can send in HPE's
shapes, and the OAuth 2 password flow that protects it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from openovc import REST_API_VERSION
from openovc.api import schemas
from openovc.api.deps import MediaType, session, valid_session
from openovc.api.guard import GuardedRoute
from openovc.domain.auth import CLIENT_ID

LATEST_MINOR = int(REST_API_VERSION.split(".")[1])
TOKEN_URL = "/api/oauth/token"
OAUTH = "oauth2"  # the security scheme of every protected operation
CLIENT = "simplivityClient"  # the token request's HTTP basic client authentication
JSON_TYPE = "application/json"


def vendor_type(minor: int) -> str:
    return f"application/vnd.simplivity.v1{'' if minor == 0 else f'.{minor}'}+json"


def vendor_types(minimum: int = 0) -> list[str]:
    """Every vendor media type from version 1.`minimum` to the one this server implements."""
    return [vendor_type(n) for n in range(minimum, LATEST_MINOR + 1)]


# Every answer carries `application/json`, or the vendor type the client's Accept named (middleware.py).
ANSWER_TYPES = [JSON_TYPE, *vendor_types()]

SECURITY_SCHEMES = {
    OAUTH: {
        "type": "oauth2",
        "description": (
            "A bearer token from POST /api/oauth/token: grant_type=password with the user's credentials, "
            f'the client authenticated with HTTP basic as "{CLIENT_ID}" and an empty secret.'
        ),
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    },
    CLIENT: {
        "type": "http",
        "scheme": "basic",
        "description": f'The OAuth 2 client: username "{CLIENT_ID}", empty password.',
    },
}

_REF = "#/components/schemas/"
_ERROR_SCHEMAS = {"error": schemas.ERROR, "oauth_error": schemas.OAUTH_ERROR}
# status -> (components.responses name, description, schema)
ERROR_RESPONSES: dict[str, tuple[str, str, str]] = {
    "400": ("BadRequest", "Bad request: an invalid parameter or body", "error"),
    "401": ("Unauthorized", "No bearer token, or an invalid, expired or revoked one", "oauth_error"),
    "403": ("Forbidden", "The user's role (or an emergency grant) does not allow this", "error"),
    "404": ("NotFound", "An object the request names does not exist", "error"),
    "413": ("PayloadTooLarge", "The body is larger than the server accepts", "error"),
    "415": ("UnsupportedMediaType", "Content-Type is not a media type this operation accepts", "error"),
}


def response_ref(status: int) -> dict[str, str]:
    """A reference to the shared error answer of `status`, for a route's openapi_extra."""
    return {"$ref": f"#/components/responses/{ERROR_RESPONSES[str(status)][0]}"}


def publish(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The document FastAPI made from these routes, made true to the server."""
    components = document.setdefault("components", {})
    found = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        found.pop(name, None)
    store = _SchemaStore(found)
    for name, schema in _ERROR_SCHEMAS.items():
        store.add(schema, name)
    components["responses"] = {
        name: {"description": text, "content": _content({"schema": {"$ref": _REF + schema}})}
        for name, text, schema in ERROR_RESPONSES.values()
    }
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                operation = document["paths"][route.path_format][method.lower()]
                _rewrite(operation, route, store)
    _standard_keywords(document)
    return document


class _SchemaStore:
    """components.schemas: each answer's or body's schema once, under its title or its operation's name."""

    def __init__(self, found: dict[str, Any]) -> None:
        self.found = found
        self.names = {_canonical(v): k for k, v in found.items()}

    def add(self, schema: dict[str, Any], name: str) -> dict[str, str]:
        if "$ref" in schema:
            return schema
        key = _canonical(schema)
        if key not in self.names:
            chosen = str(schema.get("title") or name)
            while chosen in self.found:
                chosen += "_"
            self.found[chosen] = schema
            self.names[key] = chosen
        return {"$ref": _REF + self.names[key]}


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True)


def _content(entry: dict[str, Any], types: Iterable[str] = ANSWER_TYPES) -> dict[str, Any]:
    """The same media type object (schema, example) under each of these media types."""
    return dict.fromkeys(types, entry)


def _rewrite(operation: dict[str, Any], route: APIRoute, store: _SchemaStore) -> None:
    depends = {d.dependency for d in route.dependencies}
    minimum = next((d.minimum for d in depends if isinstance(d, MediaType)), None)
    name = operation["operationId"]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's validation error: the server answers 400 (api/errors.py)
    body = operation.get("requestBody")
    if body is not None:
        _rewrite_body(body, minimum, store, f"{name}_body")
    for status, response in responses.items():
        _rewrite_answer(response, status, store, f"{name}_{status}")
    if depends & {session, valid_session}:
        operation["security"] = [{OAUTH: []}]
    for status in _errors(route, operation, depends, minimum):
        responses.setdefault(status, response_ref(int(status)))
    operation["responses"] = dict(sorted(responses.items()))


_UNDESCRIBED = {"type": "string"}  # what FastAPI writes for an answer it knows nothing of


def _rewrite_answer(response: dict[str, Any], status: str, store: _SchemaStore, name: str) -> None:
    content = response.get("content", {})
    entry = content.get(JSON_TYPE, {})
    schema = entry.get("schema")
    if schema is None:
        return
    if schema == _UNDESCRIBED and len(content) > 1:
        del content[JSON_TYPE]  # FastAPI's guess beside the route's own media type (a file)
        return
    if schema == _UNDESCRIBED:
        if status != "202":
            return  # left as FastAPI wrote it, for tests/api/test_openapi.py to find
        schema = schemas.TASK_ANSWER  # every 202 is a task's
    response["content"] = _content({**entry, "schema": store.add(schema, name)})


def _errors(route: APIRoute, operation: dict[str, Any], depends: set[Any], minimum: int | None) -> list[str]:
    """The error statuses the route can answer, from what it depends on and what it reads."""
    checked = session in depends  # the caller's role checked, and (GuardedRoute) NULs refused first
    guarded = checked and isinstance(route, GuardedRoute)
    body = operation.get("requestBody")
    json_body = route.body_field is not None and not isinstance(route.body_field.field_info, params.Form)
    found = {
        "400": guarded or body is not None or _has_query(operation),
        "401": bool(depends & {session, valid_session}),
        "403": checked,
        "404": checked and _names_objects(route, body),
        "413": body is not None,
        # A vendor type required, or (guard.utf8_body) a JSON body's charset other than UTF-8.
        "415": minimum is not None or (json_body and guarded),
    }
    return [status for status, applies in found.items() if applies]


def _rewrite_body(body: dict[str, Any], minimum: int | None, store: _SchemaStore, name: str) -> None:
    content: dict[str, Any] = body["content"]
    json_schema = content.get(JSON_TYPE, {}).get("schema")
    if json_schema is None:
        return  # a form or file upload: as FastAPI described it
    if json_schema.get("title") == "Body":  # FastAPI's name for a body a route reads as any JSON
        json_schema = {k: v for k, v in json_schema.items() if k != "title"}
    entry = {**content[JSON_TYPE], "schema": store.add(json_schema, name)}
    # A route with a vendor-type check refuses application/json (415); the others take plain JSON.
    types = vendor_types(minimum) if minimum is not None else [JSON_TYPE]
    body["content"] = _content(entry, types)


def _has_query(operation: dict[str, Any]) -> bool:
    return any(p.get("in") == "query" for p in operation.get("parameters", []))


def _names_objects(route: APIRoute, body: dict[str, Any] | None) -> bool:
    """An id in the path, or a body naming objects of the federation (security bodies name none)."""
    if route.param_convertors:
        return True
    return body is not None and route.path.startswith("/api/") and not route.path.startswith("/api/security")


# Pydantic writes some constraints in its own words when a validator wraps the type.
_KEYWORDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _standard_keywords(node: Any) -> None:
    """Standard JSON Schema keywords in place of Pydantic's, everywhere in the document."""
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for ours, standard in _KEYWORDS.items():
                if isinstance(node.get(ours), int | float) and not isinstance(node[ours], bool):
                    node[standard] = node.pop(ours)
        for value in node.values():
            _standard_keywords(value)
    elif isinstance(node, list):
        for value in node:
            _standard_keywords(value)
