"""Policy operations through HTTP: policies, rules, suspend/resume as tasks; the impact reports at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from openovc.domain.schedules import PolicyLoad, schedule_report
from tests.support.errors import NOT_A_DICT, PKG, TASK_EXCEPTION
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env
from tests.support.tasks import completed, media

V19 = {"Content-Type": "application/vnd.simplivity.v1.9+json"}


def _invalid(path: str, message: str) -> dict[str, Any]:
    return _error(path, PKG + "InvalidBodyException", message)


def _not_found(path: str, kind: str, key: str) -> dict[str, Any]:
    return _error(
        path, PKG + "ObjectNotFoundException", f"Object type: {kind} id: {key} could not be found", 404
    )


def _send(env: Env, method: str, path: str, headers: dict[str, str], body: Any,
          content: Mapping[str, str] | None = None) -> Any:  # fmt: skip
    """A request whose body is JSON, or raw text when given as a str."""
    hdrs = {**headers, **(content if content is not None else media())}
    if isinstance(body, str):
        return env.client.request(method, path, headers=hdrs, content=body.encode())
    return env.client.request(method, path, headers=hdrs, json=body)


def _get(env: Env, headers: dict[str, str], path: str) -> Any:
    resp = env.client.get(path, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _policy(env: Env, headers: dict[str, str], policy_id: str) -> dict[str, Any]:
    body: dict[str, Any] = _get(env, headers, f"/api/policies/{policy_id}")["policy"]
    return body


def _row(env: Env, plural: str, name: str) -> dict[str, Any]:
    return next(r for r in env.federation.rows[plural] if r["name"] == name)


def _queue(env: Env, method: str, path: str, headers: dict[str, str], body: Any = None) -> str:
    """Submit an operation and leave it queued (it runs on its first poll)."""
    resp = env.client.request(method, path, headers={**headers, **media()}, json=body)
    assert resp.status_code == 202, resp.text
    task_id: str = resp.json()["task"]["id"]
    return task_id


def _poll(env: Env, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = _get(env, headers, f"/api/tasks/{task_id}")["task"]
    if task["state"] == "FAILED":
        assert task["message"] == task["error_message"] and task["affected_objects"] == []
    return task


def _new_policy(
    env: Env, headers: dict[str, str], name: str, rules: list[dict[str, Any]] | None = None
) -> str:
    (made,) = completed(env, "POST", "/api/policies", headers, {"name": name})
    if rules:
        completed(env, "POST", f"/api/policies/{made['object_id']}/rules", headers, rules)
    return made["object_id"]


def _sql(env: Env, statement: str, *args: object) -> None:
    with env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(statement, args)


# ---------------------------------------------------------------------------------------- policies


def test_create_policy(own_env: Env) -> None:
    h = own_env.headers()
    (made,) = completed(
        own_env, "POST", "/api/policies", h, {"name": "Nightly", "rules": [{"x": 1}], "id": "x"}
    )
    assert made["object_type"] == "policy"
    rows = own_env.federation.rows
    owner_host = min(rows["hosts"], key=lambda host: host["id"])  # the host this controller plays
    owner = next(c for c in rows["omnistack_clusters"] if c["id"] == owner_host["omnistack_cluster_id"])
    assert _policy(own_env, h, made["object_id"]) == {
        "id": made["object_id"], "name": "Nightly", "rules": [], "cluster_group_ids": owner["cluster_group_ids"],
        "owner_cluster_id": owner["id"], "owner_cluster_name": owner["name"],
    }  # fmt: skip
    listed = _get(own_env, h, "/api/policies?name=Nightly")["policies"]
    assert [p["id"] for p in listed] == [made["object_id"]]


def test_create_policy_in_a_cluster_group(own_env: Env) -> None:
    h = own_env.headers()
    group = own_env.federation.rows["cluster_groups"][0]["id"]
    (made,) = completed(own_env, "POST", f"/api/policies?cluster_group_id={group}", h, {"name": "Grouped"})
    assert _policy(own_env, h, made["object_id"])["cluster_group_ids"] == [group]
    path = "/api/policies"
    resp = _send(own_env, "POST", f"{path}?cluster_group_id=nope", h, {"name": "Other"})
    assert (resp.status_code, resp.json()) == (404, _not_found(path, "cluster_group", "nope"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: name: Field required"),
        ({"name": 5}, "Invalid body: name: Input should be a valid string"),
        ({"name": ""}, "Invalid body: The policy name must not be empty."),
        ({"name": " Gold2"}, "Invalid body: The policy name must not begin or end with white space."),
        ({"name": "a/b"}, "Invalid body: The policy name contains characters that are not allowed: '/'."),
        ({"name": "x" * 65}, "Invalid body: The policy name must be at most 64 characters long."),
        ("null", NOT_A_DICT),
        ([{"name": "x"}], NOT_A_DICT),
        ("", "Invalid body: a JSON request body is required"),
    ],
)  # fmt: skip
def test_create_policy_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    resp = _send(env, "POST", "/api/policies", admin, body)
    assert (resp.status_code, resp.json()) == (400, _invalid("/api/policies", message))


def test_create_policy_refusals(env: Env, admin: dict[str, str]) -> None:
    path = "/api/policies"
    resp = _send(env, "POST", path, admin, {"name": "Gold"})
    assert (resp.status_code, resp.json()) == (
        400,
        _error(path, TASK_EXCEPTION, "Duplicate name exists.", code="13"),
    )
    resp = _send(env, "POST", path, admin, {"name": "x"}, {"Content-Type": "application/json"})
    assert (resp.status_code, resp.json()) == (
        415, _error(path, "org.springframework.web.HttpMediaTypeNotSupportedException",
                    "Content type 'application/json' not supported", 415),
    )  # fmt: skip
    assert len(_get(env, admin, "/api/policies")["policies"]) == len(env.federation.rows["policies"])


def test_create_policy_duplicate_found_at_run_time(own_env: Env) -> None:
    h = own_env.headers()
    first, second = (_queue(own_env, "POST", "/api/policies", h, {"name": "Twice"}) for _ in range(2))
    assert _poll(own_env, h, first)["state"] == "COMPLETED"
    task = _poll(own_env, h, second)
    assert (task["state"], task["error_code"], task["message"]) == ("FAILED", 13, "Duplicate name exists.")
    assert len(_get(own_env, h, "/api/policies?name=Twice")["policies"]) == 1


def test_rename_policy_renames_it_everywhere(own_env: Env) -> None:
    h = own_env.headers()
    gold = _row(own_env, "policies", "Gold")
    affected = completed(own_env, "POST", f"/api/policies/{gold['id']}/rename", h, {"name": "Gold-2024"})
    assert affected == [{"object_id": gold["id"], "object_type": "policy"}]
    assert _policy(own_env, h, gold["id"])["name"] == "Gold-2024"
    vms = _get(
        own_env, h, f"/api/virtual_machines?policy_id={gold['id']}&state=ALIVE,DELETED,REMOVED&limit=5000"
    )
    expected = sum(1 for v in own_env.federation.rows["virtual_machines"] if v["policy_id"] == gold["id"])
    assert vms["count"] == expected > 0
    assert {v["policy_name"] for v in vms["virtual_machines"]} == {"Gold-2024"}
    datastores = _get(own_env, h, f"/api/datastores?policy_id={gold['id']}")["datastores"]
    assert datastores and {d["policy_name"] for d in datastores} == {"Gold-2024"}
    assert _get(own_env, h, "/api/virtual_machines?policy_name=Gold")["count"] == 0
    # Its own name again is no duplicate.
    completed(own_env, "POST", f"/api/policies/{gold['id']}/rename", h, {"name": "Gold-2024"})


def test_rename_refusals(env: Env, admin: dict[str, str]) -> None:
    gold = _row(env, "policies", "Gold")
    path = f"/api/policies/{gold['id']}/rename"
    resp = _send(env, "POST", path, admin, {"name": "Silver"})
    assert (resp.status_code, resp.json()) == (
        400,
        _error(path, TASK_EXCEPTION, "Duplicate name exists.", code="13"),
    )
    for body, message in [({}, "Invalid body: name: Field required"), ("null", NOT_A_DICT),
                          ({"name": "a%b"}, "Invalid body: The policy name contains characters that are not allowed: '%'."),
                          ({"name": ["x"]}, "Invalid body: name: Input should be a valid string")]:  # fmt: skip
        resp = _send(env, "POST", path, admin, body)
        assert (resp.status_code, resp.json()) == (400, _invalid(path, message))
    resp = _send(env, "POST", "/api/policies/nope/rename", admin, {"name": "New"})
    assert (resp.status_code, resp.json()) == (404, _not_found("/api/policies/nope/rename", "policy", "nope"))
    assert _policy(env, admin, gold["id"])["name"] == "Gold"


def test_rename_duplicate_found_at_run_time(own_env: Env) -> None:
    h = own_env.headers()
    gold, silver = _row(own_env, "policies", "Gold"), _row(own_env, "policies", "Silver")
    first = _queue(own_env, "POST", f"/api/policies/{gold['id']}/rename", h, {"name": "Shared"})
    second = _queue(own_env, "POST", f"/api/policies/{silver['id']}/rename", h, {"name": "Shared"})
    assert _poll(own_env, h, first)["state"] == "COMPLETED"
    task = _poll(own_env, h, second)
    assert (task["state"], task["error_code"], task["message"]) == ("FAILED", 13, "Duplicate name exists.")
    assert _policy(own_env, h, silver["id"])["name"] == "Silver"
    assert (
        _get(own_env, h, f"/api/datastores?policy_id={silver['id']}")["datastores"][0]["policy_name"]
        == "Silver"
    )


def test_delete_policy(own_env: Env) -> None:
    h = own_env.headers()
    policy_id = _new_policy(own_env, h, "Scratch", [{"frequency": 60, "retention": 60}])
    assert completed(own_env, "DELETE", f"/api/policies/{policy_id}", h, {}) == [
        {"object_id": policy_id, "object_type": "policy"}
    ]
    path = f"/api/policies/{policy_id}"
    resp = own_env.client.get(path, headers=h)
    assert (resp.status_code, resp.json()) == (404, _not_found(path, "policy", policy_id))


def _usage(env: Env, policy_id: str) -> tuple[int, int, int]:
    rows = env.federation.rows
    datastores = sum(1 for d in rows["datastores"] if d["policy_id"] == policy_id)
    vms = sum(1 for v in rows["virtual_machines"] if v["policy_id"] == policy_id and v["state"] == "ALIVE")
    pvs = sum(1 for v in rows["persistent_volumes"] if v["policy_id"] == policy_id and v["state"] == "ALIVE")
    return datastores, vms, pvs


def test_delete_policy_in_use(env: Env, admin: dict[str, str]) -> None:
    for name in ("Gold", "Default"):
        policy = _row(env, "policies", name)
        datastores, vms, pvs = _usage(env, policy["id"])
        named = [
            f"{n} {noun}{'' if n == 1 else 's'}"
            for n, noun in ((datastores, "datastore"), (vms, "virtual machine"), (pvs, "persistent volume")) if n
        ]  # fmt: skip
        users = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
        path = f"/api/policies/{policy['id']}"
        resp = env.client.request("DELETE", path, headers={**admin, **media()}, json={})
        message = f"The policy {name} is in use by {users}; assign them another policy first."
        assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "ObjectInUseException", message))
        assert _policy(env, admin, policy["id"])["name"] == name
    resp = env.client.delete("/api/policies/nope", headers=admin)
    assert (resp.status_code, resp.json()) == (404, _not_found("/api/policies/nope", "policy", "nope"))


def test_delete_policy_fails_when_it_came_into_use(own_env: Env) -> None:
    h = own_env.headers()
    policy_id = _new_policy(own_env, h, "Soon-used")
    vm = next(v for v in own_env.federation.rows["virtual_machines"] if v["state"] == "ALIVE")
    task_id = _queue(own_env, "DELETE", f"/api/policies/{policy_id}", h)
    _sql(own_env, "UPDATE virtual_machines SET policy_id = ?, policy_name = ? WHERE id = ?",
         policy_id, "Soon-used", vm["id"])  # fmt: skip
    task = _poll(own_env, h, task_id)
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 40, "The policy Soon-used is in use by 1 virtual machine; assign them another policy first.",
    )  # fmt: skip
    assert _policy(own_env, h, policy_id)["name"] == "Soon-used"


def test_deleted_vms_do_not_hold_a_policy(own_env: Env) -> None:
    h = own_env.headers()
    policy_id = _new_policy(own_env, h, "Was-used")
    vm = next(v for v in own_env.federation.rows["virtual_machines"] if v["state"] == "DELETED")
    _sql(own_env, "UPDATE virtual_machines SET policy_id = ? WHERE id = ?", policy_id, vm["id"])
    completed(own_env, "DELETE", f"/api/policies/{policy_id}", h)


# ------------------------------------------------------------------------------------------- rules

RULE_A = {"frequency": "60", "retention": "1440", "days": "mon,WED", "start_time": "9:00", "end_time": "17:00",
          "application_consistent": True, "id": "mine", "number": 9, "max_backups": 1, "bogus": [1]}  # fmt: skip


def _expected_rule(rule_id: str, number: int, **values: Any) -> dict[str, Any]:
    base = {"id": rule_id, "number": number, "destination_id": "", "destination_name": "<local>",
            "external_store_name": "", "frequency": 1440, "retention": 1440, "days": "All", "start_time": "00:00",
            "end_time": "00:00", "max_backups": 1, "application_consistent": False, "consistency_type": "NONE"}  # fmt: skip
    return {**base, **values}


def test_create_rules_append_and_replace(own_env: Env) -> None:
    h = own_env.headers()
    policy_id = _new_policy(own_env, h, "Ruled")
    sydney = _row(own_env, "omnistack_clusters", "Sydney")
    store = own_env.federation.rows["external_stores"][0]["name"]
    affected = completed(
        own_env, "POST", f"/api/policies/{policy_id}/rules?replace_all_rules=False", h,
        [RULE_A, {"frequency": 1440, "retention": 10080, "destination_id": sydney["id"], "consistency_type": "VSS"}],
    )  # fmt: skip
    assert affected[0] == {"object_id": policy_id, "object_type": "policy"}
    assert [a["object_type"] for a in affected[1:]] == ["rule", "rule"]
    first, second = (a["object_id"] for a in affected[1:])
    rules = _policy(own_env, h, policy_id)["rules"]
    assert rules == [
        _expected_rule(first, 0, frequency=60, days="Mon,Wed", start_time="09:00", end_time="17:00",
                       max_backups=24, application_consistent=True, consistency_type="DEFAULT"),
        _expected_rule(second, 1, destination_id=sydney["id"], destination_name="Sydney", retention=10080,
                       max_backups=7, application_consistent=True, consistency_type="VSS"),
    ]  # fmt: skip
    assert _get(own_env, h, f"/api/policies/{policy_id}/rules/{second}") == {"rule": rules[1]}
    (_, third) = completed(own_env, "POST", f"/api/policies/{policy_id}/rules", h,
                           [{"frequency": 1440, "retention": 43200, "external_store_name": store, "days": "last"}])  # fmt: skip
    after = _policy(own_env, h, policy_id)["rules"]
    assert after[:2] == rules and after[2] == _expected_rule(
        third["object_id"], 2, destination_name=store, external_store_name=store, retention=43200, days="last",
        max_backups=30,
    )  # fmt: skip
    (_, only) = completed(own_env, "POST", f"/api/policies/{policy_id}/rules?replace_all_rules=true", h,
                          [{"frequency": 30, "retention": 90}])  # fmt: skip
    assert _policy(own_env, h, policy_id)["rules"] == [
        _expected_rule(only["object_id"], 0, frequency=30, retention=90, max_backups=3)
    ]


def _rules_path(env: Env) -> tuple[dict[str, Any], str]:
    gold = _row(env, "policies", "Gold")
    return gold, f"/api/policies/{gold['id']}/rules"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"frequency": 60, "retention": 60}, "the body must be a JSON array of rules, not an object"),
        ("null", "the body must be a JSON array of rules, not null"),
        ([], "the body must name at least one rule"),
        ([{"frequency": 60, "retention": 60}, 7], "rule 1: must be a JSON object, not a number"),
        ([{"retention": 60}], "rule 0: frequency: Field required"),
        ([{"frequency": 60}], "rule 0: retention: Field required"),
        ([{"frequency": "often", "retention": 60}], "rule 0: frequency: must be a whole number of minutes, got 'often'"),
        ([{"frequency": 0, "retention": 60}], "rule 0: frequency: must be between 1 and 1440 minutes, got 0"),
        ([{"frequency": 60, "retention": 60}, {"frequency": 2880, "retention": 2880}],
         "rule 1: frequency: must be between 1 and 1440 minutes, got 2880"),
        ([{"frequency": 60, "retention": 59}],
         "rule 0: retention: must be at least the frequency (60 minutes): each backup would expire before the "
         "next is taken, got 59"),
        ([{"frequency": 60, "retention": 60, "days": "Mon,Someday"},],
         "rule 0: days: unknown day 'someday' in 'Mon,Someday' (use All, weekdays like Mon,Wed,Fri, month days "
         "like 1,15, or last)"),
        ([{"frequency": 60, "retention": 60, "start_time": "24:00"}],
         "rule 0: start_time: expected a time HH:MM, got '24:00'"),
        ([{"frequency": 60, "retention": 60, "consistency_type": "SNAPSHOT"}],
         "rule 0: consistency_type: must be one of NONE, DEFAULT, FAILEDVSS, NOT_APPLICABLE, VSS, got 'SNAPSHOT'"),
        ([{"frequency": 60, "retention": 60, "application_consistent": 1}],
         "rule 0: application_consistent: must be true or false, got 1"),
        ([{"frequency": 60, "retention": 60, "destination_id": "nope"}],
         "rule 0: destination_id: no omnistack_cluster has id 'nope'"),
        ([{"frequency": 60, "retention": 60, "external_store_name": "nope"}],
         "rule 0: external_store_name: no external_store is named 'nope'"),
        ([{"frequency": 60, "retention": 60}] * 14,
         "a policy can have at most 16 rules; this change would give it 17"),
    ],
)  # fmt: skip
def test_create_rules_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    gold, path = _rules_path(env)
    resp = _send(env, "POST", path, admin, body)
    assert (resp.status_code, resp.json()) == (400, _invalid(path, f"Invalid body: {message}"))
    assert _policy(env, admin, gold["id"])["rules"] == gold["rules"]


def test_create_rules_refusals(env: Env, admin: dict[str, str]) -> None:
    gold, path = _rules_path(env)
    rule = [{"frequency": 60, "retention": 60}]
    resp = _send(env, "POST", f"{path}?replace_all_rules=maybe", admin, rule)
    assert (resp.status_code, resp.json()) == (400, _error(
        path, PKG + "TypeMismatchException",
        "Invalid value 'maybe' for parameter 'replace_all_rules': expected true or false",
    ))  # fmt: skip
    resp = _send(env, "POST", path, admin, rule, {"Content-Type": "application/vnd.simplivity.v1+json"})
    assert (resp.status_code, resp.json()) == (415, _error(
        path, "org.springframework.web.HttpMediaTypeNotSupportedException",
        "Content type 'application/vnd.simplivity.v1+json' not supported", 415,
    ))  # fmt: skip
    resp = _send(env, "POST", "/api/policies/nope/rules", admin, rule)
    assert (resp.status_code, resp.json()) == (404, _not_found("/api/policies/nope/rules", "policy", "nope"))
    resp = _send(env, "POST", path, admin, "")
    assert (resp.status_code, resp.json()) == (
        400,
        _invalid(path, "Invalid body: a JSON request body is required"),
    )
    assert _policy(env, admin, gold["id"])["rules"] == gold["rules"]


def test_create_rules_fail_at_run_time(own_env: Env) -> None:
    h = own_env.headers()
    policy_id = _new_policy(own_env, h, "Nearly-full", [{"frequency": 60, "retention": 60}] * 15)
    path = f"/api/policies/{policy_id}/rules"
    first, second = (_queue(own_env, "POST", path, h, [{"frequency": 60, "retention": 60}]) for _ in range(2))
    assert _poll(own_env, h, first)["state"] == "COMPLETED"
    task = _poll(own_env, h, second)
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 30, "a policy can have at most 16 rules; this change would give it 17",
    )  # fmt: skip
    assert len(_policy(own_env, h, policy_id)["rules"]) == 16
    # A destination that went away while the task waited.
    store = own_env.federation.rows["external_stores"][0]["name"]
    task_id = _queue(own_env, "POST", f"{path}?replace_all_rules=true", h,
                     [{"frequency": 1440, "retention": 1440, "external_store_name": store}])  # fmt: skip
    _sql(own_env, "DELETE FROM external_stores WHERE name = ?", store)
    task = _poll(own_env, h, task_id)
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 142, f"rule 0: external_store_name: no external_store is named '{store}'",
    )  # fmt: skip
    assert len(_policy(own_env, h, policy_id)["rules"]) == 16


def test_update_rule(own_env: Env) -> None:
    h = own_env.headers()
    gold = _row(own_env, "policies", "Gold")
    rule = gold["rules"][1]
    path = f"/api/policies/{gold['id']}/rules/{rule['id']}"
    affected = completed(own_env, "PUT", path, h, {"start_time": "20:30", "end_time": "23:00"})
    assert affected == [{"object_id": gold["id"], "object_type": "policy"},
                        {"object_id": rule["id"], "object_type": "rule"}]  # fmt: skip
    current = _get(own_env, h, path)["rule"]
    assert current == {**rule, "start_time": "20:30", "end_time": "23:00"}
    # A whole rule sent back, as read, with changes: server-side fields are ignored.
    sent = {**current, "frequency": "720", "retention": 2880, "days": "sat,sun", "max_backups": 99, "number": 5,
            "id": "other", "destination_name": "x"}  # fmt: skip
    completed(own_env, "PUT", path, h, sent)
    changed = {**current, "frequency": 720, "retention": 2880, "days": "Sat,Sun", "max_backups": 4}
    after = _policy(own_env, h, gold["id"])["rules"]
    assert after == [gold["rules"][0], changed, *gold["rules"][2:]]


def test_update_rule_refusals(env: Env, admin: dict[str, str]) -> None:
    gold = _row(env, "policies", "Gold")
    rule = next(r for r in gold["rules"] if r["destination_id"])
    path = f"/api/policies/{gold['id']}/rules/{rule['id']}"
    cannot = "the destination of an existing rule cannot change; delete the rule and create a new one"
    for body, message in [
        ("null", "the body must be a JSON object, not null"),
        ([{"frequency": 60}], "the body must be a JSON object, not an array"),
        ({"destination_id": ""}, f"destination_id: {cannot}"),
        ({"external_store_name": "StoreOnce-01"}, f"external_store_name: {cannot}"),
        ({"frequency": 0}, "frequency: must be between 1 and 1440 minutes, got 0"),
        ({"retention": 1}, "retention: must be at least the frequency (1440 minutes): each backup would expire "
                           "before the next is taken, got 1"),
        ({"days": "weekends"}, "days: unknown day 'weekends' in 'weekends' (use All, weekdays like Mon,Wed,Fri, "
                               "month days like 1,15, or last)"),
    ]:  # fmt: skip
        resp = _send(env, "PUT", path, admin, body)
        assert (resp.status_code, resp.json()) == (400, _invalid(path, f"Invalid body: {message}")), body
    resp = _send(env, "PUT", path, admin, {"frequency": 60}, {"Content-Type": "application/json"})
    assert resp.status_code == 415
    bad = f"/api/policies/{gold['id']}/rules/nope"
    resp = _send(env, "PUT", bad, admin, {"frequency": 60})
    assert (resp.status_code, resp.json()) == (404, _not_found(bad, "rule", "nope"))
    bad = f"/api/policies/nope/rules/{rule['id']}"
    resp = _send(env, "PUT", bad, admin, {"frequency": 60})
    assert (resp.status_code, resp.json()) == (404, _not_found(bad, "policy", "nope"))
    assert _policy(env, admin, gold["id"])["rules"] == gold["rules"]


def test_update_rule_fails_when_the_rule_went(own_env: Env) -> None:
    h = own_env.headers()
    gold = _row(own_env, "policies", "Gold")
    rule_id = gold["rules"][0]["id"]
    path = f"/api/policies/{gold['id']}/rules/{rule_id}"
    deleting = _queue(own_env, "DELETE", path, h)
    editing = _queue(own_env, "PUT", path, h, {"frequency": 120})
    assert _poll(own_env, h, deleting)["state"] == "COMPLETED"
    task = _poll(own_env, h, editing)
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 20, f"Object type: rule id: {rule_id} could not be found",
    )  # fmt: skip
    assert [r["id"] for r in _policy(own_env, h, gold["id"])["rules"]] == [r["id"] for r in gold["rules"][1:]]


def test_delete_rule_renumbers(own_env: Env) -> None:
    h = own_env.headers()
    gold = _row(own_env, "policies", "Gold")
    gone = gold["rules"][0]
    path = f"/api/policies/{gold['id']}/rules/{gone['id']}"
    assert completed(own_env, "DELETE", path, h, {}) == [
        {"object_id": gold["id"], "object_type": "policy"}, {"object_id": gone["id"], "object_type": "rule"},
    ]  # fmt: skip
    assert _policy(own_env, h, gold["id"])["rules"] == [
        {**r, "number": n} for n, r in enumerate(gold["rules"][1:])
    ]
    resp = own_env.client.get(path, headers=h)
    assert (resp.status_code, resp.json()) == (404, _not_found(path, "rule", gone["id"]))
    resp = own_env.client.delete(path, headers=h)
    assert (resp.status_code, resp.json()) == (404, _not_found(path, "rule", gone["id"]))


# ---------------------------------------------------------------------------------- suspend/resume


def _enabled(env: Env, headers: dict[str, str]) -> dict[str, bool]:
    hosts = _get(env, headers, "/api/hosts?limit=5000")["hosts"]
    return {h["id"]: h["policy_enabled"] for h in hosts}


def test_suspend_and_resume(own_env: Env) -> None:
    h = own_env.headers()
    rows = own_env.federation.rows
    every = sorted(host["id"] for host in rows["hosts"])
    affected = completed(own_env, "POST", "/api/policies/suspend", h, {"target_object_type": "federation"})
    assert sorted(a["object_id"] for a in affected) == every and {a["object_type"] for a in affected} == {
        "host"
    }
    assert set(_enabled(own_env, h).values()) == {False}
    boston = _row(own_env, "omnistack_clusters", "Boston")
    completed(own_env, "POST", "/api/policies/resume", h,
              {"target_object_type": "omnistack_cluster", "target_object_id": boston["id"]})  # fmt: skip
    assert _enabled(own_env, h) == {host: host in boston["members"] for host in every}
    other = next(host for host in every if host not in boston["members"])
    assert completed(own_env, "POST", "/api/policies/resume", h,
                     {"target_object_type": "host", "target_object_id": other}) == [
        {"object_id": other, "object_type": "host"}
    ]  # fmt: skip
    assert _enabled(own_env, h)[other] is True
    group = rows["cluster_groups"][0]
    completed(own_env, "POST", "/api/policies/suspend", h,
              {"target_object_type": "cluster_group", "target_object_id": group["id"]})  # fmt: skip
    in_group = {m for c in rows["omnistack_clusters"] if c["id"] in group["clusters"] for m in c["members"]}
    assert _enabled(own_env, h) == {host: host not in in_group for host in every}
    completed(
        own_env,
        "POST",
        "/api/policies/resume",
        h,
        {"target_object_type": "federation", "target_object_id": ""},
    )
    assert set(_enabled(own_env, h).values()) == {True}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "Invalid body: target_object_type: Field required"),
        ({"target_object_type": "datastore", "target_object_id": "x"}, 400,
         "Invalid body: target_object_type: must be one of host, omnistack_cluster, cluster_group, federation, "
         "got 'datastore'"),
        ({"target_object_type": 3}, 400, "Invalid body: target_object_type: Input should be a valid string"),
        ({"target_object_type": "host"}, 400, "Invalid body: target_object_id: Field required for a host"),
        ({"target_object_type": "omnistack_cluster", "target_object_id": " "}, 400,
         "Invalid body: target_object_id: Field required for a omnistack_cluster"),
        ("null", 400, NOT_A_DICT),
        ([{"target_object_type": "federation"}], 400, NOT_A_DICT),
        ({"target_object_type": "host", "target_object_id": "nope"}, 404,
         "Object type: host id: nope could not be found"),
        ({"target_object_type": "omnistack_cluster", "target_object_id": "nope"}, 404,
         "Object type: omnistack_cluster id: nope could not be found"),
        ({"target_object_type": "cluster_group", "target_object_id": "nope"}, 404,
         "Object type: cluster_group id: nope could not be found"),
    ],
)  # fmt: skip
def test_suspend_bad_bodies(env: Env, admin: dict[str, str], body: Any, status: int, message: str) -> None:
    for action in ("suspend", "resume"):
        path = f"/api/policies/{action}"
        resp = _send(env, "POST", path, admin, body)
        exception = PKG + ("InvalidBodyException" if status == 400 else "ObjectNotFoundException")
        assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status))
    assert set(_enabled(env, admin).values()) == {True}


# ---------------------------------------------------------------------------------- impact reports


def _report(env: Env, rules: Mapping[str, list[dict[str, Any]]] | None = None,
            moved: Mapping[str, int] | None = None) -> dict[str, int]:  # fmt: skip
    """The federation's schedule report from the generated rows, with changes made in memory."""
    rows = env.federation.rows
    # The schedule backs up live persistent volumes as it does live VMs.
    counts = Counter(
        v["policy_id"]
        for v in (*rows["virtual_machines"], *rows["persistent_volumes"])
        if v["state"] == "ALIVE"
    )
    counts.update(moved or {})
    loads = [PolicyLoad.from_records((rules or {}).get(p["id"], p["rules"]), counts[p["id"]])
             for p in rows["policies"] if counts[p["id"]]]  # fmt: skip
    return schedule_report(loads, sum(1 for h in rows["hosts"] if h["state"] != "REMOVED")).as_dict()


