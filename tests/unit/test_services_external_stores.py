"""services/external_stores.py against the in-memory fakes: register, update credentials, unregister."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher

from openovc.domain.catalog import BACKUPS, EXTERNAL_STORES, OMNISTACK_CLUSTERS, POLICIES
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.ports.federation import Record
from openovc.services import external_stores
from openovc.services.auth import verify_password
from tests.support.fakes import Ended, Services

SECRET = "Catalyst-s3cret!"
STORE = "external_store"
# Real argon2 hashes, made cheap for tests: a hash carries its parameters, so verify_password checks it.
_QUICK = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def s(monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setattr(external_stores, "hash_password", _QUICK.hash)
    return Services.start(external_stores)


def _cluster(s: Services, name: str = "Boston") -> Record:
    return s.federation.named(OMNISTACK_CLUSTERS, name)


def _register(s: Services, name: str = "StoreOnce-02", **changes: Any) -> Record:
    args: dict[str, Any] = {
        "name": name, "management_ip": "10.1.40.20", "cluster_id": _cluster(s)["id"], "username": "svt-client",
        "password": SECRET, "management_port": 9387, "storage_port": 9388, "store_type": "StoreOnceOnPrem",
    }  # fmt: skip
    args.update(changes)
    return external_stores.register(s.reader, s.tasks, **args)


def _credentials(s: Services, name: str) -> tuple[str, str] | None:
    with s.federation.reading() as state:
        found = state.store_credentials(name)
    return (found.username, found.password_hash) if found is not None else None


def _nothing_in_clear(s: Services, *secrets: str) -> None:
    """No password is kept in clear, in a task's payload or in the credentials kept."""
    kept = [str(task["payload"]) for task in s.store.tasks.values()]
    kept += [c.password_hash for c in s.federation.data.store_credentials.values()]
    for secret in secrets:
        assert not any(secret in text for text in kept)


# ---------------------------------------------------------------------------------------- register


def test_register(s: Services) -> None:
    cluster = _cluster(s)
    task = _register(s)
    assert (task["state"], task["operation"]) == ("QUEUED", "external_store.register")
    assert s.poll(task) == Ended("COMPLETED", affected=(("StoreOnce-02", STORE),))
    assert s.federation.row(EXTERNAL_STORES, "StoreOnce-02") == {
        "name": "StoreOnce-02", "management_ip": "10.1.40.20", "management_port": 9387, "storage_port": 9388,
        "omnistack_cluster_id": cluster["id"], "type": "StoreOnceOnPrem",
        "cluster_group_ids": cluster["cluster_group_ids"],
    }  # fmt: skip
    creds = _credentials(s, "StoreOnce-02")
    assert creds is not None and creds[0] == "svt-client" and verify_password(creds[1], SECRET)
    other = _cluster(s, "Sydney")
    task = _register(
        s,
        "cloud-1",
        cluster_id=other["id"],
        store_type="StoreOnceCloud",
        management_port=9390,
        storage_port=9391,
    )
    assert s.poll(task).state == "COMPLETED"
    cloud = s.federation.row(EXTERNAL_STORES, "cloud-1")
    assert (cloud["type"], cloud["management_port"], cloud["storage_port"], cloud["omnistack_cluster_id"]) == (
        "StoreOnceCloud", 9390, 9391, other["id"],
    )  # fmt: skip
    assert [row["name"] for row in s.reader.find(EXTERNAL_STORES, omnistack_cluster_id=other["id"])] == [
        "cloud-1"
    ]
    _nothing_in_clear(s, SECRET)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"management_ip": "10.1.40"}, "Invalid body: management_ip: '10.1.40' is not a valid IPv4 address"),
        ({"management_ip": "store.example.com"},
         "Invalid body: management_ip: 'store.example.com' is not a valid IPv4 address"),
        ({"management_port": 0}, "Invalid body: management_port: 0 is not a TCP port (1 to 65535)"),
        ({"storage_port": 70000}, "Invalid body: storage_port: 70000 is not a TCP port (1 to 65535)"),
        ({"name": "Store Once"},
         "Invalid body: The external store name contains characters that are not allowed: ' '."),
        ({"name": ""}, "Invalid body: The external store name must not be empty."),
        ({"username": ""}, "Invalid body: username: must not be empty"),
        ({"password": ""}, "Invalid body: password: must not be empty"),
    ],
)  # fmt: skip
def test_register_bad_arguments(s: Services, change: dict[str, Any], message: str) -> None:
    before = s.federation.snapshot()
    with pytest.raises(InvalidBody) as error:
        _register(s, **change)
    assert error.value.message == message
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_register_refusals(s: Services) -> None:
    before = s.federation.snapshot()
    with pytest.raises(TaskError) as refused:
        _register(s, "StoreOnce-01")
    assert (refused.value.error_code, refused.value.message) == ("13", "Duplicate name exists.")
    with pytest.raises(ObjectNotFound) as missing:
        _register(s, cluster_id="nope")
    assert missing.value.message == "Object type: omnistack_cluster id: nope could not be found"
    assert s.store.tasks == {} and s.federation.snapshot() == before
    assert _credentials(s, "StoreOnce-01") is None


