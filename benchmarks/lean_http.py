"""A keep-alive HTTPS client on the standard library's http.client, for the benchmarks' load generators.

The clients run on the same two cores as the server they measure. httpx spends about three times the
CPU of http.client on each small request (URL and header models, hooks, its transport layers); every
millisecond a client spends is one the server does not get, so the load generators use this instead.
It speaks only what they need: one connection per client, a body and headers out, status and body back.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

# What a dropped connection, a refused one or a malformed answer raises (httpx.HTTPError's role here).
HTTPError = (OSError, http.client.HTTPException)


class Response:
    """An answer: its status and its body."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class LeanClient:
    """One keep-alive HTTPS (or HTTP) connection to `base_url`, sending `headers` with every request.

    Not thread-safe: each client thread has its own. The server's self-signed certificate is not
    verified (the benchmark started that server itself).
    """

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float = 120.0) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._timeout = timeout
        self.headers = dict(headers)
        self._context = ssl.create_default_context()
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._context
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and read the whole answer; a failed exchange closes the connection (the
        next request opens a new one) and raises one of HTTPError."""
        conn = self._connection()
        try:
            conn.request(method, url, body=content, headers={**self.headers, **(headers or {})})
            answer = conn.getresponse()
            body = answer.read()
        except HTTPError:
            self.close()
            raise
        if answer.will_close:
            self.close()
        return Response(answer.status, body)

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
