"""ASGI middleware: request-target normalisation, size limits, the real one's response headers, and HPE's 500."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openovc.api.errors import crash_response, omnistack_response
from openovc.domain.errors import PayloadTooLarge, UriTooLong

_log = logging.getLogger(__name__)

# The request target's longest accepted length: well above what any client sends (500 ids in a filter are
# about 20 KiB), and below the 64 KiB at which uvicorn's HTTP parser gives up with a plain-text 400.
MAX_TARGET_BYTES = 32 * 1024

_VENDOR = re.compile(rb"application/vnd\.simplivity\.v1(\.\d+)?\+json")
_SLASHES = re.compile(r"/{2,}")

SECURITY_HEADERS = [
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
    """Normalises the path, refuses oversized requests, and decorates every response like the Virtual
    Controller's Spring stack.

    A body is limited to `max_body_bytes`: a declared Content-Length beyond it is refused at once, and the
    bytes of a body read in pieces (chunked) are counted as the application reads them.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = normalise_path(scope["path"])
        if path != scope["path"]:
            scope = dict(scope, path=path, raw_path=path.encode())
        vendor = vendor_accept(_accept(scope))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if vendor is not None:
                    headers = [
                        (k, vendor if k == b"content-type" and v.startswith(b"application/json") else v)
                        for k, v in headers
                    ]
                headers.extend(SECURITY_HEADERS)
                message = dict(message, headers=headers)
            await send(message)

        refused = self._refused(scope)
        if refused is not None:
            await omnistack_response(Request(scope), refused)(scope, receive, send_wrapper)
            return
        await self.app(scope, self._counted(receive), send_wrapper)

    def _refused(self, scope: Scope) -> PayloadTooLarge | UriTooLong | None:
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > MAX_TARGET_BYTES:
            return UriTooLong(f"Request URI too long: at most {MAX_TARGET_BYTES} bytes are accepted")
        for key, value in scope.get("headers", []):
            if key == b"content-length" and value.strip().isdigit() and int(value) > self.max_body_bytes:
                return PayloadTooLarge(self._too_large())
        return None

    def _too_large(self) -> str:
        return f"Request body too large: at most {self.max_body_bytes} bytes are accepted"

    def _counted(self, receive: Receive) -> Receive:
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_body_bytes:
                    # An HTTPException: FastAPI passes it on from reading a body (anything else would
                    # become its 400), and errors._on_http answers it as HPE's 413.
                    raise HTTPException(413, self._too_large())
            return message

        return counted


class CatchAll:
    """Unhandled errors become HPE's 500 here, inside the application: an error escaping to the server
    would make it close the connection without saying so, and lose the client's next request on it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            _log.exception("Unhandled error answering %s %s", scope.get("method"), scope.get("path"))
            await crash_response(Request(scope))(scope, receive, send)


def _accept(scope: Scope) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == b"accept":
            return bytes(value)
    return None


def vendor_accept(accept: bytes | None) -> bytes | None:
    """The vendor media type an Accept header asks for, which the answer's Content-Type then names."""
    match = _VENDOR.search(accept) if accept is not None else None
    return match.group(0) if match else None
