"""Every request observed: a request id echoed in X-Request-Id, an access line, and its route's metrics.

Two middlewares: `Observe`, the outermost, times the request, sees its status and writes the line (so
that what the other middlewares refuse is observed too); `RouteNote`, inside the one that may copy the
scope to normalise the path, notes the route template and the token's user that the routers and the
session check left in the scope they were given.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable

import orjson
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openovc.api.server_metrics import ServerMetrics
from openovc.services.auth import Session

TEXT = "text"
JSON_LINES = "json"
LOG_FORMATS = (TEXT, JSON_LINES)
UNMATCHED = "unmatched"  # the route label of a request no route took
_SEEN = "openovc.seen"
# An incoming id is kept when it cannot disturb a log line or a header; anything else gets a new one.
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:+/=-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Seen:
    """What the inner middleware saw of a request: the route template it matched, and whose token it had."""

    __slots__ = ("route", "user")

    def __init__(self) -> None:
        self.route = UNMATCHED
        self.user = "-"


def stdout_line(line: str) -> None:
    """One line on standard output, at once (the server's start-up lines are written there too)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def timestamp(at: float) -> str:
    """UTC, to the millisecond: 2026-12-07T10:11:12.345Z."""
    whole = int(at)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{int((at - whole) * 1000):03d}Z"


class AccessLog:
    """Writes one line per request: text, or one JSON object."""

    def __init__(self, log_format: str, write: Callable[[str], None] = stdout_line) -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
        self._json = log_format == JSON_LINES
        self._write = write

    def request(
        self, *, at: float, request_id: str, client: str, user: str, method: str, path: str, status: int,
        seconds: float,
    ) -> None:  # fmt: skip
        ms = round(seconds * 1000, 3)
        if self._json:
            record = {
                "time": timestamp(at), "level": "info", "logger": "access", "request_id": request_id,
                "client": client, "user": user, "method": method, "path": path, "status": status,
                "duration_ms": ms,
            }  # fmt: skip
            line = orjson.dumps(record).decode()
        else:
            shown = user if user.isprintable() else repr(user)
            line = f"{timestamp(at)} {client} {method} {path} {status} {ms:.3f}ms user={shown} request_id={request_id}"
        self._write(line)


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            return request_id(value)
    return request_id(None)


def request_id(given: bytes | None) -> str:
    """The client's X-Request-Id when it is sane, else a new one."""
    return given.decode("ascii") if given is not None and _SANE_ID.match(given) else os.urandom(16).hex()


class Observe:
    """Times each request, echoes its request id, counts it by route and status, writes its access line."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, access: AccessLog | None) -> None:
        self.app = app
        self.metrics = metrics
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at, started = time.time(), time.perf_counter()
        request_id = _request_id(scope)
        echoed = (b"x-request-id", request_id.encode("ascii"))
        seen = scope[_SEEN] = _Seen()
        scope.setdefault("state", {})  # here, so that a copy of the scope further in shares it
        status = 500  # what the server answers when the application fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.observe(seen.route, method, status, seconds)
            if self.access is not None:
                client = scope.get("client")
                raw = scope.get("raw_path") or scope["path"].encode()
                self.access.request(
                    at=at, request_id=request_id, client=client[0] if client else "-", user=seen.user,
                    method=scope["method"], path=raw.decode("ascii", "backslashreplace"), status=status,
                    seconds=seconds,
                )  # fmt: skip


class RouteNote:
    """Notes, for `Observe`, the route template the routers matched and the user the session check found."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen: _Seen | None = scope.get(_SEEN)
        if seen is None:
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        try:
            await self.app(scope, receive, send)
        finally:
            # A mounted application's routes are relative to its mount, whose path the mount added here.
            seen.route = _template(scope.get("route"), scope.get("root_path", "")[len(root) :])
            found = scope.get("state", {}).get("session")
            if isinstance(found, Session):
                seen.user = found.token.username


def _template(route: object, prefix: str) -> str:
    if isinstance(route, Mount):
        # A mounted application with routes of its own matched none of them; other mounts serve files.
        return UNMATCHED if route.routes else f"{prefix}/{{path}}"
    path = getattr(route, "path", None)
    return prefix + path if isinstance(path, str) else UNMATCHED