def _impact(env: Env, headers: dict[str, str], path: str, body: Any) -> dict[str, Any]:
    resp = _send(env, "POST", path, headers, body, V19)
    assert resp.status_code == 200, resp.text
    report: dict[str, Any] = resp.json()
    return report


def test_impact_of_creating_rules(env: Env, admin: dict[str, str]) -> None:
    before = _report(env)
    assert before == _get(env, admin, "/api/policies/policy_schedule_report")
    gold = _row(env, "policies", "Gold")
    path = f"/api/policies/{gold['id']}/impact_report/create_rules"
    hourly = {"frequency": 60, "retention": 1440, "max_backups": 24}
    report = _impact(
        env, admin, f"{path}?replace_all_rules=false", [{"frequency": "60", "retention": "1440"}]
    )
    assert report == {"schedule_before_change": before,
                      "schedule_after_change": _report(env, {gold["id"]: [*gold["rules"], hourly]})}  # fmt: skip
    gold_users = sum(_usage(env, gold["id"])[1:])  # its live VMs and volumes
    after = report["schedule_after_change"]["daily_backup_rate"]
    assert after == before["daily_backup_rate"] + 24 * gold_users
    report = _impact(env, admin, f"{path}?replace_all_rules=True", [hourly])
    assert report["schedule_after_change"] == _report(env, {gold["id"]: [hourly]})
    assert _policy(env, admin, gold["id"])["rules"] == gold["rules"]


