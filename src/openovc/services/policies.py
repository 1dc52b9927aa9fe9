"""Backup policy operations: policies, their rules, suspend/resume as tasks; impact reports at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace as with_values
from datetime import datetime
from typing import Any

import orjson

from openovc.domain import rules as rulebook
from openovc.domain.catalog import (
    CLUSTER_GROUPS,
    DATASTORES,
    EXTERNAL_STORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import InvalidBody, ObjectInUse, ObjectNotFound
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.ports.metrics import MetricsReader, PolicyUsage
from openovc.domain.schedules import PolicyLoad, schedule_report
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.common import (
    existing,
    fail_duplicate,
    new_id,
    refuse_duplicate_now,
    still_there,
    valid_name,
)

POLICY = "policy"
RULE = "rule"
SET_POLICY_NEEDS_VMS = (
    "Invalid body: Specify a virtual_machine_id key/value to set a policy for virtual_machine instances."
)
# What suspend and resume act on, and where its hosts are found.
TARGETS: dict[str, Collection | None] = {
    "host": HOSTS,
    "omnistack_cluster": OMNISTACK_CLUSTERS,
    "cluster_group": CLUSTER_GROUPS,
    "federation": None,
}


def _json(value: object) -> Any:
    """A JSON field as Python: the reader hands back text, a transaction Python values."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _rules(policy: Record) -> list[rulebook.Rule]:
    return list(_json(policy["rules"]) or [])


def _places(finder: Finder) -> rulebook.Places:
    clusters = {str(c["id"]): str(c["name"]) for c in finder.find(OMNISTACK_CLUSTERS)}
    return rulebook.Places(clusters, frozenset(str(s["name"]) for s in finder.find(EXTERNAL_STORES)))


def _invalid(err: rulebook.RuleError) -> InvalidBody:
    return InvalidBody(f"Invalid body: {err}")


def _failure(err: rulebook.RuleError) -> TaskFailure:
    """A rule that became invalid while its task waited (a destination went, rules were added)."""
    if err.field in ("destination_id", "external_store_name"):
        return TaskFailure(Codes.INVALID_DESTINATION, str(err))
    return TaskFailure(Codes.INVALID_ARGUMENT, str(err))


def _named(finder: Finder, name: str, except_id: str | None = None) -> bool:
    return any(p["id"] != except_id for p in finder.find(POLICIES, name=name))


def _rule_of(policy: Record, rule_id: str) -> rulebook.Rule:
    rule = rulebook.find_rule(_rules(policy), rule_id)
    if rule is None:
        raise ObjectNotFound(RULE, rule_id)
    return rule


def _rule_still_there(policy: Record, rule_id: str) -> rulebook.Rule:
    rule = rulebook.find_rule(_rules(policy), rule_id)
    if rule is None:
        raise TaskFailure(Codes.NOT_FOUND, f"Object type: {RULE} id: {rule_id} could not be found")
    return rule


def _with_rules(policy_id: str, rule_ids: Sequence[str]) -> list[AffectedObject]:
    """The policy first (clients index [0] and refresh it), then the rules concerned."""
    return [AffectedObject(policy_id, POLICY), *(AffectedObject(r, RULE) for r in rule_ids)]


# ---------------------------------------------------------------------------------------- policies


def create(reader: FederationReader, tasks: TaskEngine, name: str, cluster_group_id: str | None) -> Record:
    valid_name(POLICY, name)
    if cluster_group_id:
        existing(reader, CLUSTER_GROUPS, cluster_group_id)
    refuse_duplicate_now(_named(reader, name))
    # The policy belongs to the cluster of the Virtual Controller that creates it.
    host_id = reader.controller_host_id()
    host = reader.get(HOSTS, host_id) if host_id else None
    owner = str(host["omnistack_cluster_id"]) if host else ""
    payload = {"name": name, "cluster_group": cluster_group_id or None, "owner": owner}
    return tasks.submit("policy.create", payload, [])


