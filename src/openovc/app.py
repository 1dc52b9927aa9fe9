"""Composition root: builds storage, services and the FastAPI application."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import swagger_ui_bundle
from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from openovc.api.application import SWAGGER, docs_page, json_application
from openovc.api.control import CONTROL_PREFIX, control_app
from openovc.api.deps import Runtime
from openovc.api.faults import FaultMiddleware, api_operations
from openovc.api.lean import LeanPath
from openovc.api.middleware import OmniStackMiddleware
from openovc.api.observe import AccessLog, Observe, RouteNote
from openovc.api.overload import InFlight, Overload
from openovc.api.routes import (
    backups,
    cluster_groups,
    datastores,
    external_stores,
    hosts,
    metrics,
    oauth,
    omnistack_clusters,
    persistent_volumes,
    policies,
    reports,
    security,
    tasks,
    version,
    virtual_machines,
)
from openovc.api.server_metrics import ServerMetrics
from openovc.dashboard import dashboard_routes
from openovc.domain.auth import TokenPolicy
from openovc.domain.clock import Clock, SystemClock
from openovc.domain.lockout import LockoutPolicy
from openovc.domain.tasks import parse_pacing_table
from openovc.operations.engine import TaskEngine
from openovc.operations.worker import Worker, every
from openovc.services import backups as backups_service
from openovc.services.auth import AuthService
from openovc.services.clock import SharedClock
from openovc.services.faults import FaultService
from openovc.services.hardware import HardwareService
from openovc.services.health import Health
from openovc.services.monitoring import Monitoring
from openovc.services.operations import register_operations
from openovc.services.pacing import SharedPacing
from openovc.services.schedule import PolicyScheduler
from openovc.services.snapshots import Snapshots
from openovc.services.time_control import TimeControl
from openovc.settings import Settings
from openovc.simulator.simulated import SimulatedFederation
from openovc.storage.auth_store import SqlAuthStore
from openovc.storage.clock_store import SqlClockStore
from openovc.storage.content_store import SqlWorkloadSchedule
from openovc.storage.fault_store import SqlFaultStore, SqlPacingStore
from openovc.storage.generation import WatchedClockStore
from openovc.storage.lean_reads import LeanReads
from openovc.storage.metrics_reads import SqlMetricsReader
from openovc.storage.operations_store import SqlOperationsStore
from openovc.storage.pool_watch import pool_size, watch_pool
from openovc.storage.repositories import SqlFederationReader
from openovc.storage.security_store import SqlSecurityStore
from openovc.storage.snapshots import SqlSnapshotStore
from openovc.storage.store import Storage
from openovc.storage.task_census import SqlTaskCensus
from openovc.storage.task_store import SqlTaskStore
from openovc.storage.transaction import content_of

# Routers with literal paths (/omnistack_clusters/throughput, /policies/policy_schedule_report) come before
# the collections' routers, so that they win over /{id}. Tasks and VMs, the busiest, come first: each
# request tries the routes in order (virtual_machines has no path that a literal one of theirs shadows).
_PROTECTED = (
    tasks.router, virtual_machines.router, metrics.router, reports.router, backups.router, datastores.router,
    hosts.router, omnistack_clusters.router, policies.router, cluster_groups.router, external_stores.router,
    security.router, persistent_volumes.router,
)  # fmt: skip
_ROUTERS = (version.router, oauth.router, *_PROTECTED)
# HPE's operations as the routes serve them: what fault rules name (/_openovc/faults).
_OPERATIONS = api_operations(route for router in _ROUTERS for route in router.routes)


@dataclass(kw_only=True)
class AppRuntime(Runtime):
    """The routes' runtime, and the store it was built over, which only the composition root sees."""

    storage: Storage
    scheduler: PolicyScheduler
    monitoring: Monitoring


def build_runtime(settings: Settings, clock: Clock | None = None) -> AppRuntime:
    """Open (and migrate) the store and wire the services."""
    storage = Storage.open(settings.effective_database_url)
    engine = storage.engine
    # Tokens and heartbeats live on real time (or the test's clock); the federation on its own clock.
    real = clock or SystemClock()
    # What this process remembers of the stored federation, forgotten when a restore replaces it (this
    # process's or another's: each notices a restore when it next reads the clock, storage/generation.py).
    remembered: list[Callable[[], None]] = []
    forget = _forgetting(remembered)
    federation_clock = SharedClock(WatchedClockStore(engine, forget), real)
    if settings.clock is not None:
        federation_clock.start(settings.clock)
    policy = TokenPolicy(
        idle_ms=settings.token_idle_seconds * 1000, absolute_ms=settings.token_absolute_seconds * 1000
    )
    reader = SqlFederationReader(engine)
    pacing = SharedPacing(SqlPacingStore(engine), parse_pacing_table(settings.task_pacing))
    controller = _ControllerId(reader)
    tasks = TaskEngine(SqlTaskStore(engine), federation_clock, pacing, controller, wall=real)
    tasks.ended.fresh = federation_clock.state  # an ended task is answered from memory: no restore since
    security = SqlSecurityStore(engine)
    operations = SqlOperationsStore(engine)
    simulator = SimulatedFederation(content_of, SqlWorkloadSchedule(engine), operations, federation_clock)
    scheduler = PolicyScheduler(reader, operations, simulator, tasks, federation_clock)
    hardware = HardwareService(operations, reader, simulator, federation_clock)
    faults = FaultService(SqlFaultStore(engine), _OPERATIONS, reader, settings.fault_seed)
    remembered += [tasks.ended.clear, controller.forget, simulator.forget, faults.forget]
    rt = AppRuntime(
        settings=settings,
        clock=federation_clock,
        reader=reader,
        auth=AuthService(
            SqlAuthStore(engine), real, policy, lockout_policy(settings), settings.login_concurrency
        ),
        tasks=tasks,
        operations=operations,
        metrics=SqlMetricsReader(engine),
        certificates=security,
        role_assignments=security,
        simulator=simulator,
        time=TimeControl(federation_clock, scheduler, after_move=[hardware.settle]),
        health=Health(SqlClockStore(engine)),
        faults=faults,
        pacing=pacing,
        hardware=hardware,
        snapshots=Snapshots(
            SqlSnapshotStore(engine, federation_clock.real_ms), federation_clock, tasks.instance_id, forget
        ),
        scheduler=scheduler,
        monitoring=Monitoring(SqlTaskCensus(engine), federation_clock, scheduler),
        storage=storage,
    )
    register_operations(tasks, simulator)
    return rt


def lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.login_max_failures,
        window_ms=settings.login_failure_window_seconds * 1000,
        lockout_ms=settings.login_lockout_seconds * 1000,
    )


class _ControllerId:
    """Task ids begin with the serving controller's host id; found once the federation exists."""

    def __init__(self, reader: SqlFederationReader) -> None:
        self._reader = reader
        self._found: str | None = None

    def __call__(self) -> str:
        if self._found is None:
            host = self._reader.controller_host_id()
            if host is None:
                return str(uuid.UUID(int=0))
            self._found = host
        return self._found

    def forget(self) -> None:
        """A restored federation may be another's, with other hosts."""
        self._found = None


def _forgetting(remembered: list[Callable[[], None]]) -> Callable[[], None]:
    def forget() -> None:
        for each in remembered:
            each()

    return forget


def chores(rt: AppRuntime) -> Callable[[], int]:
    """The worker's time-driven changes: policy backups, backups settling and expiring, then the
    simulated hardware's. A manual clock moves only through the clock controls, which do all of this
    themselves (and count it): the worker then leaves time alone."""
    settle = backups_service.housekeeping(rt.reader, rt.operations, rt.simulator, rt.clock)

    def settle_unless_settled() -> int:
        # A turn of the schedule that fired settled the backups as of its transactions' now.
        return 0 if rt.scheduler.took_settling() else settle()

    run = every(
        rt.scheduler.run_due, settle_unless_settled, *rt.simulator.chores(rt.clock), rt.hardware.settle
    )

    def unless_manual() -> int:
        return 0 if rt.time.is_manual() else run()

    return unless_manual


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    rt: AppRuntime = app.state.runtime
    worker = None
    if rt.settings.task_worker:
        # With several server processes on one SQLite store, the others are alive: `serve` recovered the
        # previous run's tasks before it started them.
        alone = rt.storage.private and rt.settings.workers == 1
        worker = Worker(rt.tasks, alone=alone, chores=chores(rt))
        worker.start()
    try:
        yield
    finally:
        if worker is not None:
            worker.stop()


def create_app(rt: AppRuntime) -> FastAPI:
    """The ASGI application serving the OmniStack REST API under /api."""
    app = json_application(rt, "HPE OmniStack REST API (OpenOVC)", "/api/openapi.json", _lifespan)
    for router in _ROUTERS:
        app.router.routes.extend(router.routes)  # flat: see api.deps.api_router

    # Swagger UI is served from the installed package, so the docs work without internet access.
    app.mount(SWAGGER, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/api/index.html", include_in_schema=False)
    def docs() -> HTMLResponse:
        return docs_page("/api/openapi.json", "OmniStack REST API")

    app.router.routes.extend(dashboard_routes(f"{CONTROL_PREFIX}/ui"))  # before the control API's mount
    server_metrics = ServerMetrics(rt.monitoring.census, pool_size(rt.storage.engine))
    watch_pool(rt.storage.engine, server_metrics.checked_out, server_metrics.checked_in)
    rt.scheduler.watch(server_metrics)
    app.mount(CONTROL_PREFIX, control_app(rt, server_metrics))
    app.add_middleware(RouteNote)  # inside OmniStackMiddleware, which may copy the scope
    app.add_middleware(FaultMiddleware, faults=rt.faults)
    app.state.in_flight = InFlight()
    limits = rt.settings
    app.add_middleware(
        Overload,
        in_flight=app.state.in_flight,
        max_concurrent=limits.max_concurrent_requests,
        timeout_s=limits.request_timeout,
    )
    app.add_middleware(OmniStackMiddleware, max_body_bytes=rt.settings.max_body_bytes)
    access = AccessLog(rt.settings.log_format) if rt.settings.access_log else None
    app.add_middleware(
        Observe, metrics=server_metrics, access=access
    )  # sees every answer but the lean path's
    app.add_middleware(
        LeanPath, rt=rt, routes=app.router.routes, metrics=server_metrics, access=access,
        in_flight=app.state.in_flight, reads=LeanReads(rt.storage.engine),
    )  # fmt: skip
    return app
