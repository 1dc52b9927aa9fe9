"""Error bodies as the real Virtual Controller sends them, for every failure path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from openovc.api.responses import JSON
from openovc.domain import errors
from openovc.domain.timefmt import to_text


class OAuthError(Exception):
    """An OAuth2-style error: `{"error": ..., "error_description": ...}`."""

    def __init__(
        self, status: int, error: str, description: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


def error_body(
    request: Request, status: int, exception: str, message: str, error_code: str | None = None
) -> dict[str, Any]:
    clock = getattr(request.app.state, "clock", None)
    try:
        now = clock.now() if clock is not None else datetime.now(UTC)
    except Exception:  # the federation's clock reads the store, which may be what just failed
        now = datetime.now(UTC)
    body: dict[str, Any] = {
        "exception": exception,
        "path": request.url.path,
        "message": message,
        "timestamp": to_text(now),
        "status": str(status),
    }
    if error_code is not None:
        body["error_code"] = error_code
    return body


def omnistack_response(request: Request, exc: errors.OmniStackError) -> JSON:
    return JSON(
        error_body(request, exc.status, exc.exception, exc.message, exc.error_code), status_code=exc.status
    )


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            position = err.get("loc", ("body", 0))[-1]
            detail = err.get("ctx", {}).get("error", "invalid JSON")
            problems.append(f"malformed JSON at character {position}: {detail}")
            continue
        if err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",):
            problems.append("a JSON request body is required")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return "Invalid body: " + "; ".join(problems)


async def _on_omnistack(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, errors.OmniStackError)
    return omnistack_response(request, exc)


async def _on_oauth(_request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, OAuthError)
    return JSON(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status,
        headers=exc.headers,
    )


async def _on_http(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, StarletteHTTPException)
    headers: dict[str, str] = {}
    if exc.status_code == 404:
        err: errors.OmniStackError = errors.NoHandlerFound(
            f"No handler found for {request.method} {request.url.path}"
        )
    elif exc.status_code == 405:
        err = errors.MethodNotAllowed(f"Request method '{request.method}' not supported")
        headers["Allow"] = _allowed_methods(request)
    elif exc.status_code == 413:  # middleware.OmniStackMiddleware counting a body as it is read
        err = errors.PayloadTooLarge(str(exc.detail))
    else:
        err = errors.OmniStackError(str(exc.detail))
        err.status = exc.status_code
    response = omnistack_response(request, err)
    response.headers.update(headers)
    return response


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (RFC 9110: a 405 says which): the routes are one flat
    list, in which the route that refused the method may be one of several at its path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def _on_validation(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    return omnistack_response(request, errors.InvalidBody(_validation_message(exc)))


def crash_response(request: Request) -> JSON:
    """HPE's 500, for an error nothing else handled (`middleware.CatchAll`)."""
    return omnistack_response(request, errors.InternalError())


async def _on_crash(request: Request, _exc: Exception) -> JSON:
    return crash_response(request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.OmniStackError, _on_omnistack)
    app.add_exception_handler(OAuthError, _on_oauth)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_crash)