def _run_create(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    fail_duplicate(_named(txn, payload["name"]))
    owner = still_there(txn, OMNISTACK_CLUSTERS, payload["owner"]) if payload["owner"] else None
    if payload["cluster_group"]:
        groups = [str(still_there(txn, CLUSTER_GROUPS, payload["cluster_group"])["id"])]
    else:
        groups = list(owner["cluster_group_ids"] or []) if owner else []
    policy_id = new_id()
    txn.insert(
        POLICIES,
        {
            "id": policy_id,
            "name": payload["name"],
            "rules": [],
            "cluster_group_ids": groups,
            "owner_cluster_id": owner["id"] if owner else "",
            "owner_cluster_name": owner["name"] if owner else "",
        },
    )
    return [AffectedObject(policy_id, POLICY)]


def rename(reader: FederationReader, tasks: TaskEngine, policy_id: str, name: str) -> Record:
    existing(reader, POLICIES, policy_id)
    valid_name(POLICY, name)
    refuse_duplicate_now(_named(reader, name, except_id=policy_id))
    return tasks.submit("policy.rename", {"policy": policy_id, "name": name}, [policy_id])


def _run_rename(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    fail_duplicate(_named(txn, payload["name"], except_id=str(policy["id"])))
    name = payload["name"]
    txn.update(POLICIES, str(policy["id"]), {"name": name})
    # Every object that names the policy follows, deleted VMs included (their rows still show it).
    txn.update_where(VIRTUAL_MACHINES, {"policy_id": policy["id"]}, {"policy_name": name})
    txn.update_where(DATASTORES, {"policy_id": policy["id"]}, {"policy_name": name})
    return [AffectedObject(str(policy["id"]), POLICY)]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _in_use(finder: Finder, policy: Record) -> str | None:
    """Why the policy cannot be deleted: datastores or live VMs still use it."""
    datastores = finder.find(DATASTORES, policy_id=policy["id"])
    vms = finder.find(VIRTUAL_MACHINES, policy_id=policy["id"], state="ALIVE")
    if not datastores and not vms:
        return None
    users = " and ".join(
        _plural(n, noun) for n, noun in ((len(datastores), "datastore"), (len(vms), "virtual machine")) if n
    )
    return f"The policy {policy['name']} is in use by {users}; assign them another policy first."


def delete(reader: FederationReader, tasks: TaskEngine, policy_id: str) -> Record:
    policy = existing(reader, POLICIES, policy_id)
    problem = _in_use(reader, policy)
    if problem:
        raise ObjectInUse(problem)
    return tasks.submit("policy.delete", {"policy": policy_id}, [policy_id])


def _run_delete(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    problem = _in_use(txn, policy)
    if problem:
        raise TaskFailure(Codes.OBJECT_IN_USE, problem)
    txn.delete(POLICIES, str(policy["id"]))
    return [AffectedObject(str(policy["id"]), POLICY)]


# ------------------------------------------------------------------------------------------- rules


def _bodies(body: object) -> list[Mapping[str, Any]]:
    try:
        return rulebook.rule_bodies(body)
    except rulebook.RuleError as err:
        raise _invalid(err) from None


def _proposed_creation(
    finder: Finder, policy: Record, bodies: Sequence[Mapping[str, Any]], replace: bool
) -> tuple[list[rulebook.Rule], list[rulebook.Rule]]:
    """Quick check of new rules: (the policy's rules afterwards, the new ones)."""
    try:
        return rulebook.created(_rules(policy), bodies, _places(finder), replace, new_id)
    except rulebook.RuleError as err:
        raise _invalid(err) from None


def create_rules(
    reader: FederationReader, tasks: TaskEngine, policy_id: str, body: object, replace: bool
) -> Record:
    policy = existing(reader, POLICIES, policy_id)
    bodies = _bodies(body)
    _proposed_creation(reader, policy, bodies, replace)
    payload = {"policy": policy_id, "rules": list(bodies), "replace": replace}
    return tasks.submit("policy.create_rules", payload, [policy_id])


def _run_create_rules(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    try:
        after, new = rulebook.created(
            _rules(policy), payload["rules"], _places(txn), bool(payload["replace"]), new_id
        )
    except rulebook.RuleError as err:
        raise _failure(err) from None
    txn.update(POLICIES, str(policy["id"]), {"rules": after})
    return _with_rules(str(policy["id"]), [str(rule["id"]) for rule in new])


def _edit(rule: rulebook.Rule, body: object) -> rulebook.Rule:
    try:
        return rulebook.edited_rule(rule, rulebook.rule_body(body))
    except rulebook.RuleError as err:
        raise _invalid(err) from None


def update_rule(
    reader: FederationReader, tasks: TaskEngine, policy_id: str, rule_id: str, body: object
) -> Record:
    policy = existing(reader, POLICIES, policy_id)
    _edit(_rule_of(policy, rule_id), body)
    payload = {"policy": policy_id, "rule": rule_id, "body": body}
    return tasks.submit("policy.update_rule", payload, [policy_id])


def _run_update_rule(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    current = _rule_still_there(policy, payload["rule"])
    try:
        changed = rulebook.edited_rule(current, payload["body"])
    except rulebook.RuleError as err:
        raise _failure(err) from None
    after = [changed if rule["id"] == current["id"] else rule for rule in _rules(policy)]
    txn.update(POLICIES, str(policy["id"]), {"rules": after})
    return _with_rules(str(policy["id"]), [str(current["id"])])


def delete_rule(reader: FederationReader, tasks: TaskEngine, policy_id: str, rule_id: str) -> Record:
    _rule_of(existing(reader, POLICIES, policy_id), rule_id)
    return tasks.submit("policy.delete_rule", {"policy": policy_id, "rule": rule_id}, [policy_id])


def _run_delete_rule(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    rule = _rule_still_there(policy, payload["rule"])
    txn.update(POLICIES, str(policy["id"]), {"rules": rulebook.without(_rules(policy), str(rule["id"]))})
    return _with_rules(str(policy["id"]), [str(rule["id"])])


# ---------------------------------------------------------------------------------- suspend/resume


def _one(finder: Finder, coll: Collection, key: str) -> Record | None:
    found = finder.find(coll, **{coll.key: key})
    return found[0] if found else None


def _scope_hosts(
    finder: Finder, target_type: str, target_id: str, missing: Callable[[Collection, str], Exception]
) -> list[Record]:
    """The hosts a suspend or resume reaches; `missing` makes the error for an unknown target."""
    coll = TARGETS[target_type]
    if coll is None:
        return finder.find(HOSTS)
    target = _one(finder, coll, target_id)
    if target is None:
        raise missing(coll, target_id)
    if coll is HOSTS:
        return [target]
    clusters = [target_id] if coll is OMNISTACK_CLUSTERS else list(_json(target["clusters"]) or [])
    return [h for cluster in clusters for h in finder.find(HOSTS, omnistack_cluster_id=cluster)]


def _not_found_now(coll: Collection, key: str) -> Exception:
    return ObjectNotFound(coll.singular, key)


def _not_found_later(coll: Collection, key: str) -> Exception:
    return TaskFailure(Codes.NOT_FOUND, f"Object type: {coll.singular} id: {key} could not be found")


def set_policy_backups(
    reader: FederationReader, tasks: TaskEngine, enabled: bool, target_type: str, target_id: str | None
) -> Record:
    """Suspend (enabled False) or resume policy backups on a host, cluster, cluster group or everywhere."""
    if target_type not in TARGETS:
        raise InvalidBody(
            f"Invalid body: target_object_type: must be one of {', '.join(TARGETS)}, got {target_type!r}"
        )
    key = (target_id or "").strip()
    if not key and target_type != "federation":
        raise InvalidBody(f"Invalid body: target_object_id: Field required for a {target_type}")
    hosts = _scope_hosts(reader, target_type, key, _not_found_now)
    operation = "policy.resume" if enabled else "policy.suspend"
    payload = {"type": target_type, "id": key}
    return tasks.submit(operation, payload, [str(h["id"]) for h in hosts])


def _policy_backups(enabled: bool) -> Handler:
    def run(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
        hosts = _scope_hosts(txn, payload["type"], payload["id"], _not_found_later)
        for host in hosts:
            txn.update(HOSTS, str(host["id"]), {"policy_enabled": enabled})
        # The hosts are what changed (`federation` and `cluster_group` are not affected-object types).
        return [AffectedObject(str(h["id"]), "host") for h in hosts]

    return run


# ---------------------------------------------------------------------------------- impact reports


def schedule(usages: Sequence[PolicyUsage], host_count: int) -> dict[str, int]:
    """The policy schedule report of these policies against the budgets of `host_count` hosts."""
    loads = [
        PolicyLoad.from_records(usage.rules, usage.vm_count)
        for usage in usages
        if usage.vm_count  # a policy no VM uses takes nothing, whatever its rules say
    ]
    return schedule_report(loads, host_count).as_dict()


def _impact(
    store: MetricsReader, change: Callable[[list[PolicyUsage]], list[PolicyUsage]]
) -> dict[str, dict[str, int]]:
    """The federation's schedule report now and with a proposed change applied in memory."""
    usages, hosts = store.policy_usage(), store.host_count()
    return {
        "schedule_before_change": schedule(usages, hosts),
        "schedule_after_change": schedule(change(usages), hosts),
    }


def _with_policy_rules(
    policy_id: str, after: list[rulebook.Rule]
) -> Callable[[list[PolicyUsage]], list[PolicyUsage]]:
    def change(usages: list[PolicyUsage]) -> list[PolicyUsage]:
        return [with_values(u, rules=after) if u.policy_id == policy_id else u for u in usages]

    return change


def impact_of_creation(
    reader: FederationReader, store: MetricsReader, policy_id: str, body: object, replace: bool
) -> dict[str, dict[str, int]]:
    policy = existing(reader, POLICIES, policy_id)
    after, _ = _proposed_creation(reader, policy, _bodies(body), replace)
    return _impact(store, _with_policy_rules(policy_id, after))


def impact_of_edits(
    reader: FederationReader, store: MetricsReader, policy_id: str, body: object, replace: bool
) -> dict[str, dict[str, int]]:
    policy = existing(reader, POLICIES, policy_id)
    try:
        after = rulebook.edited(_rules(policy), _bodies(body), replace)
    except rulebook.RuleError as err:
        raise _invalid(err) from None
    except KeyError as err:
        raise ObjectNotFound(RULE, str(err.args[0])) from None
    return _impact(store, _with_policy_rules(policy_id, after))


def impact_of_deletion(
    reader: FederationReader, store: MetricsReader, policy_id: str, rule_id: str
) -> dict[str, dict[str, int]]:
    policy = existing(reader, POLICIES, policy_id)
    _rule_of(policy, rule_id)
    return _impact(store, _with_policy_rules(policy_id, rulebook.without(_rules(policy), rule_id)))


def impact_of_applying(
    reader: FederationReader, store: MetricsReader, vm_ids: Sequence[str], policy_id: str
) -> dict[str, dict[str, int]]:
    """What setting the policy of these VMs would do: the same checks as set_policy's."""
    if not vm_ids:
        raise InvalidBody(SET_POLICY_NEEDS_VMS)
    vms = [existing(reader, VIRTUAL_MACHINES, vm_id) for vm_id in dict.fromkeys(vm_ids)]
    existing(reader, POLICIES, policy_id)
    gained: dict[str, int] = {}  # VMs each policy gains (negative: loses)
    for vm in vms:
        if vm["state"] == "ALIVE" and vm["policy_id"] != policy_id:  # only live VMs are counted
            gained[str(vm["policy_id"])] = gained.get(str(vm["policy_id"]), 0) - 1
            gained[policy_id] = gained.get(policy_id, 0) + 1

    def change(usages: list[PolicyUsage]) -> list[PolicyUsage]:
        return [with_values(u, vm_count=u.vm_count + gained.get(u.policy_id, 0)) for u in usages]

    return _impact(store, change)


HANDLERS: dict[str, Handler] = {
    "policy.create": _run_create,
    "policy.rename": _run_rename,
    "policy.delete": _run_delete,
    "policy.create_rules": _run_create_rules,
    "policy.update_rule": _run_update_rule,
    "policy.delete_rule": _run_delete_rule,
    "policy.suspend": _policy_backups(False),
    "policy.resume": _policy_backups(True),
}
