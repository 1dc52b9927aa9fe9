"""The real one's proxy under load: 502 beyond a number of requests at once, 504 past a time limit.

HPE's proxy answers 502 "too many simultaneous REST requests" and 504 for a request that runs over 60 s
(reference/omnistack-api.md, 7.2); both are off unless configured (`serve --max-concurrent-requests`,
`--request-timeout`). Each server process counts its own requests, as each controller's proxy does.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openovc.api.errors import error_body
from openovc.api.responses import JSON
from openovc.domain.faults import http_defaults

log = logging.getLogger(__name__)


class InFlight:
    """How many requests to /api this process is answering."""

    def __init__(self) -> None:
        self.count = 0


class Overload:
    """502 for a request beyond `max_concurrent` at once; 504 for one not answered within `timeout_s`
    (its work goes on, as behind the real proxy, and its late answer is dropped)."""

    def __init__(
        self, app: ASGIApp, in_flight: InFlight, max_concurrent: int | None, timeout_s: float | None
    ) -> None:
        self.app = app
        self.in_flight = in_flight
        self.max_concurrent = max_concurrent
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self.max_concurrent is not None and self.in_flight.count >= self.max_concurrent:
            message = f"{http_defaults(502)[1]} (at most {self.max_concurrent} at once)"
            await _refuse(502, message, scope, receive, send)
            return
        self.in_flight.count += 1
        try:
            if self.timeout_s is None:
                await self.app(scope, receive, send)
            else:
                await self._timed(self.timeout_s, scope, receive, send)
        finally:
            self.in_flight.count -= 1

    async def _timed(self, timeout_s: float, scope: Scope, receive: Receive, send: Send) -> None:
        started = late = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if late:
                return  # the 504 went out in its place
            started = started or message["type"] == "http.response.start"
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, guarded))
        done, _ = await asyncio.wait({work}, timeout=timeout_s)
        if work in done or started:
            await work  # answered in time (or its answer is under way): as it is, errors included
            return
        late = True
        work.add_done_callback(_forget)
        work.cancel()  # a handler in a thread finishes its work first: only its answer is lost
        message = f"{http_defaults(504)[1]} (more than {timeout_s:g} s)"
        await _refuse(504, message, scope, receive, send)


async def _refuse(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    exception = http_defaults(status)[0]
    await JSON(error_body(Request(scope), status, exception, message), status_code=status)(
        scope, receive, send
    )


def _forget(work: asyncio.Future[None]) -> None:
    if not work.cancelled() and work.exception() is not None:
        log.warning("a request answered 504 failed afterwards", exc_info=work.exception())
