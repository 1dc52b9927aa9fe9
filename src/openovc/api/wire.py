"""uvicorn's HTTP/1.1 protocol (httptools): HPE's JSON body for what its parser refuses, one write per answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from openovc.api.middleware import MAX_TARGET_BYTES
from openovc.domain.errors import InvalidParameter, OmniStackError, UriTooLong
from openovc.domain.timefmt import to_text

# What a turn of the event loop writes is held up to this size, then written at once.
CORK_BYTES = 64 * 1024


class _TargetTooLong(Exception):
    """Raised in the parser's callback: the parser then stops, and refuses the request."""


class HttpProtocol(HttpToolsProtocol):
    """Clients decode every answer as JSON (the SDK fails on anything else), and uvicorn answers a request
    its parser refuses in plain text. The request target is also capped here, at the application's limit,
    so that a long one is refused with 414 before the parser gives up on it (at 64 KiB) or buffers more.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._target_too_long = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = Corked(transport, self.loop)  # type: ignore[assignment]

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_TARGET_BYTES:
            self._target_too_long = True
            self.url = (self.url + url)[:MAX_TARGET_BYTES]  # its path, for the answer
            raise _TargetTooLong
        super().on_url(url)

    def send_400_response(self, msg: str) -> None:
        err: OmniStackError = (
            UriTooLong(f"Request URI too long: at most {MAX_TARGET_BYTES} bytes are accepted")
            if self._target_too_long
            else InvalidParameter(f"Invalid HTTP request: {msg.rstrip('.')}")
        )
        body = orjson.dumps(
            {
                "exception": err.exception,
                "path": self.url.split(b"?", 1)[0][:256].decode("ascii", "replace"),
                "message": err.message,
                "timestamp": to_text(datetime.now(UTC)),
                "status": str(err.status),
            }
        )
        content = [STATUS_LINE[err.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


class Corked:
    """A connection's transport that writes what one turn of the event loop sends as one piece.

    uvicorn writes an answer's status line and headers, then its body, each at once: two system calls,
    two packets (and under TLS two records) for every small answer. Held until the loop's next turn (or
    CORK_BYTES, or closing), they go out together. Everything else is the transport's own.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= CORK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            pending, self._pending, self._size = self._pending, [], 0
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
