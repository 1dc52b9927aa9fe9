"""ASGI middleware: request-target normalisation and the real one's response headers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_VENDOR = re.compile(rb"application/vnd\.simplivity\.v1(\.\d+)?\+json")
_SLASHES = re.compile(r"/{2,}")

_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, GET, OPTIONS, DELETE, PUT"),
    (b"access-control-allow-headers", b"x-requested-with, authorization, content-type, accept"),
    (b"access-control-max-age", b"3600"),
    (b"cache-control", b"no-cache, no-store, max-age=0, must-revalidate"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]


def normalise_path(path: str) -> str:
    """Absolute-form targets lose scheme and authority; double and trailing slashes collapse (as Spring does)."""
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path or "/"
    path = _SLASHES.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


class OmniStackMiddleware:
    """Normalises the path and decorates every response like the Virtual Controller's Spring stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = normalise_path(scope["path"])
        if path != scope["path"]:
            scope = dict(scope, path=path, raw_path=path.encode())
        vendor = _vendor_accept(scope)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if vendor is not None:
                    headers = [
                        (k, vendor if k == b"content-type" and v.startswith(b"application/json") else v)
                        for k, v in headers
                    ]
                headers.extend(_HEADERS)
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _vendor_accept(scope: Scope) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == b"accept":
            match = _VENDOR.search(value)
            return match.group(0) if match else None
    return None
