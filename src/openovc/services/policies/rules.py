"""A policy's rules: create (or replace), update and delete them, as tasks; and the checks reports reuse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openovc.domain import rules as rulebook
from openovc.domain.catalog import EXTERNAL_STORES, OMNISTACK_CLUSTERS, POLICIES
from openovc.domain.errors import InvalidBody, ObjectNotFound
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.records import Policy
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.common import existing, new_id, still_there
from openovc.services.policies.common import POLICY, RULE, rules_of


def _places(finder: Finder) -> rulebook.Places:
    clusters = {c["id"]: str(c["name"]) for c in finder.find(OMNISTACK_CLUSTERS)}
    return rulebook.Places(clusters, frozenset(s["name"] for s in finder.find(EXTERNAL_STORES)))


def invalid(err: rulebook.RuleError) -> InvalidBody:
    return InvalidBody(f"Invalid body: {err}")


def _failure(err: rulebook.RuleError) -> TaskFailure:
    """A rule that became invalid while its task waited (a destination went, rules were added)."""
    if err.field in ("destination_id", "external_store_name"):
        return TaskFailure(Codes.INVALID_DESTINATION, str(err))
    return TaskFailure(Codes.INVALID_ARGUMENT, str(err))


def rule_of(policy: Policy, rule_id: str) -> rulebook.Rule:
    rule = rulebook.find_rule(rules_of(policy), rule_id)
    if rule is None:
        raise ObjectNotFound(RULE, rule_id)
    return rule


def _rule_still_there(policy: Policy, rule_id: str) -> rulebook.Rule:
    rule = rulebook.find_rule(rules_of(policy), rule_id)
    if rule is None:
        raise TaskFailure(Codes.NOT_FOUND, f"Object type: {RULE} id: {rule_id} could not be found")
    return rule


def _with_rules(policy_id: str, rule_ids: Sequence[str]) -> list[AffectedObject]:
    """The policy first (clients index [0] and refresh it), then the rules concerned."""
    return [AffectedObject(policy_id, POLICY), *(AffectedObject(r, RULE) for r in rule_ids)]


def checked_bodies(body: object) -> list[Mapping[str, Any]]:
    """The rule bodies of a request, or InvalidBody."""
    try:
        return rulebook.rule_bodies(body)
    except rulebook.RuleError as err:
        raise invalid(err) from None


def proposed_creation(
    finder: Finder, policy: Policy, bodies: Sequence[Mapping[str, Any]], replace: bool
) -> tuple[list[rulebook.Rule], list[rulebook.Rule]]:
    """Quick check of new rules: (the policy's rules afterwards, the new ones)."""
    try:
        return rulebook.created(rules_of(policy), bodies, _places(finder), replace, new_id)
    except rulebook.RuleError as err:
        raise invalid(err) from None


def create_rules(
    reader: FederationReader, tasks: TaskEngine, policy_id: str, body: object, replace: bool
) -> Record:
    policy = existing(reader, POLICIES, policy_id)
    bodies = checked_bodies(body)
    proposed_creation(reader, policy, bodies, replace)
    payload = {"policy": policy_id, "rules": list(bodies), "replace": replace}
    return tasks.submit("policy.create_rules", payload, [policy_id])


def _run_create_rules(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    try:
        after, new = rulebook.created(
            rules_of(policy), payload["rules"], _places(txn), bool(payload["replace"]), new_id
        )
    except rulebook.RuleError as err:
        raise _failure(err) from None
    txn.update(POLICIES, policy["id"], {"rules": after})
    return _with_rules(policy["id"], [str(rule["id"]) for rule in new])


def _edit(rule: rulebook.Rule, body: object) -> rulebook.Rule:
    try:
        return rulebook.edited_rule(rule, rulebook.rule_body(body))
    except rulebook.RuleError as err:
        raise invalid(err) from None


def update_rule(
    reader: FederationReader, tasks: TaskEngine, policy_id: str, rule_id: str, body: object
) -> Record:
    policy = existing(reader, POLICIES, policy_id)
    _edit(rule_of(policy, rule_id), body)
    payload = {"policy": policy_id, "rule": rule_id, "body": body}
    return tasks.submit("policy.update_rule", payload, [policy_id])


def _run_update_rule(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    current = _rule_still_there(policy, payload["rule"])
    try:
        changed = rulebook.edited_rule(current, payload["body"])
    except rulebook.RuleError as err:
        raise _failure(err) from None
    after = [changed if rule["id"] == current["id"] else rule for rule in rules_of(policy)]
    txn.update(POLICIES, policy["id"], {"rules": after})
    return _with_rules(policy["id"], [str(current["id"])])


def delete_rule(reader: FederationReader, tasks: TaskEngine, policy_id: str, rule_id: str) -> Record:
    rule_of(existing(reader, POLICIES, policy_id), rule_id)
    return tasks.submit("policy.delete_rule", {"policy": policy_id, "rule": rule_id}, [policy_id])


def _run_delete_rule(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    rule = _rule_still_there(policy, payload["rule"])
    txn.update(POLICIES, policy["id"], {"rules": rulebook.without(rules_of(policy), str(rule["id"]))})
    return _with_rules(policy["id"], [str(rule["id"])])


HANDLERS: dict[str, Handler] = {
    "policy.create_rules": _run_create_rules,
    "policy.update_rule": _run_update_rule,
    "policy.delete_rule": _run_delete_rule,
}
