"""Loads a declarative inventory file (YAML or JSON) as a federation; what it leaves out is generated."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from openovc.domain import schedules as schedule
from openovc.domain.ports.progress import SILENT, Progress
from openovc.simulator.federation import Federation
from openovc.simulator.generator.builder import build
from openovc.simulator.generator.inventory_entries import Entry, entries_of, kind_of, unique
from openovc.simulator.generator.plan import (
    IMAGES,
    MAX_CLUSTERS,
    MAX_HOSTS_PER_CLUSTER,
    POWER_STATES,
    RULE_CONSISTENCY,
    SITES,
    ClusterGroupPlan,
    ClusterPlan,
    DatastorePlan,
    ExternalStorePlan,
    FederationPlan,
    PolicyPlan,
    RulePlan,
    VmPlan,
    default_cluster_groups,
    default_datastores,
    default_external_stores,
    default_policies,
    host_names,
    site,
)

DEFAULT_HOSTS = 3
DEFAULT_POLICIES = 4
DEFAULT_DATASTORES_PER_CLUSTER = 2
_TOP_KEYS = (
    "seed", "backups_per_vm", "clusters", "policies", "datastores", "virtual_machines",
    "cluster_groups", "external_stores", "loopback_addresses",
)  # fmt: skip


def _clusters(top: Entry) -> list[ClusterPlan]:
    entries = entries_of(top, "clusters", ("name", "hosts", "time_zone"))
    if not 1 <= len(entries) <= MAX_CLUSTERS:
        raise ValueError(f"clusters: a federation has 1 to {MAX_CLUSTERS} clusters, got {len(entries)}")
    plans: list[ClusterPlan] = []
    known_zones = dict(SITES)
    for index, entry in enumerate(entries):
        name = entry.text("name")
        hosts: list[str]
        raw = entry.data.get("hosts", DEFAULT_HOSTS)
        if isinstance(raw, int) and not isinstance(raw, bool):
            count = entry.integer("hosts", DEFAULT_HOSTS, low=1, high=MAX_HOSTS_PER_CLUSTER)
            hosts = host_names(name, count)
        elif isinstance(raw, list):
            hosts = []
            for i, host in enumerate(raw):
                if not isinstance(host, str) or not host.strip():
                    raise entry.fail(f"hosts[{i}]", f"expected a host name, got {kind_of(host)}")
                hosts.append(host.strip())
            if not 1 <= len(hosts) <= MAX_HOSTS_PER_CLUSTER:
                raise entry.fail(
                    "hosts", f"a cluster has 1 to {MAX_HOSTS_PER_CLUSTER} hosts, got {len(hosts)}"
                )
        else:
            raise entry.fail("hosts", f"expected a list of host names or a count, got {kind_of(raw)}")
        zone = entry.text("time_zone", known_zones.get(name) or site(index)[1])
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise entry.fail(
                "time_zone", f"unknown time zone {zone!r} (use an IANA name like Europe/London)"
            ) from None
        plans.append(ClusterPlan(name, hosts, zone))
    unique([c.name for c in plans], "cluster", [e.where for e in entries])
    all_hosts = [h for c in plans for h in c.hosts]
    unique(all_hosts, "host", [e.where for e, c in zip(entries, plans, strict=True) for _ in c.hosts])
    return plans


def _external_stores(top: Entry, clusters: list[str]) -> list[ExternalStorePlan]:
    if not top.has("external_stores"):
        return default_external_stores(clusters, 1)
    plans: list[ExternalStorePlan] = []
    entries = entries_of(top, "external_stores", ("name", "cluster", "management_ip"))
    for entry in entries:
        cluster = entry.text("cluster")
        if cluster not in clusters:
            raise entry.fail("cluster", f"unknown cluster {cluster!r}")
        ip = entry.text("management_ip") if entry.has("management_ip") else None
        plans.append(ExternalStorePlan(entry.text("name"), cluster, ip))
    unique([s.name for s in plans], "external store", [e.where for e in entries])
    return plans


def _days(entry: Entry) -> str:
    raw = entry.data.get("days", "All")
    # YAML reads `days: 1` as a number.
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else entry.text("days", "All")
    try:
        schedule.parse_days(text)
    except ValueError as exc:
        raise entry.fail("days", str(exc)) from None
    return text


def _clock(entry: Entry, key: str) -> str:
    raw = entry.data.get(key, "00:00")
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < schedule.DAY_MINUTES:
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320.
        return f"{raw // 60:02d}:{raw % 60:02d}"
    text = entry.text(key, "00:00")
    try:
        schedule.parse_clock(text)
    except ValueError as exc:
        raise entry.fail(key, str(exc)) from None
    return text


def _rule(entry: Entry, clusters: list[str], stores: list[str]) -> RulePlan:
    rule = RulePlan(
        frequency=entry.integer("frequency", low=1, high=schedule.DAY_MINUTES),
        retention=entry.integer("retention", low=1),
        days=_days(entry),
        start_time=_clock(entry, "start_time"),
        end_time=_clock(entry, "end_time"),
        consistency_type=entry.choice("consistency_type", RULE_CONSISTENCY, "NONE"),
    )
    if entry.has("destination"):
        rule.destination = entry.text("destination")
        if rule.destination not in clusters:
            raise entry.fail("destination", f"unknown cluster {rule.destination!r}")
    if entry.has("external_store"):
        if rule.destination is not None:
            raise ValueError(
                f"{entry.where}: a rule has a destination cluster or an external store, not both"
            )
        rule.external_store = entry.text("external_store")
        if rule.external_store not in stores:
            raise entry.fail("external_store", f"unknown external store {rule.external_store!r}")
    return rule


def _policies(top: Entry, clusters: list[str], stores: list[ExternalStorePlan]) -> list[PolicyPlan]:
    if not top.has("policies"):
        return default_policies(clusters, stores, DEFAULT_POLICIES)
    entries = entries_of(top, "policies", ("name", "rules", "owner_cluster"))
    plans: list[PolicyPlan] = []
    store_names = [s.name for s in stores]
    for entry in entries:
        name = entry.text("name")
        owner = entry.text("owner_cluster", clusters[0])
        if owner not in clusters:
            raise entry.fail("owner_cluster", f"unknown cluster {owner!r}")
        rules: list[RulePlan] = []
        if entry.has("rules"):
            keys = (
                "frequency",
                "retention",
                "days",
                "start_time",
                "end_time",
                "destination",
                "external_store",
                "consistency_type",
            )
            for i, item in enumerate(entry.items("rules")):
                rules.append(_rule(Entry(item, f"{entry.where}.rules[{i}]", keys), clusters, store_names))
        plans.append(PolicyPlan(name, rules, owner))
    unique([p.name for p in plans], "policy", [e.where for e in entries])
    return plans


def _datastores(top: Entry, clusters: list[str], policies: list[PolicyPlan]) -> list[DatastorePlan]:
    if not top.has("datastores"):
        if not policies:
            raise ValueError("datastores: the generated datastores need a policy, and the file defines none")
        return default_datastores(DEFAULT_DATASTORES_PER_CLUSTER * len(clusters), clusters, policies)
    entries = entries_of(top, "datastores", ("name", "cluster", "policy", "size", "single_replica", "shared"))
    plans: list[DatastorePlan] = []
    policy_names = [p.name for p in policies]
    for entry in entries:
        name = entry.text("name")
        cluster = entry.text("cluster")
        if cluster not in clusters:
            raise entry.fail("cluster", f"unknown cluster {cluster!r}")
        if entry.has("policy"):
            policy = entry.text("policy")
            if policy not in policy_names:
                raise entry.fail("policy", f"unknown policy {policy!r}")
        elif policy_names:
            policy = policy_names[0]
        else:
            raise ValueError(f"{entry.where}: a datastore needs a policy, and the file defines none")
        shared = entry.flag("shared", False) if entry.has("shared") else None
        plans.append(
            DatastorePlan(
                name, cluster, policy, entry.size("size"), entry.flag("single_replica", False), shared
            )
        )
    unique([d.name for d in plans], "datastore", [e.where for e in entries])
    return plans


def _vms(
    top: Entry,
    clusters: list[ClusterPlan],
    policies: list[PolicyPlan],
    datastores: list[DatastorePlan],
    per_vm: int,
) -> list[VmPlan]:
    if not top.has("virtual_machines"):
        return []
    keys = (
        "name",
        "datastore",
        "host",
        "power_state",
        "size",
        "template",
        "deleted",
        "policy",
        "image",
        "backups",
    )
    entries = entries_of(top, "virtual_machines", keys)
    by_ds = {d.name: d for d in datastores}
    hosts_of = {c.name: c.hosts for c in clusters}
    policy_names = {p.name for p in policies}
    plans: list[VmPlan] = []
    for entry in entries:
        name = entry.text("name")
        ds_name = entry.text("datastore")
        ds = by_ds.get(ds_name)
        if ds is None:
            raise entry.fail("datastore", f"unknown datastore {ds_name!r}")
        vm = VmPlan(name, ds_name, size=entry.size("size"))
        vm.template = entry.flag("template", False)
        vm.deleted = entry.flag("deleted", False)
        if entry.has("host"):
            vm.host = entry.text("host")
            if vm.host not in hosts_of[ds.cluster]:
                raise entry.fail(
                    "host", f"host {vm.host!r} is not in cluster {ds.cluster!r} of datastore {ds_name!r}"
                )
        if isinstance(entry.data.get("power_state"), bool):
            # YAML 1.1 reads an unquoted ON / OFF as true / false.
            vm.power_state = "ON" if entry.data["power_state"] else "OFF"
        elif entry.has("power_state"):
            vm.power_state = entry.choice("power_state", POWER_STATES)
        if vm.template and vm.power_state not in (None, "OFF"):
            raise entry.fail("power_state", "a template is always powered OFF")
        if entry.has("policy"):
            vm.policy = entry.text("policy")
            if vm.policy not in policy_names:
                raise entry.fail("policy", f"unknown policy {vm.policy!r}")
        if entry.has("image"):
            vm.image = entry.text("image")
            if vm.image not in IMAGES:
                raise entry.fail("image", f"unknown image {vm.image!r} (expected one of {', '.join(IMAGES)})")
        vm.backups = entry.integer("backups", per_vm) if entry.has("backups") else per_vm
        plans.append(vm)
    alive = [(vm.name, e.where) for vm, e in zip(plans, entries, strict=True) if not vm.deleted]
    unique([n for n, _ in alive], "virtual machine", [w for _, w in alive])
    return plans


def _cluster_groups(top: Entry, clusters: list[str]) -> list[ClusterGroupPlan]:
    if not top.has("cluster_groups"):
        return default_cluster_groups(clusters, 1)
    entries = entries_of(top, "cluster_groups", ("name", "clusters"))
    plans: list[ClusterGroupPlan] = []
    grouped: dict[str, str] = {}
    for entry in entries:
        members: list[str] = []
        for i, member in enumerate(entry.items("clusters")):
            if not isinstance(member, str):
                raise entry.fail(f"clusters[{i}]", f"expected a cluster name, got {kind_of(member)}")
            if member not in clusters:
                raise entry.fail(f"clusters[{i}]", f"unknown cluster {member!r}")
            if member in grouped:
                raise entry.fail(
                    f"clusters[{i}]", f"cluster {member!r} is already in cluster group {grouped[member]!r}"
                )
            grouped[member] = entry.text("name")
            members.append(member)
        plans.append(ClusterGroupPlan(entry.text("name"), members))
    unique([g.name for g in plans], "cluster group", [e.where for e in entries])
    return plans


def parse_inventory(data: object) -> tuple[FederationPlan, int]:
    """The plan an inventory document describes, and its seed; raises ValueError naming the problem."""
    top = Entry(data, "inventory", _TOP_KEYS)
    seed = top.integer("seed", 1) if top.has("seed") else 1
    clusters = _clusters(top)
    names = [c.name for c in clusters]
    stores = _external_stores(top, names)
    policies = _policies(top, names, stores)
    datastores = _datastores(top, names, policies)
    per_vm = top.integer("backups_per_vm", 0) if top.has("backups_per_vm") else 0
    vms = _vms(top, clusters, policies, datastores, per_vm)
    plan = FederationPlan(
        clusters=clusters,
        policies=policies,
        datastores=datastores,
        vms=vms,
        cluster_groups=_cluster_groups(top, names),
        external_stores=stores,
        backups_total=None,
        loopback_addresses=top.flag("loopback_addresses", False),
    )
    return plan, seed


def load_inventory(
    path: Path, now: datetime, progress: Progress = SILENT, *, loopback_addresses: bool = False
) -> Federation:
    """The federation a YAML or JSON inventory file describes, as seen at `now`; `loopback_addresses`
    gives its hosts loopback management addresses whatever the file says."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the inventory: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML or JSON: {exc}") from None
    try:
        plan, seed = parse_inventory(data)
        plan.loopback_addresses = plan.loopback_addresses or loopback_addresses
        return build(plan, now, random.Random(seed), progress)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
