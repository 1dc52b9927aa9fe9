"""uvicorn's HTTP/1.1 protocol (httptools), answering the requests its parser refuses with HPE's JSON body."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from openovc.api.middleware import MAX_TARGET_BYTES
from openovc.domain.errors import InvalidParameter, OmniStackError, UriTooLong
from openovc.domain.timefmt import to_text


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
