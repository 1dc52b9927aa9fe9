"""Turns a federation plan into consistent rows: ids, placement, schedules, backup history, capacity.

Every byte figure comes from the content model (domain/content_model.py): each VM's content is made
from its golden image and data of its own, aged by its workload; its backups, in time order, record
its content as the workload changes it between them. Rows are drawn first (names, times, places), then
each VM's history is replayed through the model and the rows take its figures.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openovc import SVTFS_VERSION
from openovc.domain import schedules as schedule
from openovc.domain.figures import cluster_capacity
from openovc.domain.rules import max_backups
from openovc.domain.timefmt import to_text
from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import Segment, image_segment
from openovc.simulator.content.workload import workload_pieces, workload_rate
from openovc.simulator.federation import Federation
from openovc.simulator.generator import hardware
from openovc.simulator.generator.plan import (
    DOMAIN,
    IMAGES,
    ClusterPlan,
    DatastorePlan,
    ExternalStorePlan,
    FederationPlan,
    GiB,
    Image,
    PolicyPlan,
    RulePlan,
    TiB,
    VmPlan,
    image_for,
    power_state,
    typical_size,
)

VERSION = f"Release {SVTFS_VERSION}"
FEATURE_LEVEL = 80
HOSTS_PER_VCENTER = 32  # a peer-managed federation's limit per vCenter
HISTORY = 30 * 86400  # policy backups in the history go back this far at most
MANUAL_SHARE = 0.08  # of a generated history, the share taken by hand
STORE_TYPE = "StoreOnceOnPrem"
MiB = 1024**2

DAY = 86400
_MASK = "255.255.255.0"


def _scaled(minutes: int, scale: float) -> int:
    """A retention stretched by `scale`, in whole hours (short ones stay as they are)."""
    if minutes < 60:
        return minutes
    return max(60, round(minutes * scale / 60) * 60)


_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))  # version nibble and variant bits
_UUID_SET = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def _trim(counts: list[int], excess: int) -> None:
    """Take `excess` backups off the VMs that keep the most (their oldest go first)."""
    order = sorted(range(len(counts)), key=lambda i: -counts[i])
    while excess > 0:
        for i in order:
            if excess == 0:
                return
            if counts[i]:
                counts[i] -= 1
                excess -= 1


class _Ids:
    """Identifiers drawn from the one seeded generator, so a seed always gives the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits

    def uuid4(self) -> str:
        n = (self._bits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def vmware(self, prefix: str = "42") -> str:
        """A VMware-style (BIOS or instance) UUID: no version bits, a vendor prefix."""
        h = prefix + f"{self._bits(120):030x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def mac(self) -> str:
        """vCenter-assigned MACs are 00:50:56:00:00:00 - 00:50:56:3F:FF:FF."""
        n = self._bits(22)
        return f"00:50:56:{n >> 16:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"

    def hex(self, digits: int) -> str:
        return f"{self._bits(digits * 4):0{digits}x}"


@dataclass
class _VCenter:
    index: int
    counter: int = 1
    hosts: int = 0

    @property
    def ip(self) -> str:
        return f"10.0.0.{11 + self.index}"

    @property
    def name(self) -> str:
        return f"vcenter{self.index + 1:02d}.{DOMAIN}"

    def moref(self, prefix: str, rng: random.Random) -> str:
        # vCenter numbers every managed object from one counter, with gaps from folders and pools.
        self.counter += rng.randint(1, 6)
        return f"{prefix}{self.counter}"


@dataclass
class _Cluster:
    plan: ClusterPlan
    index: int
    id: str
    vcenter: _VCenter
    tz: ZoneInfo
    dc_name: str
    dc_moref: str
    moref: str
    host_ids: list[str] = field(default_factory=list)
    host_morefs: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    standard: list[dict[str, object]] = field(default_factory=list)
    primaries: list[int] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)
    vm_ips: int = 0

    @property
    def name(self) -> str:
        return self.plan.name

    def ip(self, network: int, n: int) -> str:
        return f"10.{self.index + 1}.{network}.{n}"


@dataclass
class _Store:
    plan: ExternalStorePlan
    cluster: _Cluster


@dataclass
class _Policy:
    plan: PolicyPlan
    id: str
    owner: _Cluster
    rule_ids: list[str]
    retentions: list[int]  # minutes, per rule: the plan's, or fitted to the wanted history


@dataclass
class _Datastore:
    plan: DatastorePlan
    id: str
    cluster: _Cluster
    policy: _Policy
    moref: str
    created: int
    vms: list[_Vm] = field(default_factory=list)


@dataclass
class _Vm:
    plan: VmPlan
    index: int
    id: str
    ds: _Datastore
    policy: _Policy
    image: Image | None
    segment: Segment | None  # its golden image's, or None: data of its own only
    unique: int  # logical bytes of its own data when it was made
    compression: float
    allocated: int
    written: int
    created: int
    deleted: int | None
    primary: int
    secondary: int | None
    rate: float  # bytes changed per second
    power: str
    windows: bool

    @property
    def cluster(self) -> _Cluster:
        return self.ds.cluster

    @property
    def replica_hosts(self) -> list[str]:
        hosts = self.cluster.host_ids
        return [hosts[self.primary]] + ([hosts[self.secondary]] if self.secondary is not None else [])


