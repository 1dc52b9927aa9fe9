"""OpenOVC's own control API beside HPE's, under /_openovc: health, the simulator's clock (more join them).

It is an application of its own, mounted at /_openovc, so that it has its own OpenAPI document
(/_openovc/openapi.json) and page (/_openovc/index.html), and HPE's document stays HPE's. It takes the
same bearer tokens: any valid user reads, the administrator changes (read-only: 403); bodies are plain
JSON, and errors have HPE's shape. Only /_openovc/health answers without a token, and says nothing but
whether the server is up and ready; /_openovc/metrics (Prometheus' text) does too when the operator says
so (`serve --metrics-public`), since scrapers usually carry no token.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from openovc.api.application import docs_page, json_application
from openovc.api.deps import Runtime, RuntimeDep, SessionDep, session
from openovc.api.responses import JSON
from openovc.api.server_metrics import ServerMetrics, metrics_routes
from openovc.domain.errors import InvalidBody

CONTROL_PREFIX = "/_openovc"

router = APIRouter(default_response_class=JSON, dependencies=[Depends(session)], tags=["clock"])
public = APIRouter(default_response_class=JSON, tags=["health"])  # no token: health alone

_CLOCK = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "example": "manual"},
        "now": {"type": "string", "format": "date-time"},
        "schedule_lag_seconds": {
            "type": "number",
            "description": "a running clock only: simulated seconds from the earliest policy slot due and "
            "not yet fired to now (0 when the schedule keeps pace)",
        },
    },
}
_MOVED = {
    "type": "object",
    "properties": {
        **_CLOCK["properties"],  # type: ignore[dict-item]
        "backups_taken": {"type": "integer"},
        "backups_expired": {"type": "integer"},
        "tasks_completed": {"type": "integer"},
    },
}


def _answers(schema: dict[str, Any]) -> dict[str, Any]:
    return {"responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _json_object(request: Request) -> dict[str, Any]:
    """The request's body: a JSON object, or 400 naming what is wrong with it."""
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as problem:
        raise InvalidBody(f"Invalid body: not JSON: {problem}") from None
    if not isinstance(body, dict):
        raise InvalidBody("Invalid body: expected a JSON object")
    return body


def _status(value: str, description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": [value]}},
        "additionalProperties": False,
    }
    body = {"schema": schema, "example": {"status": value}}
    return {"description": description, "content": {"application/json": body}}


_HEALTH = {
    "responses": {
        "200": _status("ok", "Up and ready: the process answers, and its database answers a trivial query"),
        "503": _status("unavailable", "Up, not ready: the database does not answer"),
    }
}
READY = {"status": "ok"}
UNAVAILABLE = {"status": "unavailable"}


@public.get("/health", operation_id="getHealth", openapi_extra=_HEALTH)
def get_health(rt: RuntimeDep) -> JSON:
    """Liveness and readiness, without a token: 200 when the database answers, 503 when it does not."""
    return JSON(READY) if rt.health.ready() else JSON(UNAVAILABLE, status_code=503)


_SESSION = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "example": "administrator@vsphere.local"},
        "role": {"type": "string", "enum": ["administrator", "read_only", "emergency"]},
    },
}


@router.get("/session", operation_id="getSession", tags=["session"], openapi_extra=_answers(_SESSION))
def get_session(found: SessionDep) -> JSON:
    """Who the bearer token belongs to and its role: the dashboard offers only what the role may do."""
    return JSON({"username": found.token.username, "role": found.role.value})


@router.get("/clock", operation_id="getClock", openapi_extra=_answers(_CLOCK))
def get_clock(rt: RuntimeDep) -> JSON:
    """The simulator's clock: its mode (real, manual, accelerated:N) and simulated now."""
    return JSON(rt.time.show())


_ADVANCE = {
    "type": "object",
    "required": ["seconds"],
    "properties": {
        "seconds": {"description": "seconds, or a duration such as 90s, 15m, 6h, 7d", "example": 21600}
    },
}


@router.post(
    "/clock/advance", operation_id="advanceClock", openapi_extra={**_body(_ADVANCE), **_answers(_MOVED)}
)
async def advance_clock(request: Request, rt: RuntimeDep) -> JSON:
    """Move simulated time on, processing in time order every slot, expiry, arrival and paced task on the way."""
    body = await _json_object(request)
    return JSON(await run_in_threadpool(rt.time.advance, body))


_SET = {
    "type": "object",
    "required": ["to"],
    "properties": {"to": {"type": "string", "format": "date-time", "example": "2027-02-01T00:00:00Z"}},
}


@router.post("/clock/set", operation_id="setClock", openapi_extra={**_body(_SET), **_answers(_MOVED)})
async def set_clock(request: Request, rt: RuntimeDep) -> JSON:
    """Move simulated time on to an instant (never back), as advance does."""
    body = await _json_object(request)
    return JSON(await run_in_threadpool(rt.time.set, body))


def control_app(rt: Runtime, server_metrics: ServerMetrics) -> FastAPI:
    """The control API's application, to mount at CONTROL_PREFIX."""
    app = json_application(rt, "OpenOVC control API", "/openapi.json")
    from openovc.api.control_faults import router as faults  # here: it reads bodies with _json_object
    from openovc.api.control_hardware import router as hardware
    from openovc.api.control_snapshots import router as snapshots  # here too, for the same reason
    from openovc.api.control_tasks import router as tasks

    for each in (public, router, faults, snapshots, tasks, hardware):
        app.router.routes.extend(each.routes)  # flat, as the main application's (api.deps.api_router)
    app.router.routes.extend(metrics_routes(server_metrics, public=rt.settings.metrics_public))

    @app.get("/index.html", include_in_schema=False)
    def docs() -> HTMLResponse:
        return docs_page(f"{CONTROL_PREFIX}/openapi.json", "OpenOVC control API")

    return app