def test_register_the_same_name_twice_at_once(s: Services) -> None:
    s.run_on_poll()
    first, second = _register(s), _register(s, management_ip="10.1.40.99", username="late")
    assert s.poll(first).state == "COMPLETED"
    before = s.federation.snapshot()
    creds = _credentials(s, "StoreOnce-02")
    assert s.poll(second) == Ended("FAILED", 13, "Duplicate name exists.")
    # Nothing of the failed task stays: neither the store nor its credentials.
    assert s.federation.snapshot() == before and _credentials(s, "StoreOnce-02") == creds
    assert s.federation.row(EXTERNAL_STORES, "StoreOnce-02")["management_ip"] == "10.1.40.20"


# ------------------------------------------------------------------------------ update credentials


def test_update_credentials(s: Services) -> None:
    before = s.federation.row(EXTERNAL_STORES, "StoreOnce-01")
    task = external_stores.update_credentials(
        s.reader, s.tasks, name="StoreOnce-01", username="svt2", password=SECRET, management_ip=None
    )
    assert s.poll(task) == Ended("COMPLETED", affected=(("StoreOnce-01", STORE),))
    assert s.federation.row(EXTERNAL_STORES, "StoreOnce-01") == before  # the address stays when none is given
    creds = _credentials(s, "StoreOnce-01")
    assert creds is not None and creds[0] == "svt2" and verify_password(creds[1], SECRET)
    task = external_stores.update_credentials(
        s.reader,
        s.tasks,
        name="StoreOnce-01",
        username="svt3",
        password="other-pass",
        management_ip="10.1.40.77",
    )
    assert s.poll(task).state == "COMPLETED"
    assert s.federation.row(EXTERNAL_STORES, "StoreOnce-01") == {**before, "management_ip": "10.1.40.77"}
    creds = _credentials(s, "StoreOnce-01")
    assert creds is not None and creds[0] == "svt3" and verify_password(creds[1], "other-pass")
    _nothing_in_clear(s, SECRET, "other-pass")


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"management_ip": "300.1.1.1"}, InvalidBody,
         "Invalid body: management_ip: '300.1.1.1' is not a valid IPv4 address"),
        ({"username": ""}, InvalidBody, "Invalid body: username: must not be empty"),
        ({"password": ""}, InvalidBody, "Invalid body: password: must not be empty"),
        ({"name": "nope"}, ObjectNotFound, "Object type: external_store id: nope could not be found"),
    ],
)  # fmt: skip
def test_update_credentials_refusals(
    s: Services, args: dict[str, Any], error: type[Exception], message: str
) -> None:
    given = {"name": "StoreOnce-01", "username": "u", "password": "p", "management_ip": None, **args}
    with pytest.raises(error) as refused:
        external_stores.update_credentials(s.reader, s.tasks, **given)
    assert str(refused.value) == message
    assert s.store.tasks == {} and _credentials(s, "StoreOnce-01") is None


# -------------------------------------------------------------------------------------- unregister


