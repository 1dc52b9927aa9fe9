"""A real server restarted on the same store keeps the federation and the tokens it issued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import BACKENDS, database_url
from tests.support.server import RunningServer, admin_token, start_server

PASSWORD = "Restart-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}


def _login(server: RunningServer) -> str:
    with server.client() as client:
        return admin_token(client, PASSWORD)


def _snapshot(server: RunningServer, token: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with server.client() as client:
        for plural in (
            "omnistack_clusters",
            "hosts",
            "datastores",
            "virtual_machines",
            "policies",
            "backups",
        ):
            resp = client.get(
                f"/api/{plural}",
                params={"limit": "5000", "show_optional_fields": "true"}
                if plural != "backups"
                else {"limit": "5000"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert resp.status_code == 200, resp.text
            out[plural] = resp.json()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_restart_keeps_federation_and_tokens(tmp_path: Path, backend: str, how: str) -> None:
    with database_url(backend, tmp_path) as url:
        db = None if backend == "sqlite" else url
        data_dir = tmp_path / "data"
        with start_server(data_dir, database_url=db, env=ENV) as first:
            token = _login(first)
            before = _snapshot(first, token)
            assert before["virtual_machines"]["count"] > 0
            first.stop() if how == "stop" else first.kill()
        with start_server(data_dir, database_url=db, env=ENV) as second:
            assert _snapshot(second, token) == before
            second.stop()
