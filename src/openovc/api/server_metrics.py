"""The server's own metrics, GET /_openovc/metrics, in Prometheus' text format (prometheus-client).

Requests and their latency are counted by each process; with several (`serve --workers N`) each writes its
figures to files in PROMETHEUS_MULTIPROC_DIR and the process that answers a scrape sums them all. Tasks,
the queue and the schedule's lag are read from the store when scraped, so every process reports the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Depends
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.responses import Response
from starlette.routing import BaseRoute

from openovc.api.deps import session
from openovc.services.monitoring import Census

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a millisecond (a read answered from memory) to the slowest operations.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Child = tuple[Any, Any]  # a label set's request counter and latency histogram


class _CensusCollector:
    """The store's figures, read at each scrape (never kept: another process may have changed them)."""

    def __init__(self, census: Callable[[], Census]) -> None:
        self._census = census

    def collect(self) -> Iterator[Metric]:
        found = self._census()
        tasks = GaugeMetricFamily(
            "openovc_tasks", "Tasks in the store, by state (as clients see it) and operation",
            labels=("state", "operation"),
        )  # fmt: skip
        for (state, operation), count in sorted(found.tasks.items()):
            tasks.add_metric((state, operation), count)
        yield tasks
        yield GaugeMetricFamily(
            "openovc_task_queue_depth", "Tasks IN_PROGRESS: accepted and not yet run", value=found.queued
        )
        yield GaugeMetricFamily(
            "openovc_task_queue_due",
            "Tasks IN_PROGRESS whose pacing lets them run now, waiting for the engine",
            value=found.due,
        )
        yield GaugeMetricFamily(
            "openovc_scheduler_lag_seconds",
            "Simulated seconds from the policy schedule's earliest due and unfired slot to now",
            value=found.scheduler_lag_s,
        )


class ServerMetrics:
    """This process's request figures and connection pool, and the exposition of everything."""

    def __init__(self, census: Callable[[], Census], pool_size: int) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self._registry = CollectorRegistry()
        # In multiprocess mode the values live in the directory's files, which the scrape reads back.
        own = None if self.multiprocess else self._registry
        self._requests = Counter(
            "openovc_http_requests", "HTTP requests answered, by route template, method and status",
            ("route", "method", "status"), registry=own,
        )  # fmt: skip
        self._latency = Histogram(
            "openovc_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method",
            ("route", "method"), buckets=LATENCY_BUCKETS, registry=own,
        )  # fmt: skip
        pool = Gauge(
            "openovc_db_pool_size", "Database connections the pools keep open (overflow aside)",
            multiprocess_mode="livesum", registry=own,
        )  # fmt: skip
        pool.set(pool_size)
        self._checked_out = Gauge(
            "openovc_db_pool_checked_out", "Database connections in use now",
            multiprocess_mode="livesum", registry=own,
        )  # fmt: skip
        self._taken = Counter(
            "openovc_schedule_backups_taken", "Backups the policy schedule took (firings committed)",
            registry=own,
        )  # fmt: skip
        self._dropped = Counter(
            "openovc_schedule_slots_dropped",
            "Due slots the policy schedule dropped, having fallen too far behind the clock (each rule's "
            "latest fires)",
            registry=own,
        )
        self._census = _CensusCollector(census)
        if not self.multiprocess:
            self._registry.register(self._census)
        self._children: dict[tuple[str, str, int], Child] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request answered (the label sets' children kept: looking them up is most of the cost)."""
        key = (route, method, status)
        child = self._children.get(key)
        if child is None:
            child = (self._requests.labels(route, method, str(status)), self._latency.labels(route, method))
            self._children[key] = child
        child[0].inc()
        child[1].observe(seconds)

    def taken(self, backups: int) -> None:
        """The schedule committed a firing of `backups` backups."""
        self._taken.inc(backups)

    def dropped(self, slots: int) -> None:
        """The schedule dropped `slots` due slots."""
        self._dropped.inc(slots)

    def checked_out(self) -> None:
        self._checked_out.inc()

    def checked_in(self) -> None:
        self._checked_out.dec()

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format: with several processes, their figures summed."""
        if not self.multiprocess:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self._census)
        return generate_latest(registry)


_METRICS = {
    "responses": {
        "200": {
            "description": "Prometheus' text exposition format",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    }
}


def metrics_routes(metrics: ServerMetrics, *, public: bool) -> list[BaseRoute]:
    """GET /metrics (under /_openovc): any valid token, or none at all when `public`."""
    router = APIRouter(tags=["metrics"], dependencies=[] if public else [Depends(session)])

    @router.get("/metrics", operation_id="getMetrics", response_class=Response, openapi_extra=_METRICS)
    def get_metrics() -> Response:
        """The server's own metrics: requests by route and status, latency, tasks, the schedule's lag, the pool."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router.routes
