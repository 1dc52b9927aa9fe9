"""When policy backups fired over the history, and the retentions fitted to the history's wanted size."""

from __future__ import annotations

import bisect
from datetime import datetime

from openovc.domain import schedules as schedule
from openovc.simulator.generator.records import Cluster, Draft, Policy, Rule, Schedule, Store, Vm

HISTORY = 30 * 86400  # policy backups in the history go back this far at most


def _scaled(minutes: int, scale: float) -> int:
    """A retention stretched by `scale`, in whole hours (short ones stay as they are)."""
    if minutes < 60:
        return minutes
    return max(60, round(minutes * scale / 60) * 60)


def rules_for(draft: Draft, policy: Policy, cluster: Cluster) -> list[Rule]:
    """The policy's rules as they apply to the VMs of `cluster` (a store takes only its own cluster's)."""
    rules: list[Rule] = []
    for position, rp in enumerate(policy.plan.rules):
        target: Cluster | Store | None = None
        if rp.external_store:
            store = draft.stores[rp.external_store]
            if store.cluster is not cluster:
                continue  # a StoreOnce takes backups only from the cluster it is registered with
            target = store
        elif rp.destination and draft.clusters[rp.destination] is not cluster:
            target = draft.clusters[rp.destination]
        rules.append(
            Rule(
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


def instants(
    draft: Draft, rule: Rule, cluster: Cluster, cache: dict[tuple[object, ...], list[int]]
) -> list[int]:
    """When the rule fired over the whole history, whatever its retention."""
    key = (rule.frequency, rule.days, rule.start, rule.end, cluster.plan.time_zone)
    found = cache.get(key)
    if found is None:
        timing = schedule.Rule(rule.frequency // 60, rule.retention // 60, rule.days, rule.start, rule.end)
        found = cache[key] = schedule.fire_times(timing, cluster.tz, draft.now_ts - HISTORY, draft.now_ts)
    return found


def bounds(draft: Draft, vm: Vm) -> tuple[int, int]:
    """A VM's backups fall after its first hour and before its deletion (or now)."""
    return vm.created + 3600, (vm.deleted if vm.deleted is not None else draft.now_ts)


def fit_retentions(draft: Draft, wanted: int, cache: dict[tuple[object, ...], list[int]]) -> None:
    """Stretch or shrink every generated retention alike, so the history holds about `wanted`.

    Retentions stay whole hours, so the policies still read as a person would set them, and
    every kept backup is one its rule really made and has not yet expired.
    """
    floor = draft.now_ts - HISTORY
    pairs: dict[tuple[str, int], tuple[Policy, Cluster, dict[tuple[int, int], int]]] = {}
    for vm in draft.vms:
        lo, hi = bounds(draft, vm)
        _, _, members = pairs.setdefault((vm.policy.id, vm.cluster.index), (vm.policy, vm.cluster, {}))
        members[(max(lo, floor), hi)] = members.get((max(lo, floor), hi), 0) + 1
    terms: list[tuple[list[int], int, list[tuple[int, int, int]]]] = []
    for policy, cluster, members in pairs.values():
        groups = [(lo, hi, n) for (lo, hi), n in members.items()]
        for rule in rules_for(draft, policy, cluster):
            terms.append(
                (instants(draft, rule, cluster, cache), policy.plan.rules[rule.position].retention, groups)
            )

    def count(scale: float) -> int:
        total = 0
        for times, retention, groups in terms:
            after = draft.now_ts - _scaled(retention, scale) * 60 + 1
            for lo, hi, n in groups:
                total += n * max(0, bisect.bisect_left(times, hi) - bisect.bisect_left(times, max(lo, after)))
        return total

    shortest = min((r.retention for p in draft.policies.values() for r in p.plan.rules), default=1)
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
    for policy in draft.policies.values():
        # Never below the rule's frequency: the API refuses such rules, so none may be generated.
        policy.retentions = [max(r.frequency, _scaled(r.retention, low)) for r in policy.plan.rules]


def schedule_of(
    draft: Draft, policy: Policy, cluster: Cluster, cache: dict[tuple[object, ...], list[int]]
) -> Schedule:
    """Every backup the policy's rules made for a cluster's VMs and still keep, in time order."""
    rules = rules_for(draft, policy, cluster)
    merged = sorted(
        (ts, i)
        for i, rule in enumerate(rules)
        for ts in instants(draft, rule, cluster, cache)
        if ts + rule.retention > draft.now_ts
    )
    texts: list[tuple[str, str, str | None]] = []
    for ts, i in merged:
        retention = rules[i].retention
        texts.append(
            (
                draft.text(ts),
                datetime.fromtimestamp(ts, cluster.tz).isoformat(),
                draft.text(ts + retention) if retention else None,
            )
        )
    return Schedule(rules, [ts for ts, _ in merged], [i for _, i in merged], texts)
