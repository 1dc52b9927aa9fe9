"""Impact reports: the policy schedule report now and with a proposed change, answered at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace as with_values

from openovc.domain import rules as rulebook
from openovc.domain.catalog import POLICIES, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody, ObjectNotFound
from openovc.domain.ports.federation import FederationReader
from openovc.domain.ports.metrics import MetricsReader, PolicyUsage
from openovc.domain.schedules import PolicyLoad, schedule_report
from openovc.services.common import existing
from openovc.services.policies.common import RULE, rules_of
from openovc.services.policies.rules import checked_bodies, invalid, proposed_creation, rule_of

SET_POLICY_NEEDS_VMS = (
    "Invalid body: Specify a virtual_machine_id key/value to set a policy for virtual_machine instances."
)


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
    after, _ = proposed_creation(reader, policy, checked_bodies(body), replace)
    return _impact(store, _with_policy_rules(policy_id, after))


def impact_of_edits(
    reader: FederationReader, store: MetricsReader, policy_id: str, body: object, replace: bool
) -> dict[str, dict[str, int]]:
    policy = existing(reader, POLICIES, policy_id)
    try:
        after = rulebook.edited(rules_of(policy), checked_bodies(body), replace)
    except rulebook.RuleError as err:
        raise invalid(err) from None
    except KeyError as err:
        raise ObjectNotFound(RULE, str(err.args[0])) from None
    return _impact(store, _with_policy_rules(policy_id, after))


def impact_of_deletion(
    reader: FederationReader, store: MetricsReader, policy_id: str, rule_id: str
) -> dict[str, dict[str, int]]:
    policy = existing(reader, POLICIES, policy_id)
    rule_of(policy, rule_id)
    return _impact(store, _with_policy_rules(policy_id, rulebook.without(rules_of(policy), rule_id)))


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
