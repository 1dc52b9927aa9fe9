"""The in-memory fakes keep the ports' promises: atomic transactions, SQL's lookups, the task store's order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from openovc.domain.catalog import CLUSTER_GROUPS, DATASTORES, HOSTS, VIRTUAL_MACHINES
from openovc.domain.ports.federation import Txn
from openovc.domain.ports.operations import Shutdown, StoreCredentials
from openovc.domain.tasks import AffectedObject, Pacing, PacingMode, TaskFailure
from openovc.operations.engine import ORPHAN_MESSAGE
from openovc.simulator.content.ledger import Holder
from tests.support.fakes import (
    ConstraintViolation,
    Ended,
    MemoryFederation,
    Services,
    content_of,
)


def _rename(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    group = txn.get(CLUSTER_GROUPS, payload["id"])
    assert group is not None
    txn.update(CLUSTER_GROUPS, payload["id"], {"name": group["name"] + payload["suffix"]})
    txn.state().put_store_credentials(StoreCredentials(payload["suffix"], "u", "hash"))
    txn.before_commit("hook", lambda: txn.update(CLUSTER_GROUPS, payload["id"], {"clusters": ["hooked"]}))
    if payload.get("fail"):
        raise TaskFailure(77, "refused after writing")
    if payload.get("crash"):
        raise RuntimeError("bug")
    return [AffectedObject(payload["id"], "cluster_group")]


@pytest.fixture
def s() -> Services:
    services = Services.start(federation=MemoryFederation({"cluster_groups": [{"id": "g1", "name": "G"}]}))
    services.tasks.register("rename", _rename)
    return services


def _group(s: Services) -> dict[str, Any]:
    return s.federation.row(CLUSTER_GROUPS, "g1")


def test_a_task_commits_its_objects_state_and_hooks_together(s: Services) -> None:
    task = s.tasks.submit("rename", {"id": "g1", "suffix": "-a"}, ["g1"])
    assert s.poll(task) == Ended("COMPLETED", affected=(("g1", "cluster_group"),))
    assert _group(s) == {"id": "g1", "name": "G-a", "clusters": ["hooked"]}
    with s.federation.reading() as state:
        assert state.store_credentials("-a") == StoreCredentials("-a", "u", "hash")


@pytest.mark.parametrize(("flag", "code", "message"), [("fail", 77, "refused after writing"),
                                                       ("crash", 500, "An internal error occurred while running the task.")])  # fmt: skip
def test_a_failure_changes_nothing(s: Services, flag: str, code: int, message: str) -> None:
    before, commits = s.federation.snapshot(), s.federation.commits
    task = s.tasks.submit("rename", {"id": "g1", "suffix": "-f", flag: True}, ["g1"])
    assert s.poll(task) == Ended("FAILED", code, message)
    assert s.federation.snapshot() == before and s.federation.commits == commits
    with s.federation.reading() as state:
        assert state.store_credentials("-f") is None


def test_queued_tasks_run_in_order_on_their_objects(s: Services) -> None:
    s.pacing.default = Pacing(PacingMode.DURATION, seconds=5)
    slow = s.tasks.submit("rename", {"id": "g1", "suffix": "-1"}, ["g1", "x"])
    s.pacing.default = Pacing()
    waits = s.tasks.submit("rename", {"id": "g1", "suffix": "-2"}, ["x"])
    free = s.tasks.submit("rename", {"id": "g1", "suffix": "-3"}, ["y"])
    assert s.queued(slow) and s.queued(waits) and not s.queued(free)
    assert s.tasks.run_due() == 0
    s.clock.advance(timedelta(seconds=5))
    assert s.tasks.run_due() == 2
    assert _group(s)["name"] == "G-3-1-2"
    assert s.store.locks == {}


def test_the_tasks_of_a_dead_server_fail(s: Services) -> None:
    s.pacing.default = Pacing(PacingMode.DURATION, seconds=60)
    s.tasks.beat()
    task = s.tasks.submit("rename", {"id": "g1", "suffix": "-o"}, ["g1"])
    assert s.tasks.recover() == 0
    s.clock.advance(timedelta(seconds=30))
    assert s.tasks.recover() == 1
    assert s.poll(task) == Ended("FAILED", 500, ORPHAN_MESSAGE)
    assert _group(s)["name"] == "G" and s.store.fail(str(task["id"]), 1, "late", "x") is False


def test_lookups_are_sql_lookups() -> None:
    fed = MemoryFederation.generated()
    vm = fed.rows(VIRTUAL_MACHINES)[0]
    assert fed.find(VIRTUAL_MACHINES, deleted_at=None) == []  # `= NULL` matches nothing
    with fed.writing() as txn:
        assert (
            txn.find(VIRTUAL_MACHINES, deleted_at=None) == []
            and txn.count(VIRTUAL_MACHINES, deleted_at=None) == 0
        )
        assert txn.update_where(VIRTUAL_MACHINES, {"deleted_at": None}, {"name": "x"}) == 0
        with pytest.raises(KeyError):
            txn.find(VIRTUAL_MACHINES, colour="red")
        with pytest.raises(ConstraintViolation):
            txn.insert(VIRTUAL_MACHINES, {"id": vm["id"], "name": "twin"})
        # What a transaction hands out is a copy.
        found = txn.get(VIRTUAL_MACHINES, vm["id"])
        assert found is not None
        found["cluster_group_ids"].append("changed")
        assert txn.get(VIRTUAL_MACHINES, vm["id"]) == vm
    hosts = fed.find(HOSTS)
    assert [h["id"] for h in hosts] == sorted(h["id"] for h in hosts)
    assert fed.controller_host_id() == hosts[0]["id"]


def test_copies_are_independent() -> None:
    one, two = MemoryFederation.generated(), MemoryFederation.generated()
    ds = one.rows(DATASTORES)[0]
    with one.writing() as txn:
        txn.update(DATASTORES, ds["id"], {"name": "Renamed", "shares": []})
        txn.state().put_shutdown(Shutdown("h", "IN_PROGRESS", True, 0))
    assert one.row(DATASTORES, ds["id"])["name"] == "Renamed"
    assert two.row(DATASTORES, ds["id"]) == ds == MemoryFederation.generated().row(DATASTORES, ds["id"])
    with two.reading() as state:
        assert state.shutdown("h") is None


def test_the_content_ledger_changes_with_its_transaction() -> None:
    fed = MemoryFederation.generated()
    vm = next(v for v in fed.rows(VIRTUAL_MACHINES) if v["state"] == "ALIVE")
    holder = fed.ledger.holder(vm["id"])
    assert holder is not None
    with pytest.raises(TaskFailure), fed.writing() as txn:
        txn.content().ledger.drop_holder(vm["id"])
        assert content_of(txn) is txn.content()  # one model per transaction
        raise TaskFailure(1, "no")
    assert fed.ledger.holder(vm["id"]) == holder
    with fed.writing() as txn:
        ledger = txn.content().ledger
        ledger.save_holder(Holder("new", holder.place, holder.lineage, holder.version, "local"))
    assert fed.ledger.holder("new") == Holder("new", holder.place, holder.lineage, holder.version, "local")
    # Another federation copied from the same generated one does not see it.
    assert MemoryFederation.generated().ledger.holder("new") is None
