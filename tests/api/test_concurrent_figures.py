"""Operations that run side by side (object-scoped locks on PostgreSQL) keep every data figure exact."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from openovc.domain.timefmt import to_text
from openovc.services import backups, virtual_machines
from tests.support.content_check import checked_snapshot
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import Env, make_env

Row = dict[str, Any]
THREADS = 6
ROUNDS = 4


def _work(env: Env, me: int, vms: list[Row], doomed: list[str], clusters: list[str], ends: list[str]) -> None:
    """One client's mix: back up VMs here and to another cluster, delete old backups, clone VMs."""
    rt = env.runtime
    for i in range(ROUNDS):
        vm = vms[(me * ROUNDS + i) % len(vms)]
        remote = next(c for c in clusters if c != vm["omnistack_cluster_id"])
        made = [
            backups.backup_vm(rt.reader, rt.tasks, vm["id"], name=f"t{me}-{i}", cluster_id=None,
                              store_name=None, consistency="NONE", retention=0),
            backups.backup_vm(rt.reader, rt.tasks, vm["id"], name=f"r{me}-{i}", cluster_id=remote,
                              store_name=None, consistency="NONE", retention=0),
            backups.delete(rt.reader, rt.tasks, rt.simulator, [doomed[me * ROUNDS + i]]),
            virtual_machines.clone(rt.reader, rt.tasks, vm["id"], f"twin-{me}-{i}", "NONE"),
        ]  # fmt: skip
        for task in made:
            final = rt.tasks.poll(str(task["id"]))
            assert final is not None
            ends.append(f"{final['state']} {final.get('message') or ''}".strip())


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_backups_deletes_and_clones_keep_every_figure_exact(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        env = make_env(tmp_path, database_url=url, task_pacing="immediate")
        try:
            rows = env.federation.rows
            vms = [
                v
                for v in rows["virtual_machines"]
                if v["state"] == "ALIVE" and not v["hypervisor_is_template"]
            ]
            clusters = [str(c["id"]) for c in rows["omnistack_clusters"]]
            now = to_text(env.clock.now())
            doomed = [str(b["id"]) for b in rows["backups"] if b["state"] == "PROTECTED"
                      and not b["external_store_name"] and (b["expiration_time"] or "9") > now]  # fmt: skip
            doomed = doomed[: THREADS * ROUNDS]
            assert len(doomed) == THREADS * ROUNDS
            ends: list[str] = []
            errors: list[BaseException] = []

            def run(me: int) -> None:
                try:
                    _work(env, me, vms, doomed, clusters, ends)
                except BaseException as exc:  # reported below: a thread's failure must fail the test
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(me,)) for me in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert ends == ["COMPLETED"] * (THREADS * ROUNDS * 4)
            after = checked_snapshot(env, env.headers())
            names = {b["name"] for b in after["backups"]}
            assert {f"{k}{me}-{i}" for k in "tr" for me in range(THREADS) for i in range(ROUNDS)} <= names
            assert not {b["id"] for b in after["backups"]} & set(doomed)
        finally:
            env.runtime.storage.engine.dispose()
