"""Persistent volumes in the store, on SQLite and PostgreSQL: their table, their writes, and the policy
usage that counts them with the VMs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from openovc.domain.catalog import PERSISTENT_VOLUMES, VIRTUAL_MACHINES
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import load_federation
from openovc.storage.metrics_reads import SqlMetricsReader
from openovc.storage.operations_store import SqlOperationsStore
from openovc.storage.repositories import SqlFederationReader
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START


@pytest.mark.parametrize("backend", BACKENDS)
def test_volumes_are_stored_written_and_counted_by_their_policy(backend: str, tmp_path: Path) -> None:
    federation = generate(FederationSpec.demo(), START)
    rows = federation.rows
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            load_federation(engine, federation)
            reader = SqlFederationReader(engine)
            stored = {pv["id"]: pv for pv in reader.find(PERSISTENT_VOLUMES)}
            assert set(stored) == {pv["id"] for pv in rows["persistent_volumes"]}

            def usage() -> dict[str, int]:
                return {
                    u.policy_id: u.vm_count for u in SqlMetricsReader(engine).policy_usage() if u.vm_count
                }

            alive = [
                v for v in (*rows["virtual_machines"], *rows["persistent_volumes"]) if v["state"] == "ALIVE"
            ]
            assert usage() == dict(Counter(str(v["policy_id"]) for v in alive))
            # A volume moved to another policy counts there, and only once.
            pv = next(v for v in rows["persistent_volumes"] if v["state"] == "ALIVE")
            policy = next(p for p in rows["policies"] if p["id"] != pv["policy_id"])
            with SqlOperationsStore(engine).changing() as (txn, _):
                txn.update(
                    PERSISTENT_VOLUMES, pv["id"], {"policy_id": policy["id"], "policy_name": policy["name"]}
                )
            after = usage()
            before = dict(Counter(str(v["policy_id"]) for v in alive))
            assert after[str(policy["id"])] == before.get(str(policy["id"]), 0) + 1
            assert after.get(str(pv["policy_id"]), 0) == before[str(pv["policy_id"])] - 1
            found = reader.find(PERSISTENT_VOLUMES, policy_id=str(policy["id"]), state="ALIVE")
            assert [v["id"] for v in found if v["id"] == pv["id"]] == [pv["id"]]
            # A cluster's scope counts only its own volumes and VMs.
            cluster = str(pv["omnistack_cluster_id"])
            scoped = {
                u.policy_id: u.vm_count
                for u in SqlMetricsReader(engine).policy_usage([cluster])
                if u.vm_count
            }
            assert sum(scoped.values()) == sum(
                1 for coll in (VIRTUAL_MACHINES, PERSISTENT_VOLUMES)
                for v in reader.find(coll, omnistack_cluster_id=cluster, state="ALIVE")
            )  # fmt: skip
        finally:
            engine.dispose()
