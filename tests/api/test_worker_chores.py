"""The running server's worker thread (the app's lifespan): it removes backups that expired by itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from openovc.app import create_app
from tests.support.inprocess import make_env
from tests.support.tasks import completed
from tests.support.waiting import wait_until


def test_the_worker_removes_an_expired_backup(tmp_path: Path) -> None:
    env = make_env(tmp_path, task_pacing="immediate")
    try:
        with TestClient(create_app(env.runtime)) as client:  # the lifespan starts the worker
            env.client = client
            h = env.headers()
            vm = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "ALIVE")
            (made,) = completed(
                env, "POST", f"/api/virtual_machines/{vm['id']}/backup", h,
                {"backup_name": "expires-alone", "retention": 60},
            )  # fmt: skip
            path = f"/api/backups/{made['object_id']}"
            assert client.get(path, headers=h).json()["backup"]["name"] == "expires-alone"
            env.clock.advance(timedelta(minutes=61))
            h = env.headers()  # the old token went idle with the clock
            # Nothing but the worker's turns removes it: no request touches it.
            wait_until(
                lambda: client.get(path, headers=h).status_code == 404,
                timeout=30,
                interval=0.1,
                what="the worker removing the expired backup",
            )
    finally:
        env.runtime.storage.engine.dispose()
