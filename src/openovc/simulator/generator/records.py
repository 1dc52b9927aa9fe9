"""The generator's working records (ids, vCenters, clusters, policies, datastores, VMs, rules) and its draft."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openovc.domain import ids
from openovc.domain import schedules as schedule
from openovc.domain.timefmt import to_text
from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import Segment, image_segment
from openovc.simulator.federation import Federation
from openovc.simulator.generator.plan import (
    DOMAIN,
    IMAGES,
    ClusterPlan,
    DatastorePlan,
    ExternalStorePlan,
    FederationPlan,
    Image,
    PolicyPlan,
    VmPlan,
)

DAY = 86400
STORE_TYPE = "StoreOnceOnPrem"  # every external store's type, on its row and on its backups'

_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))  # version nibble and variant bits
_UUID_SET = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


class Ids:
    """Identifiers drawn from the one seeded generator, so a seed always gives the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits

    def uuid4(self) -> str:
        n = (self._bits(128) & _UUID_CLEAR) | _UUID_SET
        return ids.dashed(f"{n:032x}")

    def time_ordered(self, at_s: int) -> str:
        """A backup's id: a version-7 UUID carrying its creation time, as the live schedule's are."""
        # As many bits drawn as for a random id, so that what the generator draws next stays the same.
        return ids.time_ordered_id(at_s * 1000, self._bits(128))

    def vmware(self, prefix: str = "42") -> str:
        """A VMware-style (BIOS or instance) UUID: no version bits, a vendor prefix."""
        return ids.dashed(prefix + f"{self._bits(120):030x}")

    def mac(self) -> str:
        """vCenter-assigned MACs are 00:50:56:00:00:00 - 00:50:56:3F:FF:FF."""
        n = self._bits(22)
        return f"00:50:56:{n >> 16:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"

    def hex(self, digits: int) -> str:
        return f"{self._bits(digits * 4):0{digits}x}"


@dataclass
class VCenter:
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
class Cluster:
    plan: ClusterPlan
    index: int
    id: str
    vcenter: VCenter
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
class Store:
    plan: ExternalStorePlan
    cluster: Cluster


@dataclass
class Policy:
    plan: PolicyPlan
    id: str
    owner: Cluster
    rule_ids: list[str]
    retentions: list[int]  # minutes, per rule: the plan's, or fitted to the wanted history


@dataclass
class Datastore:
    plan: DatastorePlan
    id: str
    cluster: Cluster
    policy: Policy
    moref: str
    created: int
    vms: list[Vm] = field(default_factory=list)


@dataclass
class Vm:
    plan: VmPlan
    index: int
    id: str
    ds: Datastore
    policy: Policy
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
    def cluster(self) -> Cluster:
        return self.ds.cluster

    @property
    def replica_hosts(self) -> list[str]:
        hosts = self.cluster.host_ids
        return [hosts[self.primary]] + ([hosts[self.secondary]] if self.secondary is not None else [])


@dataclass
class Rule:
    """A policy rule as it applies to the VMs of one cluster."""

    position: int
    frequency: int  # seconds
    retention: int  # seconds, already scaled
    days: schedule.Days
    start: int
    end: int
    target: Cluster | Store | None  # None: kept where the VM is
    consistency: str


@dataclass
class Schedule:
    rules: list[Rule]
    times: list[int]
    positions: list[int]  # index into rules for each time
    texts: list[tuple[str, str, str | None]]  # created_at, policy backup name, expiration_time


class Draft:
    """One federation being built: the plan, the seeded generator, the records drawn and the rows so far.

    Every random choice comes from `rng`, in a fixed order: the build's steps run in one sequence
    (builder.build), so a seed always gives the same federation.
    """

    def __init__(self, plan: FederationPlan, now: datetime, rng: random.Random) -> None:
        self.plan = plan
        self.now = now.astimezone(UTC)
        self.now_ts = int(self.now.timestamp())
        self.rng = rng
        self.ids = Ids(rng)
        self.fed = Federation()
        self.ledger = MemoryLedger()
        self.content = ContentModel(self.ledger)
        self.segments = {i.name: image_segment(i.name, i.content, i.compression) for i in IMAGES.values()}
        # Per VM index: the backups it has, as (taken at, row, place, bytes per second of its link).
        self.history: dict[int, list[tuple[int, dict[str, object], str, int]]] = {}
        self._text_cache: dict[int, str] = {}
        self._day_cache: dict[int, str] = {}
        self.clusters: dict[str, Cluster] = {}
        self.stores: dict[str, Store] = {}
        self.policies: dict[str, Policy] = {}
        self.datastores: dict[str, Datastore] = {}
        self.vms: list[Vm] = []
        self.hosts_by_name: dict[str, tuple[Cluster, int]] = {}

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

    def groups_of(self, cluster: Cluster) -> list[str]:
        return list(cluster.group_ids)