@dataclass
class _Rule:
    """A policy rule as it applies to the VMs of one cluster."""

    position: int
    frequency: int  # seconds
    retention: int  # seconds, already scaled
    days: schedule.Days
    start: int
    end: int
    target: _Cluster | _Store | None  # None: kept where the VM is
    consistency: str


@dataclass
class _Schedule:
    rules: list[_Rule]
    times: list[int]
    positions: list[int]  # index into rules for each time
    texts: list[tuple[str, str, str | None]]  # created_at, policy backup name, expiration_time


class Builder:
    """Builds one federation; every random choice comes from `rng`, in a fixed order."""

    def __init__(self, plan: FederationPlan, now: datetime, rng: random.Random) -> None:
        self.plan = plan
        self.now = now.astimezone(UTC)
        self.now_ts = int(self.now.timestamp())
        self.rng = rng
        self.ids = _Ids(rng)
        self.fed = Federation()
        self.ledger = MemoryLedger()
        self.content = ContentModel(self.ledger)
        self.segments = {i.name: image_segment(i.name, i.content, i.compression) for i in IMAGES.values()}
        # Per VM index: the backups it has, as (taken at, row, place, bytes per second of its link).
        self.history: dict[int, list[tuple[int, dict[str, object], str, int]]] = {}
        self._text_cache: dict[int, str] = {}
        self._day_cache: dict[int, str] = {}
        self.clusters: dict[str, _Cluster] = {}
        self.stores: dict[str, _Store] = {}
        self.policies: dict[str, _Policy] = {}
        self.datastores: dict[str, _Datastore] = {}
        self.vms: list[_Vm] = []
        self.hosts_by_name: dict[str, tuple[_Cluster, int]] = {}

    # ---- helpers -------------------------------------------------------------------------------

    def text(self, ts: int) -> str:
        """to_text of an epoch second; the day's prefix is formatted once, the rest is arithmetic."""
        cached = self._text_cache.get(ts)
        if cached is None:
            day, second = divmod(ts, DAY)
            prefix = self._day_cache.get(day)
            if prefix is None:
                prefix = self._day_cache[day] = to_text(datetime.fromtimestamp(day * DAY, UTC))[:11]
            hours, rest = divmod(second, 3600)
            cached = self._text_cache[ts] = f"{prefix}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
        return cached

    def ago(self, low_days: float, high_days: float) -> int:
        return self.now_ts - int(self.rng.uniform(low_days, high_days) * DAY)

    def groups_of(self, cluster: _Cluster) -> list[str]:
        return list(cluster.group_ids)

    # ---- the build -----------------------------------------------------------------------------

    def build(self) -> Federation:
        self._clusters()
        self._cluster_groups()
        self._external_stores()
        self._policies()
        self._standard_hosts()
        self._datastores()
        self._vms()
        self._backups()
        self._content()
        self._policy_rows()
        self._datastore_rows()
        self._vm_rows()
        self._hosts_and_clusters()
        self.ledger.forget_caches()
        self.fed.content = self.ledger
        return self.fed

    def _clusters(self) -> None:
        vcenters: list[_VCenter] = []
        for index, cp in enumerate(self.plan.clusters):
            if not vcenters or vcenters[-1].hosts + len(cp.hosts) > HOSTS_PER_VCENTER:
                vcenters.append(_VCenter(len(vcenters)))
            vc = vcenters[-1]
            vc.hosts += len(cp.hosts)
            cluster = _Cluster(
                plan=cp,
                index=index,
                id=self.ids.uuid4(),
                vcenter=vc,
                tz=ZoneInfo(cp.time_zone),
                dc_name=f"DC-{cp.name}",
                dc_moref=vc.moref("datacenter-", self.rng),
                moref=vc.moref("domain-c", self.rng),
            )
            for i, name in enumerate(cp.hosts):
                cluster.host_ids.append(self.ids.vmware())
                cluster.host_morefs.append(vc.moref("host-", self.rng))
                self.hosts_by_name[name] = (cluster, i)
            cluster.primaries = [0] * len(cp.hosts)
            cluster.replicas = [0] * len(cp.hosts)
            self.clusters[cp.name] = cluster

    def _cluster_groups(self) -> None:
        for gp in self.plan.cluster_groups:
            gid = self.ids.uuid4()
            members = [self.clusters[name] for name in gp.clusters]
            for cluster in members:
                cluster.group_ids.append(gid)
            self.fed.rows["cluster_groups"].append(
                {"id": gid, "name": gp.name, "clusters": [c.id for c in members]}
            )

    def _external_stores(self) -> None:
        per_cluster: dict[str, int] = {}
        for sp in self.plan.external_stores:
            cluster = self.clusters[sp.cluster]
            n = per_cluster[cluster.name] = per_cluster.get(cluster.name, 0) + 1
            self.stores[sp.name] = _Store(sp, cluster)
            self.fed.rows["external_stores"].append(
                {
                    "name": sp.name,
                    "management_ip": sp.management_ip or cluster.ip(40, 10 + n),
                    "management_port": 9387,
                    "storage_port": 9388,
                    "omnistack_cluster_id": cluster.id,
                    "type": STORE_TYPE,
                    "cluster_group_ids": self.groups_of(cluster),
                }
            )

    def _policies(self) -> None:
        first = next(iter(self.clusters.values()))
        for pp in self.plan.policies:
            owner = self.clusters[pp.owner_cluster] if pp.owner_cluster else first
            rule_ids = [self.ids.uuid4() for _ in pp.rules]
            self.policies[pp.name] = _Policy(
                pp, self.ids.uuid4(), owner, rule_ids, [r.retention for r in pp.rules]
            )

    def _standard_hosts(self) -> None:
        for cluster in self.clusters.values():
            stem = cluster.name.lower().replace(" ", "-")
            for n in range(1, self.rng.randint(1, 2) + 1):
                row: dict[str, object] = {
                    "name": f"{stem}-esx{n:02d}.{DOMAIN}",
                    "ip_address": cluster.ip(10, 200 + n),
                    "hypervisor_object_id": cluster.vcenter.moref("host-", self.rng),
                    "omnistack_cluster_id": cluster.id,
                }
                cluster.standard.append(row)
                self.fed.rows["standard_hosts"].append(row)

    def _datastores(self) -> None:
        for dp in self.plan.datastores:
            cluster = self.clusters[dp.cluster]
            self.datastores[dp.name] = _Datastore(
                plan=dp,
                id=self.ids.uuid4(),
                cluster=cluster,
                policy=self.policies[dp.policy],
                moref=cluster.vcenter.moref("datastore-", self.rng),
                created=self.ago(800, 1000),
            )

    # ---- virtual machines ----------------------------------------------------------------------

    def _place(self, cluster: _Cluster, vp: VmPlan, single_replica: bool) -> tuple[int, int | None]:
        n = len(cluster.host_ids)
        if vp.host is not None:
            primary = self.hosts_by_name[vp.host][1]
        else:
            primary = min(range(n), key=lambda i: (cluster.primaries[i] + cluster.replicas[i], i))
        cluster.primaries[primary] += 1
        if single_replica or n < 2:
            return primary, None
        others = [(primary + k) % n for k in range(1, n)]
        secondary = min(others, key=lambda i: cluster.primaries[i] + cluster.replicas[i])
        cluster.replicas[secondary] += 1
        return primary, secondary

    def _vms(self) -> None:
        rng = self.rng
        for index, vp in enumerate(self.plan.vms):
            ds = self.datastores[vp.datastore]
            policy = self.policies[vp.policy] if vp.policy else ds.policy
            image = IMAGES[vp.image or image_for(vp.name, rng)]
            allocated = vp.size or (min(image.typical_size) if vp.template else typical_size(image.name, rng))
            if allocated >= image.content * 1.25:
                clone: Image | None = image
                content = image.content
                spare = allocated - content
                unique = int(spare * (0.02 if vp.template else rng.uniform(0.08, 0.45)))
            else:
                clone, content = None, 0
                unique = int(allocated * rng.uniform(0.3, 0.7))
            if vp.template:
                created = self.ago(700, 900)
            elif vp.deleted:
                created = self.ago(120, 400)
            else:
                created = self.ago(60, 700)
            created = max(created, ds.created + DAY)
            deleted = self.ago(3, 20) if vp.deleted else None
            primary, secondary = self._place(ds.cluster, vp, ds.plan.single_replica)
            power = vp.power_state or ("OFF" if vp.template or vp.deleted else power_state(rng))
            vm = _Vm(
                plan=vp,
                index=index,
                id=self.ids.uuid4(),
                ds=ds,
                policy=policy,
                image=clone,
                segment=self.segments[clone.name] if clone else None,
                unique=unique,
                compression=image.compression,
                allocated=allocated,
                written=content + unique,
                created=created,
                deleted=deleted,
                primary=primary,
                secondary=secondary,
                rate=0.0 if vp.template else workload_rate(unique, rng.uniform(0.005, 0.03)),
                power=power,
                windows=image.windows,
            )
            self.vms.append(vm)
            ds.vms.append(vm)

    # ---- backups -------------------------------------------------------------------------------

    def _rules_for(self, policy: _Policy, cluster: _Cluster) -> list[_Rule]:
        rules: list[_Rule] = []
        for position, rp in enumerate(policy.plan.rules):
            target: _Cluster | _Store | None = None
            if rp.external_store:
                store = self.stores[rp.external_store]
                if store.cluster is not cluster:
                    continue  # a StoreOnce takes backups only from the cluster it is registered with
                target = store
            elif rp.destination and self.clusters[rp.destination] is not cluster:
                target = self.clusters[rp.destination]
            rules.append(
                _Rule(
                    position=position,
                    frequency=rp.frequency * 60,
                    retention=policy.retentions[position] * 60,
                    days=schedule.parse_days(rp.days),
                    start=schedule.parse_clock(rp.start_time),
                    end=schedule.parse_clock(rp.end_time),
                    target=target,
                    consistency=rp.consistency_type,
                )
            )
        return rules

    def _instants(
        self, rule: _Rule, cluster: _Cluster, cache: dict[tuple[object, ...], list[int]]
    ) -> list[int]:
        """When the rule fired over the whole history, whatever its retention."""
        key = (rule.frequency, rule.days, rule.start, rule.end, cluster.plan.time_zone)
        found = cache.get(key)
        if found is None:
            timing = schedule.Rule(
                rule.frequency // 60, rule.retention // 60, rule.days, rule.start, rule.end
            )
            found = cache[key] = schedule.fire_times(timing, cluster.tz, self.now_ts - HISTORY, self.now_ts)
        return found

    def _bounds(self, vm: _Vm) -> tuple[int, int]:
        """A VM's backups fall after its first hour and before its deletion (or now)."""
        return vm.created + 3600, (vm.deleted if vm.deleted is not None else self.now_ts)

    def _fit_retentions(self, wanted: int, cache: dict[tuple[object, ...], list[int]]) -> None:
        """Stretch or shrink every generated retention alike, so the history holds about `wanted`.

        Retentions stay whole hours, so the policies still read as a person would set them, and
        every kept backup is one its rule really made and has not yet expired.
        """
        floor = self.now_ts - HISTORY
        pairs: dict[tuple[str, int], tuple[_Policy, _Cluster, dict[tuple[int, int], int]]] = {}
        for vm in self.vms:
            lo, hi = self._bounds(vm)
            _, _, members = pairs.setdefault((vm.policy.id, vm.cluster.index), (vm.policy, vm.cluster, {}))
            members[(max(lo, floor), hi)] = members.get((max(lo, floor), hi), 0) + 1
        terms: list[tuple[list[int], int, list[tuple[int, int, int]]]] = []
        for policy, cluster, members in pairs.values():
            groups = [(lo, hi, n) for (lo, hi), n in members.items()]
            for rule in self._rules_for(policy, cluster):
                terms.append(
                    (self._instants(rule, cluster, cache), policy.plan.rules[rule.position].retention, groups)
                )

        def count(scale: float) -> int:
            total = 0
            for times, retention, groups in terms:
                after = self.now_ts - _scaled(retention, scale) * 60 + 1
                for lo, hi, n in groups:
                    total += n * max(
                        0, bisect.bisect_left(times, hi) - bisect.bisect_left(times, max(lo, after))
                    )
            return total

        shortest = min((r.retention for p in self.policies.values() for r in p.plan.rules), default=1)
        low, high = 0.0, HISTORY / 60 / max(1, shortest) + 1  # count(high) keeps the whole history
        if count(high) <= wanted:
            low = high
        else:
            for _ in range(48):
                mid = (low + high) / 2
                if count(mid) <= wanted:
                    low = mid
                else:
                    high = mid
        for policy in self.policies.values():
            # Never below the rule's frequency: the API refuses such rules, so none may be generated.
            policy.retentions = [max(r.frequency, _scaled(r.retention, low)) for r in policy.plan.rules]

    def _schedule(
        self, policy: _Policy, cluster: _Cluster, cache: dict[tuple[object, ...], list[int]]
    ) -> _Schedule:
        rules = self._rules_for(policy, cluster)
        merged = sorted(
            (ts, i)
            for i, rule in enumerate(rules)
            for ts in self._instants(rule, cluster, cache)
            if ts + rule.retention > self.now_ts
        )
        texts: list[tuple[str, str, str | None]] = []
        for ts, i in merged:
            retention = rules[i].retention
            texts.append(
                (
                    self.text(ts),
                    datetime.fromtimestamp(ts, cluster.tz).isoformat(),
                    self.text(ts + retention) if retention else None,
                )
            )
        return _Schedule(rules, [ts for ts, _ in merged], [i for _, i in merged], texts)

    def _backups(self) -> None:
        """Policy history from the rules' schedules, hand-made backups, and their capacity."""
        total = self.plan.backups_total
        cache: dict[tuple[object, ...], list[int]] = {}
        if total and self.vms:
            self._fit_retentions(total - round(total * MANUAL_SHARE), cache)
        schedules: dict[tuple[str, int], _Schedule] = {}
        for vm in self.vms:
            key = (vm.policy.id, vm.cluster.index)
            if key not in schedules:
                schedules[key] = self._schedule(vm.policy, vm.cluster, cache)
        manual: list[tuple[_Vm, str | None, bool]] = []  # VM, destination kind or None, locked
        counts: list[int] = []
        for vm in self.vms:
            lo, hi = self._bounds(vm)
            times = schedules[(vm.policy.id, vm.cluster.index)].times
            available = max(0, bisect.bisect_left(times, hi) - bisect.bisect_left(times, lo))
            if total is None:
                wanted = vm.plan.backups or 0
                counts.append(min(wanted, available))
                manual.extend((vm, None, False) for _ in range(wanted - counts[-1]))
            else:
                counts.append(available)
        if total is not None:
            _trim(counts, sum(counts) - total)
            manual = self._manual_choices(total - sum(counts))
        rows = self.fed.rows["backups"]
        for vm, count in zip(self.vms, counts, strict=True):
            if count:
                self._policy_backups(vm, schedules[(vm.policy.id, vm.cluster.index)], count, rows)
        policy_rows = len(rows)
        for vm, kind, locked in manual:
            self._manual_backup(vm, kind, locked, rows)
        if policy_rows:
            # Someone always locked one backup to keep it: it never expires.
            locked_row = rows[self.rng.randrange(policy_rows)]
            locked_row["expiration_time"] = None

    def _manual_choices(self, count: int) -> list[tuple[_Vm, str | None, bool]]:
        """Who backs up by hand: every deleted VM once (its backups outlive it), then anyone."""
        if count <= 0:
            return []
        eligible = [vm for vm in self.vms if not vm.plan.template] or list(self.vms)
        if not eligible:
            raise ValueError(f"cannot keep {count} backups in a federation without VMs")
        chosen: list[tuple[_Vm, str | None, bool]] = []
        chosen.extend((vm, "local", False) for vm in eligible if vm.deleted is not None)
        del chosen[count:]
        # One of each kind first, so even a small history shows locked, remote and StoreOnce copies.
        alive = [vm for vm in eligible if vm.deleted is None] or eligible
        wanted_kinds: list[tuple[str, bool]] = [("local", True)]
        if len(self.clusters) > 1:
            wanted_kinds.append(("remote", False))
        for kind, locked in wanted_kinds:
            if len(chosen) < count:
                chosen.append((self.rng.choice(alive), kind, locked))
        with_store = [vm for vm in alive if any(s.cluster is vm.cluster for s in self.stores.values())]
        if with_store and len(chosen) < count:
            chosen.append((self.rng.choice(with_store), "external", False))
        while len(chosen) < count:
            chosen.append((self.rng.choice(eligible), None, False))
        return chosen

    def _base(
        self, vm: _Vm, target: _Cluster | _Store | None, kind: str, consistency: str
    ) -> dict[str, object]:
        """Everything a backup of this VM kept at `target` shares with its siblings, in field order."""
        cluster = vm.cluster
        if isinstance(target, _Store):
            holder_id, holder_name, store_name = "", "", target.plan.name
            associated, store_type = target.cluster.id, STORE_TYPE
        else:
            holder = target or cluster
            holder_id, holder_name, store_name = holder.id, holder.name, ""
            associated, store_type = holder.id, "SimplivityStore"
        return {
            "id": "",
            "name": "",
            "state": "PROTECTED",
            "type": kind,
            "created_at": "",
            "expiration_time": None,
            "size": 0,
            "sent": 0,
            "application_consistent": consistency != "NONE",
            "consistency_type": consistency,
            "virtual_machine_id": vm.id,
            "virtual_machine_name": vm.plan.name,
            "virtual_machine_state": "DELETED" if vm.deleted is not None else "ALIVE",
            "virtual_machine_type": "TEMPLATE" if vm.plan.template else "VM",
            "omnistack_cluster_id": holder_id,
            "omnistack_cluster_name": holder_name,
            "datastore_id": vm.ds.id,
            "datastore_name": vm.ds.plan.name,
            "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
            "compute_cluster_parent_name": cluster.dc_name,
            "hypervisor_type": "VSPHERE",
            "unique_size_bytes": 0,
            "unique_size_timestamp": None,
            "sent_completion_time": None,
            "sent_duration": 0,
            "cluster_group_ids": self._target_groups(vm, target),
            "external_store_name": store_name,
            "associated_cluster": associated,
            "backup_store_type": store_type,
        }

    def _target_groups(self, vm: _Vm, target: _Cluster | _Store | None) -> list[str]:
        """Groups of the cluster holding a backup; for a StoreOnce copy, of the store's cluster."""
        holder = target.cluster if isinstance(target, _Store) else (target or vm.cluster)
        return self.groups_of(holder)

    def _place_of(self, vm: _Vm, target: _Cluster | _Store | None) -> str:
        """Where a backup's content is kept: a cluster's id, or an external store's name."""
        if isinstance(target, _Store):
            return target.plan.name
        return (target or vm.cluster).id

    def _policy_backups(self, vm: _Vm, sched: _Schedule, count: int, rows: list[dict[str, object]]) -> None:
        _, hi = self._bounds(vm)
        end = bisect.bisect_left(sched.times, hi)
        start = end - count
        bases = [self._base(vm, r.target, "POLICY", r.consistency) for r in sched.rules]
        places = [self._place_of(vm, r.target) for r in sched.rules]
        groups = [self._target_groups(vm, r.target) for r in sched.rules]
        bandwidth = self.rng.randint(40, 160) * MiB
        history = self.history.setdefault(vm.index, [])
        uuid4 = self.ids.uuid4
        times, positions, texts = sched.times, sched.positions, sched.texts
        for j in range(start, end):
            r = positions[j]
            created, name, expires = texts[j]
            row = {
                **bases[r],
                "id": uuid4(),
                "name": name,
                "created_at": created,
                "expiration_time": expires,
                "unique_size_timestamp": created,
                "cluster_group_ids": groups[r][:],
            }
            rows.append(row)
            history.append((times[j], row, places[r], bandwidth))

    def _manual_target(self, vm: _Vm, kind: str | None) -> _Cluster | _Store | None:
        rng = self.rng
        if kind is None:
            roll = rng.random()
            kind = "remote" if roll < 0.12 else "external" if roll < 0.18 else "local"
        if kind == "remote":
            others = [c for c in self.clusters.values() if c is not vm.cluster]
            return rng.choice(others) if others else None
        if kind == "external":
            stores = [s for s in self.stores.values() if s.cluster is vm.cluster]
            return rng.choice(stores) if stores else None
        return None

    def _manual_backup(self, vm: _Vm, kind: str | None, locked: bool, rows: list[dict[str, object]]) -> None:
        rng = self.rng
        lo, hi = self._bounds(vm)
        lo = max(lo, self.now_ts - HISTORY)
        ts = rng.randrange(lo, hi - 60) if hi - 60 > lo else hi - 60
        target = self._manual_target(vm, kind)
        consistency = "DEFAULT" if vm.power == "ON" and rng.random() < 0.5 else "NONE"
        row = self._base(vm, target, "MANUAL", consistency)
        if not locked and rng.random() < 0.04:
            locked = True
        retention = 0 if locked else rng.choice([d * DAY for d in (7, 30, 90) if ts + d * DAY > self.now_ts])
        created = self.text(ts)
        local = datetime.fromtimestamp(ts, vm.cluster.tz).isoformat()
        row.update(
            id=self.ids.uuid4(),
            name=f"{vm.plan.name}-backup-{local}",
            created_at=created,
            expiration_time=self.text(ts + retention) if retention else None,
            unique_size_timestamp=created,
        )
        rows.append(row)
        bandwidth = rng.randint(40, 160) * MiB if target is not None else 0
        self.history.setdefault(vm.index, []).append((ts, row, self._place_of(vm, target), bandwidth))

    # ---- content: each VM's history through the content model -----------------------------------

    def _content(self) -> None:
        """Each VM made, aged, backed up in time order and (if deleted) deleted; rows take the figures."""
        model = self.content
        for vm in self.vms:
            history = sorted(self.history.get(vm.index, ()), key=lambda event: event[0])
            with model.batch():
                model.create_vm(
                    vm.id, vm.cluster.id, own_bytes=vm.unique, compression=vm.compression, image=vm.segment,
                    rate=vm.rate,
                )  # fmt: skip
                layout = model.lineage(vm.id).layout
                hot = sum(seg.length for seg in layout.segments if seg.kind == "hot")
                model.workload(vm.id, hot + layout.slots // 20)  # aged: its hot data and a few files
                previous = vm.created
                for ts, row, place, bandwidth in history:
                    model.workload(vm.id, workload_pieces(vm.rate, ts - previous))
                    previous = ts
                    backup_id = str(row["id"])
                    change = model.backup(vm.id, backup_id, place)
                    row["size"] = model.size(backup_id)
                    if place != vm.cluster.id:
                        sent = change.compressed
                        duration = max(1, sent // bandwidth)
                        row["sent"] = sent
                        row["sent_duration"] = duration
                        row["sent_completion_time"] = self.text(ts + duration)
                end = vm.deleted if vm.deleted is not None else self.now_ts
                model.workload(vm.id, workload_pieces(vm.rate, end - previous))
                vm.written = model.size(vm.id)
                if vm.deleted is not None:
                    model.delete(vm.id)
                elif vm.power == "ON":
                    model.start_workload(vm.id, self.now_ts * 1000)  # it keeps running from now on
        # Measured once every history is in: what deleting each backup would free now.
        for vm in self.vms:
            for _, row, _, _ in self.history.get(vm.index, ()):
                row["unique_size_bytes"] = model.unique_size(str(row["id"]))

    # ---- rows of the remaining collections ------------------------------------------------------

    def _policy_rows(self) -> None:
        for policy in self.policies.values():
            rules: list[dict[str, object]] = []
            for number, (rp, rid) in enumerate(zip(policy.plan.rules, policy.rule_ids, strict=True)):
                rules.append(self._rule_row(rp, rid, number, policy.retentions[number]))
            self.fed.rows["policies"].append(
                {
                    "id": policy.id,
                    "name": policy.plan.name,
                    "rules": rules,
                    "cluster_group_ids": self.groups_of(policy.owner),
                    "owner_cluster_id": policy.owner.id,
                    "owner_cluster_name": policy.owner.name,
                }
            )

    def _rule_row(self, rp: RulePlan, rid: str, number: int, retention: int) -> dict[str, object]:
        if rp.external_store:
            dest_id, dest_name = "", rp.external_store
        elif rp.destination:
            dest_id, dest_name = self.clusters[rp.destination].id, rp.destination
        else:
            dest_id, dest_name = "", "<local>"
        return {
            "id": rid,
            "number": number,
            "destination_id": dest_id,
            "destination_name": dest_name,
            "external_store_name": rp.external_store or "",
            "frequency": rp.frequency,
            "retention": retention,
            "days": rp.days,
            "start_time": rp.start_time,
            "end_time": rp.end_time,
            "max_backups": max_backups(rp.frequency, retention),
            "application_consistent": rp.consistency_type != "NONE",
            "consistency_type": rp.consistency_type,
        }

    def _datastore_rows(self) -> None:
        sizes = [n * TiB for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)]
        shared_done: set[str] = set()
        for ds in self.datastores.values():
            cluster = ds.cluster
            alive = [vm for vm in ds.vms if vm.deleted is None]
            written = sum(vm.written for vm in alive)
            if ds.plan.size is not None:
                size = ds.plan.size
                if size < written:
                    raise ValueError(
                        f"datastore {ds.plan.name!r} (size {size} bytes) is too small for its VMs "
                        f"({written} bytes written)"
                    )
            else:
                need = int(sum(vm.allocated for vm in alive) * 1.25)
                size = next((s for s in sizes if s >= need), need)
            shared = ds.plan.shared
            if shared is None:
                shared = cluster.name not in shared_done
            if shared:
                shared_done.add(cluster.name)
            std = cluster.standard[0] if cluster.standard else None
            shares = (
                [{"address": std["ip_address"], "host": std["name"], "rw": True}] if shared and std else []
            )
            self.fed.rows["datastores"].append(
                {
                    "id": ds.id,
                    "name": ds.plan.name,
                    "size": size,
                    "created_at": self.text(ds.created),
                    "mount_directory": f"/mnt/svtfs/0/{ds.id}",
                    "omnistack_cluster_id": cluster.id,
                    "omnistack_cluster_name": cluster.name,
                    "policy_id": ds.policy.id,
                    "policy_name": ds.policy.plan.name,
                    "hypervisor_object_id": ds.moref,
                    "hypervisor_type": "VSPHERE",
                    "hypervisor_management_system": cluster.vcenter.ip,
                    "hypervisor_management_system_name": cluster.vcenter.name,
                    "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                    "compute_cluster_parent_name": cluster.dc_name,
                    "shares": shares,
                    "cluster_group_ids": self.groups_of(cluster),
                    "single_replica": ds.plan.single_replica,
                    "deleted": False,
                    "hypervisor_free_space": size - written,
                }
            )

    def _app_aware(self, vm: _Vm) -> str:
        if vm.deleted is not None or vm.plan.template:
            return "UNKNOWN"
        if vm.power != "ON":
            return "VMWARE_TOOLS_UNAVAILABLE"
        if not vm.windows:
            return "INVALID_OS"
        vss = any(r.consistency_type == "VSS" for r in vm.policy.plan.rules)
        return "VALID_CREDS" if vss else "CAPABLE"

    def _vm_rows(self) -> None:
        rng = self.rng
        folders = ("Production", "Infrastructure", "Development", "Discovered virtual machine")
        for vm in self.vms:
            cluster, ds, vp = vm.cluster, vm.ds, vm.plan
            hosts = cluster.host_ids
            replica_set = [{"id": hosts[vm.primary], "role": "PRIMARY"}]
            if vm.secondary is not None:
                replica_set.append({"id": hosts[vm.secondary], "role": "SECONDARY"})
            if vm.deleted is not None:
                ha = "UNKNOWN"
            else:
                ha = "SAFE" if vm.secondary is not None else "OUT_OF_SCOPE"
            cpus = rng.choice((1, 2, 2, 4, 4, 8))
            memory = rng.choice((2048, 4096, 8192, 8192, 16384, 32768))
            on = vm.power == "ON"
            addresses: list[str] = []
            if on:
                n = cluster.vm_ips
                cluster.vm_ips += 1
                addresses.append(cluster.ip(64 + n // 250, n % 250 + 1))
            nic = {
                "adapter_type": "VMXNET3" if not vm.windows or rng.random() < 0.8 else "E1000E",
                "device_number": "4000",
                "ipv4_addresses": addresses,
                "mac_address": self.ids.mac(),
                "mac_generation": "ASSIGNED",
                "network_label": "VM Network"
                if vp.template
                else f"VLAN-{100 + cluster.index * 10 + vm.index % 4}",
            }
            self.fed.rows["virtual_machines"].append(
                {
                    "id": vm.id,
                    "name": vp.name,
                    "state": "DELETED" if vm.deleted is not None else "ALIVE",
                    "created_at": self.text(vm.created),
                    "deleted_at": self.text(vm.deleted) if vm.deleted is not None else None,
                    "omnistack_cluster_id": cluster.id,
                    "omnistack_cluster_name": cluster.name,
                    "datastore_id": ds.id,
                    "datastore_name": ds.plan.name,
                    "policy_id": vm.policy.id,
                    "policy_name": vm.policy.plan.name,
                    "host_id": hosts[vm.primary],
                    "host_name": cluster.plan.hosts[vm.primary],
                    "hypervisor_object_id": cluster.vcenter.moref("vm-", rng),
                    "hypervisor_type": "VSPHERE",
                    "hypervisor_management_system": cluster.vcenter.ip,
                    "hypervisor_management_system_name": cluster.vcenter.name,
                    "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                    "compute_cluster_parent_name": cluster.dc_name,
                    "app_aware_vm_status": self._app_aware(vm),
                    "replica_set": replica_set,
                    "cluster_group_ids": self.groups_of(cluster),
                    "ha_status": ha,
                    "ha_resynchronization_progress": 100 if ha == "SAFE" else 0,
                    "hypervisor_virtual_machine_power_state": vm.power,
                    "hypervisor_is_template": vp.template,
                    "hypervisor_allocated_capacity": vm.allocated,
                    "hypervisor_free_space": vm.allocated - vm.written,
                    "hypervisor_cpu_count": cpus,
                    "hypervisor_total_memory": memory,
                    "hypervisor_virtual_disk_count": 1
                    + int(vm.allocated > 100 * GiB)
                    + int(vm.allocated > 150 * GiB),
                    "hypervisor_allocated_cpu": cpus * 2600,
                    "hypervisor_consumed_cpu": int(cpus * 2600 * rng.uniform(0.02, 0.35)) if on else 0,
                    "hypervisor_consumed_memory": int(memory * rng.uniform(0.1, 0.6)) if on else 0,
                    "hypervisor_folder_name": "Templates" if vp.template else rng.choice(folders),
                    "hypervisor_instance_id": self.ids.vmware("50"),
                    "hypervisor_uuid": self.ids.vmware("42"),
                    "hypervisor_managed_by": "",
                    "network_interfaces": [nic],
                }
            )

    def _hosts_and_clusters(self) -> None:
        date_text = self.text(self.now_ts)
        for cluster in self.clusters.values():
            totals = self.content.totals(cluster.id)
            n = len(cluster.host_ids)
            # The drives are sized for a host's share: an even one, as they all get the same drives.
            _, first = cluster_capacity(totals, cluster.host_ids, [0] * n)
            layout = hardware.layout_for(max(_int(f["used_capacity"]) for f in first))
            fields_of_cluster, host_capacity = cluster_capacity(
                totals, cluster.host_ids, [layout.capacity] * n
            )
            for i, (host_id, name) in enumerate(zip(cluster.host_ids, cluster.plan.hosts, strict=True)):
                fields = host_capacity[i]
                mgmt = cluster.ip(10, 11 + i)
                self.fed.rows["hosts"].append(
                    {
                        "id": host_id,
                        "name": name,
                        "state": "ALIVE",
                        "type": "OmniStack",
                        "model": hardware.HOST_MODEL,
                        "version": VERSION,
                        "omnistack_cluster_id": cluster.id,
                        "management_ip": mgmt,
                        "management_mask": _MASK,
                        "management_mtu": "1500",
                        "storage_ip": cluster.ip(20, 11 + i),
                        "storage_mask": _MASK,
                        "storage_mtu": "9000",
                        "federation_ip": cluster.ip(30, 11 + i),
                        "federation_mask": _MASK,
                        "federation_mtu": "9000",
                        "virtual_controller_name": "OmniStackVC-" + mgmt.replace(".", "-"),
                        "hypervisor_object_id": cluster.host_morefs[i],
                        "hypervisor_management_system": cluster.vcenter.ip,
                        "hypervisor_management_system_name": cluster.vcenter.name,
                        "compute_cluster_name": cluster.name,
                        "compute_cluster_hypervisor_object_id": cluster.moref,
                        "compute_cluster_parent_name": cluster.dc_name,
                        "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                        "policy_enabled": True,
                        "current_feature_level": FEATURE_LEVEL,
                        "potential_feature_level": FEATURE_LEVEL,
                        "cluster_feature_level": FEATURE_LEVEL,
                        "upgrade_state": "SUCCESS",
                        "can_rollback": False,
                        "cluster_group_ids": self.groups_of(cluster),
                        "availability_zone_effective": "",
                        "availability_zone_planned": "",
                        "date": date_text,
                        **fields,
                    }
                )
                self.fed.rows["host_hardware"].append(
                    {"host_id": host_id, "document": hardware.document(self.rng, host_id, name, layout)}
                )
            self.fed.rows["omnistack_clusters"].append(
                {
                    "id": cluster.id,
                    "name": cluster.name,
                    "type": "OMNISTACK",
                    "members": list(cluster.host_ids),
                    "version": VERSION,
                    "hypervisor_object_id": cluster.moref,
                    "hypervisor_object_parent_id": cluster.dc_moref,
                    "hypervisor_object_parent_name": cluster.dc_name,
                    "hypervisor_management_system": cluster.vcenter.ip,
                    "hypervisor_management_system_name": cluster.vcenter.name,
                    "hypervisor_type": "VSPHERE",
                    "arbiter_address": f"10.0.0.{51 + cluster.vcenter.index}",
                    "arbiter_connected": True,
                    "arbiter_required": len(cluster.host_ids) == 2,
                    "arbiter_configured": True,
                    "cluster_feature_level": FEATURE_LEVEL,
                    "cluster_group_ids": self.groups_of(cluster),
                    "infosight_configuration": {
                        "infosight_enabled": True,
                        "infosight_registered": True,
                        "infosight_proxy_url": "",
                        "infosight_claim_tag": self.ids.hex(12).upper(),
                        "infosight_tenant_name": "Example Corp",
                    },
                    "iwo_enabled": False,
                    "iwo_active": False,
                    "time_zone": cluster.plan.time_zone,
                    "upgrade_state": "SUCCESS_COMMITTED",
                    "upgrade_task_id": "",
                    **fields_of_cluster,
                }
            )


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def build(plan: FederationPlan, now: datetime, rng: random.Random) -> Federation:
    """Every row of the federation the plan describes, as seen at `now`."""
    return Builder(plan, now, rng).build()