def test_unregister_frees_the_name(s: Services) -> None:
    cluster = _cluster(s)["id"]
    s.poll(_register(s))
    task = external_stores.unregister(s.reader, s.tasks, name="StoreOnce-02", cluster_id=cluster)
    assert s.poll(task) == Ended("COMPLETED", affected=(("StoreOnce-02", STORE),))
    assert [row["name"] for row in s.federation.rows(EXTERNAL_STORES)] == ["StoreOnce-01"]
    assert _credentials(s, "StoreOnce-02") is None
    assert s.poll(_register(s)).state == "COMPLETED"


def test_unregister_refuses_a_store_that_rules_use(s: Services) -> None:
    cluster = _cluster(s)["id"]
    users = sorted(
        p["name"]
        for p in s.federation.rows(POLICIES)
        if any(r["external_store_name"] == "StoreOnce-01" for r in p["rules"])
    )
    assert users
    with pytest.raises(TaskError) as refused:
        external_stores.unregister(s.reader, s.tasks, name="StoreOnce-01", cluster_id=cluster)
    assert (refused.value.error_code, refused.value.message) == (
        "40",
        f"External store StoreOnce-01 is the destination of backup rules of policy {', '.join(users)}; "
        "remove those rules before unregistering it.",
    )
    assert s.store.tasks == {}


def test_unregister_fails_when_a_rule_came_to_use_it(s: Services) -> None:
    cluster = _cluster(s)["id"]
    s.poll(_register(s))
    s.run_on_poll()
    task = external_stores.unregister(s.reader, s.tasks, name="StoreOnce-02", cluster_id=cluster)
    policy = s.federation.named(POLICIES, "Silver")
    rules = [*policy["rules"], {**policy["rules"][0], "id": "r-new", "external_store_name": "StoreOnce-02"}]
    with s.federation.writing() as txn:
        txn.update(POLICIES, policy["id"], {"rules": rules})
    before, creds = s.federation.snapshot(), _credentials(s, "StoreOnce-02")
    assert s.poll(task) == Ended(
        "FAILED",
        40,
        "External store StoreOnce-02 is the destination of backup rules of policy Silver; "
        "remove those rules before unregistering it.",
    )
    assert creds is not None
    assert s.federation.snapshot() == before and _credentials(s, "StoreOnce-02") == creds


def test_unregister_refusals(s: Services) -> None:
    other = _cluster(s, "Sydney")["id"]
    with pytest.raises(TaskError) as refused:
        external_stores.unregister(s.reader, s.tasks, name="StoreOnce-01", cluster_id=other)
    assert (refused.value.error_code, refused.value.message) == (
        "30",
        f"External store StoreOnce-01 is not registered with omnistack_cluster {other}.",
    )
    for name, cluster, message in [
        ("nope", other, "Object type: external_store id: nope could not be found"),
        ("StoreOnce-01", "nope", "Object type: omnistack_cluster id: nope could not be found"),
    ]:
        with pytest.raises(ObjectNotFound) as missing:
            external_stores.unregister(s.reader, s.tasks, name=name, cluster_id=cluster)
        assert missing.value.message == message
    assert s.store.tasks == {}


def test_unregister_twice(s: Services) -> None:
    cluster = _cluster(s)["id"]
    s.poll(_register(s))
    s.run_on_poll()
    first, second = (
        external_stores.unregister(s.reader, s.tasks, name="StoreOnce-02", cluster_id=cluster)
        for _ in range(2)
    )
    assert s.poll(first).state == "COMPLETED"
    assert s.poll(second) == Ended(
        "FAILED", 20, "Object type: external_store id: StoreOnce-02 could not be found"
    )


def test_backups_kept_in_a_store_do_not_hold_it(s: Services) -> None:
    cluster = _cluster(s)["id"]
    s.poll(_register(s))
    backup = s.federation.rows(BACKUPS)[0]
    with s.federation.writing() as txn:
        txn.update(BACKUPS, backup["id"], {"external_store_name": "StoreOnce-02"})
    task = external_stores.unregister(s.reader, s.tasks, name="StoreOnce-02", cluster_id=cluster)
    assert s.poll(task).state == "COMPLETED"
    assert s.federation.row(BACKUPS, backup["id"]) == {**backup, "external_store_name": "StoreOnce-02"}
