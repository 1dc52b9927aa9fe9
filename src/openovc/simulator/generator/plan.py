"""A federation's plan before it becomes rows: what the generator or an inventory file decides."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DOMAIN = "example.local"
GiB = 1024**3
TiB = 1024**4
DAY_MINUTES = 1440
MAX_HOSTS_PER_CLUSTER = 64  # each cluster's networks are /24s shared with its standard hosts
MAX_CLUSTERS = 250  # one 10.N.0.0/16 per cluster

# Sites and their IANA time zones; a cluster is named after its site, as most real ones are.
SITES: tuple[tuple[str, str], ...] = (
    ("Boston", "America/New_York"), ("Sydney", "Australia/Sydney"), ("London", "Europe/London"),
    ("Frankfurt", "Europe/Berlin"), ("Chicago", "America/Chicago"), ("Tokyo", "Asia/Tokyo"),
    ("Dallas", "America/Chicago"), ("Singapore", "Asia/Singapore"), ("Toronto", "America/Toronto"),
    ("Paris", "Europe/Paris"), ("Denver", "America/Denver"), ("Mumbai", "Asia/Kolkata"),
    ("Seattle", "America/Los_Angeles"), ("Madrid", "Europe/Madrid"), ("Dublin", "Europe/Dublin"),
    ("Auckland", "Pacific/Auckland"),
)  # fmt: skip

POWER_STATES = ("ON", "OFF", "SUSPENDED")
VOLUME_SIZES = tuple(n * 1024**3 for n in (1, 2, 5, 8, 10, 20, 50, 100))  # what claims usually ask
RULE_CONSISTENCY = ("NONE", "DEFAULT", "VSS")


@dataclass(frozen=True)
class Image:
    """A golden image VMs are cloned from: clones share its content, so it is stored once per host."""

    name: str
    content: int  # bytes every clone shares
    compression: float  # how well its data compresses (uncompressed / compressed)
    windows: bool
    typical_size: tuple[int, ...]  # disk sizes (bytes) VMs of this image are given


IMAGES: dict[str, Image] = {
    i.name: i
    for i in (
        Image("rhel9", 9 * GiB, 2.1, False, (40 * GiB, 60 * GiB, 80 * GiB, 100 * GiB)),
        Image("ubuntu22", 7 * GiB, 2.3, False, (32 * GiB, 50 * GiB, 80 * GiB)),
        Image("win2022", 24 * GiB, 1.7, True, (80 * GiB, 100 * GiB, 120 * GiB, 200 * GiB)),
        Image("win2019", 22 * GiB, 1.6, True, (60 * GiB, 80 * GiB, 100 * GiB)),
        Image("win11", 28 * GiB, 1.5, True, (64 * GiB, 80 * GiB)),
    )
}

# VM roles: name prefix and the image such a VM is usually built from.
ROLES: tuple[tuple[str, str], ...] = (
    ("web", "ubuntu22"), ("app", "rhel9"), ("sql", "win2022"), ("dc", "win2019"), ("file", "win2022"),
    ("db", "rhel9"), ("k8s-node", "ubuntu22"), ("vdi", "win11"), ("mon", "ubuntu22"), ("exch", "win2019"),
    ("jump", "win2022"), ("ci-runner", "ubuntu22"), ("log", "rhel9"), ("proxy", "rhel9"),
)  # fmt: skip


@dataclass
class RulePlan:
    frequency: int  # minutes between backups
    retention: int  # minutes a backup is kept
    days: str = "All"
    start_time: str = "00:00"
    end_time: str = "00:00"
    destination: str | None = None  # cluster name; None = the VM's own cluster
    external_store: str | None = None
    consistency_type: str = "NONE"


@dataclass
class PolicyPlan:
    name: str
    rules: list[RulePlan] = field(default_factory=list)
    owner_cluster: str | None = None  # None = the first cluster


@dataclass
class ClusterPlan:
    name: str
    hosts: list[str]
    time_zone: str


@dataclass
class DatastorePlan:
    name: str
    cluster: str
    policy: str
    size: int | None = None  # None = sized to fit its VMs
    single_replica: bool = False
    shared: bool | None = None  # shared with a standard host; None = the usual choice


@dataclass
class VmPlan:
    name: str
    datastore: str
    host: str | None = None  # None = the least loaded host of the datastore's cluster
    power_state: str | None = None
    size: int | None = None  # hypervisor_allocated_capacity; None = typical for its image
    template: bool = False
    deleted: bool = False
    policy: str | None = None  # None = the datastore's policy
    image: str | None = None  # None = chosen from its name
    backups: int | None = None  # exact number to keep; None = share of the plan's total
    # A persistent volume (a first-class disk the CSI driver made), not a VM: data of its own, no guest.
    persistent_volume: bool = False


@dataclass
class ClusterGroupPlan:
    name: str
    clusters: list[str]


@dataclass
class ExternalStorePlan:
    name: str
    cluster: str
    management_ip: str | None = None


@dataclass
class FederationPlan:
    clusters: list[ClusterPlan]
    policies: list[PolicyPlan]
    datastores: list[DatastorePlan]
    vms: list[VmPlan]
    cluster_groups: list[ClusterGroupPlan]
    external_stores: list[ExternalStorePlan]
    # The whole retained history, or None when every VM names its own count (VmPlan.backups).
    backups_total: int | None = None
    # Hosts' management addresses in 127.0.0.0/8 (one each) rather than in their cluster's network.
    loopback_addresses: bool = False


def site(index: int) -> tuple[str, str]:
    """The index-th site name and time zone; names repeat with a number past the list."""
    name, tz = SITES[index % len(SITES)]
    return (name if index < len(SITES) else f"{name}-{index // len(SITES) + 1}"), tz


def host_names(cluster: str, count: int) -> list[str]:
    stem = cluster.lower().replace(" ", "-")
    return [f"{stem}-svt{n:02d}.{DOMAIN}" for n in range(1, count + 1)]


def default_clusters(count: int, hosts_per_cluster: int) -> list[ClusterPlan]:
    plans = []
    for i in range(count):
        name, tz = site(i)
        plans.append(ClusterPlan(name, host_names(name, hosts_per_cluster), tz))
    return plans


def default_cluster_groups(clusters: list[str], count: int) -> list[ClusterGroupPlan]:
    """Contiguous, disjoint groups: on a central manager a cluster belongs to one group."""
    if count <= 0 or not clusters:
        return []
    if count == 1:
        return [ClusterGroupPlan("Global", list(clusters))]
    groups: list[ClusterGroupPlan] = []
    per = len(clusters) / count
    for g in range(count):
        members = clusters[round(g * per) : round((g + 1) * per)]
        groups.append(ClusterGroupPlan(f"Region-{g + 1:02d}", members))
    return groups


def default_external_stores(clusters: list[str], count: int) -> list[ExternalStorePlan]:
    return [ExternalStorePlan(f"StoreOnce-{i + 1:02d}", clusters[i % len(clusters)]) for i in range(count)]


# Rule sets of the usual policies: (frequency, retention, days, start, end, destination, consistency).
# destination: "local", "remote" (the next cluster after the owner) or "external" (a StoreOnce).
_RuleSpec = tuple[int, int, str, str, str, str, str]
_POLICY_LIBRARY: tuple[tuple[str, tuple[_RuleSpec, ...]], ...] = (
    ("Gold", (
        (240, 1440, "All", "00:00", "00:00", "local", "DEFAULT"),
        (1440, 7 * DAY_MINUTES, "All", "22:00", "00:00", "remote", "DEFAULT"),
        (1440, 90 * DAY_MINUTES, "last", "23:00", "00:00", "external", "NONE"),
    )),
    ("Silver", (
        (720, 3 * DAY_MINUTES, "Mon,Wed,Fri", "08:00", "20:00", "local", "VSS"),
        (1440, 7 * DAY_MINUTES, "All", "21:00", "00:00", "remote", "NONE"),
    )),
    ("Bronze", (
        (1440, 3 * DAY_MINUTES, "All", "23:00", "00:00", "local", "NONE"),
        (1440, 30 * DAY_MINUTES, "1,15", "01:00", "00:00", "local", "NONE"),
    )),
    ("Default", ()),
    ("Platinum", (
        (60, 720, "All", "00:00", "00:00", "local", "DEFAULT"),
        (1440, 14 * DAY_MINUTES, "All", "23:30", "00:00", "remote", "DEFAULT"),
    )),
    ("SQL-Tier1", (
        (120, 1440, "All", "06:00", "22:00", "local", "VSS"),
        (1440, 14 * DAY_MINUTES, "All", "02:00", "00:00", "remote", "VSS"),
    )),
    ("VDI", ((1440, 5 * DAY_MINUTES, "Mon,Tue,Wed,Thu,Fri", "19:00", "00:00", "local", "NONE"),)),
    ("Dev-Test", ((1440, 2 * DAY_MINUTES, "All", "20:00", "00:00", "local", "NONE"),)),
    ("Hourly-DR", (
        (60, 360, "All", "00:00", "00:00", "remote", "DEFAULT"),
        (1440, 3 * DAY_MINUTES, "All", "00:30", "00:00", "local", "DEFAULT"),
    )),
    ("Weekly-Archive", ((1440, 30 * DAY_MINUTES, "Sun", "03:00", "00:00", "external", "NONE"),)),
    ("Compliance", (
        (1440, 30 * DAY_MINUTES, "All", "22:30", "00:00", "local", "DEFAULT"),
        (1440, 365 * DAY_MINUTES, "last", "23:45", "00:00", "remote", "DEFAULT"),
    )),
    ("Infra", (
        (480, 2 * DAY_MINUTES, "All", "00:00", "00:00", "local", "DEFAULT"),
        (1440, 10 * DAY_MINUTES, "Mon,Wed,Fri", "21:00", "00:00", "remote", "NONE"),
    )),
)  # fmt: skip


def library_rules(
    index: int, owner: str, clusters: list[str], stores: list[ExternalStorePlan]
) -> tuple[str, list[RulePlan]]:
    """The index-th usual policy, its rules aimed at real clusters and stores of this federation."""
    name, specs = _POLICY_LIBRARY[index % len(_POLICY_LIBRARY)]
    if index >= len(_POLICY_LIBRARY):
        name = f"{name}-{index // len(_POLICY_LIBRARY) + 1}"
    owner_at = clusters.index(owner)
    owned_stores = [s.name for s in stores if s.cluster == owner] or [s.name for s in stores]
    rules: list[RulePlan] = []
    for freq, ret, days, start, end, dest, consistency in specs:
        rule = RulePlan(freq, ret, days, start, end, consistency_type=consistency)
        if dest == "remote" and len(clusters) > 1:
            rule.destination = clusters[(owner_at + 1) % len(clusters)]
        elif dest == "external":
            if not owned_stores:
                continue
            rule.external_store = owned_stores[0]
        rules.append(rule)
    return name, rules


def default_policies(clusters: list[str], stores: list[ExternalStorePlan], count: int) -> list[PolicyPlan]:
    plans = []
    for i in range(count):
        owner = clusters[i % len(clusters)]
        name, rules = library_rules(i, owner, clusters, stores)
        plans.append(PolicyPlan(name, rules, owner))
    return plans


PURPOSES = ("Prod", "Dev", "Test", "SQL", "VDI", "Infra")


def default_datastores(count: int, clusters: list[str], policies: list[PolicyPlan]) -> list[DatastorePlan]:
    """Datastores round-robin over the clusters, named by purpose, each with a policy that has rules
    (but for the odd scratch datastore nobody protects) and now and then a single-replica one."""
    with_rules = [p.name for p in policies if p.rules] or [p.name for p in policies]
    without_rules = [p.name for p in policies if not p.rules]
    counters: dict[str, int] = {}
    plans: list[DatastorePlan] = []
    n = len(clusters)
    # Shift each round when policies and clusters would line up, so each cluster sees several policies.
    shift = len(with_rules) % n == 0
    for i in range(count):
        rnd = i // n
        purpose = PURPOSES[rnd % len(PURPOSES)]
        counters[purpose] = counters.get(purpose, 0) + 1
        if without_rules and i % 6 == 3:
            policy = without_rules[0]
        else:
            policy = with_rules[(i + (rnd if shift else 0)) % len(with_rules)]
        plans.append(
            DatastorePlan(
                name=f"DS-{purpose}-{counters[purpose]:02d}",
                cluster=clusters[i % n],
                policy=policy,
                single_replica=count >= 4 and i % 12 == 5,
            )
        )
    return plans


def image_for(vm_name: str, rng: random.Random) -> str:
    """The image a VM of this name was most likely cloned from."""
    for prefix, image in ROLES:
        if vm_name.startswith(prefix):
            return image
    lowered = vm_name.lower()
    for image in IMAGES:
        if image in lowered:
            return image
    if "win" in lowered:
        return "win2022"
    return rng.choice(tuple(IMAGES))


def typical_size(image: str, rng: random.Random) -> int:
    return rng.choice(IMAGES[image].typical_size)


def power_state(rng: random.Random) -> str:
    """About a quarter of the VMs in a real estate are powered off."""
    return "OFF" if rng.random() < 0.25 else "ON"
