"""GET routes of performance metrics, host capacity series and throughput between clusters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any

from fastapi import Depends, Request

from openovc.api.deps import ReaderDep, RuntimeDep, api_router
from openovc.api.responses import JSON
from openovc.api.schemas import CAPACITY, PERFORMANCE, THROUGHPUT, answer, merged
from openovc.domain import metrics, timefmt
from openovc.domain.catalog import HOSTS, OMNISTACK_CLUSTERS
from openovc.domain.errors import ObjectNotFound
from openovc.domain.metrics import ClusterLabel, RemoteSend, Resolution, Window
from openovc.domain.ports.metrics import MetricsReader
from openovc.domain.ports.simulator import Simulator
from openovc.domain.timezones import zone_of
from openovc.services import reads

router = api_router()


def metrics_store(rt: RuntimeDep) -> MetricsReader:
    return rt.metrics


MetricsDep = Annotated[MetricsReader, Depends(metrics_store)]


def _param(name: str, typ: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": typ},
        "description": description,
    }


_TIME_OFFSET = _param(
    "time_offset", "string", "Seconds before now, or an ISO-8601 UTC date and time (default 0)"
)
_RANGE = _param("range", "integer", "Seconds back from time_offset (default 43200)")
_RESOLUTION = _param("resolution", "string", "SECOND, MINUTE (default), HOUR or DAY")
_WINDOW = merged({"parameters": [_TIME_OFFSET, _RANGE, _RESOLUTION]}, answer(PERFORMANCE))
_CAPACITY = merged(
    {
        "parameters": [
            _param("fields", "string", "Comma-separated capacity metric names"),
            _TIME_OFFSET,
            _RANGE,
            _RESOLUTION,
        ]
    },
    answer(CAPACITY),
)
_THROUGHPUT = merged(
    {
        "parameters": [
            _param(
                "destination_id", "string", "Destination cluster ids: single value or comma-separated list"
            ),
            _TIME_OFFSET,
            _RANGE,
        ]
    },
    answer(THROUGHPUT),
)


def split_ids(raw: str | None) -> list[str]:
    """A comma list parameter's distinct values, in the order given."""
    return list(dict.fromkeys(p.strip() for p in (raw or "").split(",") if p.strip()))


def scope_clusters(store: MetricsReader, params: Mapping[str, str]) -> list[str] | None:
    """Clusters of the `cluster_group_id` groups, or None (the whole federation) without one."""
    group_ids = split_ids(params.get("cluster_group_id"))
    if not group_ids:
        return None
    found = store.group_clusters(group_ids)
    for group_id in group_ids:
        if group_id not in found:
            raise ObjectNotFound("cluster_group", group_id)
    return list(dict.fromkeys(c for g in group_ids for c in found[g]))


def _now(rt: RuntimeDep) -> datetime:
    return rt.clock.now()


def _performance(
    sim: Simulator, store: MetricsReader, host_ids: Sequence[str], window: Window, tz: tzinfo
) -> JSON:
    since, until = _io_range(window)
    spans = store.io_spans(since, until, host_ids=host_ids)
    perf = sim.performance(store.workloads_on_hosts(host_ids), window, tz, spans)
    return JSON(metrics.metrics_document(perf))


def _io_range(window: Window) -> tuple[int, int]:
    """The times (epoch ms) the window's points stand for: [first date, last date + step)."""
    dates = window.dates()
    return dates[0] * 1000, (dates[-1] + window.resolution.step) * 1000


@router.get("/hosts/{hostId}/metrics", operation_id="getHostMetrics", tags=["hosts"], openapi_extra=_WINDOW)
def get_host_metrics(
    hostId: str, request: Request, reader: ReaderDep, store: MetricsDep, rt: RuntimeDep
) -> JSON:
    window = metrics.parse_window(request.query_params, _now(rt))
    host = reads.get_object(reader, HOSTS, hostId)
    tz = zone_of(store.time_zone(str(host["omnistack_cluster_id"])))
    return _performance(rt.simulator, store, [hostId], window, tz)


@router.get(
    "/hosts/{hostId}/capacity", operation_id="getHostCapacity", tags=["hosts"], openapi_extra=_CAPACITY
)
def get_host_capacity(hostId: str, request: Request, reader: ReaderDep, rt: RuntimeDep) -> JSON:
    window = metrics.parse_window(request.query_params, _now(rt))
    names = metrics.parse_capacity_fields(request.query_params.get("fields"))
    host = reads.get_object(reader, HOSTS, hostId)
    dates = window.dates()
    with rt.operations.reading() as state:
        history = state.capacity_history(hostId, dates[0] * 1000, dates[-1] * 1000) if dates else []
    return JSON(metrics.capacity_document(host, names, dates, history))


