"""Random sequences of operations over HTTP, with the clock moving: after each one, every host's,
cluster's, datastore's, VM's and backup's figure equals the brute force over the stored pieces."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openovc.app import chores
from openovc.simulator.federation import FederationSpec
from tests.support.content_check import mirror_of_store, mismatches
from tests.support.inprocess import Env, make_env
from tests.support.invariants import snapshot
from tests.support.tasks import media

Row = dict[str, Any]
SPEC = FederationSpec(
    clusters=2, hosts_per_cluster=2, datastores=3, vms=8, policies=2, backups=40, cluster_groups=1,
    external_stores=1, seed=7,
)  # fmt: skip
OPERATIONS = (
    "backup_local", "backup_remote", "backup_store", "clone", "copy", "restore_new", "restore_over",
    "delete_one", "delete_many", "set_retention", "advance", "calculate_unique_size", "power",
)  # fmt: skip
POWER_VERSION = "1.14"


class Session:
    """One federation driven over HTTP; `rows` is what the API showed after the last step."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.chores = chores(env.runtime)
        self.serial = 0
        self.log: list[str] = []
        self.rows = self.check()

    def headers(self) -> dict[str, str]:
        return self.env.headers()  # a new token each time: the clock moves past the old ones' idle time

    def check(self, measured: str | None = None) -> dict[str, list[Row]]:
        h = self.headers()

        def fetch(path: str, params: dict[str, str]) -> Any:
            resp = self.env.client.get(path, headers=h, params=params)
            assert resp.status_code == 200, resp.text
            return resp.json()

        rows = snapshot(fetch)
        mirror = mirror_of_store(self.env.runtime.storage.engine)
        assert mismatches(mirror, rows, unique_sizes=False) == [], self.log
        if measured is not None:
            backup = next(b for b in rows["backups"] if b["id"] == measured)
            assert backup["unique_size_bytes"] == mirror.unique_size(measured), self.log
        return rows

    def task(self, method: str, path: str, body: Any = None, version: str = "1.8") -> str:
        """Submit an operation; the state its task ended in (it runs at once), or the refusal's status."""
        h = self.headers()
        resp = self.env.client.request(method, path, headers={**h, **media(version)}, json=body)
        self.log.append(f"{method} {path} {body} -> {resp.status_code}")
        if resp.status_code != 202:
            assert resp.status_code in (200, 400, 404, 409, 413), resp.text
            return str(resp.status_code)
        task = self.env.client.get(f"/api/tasks/{resp.json()['task']['id']}", headers=h).json()["task"]
        assert task["state"] in ("COMPLETED", "FAILED"), task
        self.log[-1] += f" {task['state']} {task.get('error_message', '')}"
        return str(task["state"])

    def name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    # ---- what there is to work on ----

    def vms(self) -> list[Row]:
        return [
            v for v in self.rows["virtual_machines"] if v["state"] == "ALIVE" and not v["hypervisor_is_template"]
        ]  # fmt: skip

    def backups(self) -> list[Row]:
        return [b for b in self.rows["backups"] if b["state"] == "PROTECTED"]

    def other_cluster(self, cluster_id: str) -> str:
        return next(str(c["id"]) for c in self.rows["omnistack_clusters"] if c["id"] != cluster_id)

    def store_of(self, cluster_id: str) -> str | None:
        found = [s for s in self.rows["external_stores"] if s["omnistack_cluster_id"] == cluster_id]
        return str(found[0]["name"]) if found else None

    # ---- one step ----

    def step(self, op: str, pick: int, count: int) -> None:
        vms, backups = self.vms(), self.backups()
        vm = vms[pick % len(vms)] if vms else None
        backup = backups[pick % len(backups)] if backups else None
        measured = None
        if op.startswith("backup") and vm is not None:
            body: Row = {"backup_name": self.name("bk")}
            if op == "backup_remote":
                body["destination_id"] = self.other_cluster(str(vm["omnistack_cluster_id"]))
            elif op == "backup_store":
                store = self.store_of(str(vm["omnistack_cluster_id"]))
                if store is None:
                    return
                body["external_store_name"] = store
            self.task("POST", f"/api/virtual_machines/{vm['id']}/backup", body)
        elif op == "clone" and vm is not None:
            self.task(
                "POST", f"/api/virtual_machines/{vm['id']}/clone", {"virtual_machine_name": self.name("vm")}
            )
        elif op == "copy" and backup is not None:
            home = str(backup["associated_cluster"])
            store = self.store_of(home)
            if count % 2 and store is not None and not backup["external_store_name"]:
                self.task("POST", f"/api/backups/{backup['id']}/copy", {"external_store_name": store})
            else:
                there = str(backup["omnistack_cluster_id"] or home)
                self.task(
                    "POST", f"/api/backups/{backup['id']}/copy", {"destination_id": self.other_cluster(there)}
                )
        elif op == "restore_new" and backup is not None:
            body = {"virtual_machine_name": self.name("restored"), "datastore_id": backup["datastore_id"]}
            self.task("POST", f"/api/backups/{backup['id']}/restore", body)
        elif op == "restore_over" and backup is not None:
            self.task("POST", f"/api/backups/{backup['id']}/restore?restore_original=true", {})
        elif op == "delete_one" and backup is not None:
            self.task("DELETE", f"/api/backups/{backup['id']}")
        elif op == "delete_many" and backups:
            ids = [b["id"] for b in backups[pick % len(backups) :][: count + 1]]
            self.task("POST", "/api/backups/delete", {"backup_id": ids})
        elif op == "set_retention" and backups:
            ids = [b["id"] for b in backups[pick % len(backups) :][: count + 1]]
            self.task(
                "POST", "/api/backups/set_retention", {"backup_id": ids, "retention": 60, "force": True}
            )
        elif op == "advance":
            self.env.clock.advance(timedelta(hours=1 + 7 * count))
            while self.chores():  # as the worker's turns do, until one finds nothing to do
                pass
            self.log.append(f"advance {1 + 7 * count} h")
        elif op == "calculate_unique_size" and backup is not None:
            state = self.task("POST", f"/api/backups/{backup['id']}/calculate_unique_size")
            measured = str(backup["id"]) if state == "COMPLETED" else None
        elif op == "power" and vm is not None:
            to = "off" if vm["hypervisor_virtual_machine_power_state"] == "ON" else "on"
            self.task("POST", f"/api/virtual_machines/{vm['id']}/power_{to}", version=POWER_VERSION)
        else:
            return
        self.rows = self.check(measured)


STEP = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1000), st.integers(0, 3))


@settings(database=None, max_examples=6, deadline=None)
@given(steps=st.lists(STEP, min_size=4, max_size=10))
def test_every_figure_matches_the_pieces_after_each_step(steps: list[tuple[str, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as where:
        env = make_env(Path(where), spec=SPEC, task_pacing="immediate")
        try:
            session = Session(env)
            for op, pick, count in steps:
                session.step(op, pick, count)
        finally:
            env.runtime.storage.engine.dispose()


def test_a_long_seeded_sequence_matches_the_pieces_after_each_step(tmp_path: Path) -> None:
    """Every operation at least twice, the clock moving between them."""
    env = make_env(tmp_path, spec=SPEC, task_pacing="immediate")
    try:
        session = Session(env)
        for round_ in range(2):
            for i, op in enumerate(OPERATIONS):
                session.step(op, 17 * i + round_, (i + round_) % 4)
                if i % 4 == 3:
                    session.step("advance", 0, round_)
        done = [line for line in session.log if "COMPLETED" in line]
        assert len(done) >= len(OPERATIONS), session.log
    finally:
        env.runtime.storage.engine.dispose()
