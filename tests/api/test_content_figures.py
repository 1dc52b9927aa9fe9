"""Every data figure the API shows equals a brute-force recomputation from the stored pieces, after each operation."""

from __future__ import annotations

from typing import Any

from tests.support.content_check import checked_snapshot, mirror_of_store
from tests.support.inprocess import Env
from tests.support.tasks import completed

Row = dict[str, Any]


def _check(env: Env, h: dict[str, str], *, unique_sizes: bool = False) -> dict[str, list[Row]]:
    return checked_snapshot(env, h, unique_sizes=unique_sizes)


def _one(env: Env, h: dict[str, str], method: str, path: str, body: Any = None) -> str:
    (made,) = completed(env, method, path, h, body)
    return str(made["object_id"])


def test_the_generated_federation_matches_its_pieces(own_env: Env) -> None:
    _check(own_env, own_env.headers(), unique_sizes=True)


def test_every_figure_follows_each_operation(own_env: Env) -> None:
    h = own_env.headers()
    rows = _check(own_env, h)
    clusters = [c["id"] for c in rows["omnistack_clusters"]]
    vm = next(
        v for v in rows["virtual_machines"] if v["state"] == "ALIVE" and not v["hypervisor_is_template"]
    )
    other = next(c for c in clusters if c != vm["omnistack_cluster_id"])
    clone = _one(
        own_env, h, "POST", f"/api/virtual_machines/{vm['id']}/clone", {"virtual_machine_name": "twin"}
    )
    _check(own_env, h)
    local = _one(own_env, h, "POST", f"/api/virtual_machines/{clone}/backup", {"backup_name": "here"})
    _check(own_env, h, unique_sizes=True)
    remote = _one(own_env, h, "POST", f"/api/virtual_machines/{vm['id']}/backup",
                  {"backup_name": "there", "destination_id": other})  # fmt: skip
    _check(own_env, h)
    copy = _one(own_env, h, "POST", f"/api/backups/{local}/copy", {"destination_id": other})
    _check(own_env, h)
    _one(own_env, h, "POST", f"/api/backups/{remote}/restore",
         {"virtual_machine_name": "restored", "datastore_id": vm["datastore_id"]})  # fmt: skip
    _check(own_env, h)
    _one(own_env, h, "POST", f"/api/backups/{local}/restore?restore_original=true", {})
    _check(own_env, h)
    _one(own_env, h, "DELETE", f"/api/backups/{copy}")
    _check(own_env, h)
    _one(own_env, h, "POST", f"/api/backups/{local}/calculate_unique_size")
    after = _check(own_env, h)
    measured = next(b for b in after["backups"] if b["id"] == local)
    assert measured["unique_size_bytes"] == mirror_of_store(own_env.runtime.storage.engine).unique_size(local)
    target = next(d for d in after["datastores"] if d["omnistack_cluster_id"] == other)
    _one(own_env, h, "POST", f"/api/virtual_machines/{clone}/move",
         {"virtual_machine_name": "twin", "destination_datastore_id": target["id"]})  # fmt: skip
    _check(own_env, h)