@router.get(
    "/omnistack_clusters/{clusterId}/metrics",
    operation_id="getClusterPerfomance",  # sic: HPE's spelling
    tags=["omnistack_clusters"],
    openapi_extra=_WINDOW,
)
def get_cluster_metrics(
    clusterId: str, request: Request, reader: ReaderDep, store: MetricsDep, rt: RuntimeDep
) -> JSON:
    window = metrics.parse_window(request.query_params, _now(rt))
    cluster = reads.get_object(reader, OMNISTACK_CLUSTERS, clusterId)
    tz = zone_of(cluster["time_zone"])
    return _performance(rt.simulator, store, store.host_ids(clusterId), window, tz)


@router.get(
    "/virtual_machines/{vmId}/metrics",
    operation_id="getVmMetrics",
    tags=["virtual_machines"],
    openapi_extra=_WINDOW,
)
def get_vm_metrics(vmId: str, request: Request, store: MetricsDep, rt: RuntimeDep) -> JSON:
    window = metrics.parse_window(request.query_params, _now(rt))
    found = store.vm_workload(vmId)
    if found is None:
        raise ObjectNotFound("virtual_machine", vmId)
    workload, cluster_id = found
    since, until = _io_range(window)
    spans = store.io_spans(since, until, vm_id=vmId)
    perf = rt.simulator.performance([workload], window, zone_of(store.time_zone(cluster_id)), spans)
    return JSON(metrics.metrics_document(perf))


def _minute_window(request: Request, rt: RuntimeDep) -> tuple[Window, list[int]]:
    window = metrics.parse_window(request.query_params, _now(rt), Resolution.MINUTE)
    return window, window.dates()


def _sends(
    store: MetricsReader,
    dates: Sequence[int],
    sources: Sequence[str] | None,
    destinations: Sequence[str] | None,
) -> dict[tuple[str, str], list[RemoteSend]]:
    """Sends under way during the minutes of `dates`, by (source, destination)."""
    start = datetime.fromtimestamp(dates[0], UTC)
    end = datetime.fromtimestamp(dates[-1] + Resolution.MINUTE.step, UTC)
    pairs: dict[tuple[str, str], list[RemoteSend]] = defaultdict(list)
    for send in store.remote_sends(start, end, sources, destinations):
        pairs[(send.source_id, send.destination_id)].append(send)
    return pairs


def _destinations(store: MetricsReader, source: ClusterLabel, raw: str | None) -> list[ClusterLabel]:
    wanted = split_ids(raw)
    if not wanted:
        return [c for c in store.cluster_labels() if c.id != source.id]
    by_id = {c.id: c for c in store.cluster_labels(wanted)}
    for cluster_id in wanted:
        if cluster_id not in by_id:
            raise ObjectNotFound(OMNISTACK_CLUSTERS.singular, cluster_id)
    return [by_id[c] for c in wanted]


@router.get(
    "/omnistack_clusters/throughput",
    operation_id="getClustersThroughputLegacy",
    tags=["omnistack_clusters"],
    include_in_schema=False,
)
def get_legacy_throughput(request: Request, store: MetricsDep, rt: RuntimeDep) -> JSON:
    """Pre-1.15: a bare array, one element per ordered pair of distinct clusters (every cluster of a
    peer-managed federation is connected to every other); `cluster_group_id` keeps the pairs whose
    source is in the groups."""
    window, dates = _minute_window(request, rt)
    scope = scope_clusters(store, request.query_params)
    labels = store.cluster_labels()
    sources = [c for c in labels if scope is None or c.id in scope]
    pairs = _sends(store, dates, [c.id for c in sources], None)
    out = []
    for src in sources:
        for dst in labels:
            if dst.id != src.id:
                values = metrics.throughput(pairs.get((src.id, dst.id), ()), dates)
                out.append(metrics.legacy_entry(src, dst, window, values))
    return JSON(out)


@router.get(
    "/omnistack_clusters/{clusterId}/throughput",
    operation_id="getClustersThroughput",
    tags=["omnistack_clusters"],
    openapi_extra=_THROUGHPUT,
)
def get_cluster_throughput(clusterId: str, request: Request, store: MetricsDep, rt: RuntimeDep) -> JSON:
    """Per minute, bytes/s replicated from this cluster to each destination (default: every other)."""
    window, dates = _minute_window(request, rt)
    found = store.cluster_labels([clusterId])
    if not found:
        raise ObjectNotFound(OMNISTACK_CLUSTERS.singular, clusterId)
    source = found[0]
    destinations = _destinations(store, source, request.query_params.get("destination_id"))
    pairs = _sends(store, dates, [source.id], [d.id for d in destinations])
    entries = [
        metrics.throughput_entry(
            source, dst, window, dates, metrics.throughput(pairs.get((source.id, dst.id), ()), dates)
        )
        for dst in destinations
    ]
    return JSON(
        {
            "start_time": timefmt.to_text(window.start),
            "end_time": timefmt.to_text(window.end),
            "cluster_throughput": entries,
        }
    )
