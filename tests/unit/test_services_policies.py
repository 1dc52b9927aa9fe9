"""services/policies.py against the in-memory fakes: policies, their rules, and suspend/resume."""

from __future__ import annotations

from typing import Any

import pytest

from openovc.domain.catalog import (
    CLUSTER_GROUPS,
    DATASTORES,
    EXTERNAL_STORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import InvalidBody, ObjectInUse, ObjectNotFound, TaskError
from openovc.domain.ports.federation import Record
from openovc.services import policies
from tests.support.fakes import Ended, Services

POLICY = "policy"


@pytest.fixture
def s() -> Services:
    return Services.start(policies)


def _new_policy(s: Services, name: str, rules: list[dict[str, Any]] | None = None) -> str:
    ended = s.poll(policies.create(s.reader, s.tasks, name, None))
    policy_id = ended.affected[0][0]
    if rules:
        assert s.poll(policies.create_rules(s.reader, s.tasks, policy_id, rules, False)).state == "COMPLETED"
    return policy_id


def _rule(rule_id: str, number: int, **values: Any) -> dict[str, Any]:
    base = {"id": rule_id, "number": number, "destination_id": "", "destination_name": "<local>",
            "external_store_name": "", "frequency": 1440, "retention": 1440, "days": "All", "start_time": "00:00",
            "end_time": "00:00", "max_backups": 1, "application_consistent": False, "consistency_type": "NONE"}  # fmt: skip
    return {**base, **values}


def _rules(s: Services, policy_id: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = s.federation.row(POLICIES, policy_id)["rules"]
    return rules


# ---------------------------------------------------------------------------------------- policies


def test_create_belongs_to_the_cluster_of_the_serving_controller(s: Services) -> None:
    owner_host = s.federation.row(HOSTS, min(h["id"] for h in s.federation.rows(HOSTS)))
    owner = s.federation.row(OMNISTACK_CLUSTERS, owner_host["omnistack_cluster_id"])
    task = policies.create(s.reader, s.tasks, "Nightly", None)
    assert (task["state"], task["operation"]) == ("QUEUED", "policy.create")
    ended = s.poll(task)
    new = ended.affected[0][0]
    assert ended == Ended("COMPLETED", affected=((new, POLICY),))
    assert s.federation.row(POLICIES, new) == {
        "id": new,
        "name": "Nightly",
        "rules": [],
        "cluster_group_ids": owner["cluster_group_ids"],
        "owner_cluster_id": owner["id"],
        "owner_cluster_name": owner["name"],
    }


def test_create_in_a_cluster_group(s: Services) -> None:
    group = s.federation.named(CLUSTER_GROUPS, "Global")
    ended = s.poll(policies.create(s.reader, s.tasks, "Grouped", group["id"]))
    assert s.federation.row(POLICIES, ended.affected[0][0])["cluster_group_ids"] == [group["id"]]
    before = s.federation.snapshot()
    with pytest.raises(ObjectNotFound) as missing:
        policies.create(s.reader, s.tasks, "Other", "nope")
    assert missing.value.message == "Object type: cluster_group id: nope could not be found"
    assert s.federation.snapshot() == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Invalid body: The policy name must not be empty."),
        (" Gold2", "Invalid body: The policy name must not begin or end with white space."),
        ("a/b", "Invalid body: The policy name contains characters that are not allowed: '/'."),
        ("x" * 65, "Invalid body: The policy name must be at most 64 characters long."),
    ],
)
def test_create_bad_names(s: Services, name: str, message: str) -> None:
    with pytest.raises(InvalidBody) as error:
        policies.create(s.reader, s.tasks, name, None)
    assert error.value.message == message
    assert s.store.tasks == {}


