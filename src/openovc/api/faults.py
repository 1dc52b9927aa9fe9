"""Applies the fault rules (/_openovc/faults) to HPE's API: an error answer, a failed task, a delay or a
dropped connection, as the real one would give them.

The check costs one comparison while no rule exists: the rules come from the service's cache, which
reads the store's generation of them at most every FRESH_S seconds (through the thread pool).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, cast

import orjson
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openovc.api.errors import error_body
from openovc.api.guard import PATH_OBJECTS
from openovc.api.responses import JSON
from openovc.api.wire import HttpProtocol
from openovc.domain.auth import TokenVerdict, invalid_token_description
from openovc.domain.errors import ObjectNotFound, TaskError
from openovc.domain.faults import (
    DelayFault,
    HttpFault,
    Operation,
    Operations,
    TaskErrorFault,
    http_defaults,
    ids_in,
)
from openovc.operations.engine import TASK_FAULT
from openovc.services.faults import ActiveRule, FaultService

# The scope's way to close the connection without an answer (DroppingProtocol puts it there).
DROP_KEY = "openovc.drop_connection"


class ConnectionDropped(Exception):
    """A rule dropped the connection of a client the server does not hold a socket for (in-process)."""


class DroppingProtocol(HttpProtocol):
    """The server's HTTP protocol, giving each request's scope a way to close its connection unanswered."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        cast(dict[str, Any], self.scope)[DROP_KEY] = self.transport.close


def api_operations(routes: Iterable[BaseRoute]) -> Operations:
    """HPE's operations as these routes serve them, in the order a request tries them."""
    return Operations(
        Operation(route.operation_id, method, route.path, route.status_code == 202)
        for route in routes
        if isinstance(route, APIRoute) and route.operation_id
        for method in sorted(route.methods or ())
    )


class FaultMiddleware:
    """Finds the rules a request to /api matches and applies the effects of those that fire, in order:
    delays add up, and an error or a dropped connection ends the search. A task error is decided when the
    operation submits its task (a request refused first never counts as one of its matches)."""

    def __init__(self, app: ASGIApp, faults: FaultService) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        rules = self.faults.cached()
        if rules is None:
            rules = await run_in_threadpool(self.faults.rules)
        if rules:
            found = self.faults.operations.resolve(scope["method"], scope["path"])
            if found is not None:
                matching = [r for r in rules if r.rule.operation.operation_id == found[0].operation_id]
                if matching:
                    await self._faulted(matching, *found, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _faulted(
        self,
        rules: Sequence[ActiveRule],
        operation: Operation,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        ids = set(params.values())
        body: object = None
        if any(_needs_body(r, operation, ids) for r in rules):
            body, receive = await _read_body(receive)
            ids |= ids_in(body)
        names: list[str | None] = []  # looked up once, for the first rule that names one
        at_submit: list[ActiveRule] = []
        for active in rules:
            rule = active.rule
            if not rule.matches_ids(ids):
                continue
            if rule.name is not None:
                if not names:
                    names.append(await run_in_threadpool(self.faults.name_of, operation, params, body))
                if not rule.matches_name(names[0]):
                    continue
            effect = rule.effect
            if isinstance(effect, TaskErrorFault):
                at_submit.append(active)
                continue
            seen = await run_in_threadpool(self.faults.claim, active)
            if seen is None:
                continue
            if isinstance(effect, DelayFault):
                await asyncio.sleep(effect.ms(rule.draw(seen)) / 1000)
                continue
            if isinstance(effect, HttpFault):
                await _answer(effect, operation, params, scope, receive, send)
            else:
                await _drop(scope, receive)
            return
        if not at_submit:
            await self.app(scope, receive, send)
            return
        token = TASK_FAULT.set(partial(self.faults.task_failure, at_submit))
        try:
            await self.app(scope, receive, send)
        finally:
            TASK_FAULT.reset(token)


def _needs_body(active: ActiveRule, operation: Operation, path_ids: set[str]) -> bool:
    rule = active.rule
    wants_id = rule.object_id is not None and rule.object_id not in path_ids
    return wants_id or (rule.name is not None and not operation.params)


async def _read_body(receive: Receive) -> tuple[object, Receive]:
    """The request's JSON body (None if it has none or is not JSON), and a receive that replays it."""
    messages: list[Message] = []
    problem: Exception | None = None
    try:
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
    except Exception as refused:  # a body too large: the application meets it when it reads
        problem = refused
    raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    try:
        body: object = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        body = None

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        if problem is not None:
            raise problem
        return await receive()

    return body, replay


async def _answer(
    effect: HttpFault,
    operation: Operation,
    params: dict[str, str],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    request = Request(scope)
    if effect.status == 401:  # the OAuth layer's answer, whatever the rule says of HPE's fields
        header = request.headers.get("authorization", "")
        description = effect.message or invalid_token_description(TokenVerdict.UNKNOWN, header[7:].strip())
        challenge = f'Bearer realm="oauth", error="invalid_token", error_description="{description}"'
        unauthorized = JSON(
            {"error": "invalid_token", "error_description": description},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
        await unauthorized(scope, receive, send)
        return
    exception, message = http_defaults(effect.status)
    first = operation.params[0] if operation.params else None
    if effect.status == 404 and first in PATH_OBJECTS:
        missing = ObjectNotFound(PATH_OBJECTS[first], params[first])
        exception, message = missing.exception, missing.message
    elif effect.status == 400 and effect.error_code is not None:
        exception = TaskError.exception  # a shallow check of the operation refused it
    body = error_body(
        request, effect.status, effect.exception or exception, effect.message or message, effect.error_code
    )
    await JSON(body, status_code=effect.status)(scope, receive, send)


async def _drop(scope: Scope, receive: Receive) -> None:
    close = scope.get(DROP_KEY)
    if close is None:
        raise ConnectionDropped(f"{scope['method']} {scope['path']}: connection dropped by a fault rule")
    close()
    # Wait for the server to see the connection gone: returning earlier would make it answer 500.
    while (await receive())["type"] != "http.disconnect":
        pass
