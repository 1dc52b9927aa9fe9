"""Request dependencies: the runtime's parts, the caller's session, and media-type checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from openovc.api.errors import OAuthError
from openovc.api.responses import JSON
from openovc.domain.auth import EMERGENCY_GRANT, Role, TokenVerdict, emergency_may, invalid_token_description
from openovc.domain.clock import Clock
from openovc.domain.errors import PermissionDenied, UnsupportedMediaType
from openovc.domain.ports.certificates import CertificateStore
from openovc.domain.ports.federation import FederationReader
from openovc.domain.ports.metrics import MetricsReader
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.role_assignments import RoleAssignmentStore
from openovc.domain.ports.simulator import Simulator
from openovc.operations.engine import TaskEngine
from openovc.services.auth import AuthService, Session
from openovc.services.faults import FaultService
from openovc.services.hardware import HardwareService
from openovc.services.health import Health
from openovc.services.pacing import SharedPacing
from openovc.services.snapshots import Snapshots
from openovc.services.time_control import TimeControl
from openovc.settings import Settings


@dataclass
class Runtime:
    """Everything routes need, built once by the composition root: services and ports, never storage."""

    settings: Settings
    clock: Clock
    reader: FederationReader
    auth: AuthService
    tasks: TaskEngine
    operations: OperationsStore
    metrics: MetricsReader
    certificates: CertificateStore
    role_assignments: RoleAssignmentStore
    simulator: Simulator
    time: TimeControl
    health: Health
    faults: FaultService
    pacing: SharedPacing
    snapshots: Snapshots
    hardware: HardwareService


async def runtime(request: Request) -> Runtime:
    # async: no I/O here, so no trip through the thread pool.
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def reader(rt: RuntimeDep) -> FederationReader:
    return rt.reader


ReaderDep = Annotated[FederationReader, Depends(reader)]

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise OAuthError(
            401,
            "unauthorized",
            "Full authentication is required to access this resource",
            {"WWW-Authenticate": 'Bearer realm="oauth", error="unauthorized"'},
        )
    return value.strip()


async def valid_session(request: Request, rt: RuntimeDep) -> Session:
    """The session of the request's bearer token, or 401 invalid_token for a bad, expired or revoked one.

    Most requests' tokens are judged from memory, here on the event loop; only those that need the
    store go through the thread pool.
    """
    token = bearer_token(request)
    if "\x00" in token:  # no token has one, and PostgreSQL text cannot hold one: never look it up
        verdict, found = TokenVerdict.UNKNOWN, None
    else:
        judged = rt.auth.check_in_memory(token)
        verdict, found = judged if judged is not None else await run_in_threadpool(rt.auth.check, token)
    if verdict is not TokenVerdict.VALID or found is None:
        description = invalid_token_description(verdict, token)
        raise OAuthError(
            401,
            "invalid_token",
            description,
            {
                "WWW-Authenticate": f'Bearer realm="oauth", error="invalid_token", error_description="{description}"'
            },
        )
    return found


async def session(request: Request, rt: RuntimeDep) -> Session:
    """The caller's session; 401 invalid_token for a bad token, 403 for a read-only user writing.

    The protected routes (`guard.GuardedRoute`) run this before FastAPI reads the body; the dependency
    then finds the session already on the request.
    """
    known: Session | None = getattr(request.state, "session", None)
    if known is not None:
        return known
    found = await valid_session(request, rt)
    if found.token.grant_type == EMERGENCY_GRANT and not emergency_may(
        request.method, _route_template(request)
    ):
        raise PermissionDenied(
            f"{request.method} {request.url.path} is not available with an emergency grant"
        )
    if request.method not in _READ_METHODS and found.role is Role.READ_ONLY:
        raise PermissionDenied(
            f"User {found.token.username} has a read-only role and may not perform this operation"
        )
    request.state.session = found
    return found


SessionDep = Annotated[Session, Depends(session)]


def _route_template(request: Request) -> str:
    """The request path with its path parameters written as {id}."""
    values = {str(v) for v in request.path_params.values()}
    return "/".join("{id}" if part in values else part for part in request.url.path.split("/"))


def emergency(request: Request) -> bool:
    """True when the caller holds an emergency-grant token: no sorting, filtering or optional fields."""
    found: Session | None = getattr(request.state, "session", None)
    return found is not None and found.token.grant_type == EMERGENCY_GRANT


_MEDIA = re.compile(r"^application/vnd\.simplivity\.v1(?:\.(\d+))?\+json$")


class MediaType:
    """A dependency accepting `application/vnd.simplivity.v1.N+json` with N >= minimum (v1 is N=0); the
    OpenAPI document lists those types for the route's body (`api/openapi.py`).

    No Content-Type at all is accepted, since clients send body-less POSTs without one.
    """

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    async def __call__(self, request: Request) -> None:  # no I/O: no trip through the thread pool
        raw = request.headers.get("content-type")
        if raw is not None and not self.accepts(raw):
            raise UnsupportedMediaType(f"Content type '{raw}' not supported")

    def accepts(self, raw: str) -> bool:
        """Whether a Content-Type header's value names a vendor media type of at least the minimum."""
        mime = raw.split(";", 1)[0].strip().lower()
        match = _MEDIA.match(mime)
        return match is not None and int(match.group(1) or 0) >= self.minimum


def media_type(minimum: int) -> Any:
    """The route's dependency on a vendor media type of at least version 1.`minimum`."""
    return Depends(MediaType(minimum))


API_PREFIX = "/api"


def api_router(path: str = "", *, tags: list[str] | None = None, protected: bool = True) -> APIRouter:
    """A route module's router: its paths under /api, its answers JSON, and (unless `protected` is False)
    only for a caller with a valid session.

    The application adds these routes to its own router, one flat list: FastAPI tries included routers
    one after another, and matches a request again inside the one that takes it, at a cost on every
    request (measured in docs/architecture.md, Performance notes).
    """
    from openovc.api.guard import GuardedRoute  # here: guard needs this module's session

    return APIRouter(
        prefix=API_PREFIX + path,
        route_class=GuardedRoute,
        tags=list(tags or []),
        default_response_class=JSON,
        dependencies=[Depends(session)] if protected else [],
    )