def test_impact_of_editing_rules(env: Env, admin: dict[str, str]) -> None:
    gold = _row(env, "policies", "Gold")
    first, *rest = gold["rules"]
    path = f"/api/policies/{gold['id']}/impact_report/edit_rules"
    daily = {**first, "frequency": 1440, "retention": 2880, "max_backups": 2}
    report = _impact(env, admin, path, [{"rule_id": first["id"], "frequency": 1440, "retention": 2880}])
    assert report == {"schedule_before_change": _report(env),
                      "schedule_after_change": _report(env, {gold["id"]: [daily, *rest]})}  # fmt: skip
    report = _impact(env, admin, f"{path}?replace_all_rules=true", [{"rule_id": first["id"]}])
    assert report["schedule_after_change"] == _report(env, {gold["id"]: [first]})
    assert _policy(env, admin, gold["id"])["rules"] == gold["rules"]


def test_impact_of_deleting_a_rule(env: Env, admin: dict[str, str]) -> None:
    gold = _row(env, "policies", "Gold")
    first, *rest = gold["rules"]
    path = f"/api/policies/{gold['id']}/rules/{first['id']}/impact_report/delete_rule"
    bodies: list[Any] = ["null", None, {}]  # the SDK sends null; the body is not read
    for body in bodies:
        report = _impact(env, admin, path, body)
        assert report == {"schedule_before_change": _report(env),
                          "schedule_after_change": _report(env, {gold["id"]: rest})}  # fmt: skip
    assert _policy(env, admin, gold["id"])["rules"] == gold["rules"]