def test_create_duplicate_now_and_at_run_time(s: Services) -> None:
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        policies.create(s.reader, s.tasks, "Gold", None)
    assert (refused.value.error_code, refused.value.message) == ("13", "Duplicate name exists.")
    assert s.store.tasks == {} and s.federation.snapshot() == before
    s.run_on_poll()
    first, second = (policies.create(s.reader, s.tasks, "Twice", None) for _ in range(2))
    assert s.poll(first).state == "COMPLETED"
    after_first = s.federation.snapshot()
    assert s.poll(second) == Ended("FAILED", 13, "Duplicate name exists.")
    assert s.federation.snapshot() == after_first


def test_rename_renames_it_everywhere(s: Services) -> None:
    gold = s.federation.named(POLICIES, "Gold")
    vms = {v["id"]: v for v in s.federation.rows(VIRTUAL_MACHINES)}
    named = {v for v, vm in vms.items() if vm["policy_id"] == gold["id"]}
    assert {vms[v]["state"] for v in named} == {"ALIVE", "DELETED"}  # dead VMs' rows follow too
    stores = {d["id"]: d for d in s.federation.rows(DATASTORES)}
    assert s.poll(policies.rename(s.reader, s.tasks, gold["id"], "Gold-2024")) == Ended(
        "COMPLETED", affected=((gold["id"], POLICY),)
    )
    assert s.federation.row(POLICIES, gold["id"]) == {**gold, "name": "Gold-2024"}
    for vm in s.federation.rows(VIRTUAL_MACHINES):
        assert vm == ({**vms[vm["id"]], "policy_name": "Gold-2024"} if vm["id"] in named else vms[vm["id"]])
    for ds in s.federation.rows(DATASTORES):
        was = stores[ds["id"]]
        assert ds == ({**was, "policy_name": "Gold-2024"} if was["policy_id"] == gold["id"] else was)
    # Its own name again is no duplicate.
    assert s.poll(policies.rename(s.reader, s.tasks, gold["id"], "Gold-2024")).state == "COMPLETED"


def test_rename_refusals(s: Services) -> None:
    gold = s.federation.named(POLICIES, "Gold")
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        policies.rename(s.reader, s.tasks, gold["id"], "Silver")
    assert (refused.value.error_code, refused.value.message) == ("13", "Duplicate name exists.")
    with pytest.raises(InvalidBody) as error:
        policies.rename(s.reader, s.tasks, gold["id"], "a%b")
    assert (
        error.value.message == "Invalid body: The policy name contains characters that are not allowed: '%'."
    )
    with pytest.raises(ObjectNotFound) as missing:
        policies.rename(s.reader, s.tasks, "nope", "New")
    assert missing.value.message == "Object type: policy id: nope could not be found"
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_rename_duplicate_found_at_run_time_changes_nothing(s: Services) -> None:
    s.run_on_poll()
    gold, silver = s.federation.named(POLICIES, "Gold"), s.federation.named(POLICIES, "Silver")
    first = policies.rename(s.reader, s.tasks, gold["id"], "Shared")
    second = policies.rename(s.reader, s.tasks, silver["id"], "Shared")
    assert s.poll(first).state == "COMPLETED"
    before = s.federation.snapshot()
    assert s.poll(second) == Ended("FAILED", 13, "Duplicate name exists.")
    assert s.federation.snapshot() == before
    assert {d["policy_name"] for d in s.federation.rows(DATASTORES) if d["policy_id"] == silver["id"]} == {
        "Silver"
    }


def test_delete(s: Services) -> None:
    policy_id = _new_policy(s, "Scratch", [{"frequency": 60, "retention": 60}])
    assert s.poll(policies.delete(s.reader, s.tasks, policy_id)) == Ended(
        "COMPLETED", affected=((policy_id, POLICY),)
    )
    assert s.reader.get(POLICIES, policy_id) is None
    with pytest.raises(ObjectNotFound) as missing:
        policies.delete(s.reader, s.tasks, policy_id)
    assert missing.value.message == f"Object type: policy id: {policy_id} could not be found"


