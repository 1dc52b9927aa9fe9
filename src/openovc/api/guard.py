"""Protected routes check the caller, the parameters and the body's encoding before FastAPI reads the body."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, params
from fastapi.routing import APIRoute
from starlette.responses import Response

from openovc.api.deps import session
from openovc.domain.errors import InvalidBody, InvalidParameter, ObjectNotFound, UnsupportedMediaType

# The object each path parameter names, for the 404 of an id that cannot exist.
PATH_OBJECTS = {
    "vmId": "virtual_machine",
    "bkpId": "backup",
    "datastoreId": "datastore",
    "hostId": "host",
    "clusterId": "omnistack_cluster",
    "clusterGroupId": "cluster_group",
    "policyId": "policy",
    "ruleId": "rule",
    "taskId": "task",
    "certId": "certificate",
    "pvId": "persistent_volume",
}

_UTF8 = ("utf-8", "utf8")
# \u0000 in a JSON string, not preceded by an escaped backslash (\\u0000 is the text "\u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class GuardedRoute(APIRoute):
    """A route of `deps.api_router`. FastAPI reads and parses a body before it solves any dependency, so a
    protected route authenticates here first: a stranger's body is never read (401, not 400 for bad JSON).
    Then NUL characters, which no object's id or name holds and PostgreSQL text cannot, are refused before
    any query (an id: 404, as for any unknown id; a query parameter: 400), and a JSON body must be UTF-8.
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not any(d.dependency is session for d in self.dependencies):
            return handler  # unprotected routes (the token) check their own input
        json_body = self.body_field is not None and not isinstance(self.body_field.field_info, params.Form)

        async def guarded(request: Request) -> Response:
            await session(request, request.app.state.runtime)
            refuse_nul(request)
            if json_body:
                await utf8_body(request)
            return await handler(request)

        return guarded


def refuse_nul(request: Request) -> None:
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            raise ObjectNotFound(PATH_OBJECTS[name], str(value))
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidParameter(f"Invalid value for parameter '{name}': NUL characters are not allowed")


async def utf8_body(request: Request) -> None:
    """JSON bodies are UTF-8 (RFC 8259); json.loads would also take UTF-16 and UTF-32, which Spring does not."""
    ctype = request.headers.get("content-type", "")
    for param in ctype.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise UnsupportedMediaType(f"Content type '{ctype}' not supported")
    body = await request.body()  # kept by the request: FastAPI parses these same bytes
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise InvalidBody(f"Invalid body: not UTF-8 at byte {problem.start}") from None
    nul = body.find(b"\x00")
    if nul >= 0:
        # JSON text never holds a raw NUL; UTF-16 or UTF-32 JSON always does (its ASCII characters).
        raise InvalidBody(f"Invalid body: NUL byte at byte {nul}; JSON bodies are UTF-8")
    if holds_nul_escape(text):
        raise InvalidBody(f"Invalid body: {_nul_where(text)}: NUL characters are not allowed")


def holds_nul_escape(text: str) -> bool:
    """Whether a JSON text writes a NUL character (\\u0000) in one of its strings."""
    return _NUL_ESCAPE.search(text) is not None


def _nul_where(text: str) -> str:
    """Where in the JSON body a string holds a NUL, as validation errors name places (a.0.b)."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        return "body"  # FastAPI's own parse then names what is wrong with it
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return path or "body"
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in pairs:
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here
            stack.append((here, child))
    return "body"