def test_impact_of_applying_a_policy(env: Env, admin: dict[str, str]) -> None:
    gold, default = _row(env, "policies", "Gold"), _row(env, "policies", "Default")
    vms = [
        v
        for v in env.federation.rows["virtual_machines"]
        if v["policy_id"] == gold["id"] and v["state"] == "ALIVE"
    ]
    deleted = next(v for v in env.federation.rows["virtual_machines"] if v["state"] != "ALIVE")
    ids = [v["id"] for v in vms[:3]] + [deleted["id"], vms[0]["id"]]
    path = "/api/virtual_machines/policy_impact_report/apply_policy"
    report = _impact(env, admin, path, {"virtual_machine_id": ids, "policy_id": default["id"]})
    assert report == {"schedule_before_change": _report(env),
                      "schedule_after_change": _report(env, moved={gold["id"]: -3, default["id"]: 3})}  # fmt: skip
    assert (
        report["schedule_after_change"]["daily_backup_rate"]
        < report["schedule_before_change"]["daily_backup_rate"]
    )
    same = _impact(env, admin, path, {"virtual_machine_id": ids[:3], "policy_id": gold["id"]})
    assert same["schedule_after_change"] == same["schedule_before_change"]
    assert (
        _get(env, admin, f"/api/virtual_machines/{vms[0]['id']}")["virtual_machine"]["policy_id"]
        == gold["id"]
    )