def _usage(s: Services, policy_id: str) -> tuple[int, int, int]:
    datastores = sum(1 for d in s.federation.rows(DATASTORES) if d["policy_id"] == policy_id)
    vms, volumes = (
        sum(1 for v in s.federation.rows(coll) if v["policy_id"] == policy_id and v["state"] == "ALIVE")
        for coll in (VIRTUAL_MACHINES, PERSISTENT_VOLUMES)
    )
    return datastores, vms, volumes


def test_delete_refuses_a_policy_in_use(s: Services) -> None:
    before = s.federation.snapshot()
    for name in ("Gold", "Default"):
        policy = s.federation.named(POLICIES, name)
        datastores, vms, volumes = _usage(s, policy["id"])
        named = [
            f"{n} {noun}{'' if n == 1 else 's'}"
            for n, noun in (
                (datastores, "datastore"),
                (vms, "virtual machine"),
                (volumes, "persistent volume"),
            )
            if n
        ]
        users = f"{', '.join(named[:-1])} and {named[-1]}" if len(named) > 1 else named[0]
        with pytest.raises(ObjectInUse) as refused:
            policies.delete(s.reader, s.tasks, policy["id"])
        assert (
            refused.value.message
            == f"The policy {name} is in use by {users}; assign them another policy first."
        )
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_delete_fails_when_it_came_into_use_and_dead_vms_do_not_hold_it(s: Services) -> None:
    policy_id = _new_policy(s, "Soon-used")
    s.run_on_poll()
    dead = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    alive = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "ALIVE")
    task = policies.delete(s.reader, s.tasks, policy_id)
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, dead["id"], {"policy_id": policy_id})
        txn.update(VIRTUAL_MACHINES, alive["id"], {"policy_id": policy_id, "policy_name": "Soon-used"})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED", 40, "The policy Soon-used is in use by 1 virtual machine; assign them another policy first."
    )
    assert s.federation.snapshot() == before
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, alive["id"], {"policy_id": alive["policy_id"]})
    assert s.poll(policies.delete(s.reader, s.tasks, policy_id)).state == "COMPLETED"


# ------------------------------------------------------------------------------------------- rules

RULE_A = {"frequency": "60", "retention": "1440", "days": "mon,WED", "start_time": "9:00", "end_time": "17:00",
          "application_consistent": True, "id": "mine", "number": 9, "max_backups": 1, "bogus": [1]}  # fmt: skip


