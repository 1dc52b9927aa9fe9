"""Generates a realistic federation from counts (FederationSpec): the demo and the scale targets."""

from __future__ import annotations

import random
from datetime import datetime

from openovc.domain.ports.progress import SILENT, Progress
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.builder import build
from openovc.simulator.generator.plan import (
    IMAGES,
    ROLES,
    VOLUME_SIZES,
    DatastorePlan,
    FederationPlan,
    PolicyPlan,
    VmPlan,
    default_cluster_groups,
    default_clusters,
    default_datastores,
    default_external_stores,
    default_policies,
)
from openovc.simulator.generator.records import Ids

_PURPOSE_WEIGHT = {"Prod": 4, "Dev": 2, "Test": 1, "SQL": 2, "VDI": 3, "Infra": 1}
_ROLE_WEIGHTS = (6, 5, 2, 1, 1, 3, 3, 4, 1, 1, 1, 1, 1, 1)  # per plan.ROLES: web and app servers dominate


def _vms(
    spec: FederationSpec, rng: random.Random, datastores: list[DatastorePlan], policies: list[PolicyPlan]
) -> list[VmPlan]:
    if spec.vms == 0:
        return []
    width = 2 if spec.vms < 100 else 3 if spec.vms < 1000 else 4
    templates = 0 if spec.vms < 10 else max(2, spec.vms // 200)
    deleted = 0 if spec.vms < 10 else max(2, spec.vms // 100)
    with_rules = [p.name for p in policies if p.rules]
    plans: list[VmPlan] = []
    images = list(IMAGES)
    first_of_cluster: dict[str, DatastorePlan] = {}
    for ds in datastores:
        first_of_cluster.setdefault(ds.cluster, ds)
    homes = list(first_of_cluster.values())
    for t in range(templates):
        image = images[t % len(images)]
        suffix = f"-{t // len(images) + 1:02d}" if t >= len(images) else ""
        plans.append(VmPlan(f"tmpl-{image}{suffix}", homes[t % len(homes)].name, template=True, image=image))
    roles = [role for role, _ in ROLES]
    weights = [_PURPOSE_WEIGHT.get(ds.name.split("-")[1], 1) for ds in datastores]
    counters: dict[str, int] = {}
    regular = spec.vms - templates
    gone = set(rng.sample(range(regular), deleted)) if deleted else set()
    for i in range(regular):
        role = rng.choices(roles, _ROLE_WEIGHTS)[0]
        counters[role] = counters.get(role, 0) + 1
        ds = rng.choices(datastores, weights)[0]
        policy = None
        if i % 13 == 7 and len(with_rules) > 1:
            # A few VMs carry a policy of their own instead of their datastore's.
            policy = rng.choice([p for p in with_rules if p != ds.policy])
        plans.append(VmPlan(f"{role}-{counters[role]:0{width}d}", ds.name, deleted=i in gone, policy=policy))
    return plans


def _persistent_volumes(
    spec: FederationSpec, rng: random.Random, datastores: list[DatastorePlan]
) -> list[VmPlan]:
    """The CSI driver's volumes, named as it names them (`pvc-` and the claim's UID), on any datastore;
    a few deleted ones whose backups remain."""
    count = spec.persistent_volumes
    # A stream of their own, so that adding volumes leaves every VM's draws (ids, guests) as they were.
    rng = random.Random(f"persistent_volumes:{spec.seed}")
    gone = set(rng.sample(range(count), max(1, count // 50))) if count >= 6 else set()
    ids = Ids(rng)
    return [
        VmPlan(
            f"pvc-{ids.uuid4()}",
            rng.choice(datastores).name,
            size=rng.choice(VOLUME_SIZES),
            deleted=i in gone,
            persistent_volume=True,
        )
        for i in range(count)
    ]


def plan_for(spec: FederationSpec, rng: random.Random) -> FederationPlan:
    """The shape of the federation the spec describes; the builder fills in the rest."""
    clusters = default_clusters(spec.clusters, spec.hosts_per_cluster)
    names = [c.name for c in clusters]
    stores = default_external_stores(names, spec.external_stores)
    policies = default_policies(names, stores, spec.policies)
    datastores = default_datastores(spec.datastores, names, policies)
    return FederationPlan(
        clusters=clusters,
        policies=policies,
        datastores=datastores,
        vms=_vms(spec, rng, datastores, policies) + _persistent_volumes(spec, rng, datastores),
        cluster_groups=default_cluster_groups(names, spec.cluster_groups),
        external_stores=stores,
        backups_total=spec.backups,
    )


def generate(
    spec: FederationSpec, now: datetime, progress: Progress = SILENT, *, loopback_addresses: bool = False
) -> Federation:
    """A federation as seen at `now`; the same spec (seed included) and `now` give identical rows.

    `loopback_addresses`: hosts' management addresses in 127.0.0.0/8, one each (clusters.loopback_address),
    so that `serve --controller-per-host` can listen on each."""
    rng = random.Random(spec.seed)
    plan = plan_for(spec, rng)
    plan.loopback_addresses = loopback_addresses
    return build(plan, now, rng, progress)