def test_impact_report_refusals(env: Env, admin: dict[str, str]) -> None:
    gold = _row(env, "policies", "Gold")
    rule = gold["rules"][0]
    create = f"/api/policies/{gold['id']}/impact_report/create_rules"
    edit = f"/api/policies/{gold['id']}/impact_report/edit_rules"
    delete = f"/api/policies/{gold['id']}/rules/{rule['id']}/impact_report/delete_rule"
    apply = "/api/virtual_machines/policy_impact_report/apply_policy"
    vm = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "ALIVE")
    cases: list[tuple[str, Any, int, dict[str, Any]]] = [
        (create, {"frequency": 60, "retention": 60}, 400,
         _invalid(create, "Invalid body: the body must be a JSON array of rules, not an object")),
        (create, [{"frequency": 60, "retention": 6}], 400, _invalid(
            create, "Invalid body: rule 0: retention: must be at least the frequency (60 minutes): each backup "
                    "would expire before the next is taken, got 6")),
        ("/api/policies/nope/impact_report/create_rules", [{"frequency": 60, "retention": 60}], 404,
         _not_found("/api/policies/nope/impact_report/create_rules", "policy", "nope")),
        (edit, [{"frequency": 60}], 400, _invalid(edit, "Invalid body: rule 0: rule_id: Field required")),
        (edit, [{"rule_id": "nope", "frequency": 60}], 404, _not_found(edit, "rule", "nope")),
        (edit, [{"rule_id": rule["id"], "destination_id": "x"}], 400, _invalid(
            edit, "Invalid body: rule 0: destination_id: the destination of an existing rule cannot change; "
                  "delete the rule and create a new one")),
        (f"/api/policies/{gold['id']}/rules/nope/impact_report/delete_rule", None, 404,
         _not_found(f"/api/policies/{gold['id']}/rules/nope/impact_report/delete_rule", "rule", "nope")),
        (apply, {"virtual_machine_id": [], "policy_id": gold["id"]}, 400, _invalid(
            apply, "Invalid body: Specify a virtual_machine_id key/value to set a policy for virtual_machine "
                   "instances.")),
        (apply, {"virtual_machine_id": ["nope"], "policy_id": gold["id"]}, 404,
         _not_found(apply, "virtual_machine", "nope")),
        (apply, {"virtual_machine_id": [vm["id"]], "policy_id": "nope"}, 404, _not_found(apply, "policy", "nope")),
        (apply, {"virtual_machine_id": vm["id"], "policy_id": gold["id"]}, 400,
         _invalid(apply, "Invalid body: virtual_machine_id: Input should be a valid list")),
        (apply, "null", 400, _invalid(apply, NOT_A_DICT)),
    ]  # fmt: skip
    for path, body, status, expected in cases:
        resp = _send(env, "POST", path, admin, body, V19)
        assert (resp.status_code, resp.json()) == (status, expected), (path, body)
    for path in (create, edit, delete, apply):
        resp = _send(env, "POST", path, admin, "null", media("1.8"))
        assert (resp.status_code, resp.json()["message"]) == (
            415,
            "Content type 'application/vnd.simplivity.v1.8+json' not supported",
        )