def test_create_rules_append_and_replace(s: Services) -> None:
    policy_id = _new_policy(s, "Ruled")
    sydney = s.federation.named(OMNISTACK_CLUSTERS, "Sydney")
    store = s.federation.rows(EXTERNAL_STORES)[0]["name"]
    second_body = {
        "frequency": 1440,
        "retention": 10080,
        "destination_id": sydney["id"],
        "consistency_type": "VSS",
    }
    ended = s.poll(policies.create_rules(s.reader, s.tasks, policy_id, [RULE_A, second_body], False))
    first, second = (object_id for object_id, _ in ended.affected[1:])
    assert ended == Ended("COMPLETED", affected=((policy_id, POLICY), (first, "rule"), (second, "rule")))
    rules = [
        _rule(first, 0, frequency=60, days="Mon,Wed", start_time="09:00", end_time="17:00",
              max_backups=24, application_consistent=True, consistency_type="DEFAULT"),
        _rule(second, 1, destination_id=sydney["id"], destination_name="Sydney", retention=10080,
              max_backups=7, application_consistent=True, consistency_type="VSS"),
    ]  # fmt: skip
    assert _rules(s, policy_id) == rules
    body = [{"frequency": 1440, "retention": 43200, "external_store_name": store, "days": "last"}]
    third = s.poll(policies.create_rules(s.reader, s.tasks, policy_id, body, False)).affected[1][0]
    assert _rules(s, policy_id) == [
        *rules,
        _rule(third, 2, destination_name=store, external_store_name=store, retention=43200, days="last",
              max_backups=30),
    ]  # fmt: skip
    replaced = s.poll(
        policies.create_rules(s.reader, s.tasks, policy_id, [{"frequency": 30, "retention": 90}], True)
    )
    only = replaced.affected[1][0]
    assert replaced == Ended("COMPLETED", affected=((policy_id, POLICY), (only, "rule")))
    assert _rules(s, policy_id) == [_rule(only, 0, frequency=30, retention=90, max_backups=3)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"frequency": 60, "retention": 60}, "the body must be a JSON array of rules, not an object"),
        (None, "the body must be a JSON array of rules, not null"),
        ([], "the body must name at least one rule"),
        ([{"frequency": 60, "retention": 60}, 7], "rule 1: must be a JSON object, not a number"),
        ([{"retention": 60}], "rule 0: frequency: Field required"),
        ([{"frequency": 0, "retention": 60}], "rule 0: frequency: must be between 1 and 1440 minutes, got 0"),
        ([{"frequency": 60, "retention": 59}],
         "rule 0: retention: must be at least the frequency (60 minutes): each backup would expire before the "
         "next is taken, got 59"),
        ([{"frequency": 60, "retention": 60, "destination_id": "nope"}],
         "rule 0: destination_id: no omnistack_cluster has id 'nope'"),
        ([{"frequency": 60, "retention": 60, "external_store_name": "nope"}],
         "rule 0: external_store_name: no external_store is named 'nope'"),
        ([{"frequency": 60, "retention": 60}] * 14, "a policy can have at most 16 rules; this change would give it 17"),
    ],
)  # fmt: skip
def test_create_rules_bad_bodies(s: Services, body: object, message: str) -> None:
    gold = s.federation.named(POLICIES, "Gold")
    with pytest.raises(InvalidBody) as error:
        policies.create_rules(s.reader, s.tasks, gold["id"], body, False)
    assert error.value.message == f"Invalid body: {message}"
    assert s.store.tasks == {} and s.federation.row(POLICIES, gold["id"]) == gold


def test_create_rules_of_an_unknown_policy(s: Services) -> None:
    with pytest.raises(ObjectNotFound) as missing:
        policies.create_rules(s.reader, s.tasks, "nope", [{"frequency": 60, "retention": 60}], False)
    assert missing.value.message == "Object type: policy id: nope could not be found"


def test_create_rules_fail_at_run_time(s: Services) -> None:
    policy_id = _new_policy(s, "Nearly-full", [{"frequency": 60, "retention": 60}] * 15)
    s.run_on_poll()
    one = [{"frequency": 60, "retention": 60}]
    first, second = (policies.create_rules(s.reader, s.tasks, policy_id, one, False) for _ in range(2))
    assert s.poll(first).state == "COMPLETED"
    before = s.federation.snapshot()
    assert s.poll(second) == Ended(
        "FAILED", 30, "a policy can have at most 16 rules; this change would give it 17"
    )
    assert s.federation.snapshot() == before
    # A destination that went away while the task waited.
    store = s.federation.rows(EXTERNAL_STORES)[0]["name"]
    to_store = [{"frequency": 1440, "retention": 1440, "external_store_name": store}]
    task = policies.create_rules(s.reader, s.tasks, policy_id, to_store, True)
    with s.federation.writing() as txn:
        txn.delete(EXTERNAL_STORES, store)
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED", 142, f"rule 0: external_store_name: no external_store is named '{store}'"
    )
    assert s.federation.snapshot() == before
    assert len(_rules(s, policy_id)) == 16


