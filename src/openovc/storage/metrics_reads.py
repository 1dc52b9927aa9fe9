"""The store's reads for metrics and reports: implements domain.ports.metrics.MetricsReader."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, func, select

from openovc.domain import timefmt
from openovc.domain.metrics import ClusterLabel, IoSpan, RemoteSend, VmWorkload
from openovc.domain.ports.metrics import PolicyUsage
from openovc.storage import tables

_vms = tables.COLLECTION_TABLES["virtual_machines"]
_pvs = tables.COLLECTION_TABLES["persistent_volumes"]
_hosts = tables.COLLECTION_TABLES["hosts"]
_clusters = tables.COLLECTION_TABLES["omnistack_clusters"]
_backups = tables.COLLECTION_TABLES["backups"]
_datastores = tables.COLLECTION_TABLES["datastores"]
_policies = tables.COLLECTION_TABLES["policies"]
_groups = tables.COLLECTION_TABLES["cluster_groups"]
_power = tables.power_history
_io = tables.io_history
# In IoSpan's order.
_IO_FIELDS = ("host_id", "vm_id", "start_ms", "end_ms", "read_bytes", "write_bytes", "source", "step_ms")

_WORKLOAD_COLUMNS = (
    _vms.c.id,
    _vms.c.hypervisor_allocated_capacity,
    _vms.c.hypervisor_virtual_machine_power_state,
    _vms.c.created_at,
    _vms.c.deleted_at,
)


def _epoch(text: str | None) -> int | None:
    return int(timefmt.from_text(text).timestamp()) if text else None


def _workload(row: Sequence[object], changes: dict[str, list[tuple[int, bool]]]) -> VmWorkload:
    vm_id, size, power, created, deleted = row[0], row[1], row[2], row[3], row[4]
    return VmWorkload(
        id=str(vm_id),
        size=int(str(size or 0)),
        powered_on=power == "ON",
        created=_epoch(str(created) if created else None),
        deleted=_epoch(str(deleted) if deleted else None),
        power=tuple(changes.get(str(vm_id), ())),
    )


def _changes(conn: Connection, where: ColumnElement[bool]) -> dict[str, list[tuple[int, bool]]]:
    """Power changes of the VMs `where` picks, by VM, ascending, in epoch seconds."""
    p = _power.c
    stmt = select(p.vm_id, p.at_ms, p.powered_on).join_from(_power, _vms, _vms.c.id == p.vm_id).where(where)
    found: dict[str, list[tuple[int, bool]]] = {}
    for vm_id, at_ms, on in conn.execute(stmt.order_by(p.vm_id, p.at_ms)):
        found.setdefault(str(vm_id), []).append((int(at_ms) // 1000, bool(on)))
    return found


class SqlMetricsReader:
    """Focused queries; each opens its own short connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def vm_workload(self, vm_id: str) -> tuple[VmWorkload, str] | None:
        stmt = select(*_WORKLOAD_COLUMNS, _vms.c.omnistack_cluster_id).where(_vms.c.id == vm_id)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
            changes = _changes(conn, _vms.c.id == vm_id) if row else {}
        return (_workload(row, changes), str(row[5] or "")) if row else None

    def workloads_on_hosts(self, host_ids: Sequence[str]) -> list[VmWorkload]:
        on_hosts = _vms.c.host_id.in_(list(host_ids))
        stmt = select(*_WORKLOAD_COLUMNS).where(on_hosts).order_by(_vms.c.id)
        with self.engine.connect() as conn:
            changes = _changes(conn, on_hosts)
            return [_workload(row, changes) for row in conn.execute(stmt)]

    def io_spans(
        self, since_ms: int, until_ms: int, host_ids: Sequence[str] | None = None, vm_id: str | None = None
    ) -> list[IoSpan]:
        t = _io.c
        stmt = select(*(t[c] for c in _IO_FIELDS)).where(t.end_ms > since_ms, t.start_ms < until_ms)
        if host_ids is not None:
            stmt = stmt.where(t.host_id.in_(list(host_ids)))
        if vm_id is not None:
            stmt = stmt.where(t.vm_id == vm_id)
        with self.engine.connect() as conn:
            return [IoSpan(*row) for row in conn.execute(stmt)]

    def host_ids(self, cluster_id: str) -> list[str]:
        stmt = select(_hosts.c.id).where(_hosts.c.omnistack_cluster_id == cluster_id).order_by(_hosts.c.id)
        with self.engine.connect() as conn:
            return [str(v) for v in conn.execute(stmt).scalars()]

    def time_zone(self, cluster_id: str) -> str | None:
        stmt = select(_clusters.c.time_zone).where(_clusters.c.id == cluster_id)
        with self.engine.connect() as conn:
            found = conn.execute(stmt).scalar_one_or_none()
        return str(found) if found else None

    def cluster_labels(self, cluster_ids: Sequence[str] | None = None) -> list[ClusterLabel]:
        c = _clusters.c
        stmt = select(c.id, c.name, c.hypervisor_object_parent_id, c.hypervisor_object_parent_name)
        if cluster_ids is not None:
            stmt = stmt.where(c.id.in_(list(cluster_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(c.name, c.id)).all()
        return [ClusterLabel(str(i), str(n or ""), str(pi or ""), str(pn or "")) for i, n, pi, pn in rows]

    def group_clusters(self, group_ids: Sequence[str]) -> dict[str, list[str]]:
        stmt = select(_groups.c.id, _groups.c.clusters).where(_groups.c.id.in_(list(group_ids)))
        with self.engine.connect() as conn:
            return {str(gid): list(orjson.loads(members or "[]")) for gid, members in conn.execute(stmt)}

    def remote_sends(
        self,
        start: datetime,
        end: datetime,
        sources: Sequence[str] | None = None,
        destinations: Sequence[str] | None = None,
    ) -> list[RemoteSend]:
        b, d = _backups.c, _datastores.c
        # A replication starts once its backup exists: created_at bounds its start from below.
        stmt = (
            select(
                d.omnistack_cluster_id,
                b.omnistack_cluster_id,
                b.sent,
                b.sent_duration,
                b.sent_completion_time,
            )
            .join_from(_backups, _datastores, b.datastore_id == d.id)
            .where(
                b.sent > 0,
                b.sent_completion_time > timefmt.to_text(start),
                b.created_at < timefmt.to_text(end),
                b.omnistack_cluster_id != "",
                b.omnistack_cluster_id != d.omnistack_cluster_id,
            )
        )
        if sources is not None:
            stmt = stmt.where(d.omnistack_cluster_id.in_(list(sources)))
        if destinations is not None:
            stmt = stmt.where(b.omnistack_cluster_id.in_(list(destinations)))
        end_ts = end.timestamp()
        sends: list[RemoteSend] = []
        with self.engine.connect() as conn:
            for source, destination, sent, duration, completed in conn.execute(stmt):
                done = _epoch(str(completed))
                assert done is not None
                length = max(int(duration or 0), 1)
                if done - length < end_ts:
                    sends.append(RemoteSend(str(source), str(destination), int(sent), length, done))
        return sends

    def policy_usage(self, cluster_ids: Sequence[str] | None = None) -> list[PolicyUsage]:
        # A policy backs up its live persistent volumes as it does its live VMs: both count.
        counted = []
        for table in (_vms, _pvs):
            stmt = (
                select(table.c.policy_id, func.count())
                .where(table.c.state == "ALIVE")
                .group_by(table.c.policy_id)
            )
            if cluster_ids is not None:
                stmt = stmt.where(table.c.omnistack_cluster_id.in_(list(cluster_ids)))
            counted.append(stmt)
        policies = select(_policies.c.id, _policies.c.rules).order_by(_policies.c.id)
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for stmt in counted:
                for pid, n in conn.execute(stmt):
                    counts[str(pid)] = counts.get(str(pid), 0) + int(n)
            rows = conn.execute(policies).all()
        return [
            PolicyUsage(str(pid), list(orjson.loads(rules or "[]")), counts.get(str(pid), 0))
            for pid, rules in rows
        ]

    def host_count(self, cluster_ids: Sequence[str] | None = None) -> int:
        stmt = select(func.count()).select_from(_hosts).where(_hosts.c.state != "REMOVED")
        if cluster_ids is not None:
            stmt = stmt.where(_hosts.c.omnistack_cluster_id.in_(list(cluster_ids)))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