# --------------------------------------------------------------------------------------- read-only


def test_read_only_users_change_nothing(env: Env) -> None:
    headers = env.headers(READER)
    gold = _row(env, "policies", "Gold")
    rule = gold["rules"][0]["id"]
    message = f"User {READER[0]} has a read-only role and may not perform this operation"
    for method, path, body in [
        ("POST", "/api/policies", {"name": "Mine"}),
        ("POST", f"/api/policies/{gold['id']}/rename", {"name": "Mine"}),
        ("DELETE", f"/api/policies/{gold['id']}", None),
        ("POST", f"/api/policies/{gold['id']}/rules", [{"frequency": 60, "retention": 60}]),
        ("PUT", f"/api/policies/{gold['id']}/rules/{rule}", {"frequency": 60}),
        ("DELETE", f"/api/policies/{gold['id']}/rules/{rule}", None),
        ("POST", "/api/policies/suspend", {"target_object_type": "federation"}),
        ("POST", "/api/policies/resume", {"target_object_type": "federation"}),
    ]:
        resp = _send(env, method, path, headers, body)
        assert (resp.status_code, resp.json()) == (
            403,
            _error(path, PKG + "PermissionDeniedException", message, 403),
        )
    assert _policy(env, headers, gold["id"]) == _policy(env, env.headers(), gold["id"])
    assert _policy(env, headers, gold["id"])["name"] == "Gold"