def test_update_rule(s: Services) -> None:
    gold = s.federation.named(POLICIES, "Gold")
    rule = gold["rules"][1]
    ended = s.poll(policies.update_rule(s.reader, s.tasks, gold["id"], rule["id"], {"start_time": "20:30"}))
    assert ended == Ended("COMPLETED", affected=((gold["id"], POLICY), (rule["id"], "rule")))
    current = {**rule, "start_time": "20:30"}
    assert _rules(s, gold["id"]) == [gold["rules"][0], current, *gold["rules"][2:]]
    # A whole rule sent back, as read, with changes: server-side fields are ignored.
    sent = {**current, "frequency": "720", "retention": 2880, "days": "sat,sun", "max_backups": 99, "number": 5,
            "id": "other", "destination_name": "x"}  # fmt: skip
    s.poll(policies.update_rule(s.reader, s.tasks, gold["id"], rule["id"], sent))
    changed = {**current, "frequency": 720, "retention": 2880, "days": "Sat,Sun", "max_backups": 4}
    assert _rules(s, gold["id"]) == [gold["rules"][0], changed, *gold["rules"][2:]]


def test_update_rule_refusals(s: Services) -> None:
    gold = s.federation.named(POLICIES, "Gold")
    rule = next(r for r in gold["rules"] if r["destination_id"])
    cannot = "the destination of an existing rule cannot change; delete the rule and create a new one"
    for body, message in [
        (None, "the body must be a JSON object, not null"),
        ([{"frequency": 60}], "the body must be a JSON object, not an array"),
        ({"destination_id": ""}, f"destination_id: {cannot}"),
        ({"frequency": 0}, "frequency: must be between 1 and 1440 minutes, got 0"),
    ]:
        with pytest.raises(InvalidBody) as error:
            policies.update_rule(s.reader, s.tasks, gold["id"], rule["id"], body)
        assert error.value.message == f"Invalid body: {message}"
    with pytest.raises(ObjectNotFound) as missing:
        policies.update_rule(s.reader, s.tasks, gold["id"], "nope", {"frequency": 60})
    assert missing.value.message == "Object type: rule id: nope could not be found"
    with pytest.raises(ObjectNotFound) as missing:
        policies.update_rule(s.reader, s.tasks, "nope", rule["id"], {"frequency": 60})
    assert missing.value.message == "Object type: policy id: nope could not be found"
    assert s.store.tasks == {} and s.federation.row(POLICIES, gold["id"]) == gold


def test_update_rule_fails_when_the_rule_went(s: Services) -> None:
    s.run_on_poll()
    gold = s.federation.named(POLICIES, "Gold")
    rule_id = gold["rules"][0]["id"]
    deleting = policies.delete_rule(s.reader, s.tasks, gold["id"], rule_id)
    editing = policies.update_rule(s.reader, s.tasks, gold["id"], rule_id, {"frequency": 120})
    assert s.poll(deleting) == Ended("COMPLETED", affected=((gold["id"], POLICY), (rule_id, "rule")))
    before = s.federation.snapshot()
    assert s.poll(editing) == Ended("FAILED", 20, f"Object type: rule id: {rule_id} could not be found")
    assert s.federation.snapshot() == before
    assert _rules(s, gold["id"]) == [{**r, "number": n} for n, r in enumerate(gold["rules"][1:])]


def test_delete_rule_renumbers(s: Services) -> None:
    gold = s.federation.named(POLICIES, "Gold")
    gone = gold["rules"][0]
    assert s.poll(policies.delete_rule(s.reader, s.tasks, gold["id"], gone["id"])) == Ended(
        "COMPLETED", affected=((gold["id"], POLICY), (gone["id"], "rule"))
    )
    assert s.federation.row(POLICIES, gold["id"]) == {
        **gold,
        "rules": [{**r, "number": n} for n, r in enumerate(gold["rules"][1:])],
    }
    with pytest.raises(ObjectNotFound) as missing:
        policies.delete_rule(s.reader, s.tasks, gold["id"], gone["id"])
    assert missing.value.message == f"Object type: rule id: {gone['id']} could not be found"


# ---------------------------------------------------------------------------------- suspend/resume


def _enabled(s: Services) -> dict[str, bool]:
    return {h["id"]: h["policy_enabled"] for h in s.federation.rows(HOSTS)}


def _hosts(*ids: str) -> tuple[tuple[str, str], ...]:
    return tuple((host_id, "host") for host_id in ids)


def test_suspend_and_resume(s: Services) -> None:
    every = sorted(_enabled(s))
    assert set(_enabled(s).values()) == {True}
    task = policies.set_policy_backups(s.reader, s.tasks, False, "federation", None)
    assert task["operation"] == "policy.suspend"
    assert s.poll(task) == Ended("COMPLETED", affected=_hosts(*every))
    assert _enabled(s) == dict.fromkeys(every, False)
    boston = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    in_boston = sorted(boston["members"])
    task = policies.set_policy_backups(s.reader, s.tasks, True, "omnistack_cluster", f" {boston['id']} ")
    assert task["operation"] == "policy.resume"
    assert s.poll(task) == Ended("COMPLETED", affected=_hosts(*in_boston))
    assert _enabled(s) == {h: h in in_boston for h in every}
    other = next(h for h in every if h not in in_boston)
    assert s.poll(policies.set_policy_backups(s.reader, s.tasks, True, "host", other)) == Ended(
        "COMPLETED", affected=_hosts(other)
    )
    assert _enabled(s)[other] is True
    group = s.federation.named(CLUSTER_GROUPS, "Global")
    grouped = [h["id"] for c in group["clusters"] for h in s.federation.find(HOSTS, omnistack_cluster_id=c)]
    assert sorted(grouped) == every
    ended = s.poll(policies.set_policy_backups(s.reader, s.tasks, False, "cluster_group", group["id"]))
    assert ended == Ended(
        "COMPLETED", affected=_hosts(*grouped)
    )  # cluster by cluster, as the group lists them
    assert set(_enabled(s).values()) == {False}
    before = {h["id"]: h for h in s.federation.rows(HOSTS)}
    s.poll(policies.set_policy_backups(s.reader, s.tasks, True, "federation", ""))
    assert s.federation.rows(HOSTS) == [{**before[h], "policy_enabled": True} for h in every]


@pytest.mark.parametrize(
    ("target_type", "target_id", "error", "message"),
    [
        ("datastore", "x", InvalidBody,
         "Invalid body: target_object_type: must be one of host, omnistack_cluster, cluster_group, federation, "
         "got 'datastore'"),
        ("host", None, InvalidBody, "Invalid body: target_object_id: Field required for a host"),
        ("omnistack_cluster", " ", InvalidBody,
         "Invalid body: target_object_id: Field required for a omnistack_cluster"),
        ("host", "nope", ObjectNotFound, "Object type: host id: nope could not be found"),
        ("omnistack_cluster", "nope", ObjectNotFound, "Object type: omnistack_cluster id: nope could not be found"),
        ("cluster_group", "nope", ObjectNotFound, "Object type: cluster_group id: nope could not be found"),
    ],
)  # fmt: skip
def test_suspend_refusals(
    s: Services, target_type: str, target_id: str | None, error: type[Exception], message: str
) -> None:
    for enabled in (False, True):
        with pytest.raises(error) as refused:
            policies.set_policy_backups(s.reader, s.tasks, enabled, target_type, target_id)
        assert str(refused.value) == message
    assert s.store.tasks == {} and set(_enabled(s).values()) == {True}


def test_suspend_fails_when_the_target_went_away(s: Services) -> None:
    s.run_on_poll()
    host: Record = s.federation.rows(HOSTS)[0]
    task = policies.set_policy_backups(s.reader, s.tasks, False, "host", host["id"])
    with s.federation.writing() as txn:
        txn.delete(HOSTS, host["id"])
    before = s.federation.snapshot()
    assert s.poll(task) == Ended("FAILED", 20, f"Object type: host id: {host['id']} could not be found")
    assert s.federation.snapshot() == before
