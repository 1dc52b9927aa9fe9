"""The server the fuzzer attacks: a real `openovc serve` on a database, its administrator and real ids."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.databases import database_url
from tests.support.server import admin_token, start_server

ADMIN_USER = "administrator@vsphere.local"
ADMIN_PASSWORD = "Fuzz-Passw0rd!"
# Few of each kind: enough to reach the code behind an id, few enough that deleting some leaves others.
# Bulk operations (backups/delete, unregister…) get generated ids only, so they cannot empty a collection;
# the control API's reset, when drawn, brings the first federation back (a restart of the seed's
# federation). After the tier's HPE cases the demo federation keeps its hosts, clusters and datastores,
# and loses a few backups.
IDS_PER_KIND = 6
# The path parameters that name an object, and the collection their real ids come from.
ID_SOURCES = {
    "vmId": "virtual_machines",
    "hostId": "hosts",
    "clusterId": "omnistack_clusters",
    "datastoreId": "datastores",
    "policyId": "policies",
    "bkpId": "backups",
    "clusterGroupId": "cluster_groups",
    "certId": "security/certificates",
    "pvId": "persistent_volumes",
}


@dataclass
class Target:
    """A running server: where it is, a login for its administrator, and ids that exist in it."""

    base_url: str
    database: str
    token: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    rules: list[tuple[str, str]] = field(default_factory=list)  # (policyId, ruleId) pairs

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60.0)

    def login(self) -> str:
        """A new token of the administrator."""
        with self.client() as client:
            return admin_token(client, ADMIN_PASSWORD, ADMIN_USER)


def _collect_ids(target: Target) -> None:
    headers = {"Authorization": f"Bearer {target.token}", "Accept": "application/json"}
    with target.client() as client:
        for param, plural in ID_SOURCES.items():
            resp = client.get(f"/api/{plural}", headers=headers, params={"limit": str(IDS_PER_KIND)})
            assert resp.status_code == 200, resp.text
            rows = resp.json()[plural.rsplit("/", 1)[-1]]
            target.ids[param] = [str(row["id"]) for row in rows[:IDS_PER_KIND] if "id" in row]
            if param == "policyId":
                target.rules = [
                    (str(row["id"]), str(rule["id"])) for row in rows for rule in row.get("rules", [])
                ][:IDS_PER_KIND]


@contextmanager
def running_target(backend: str, tmp_path: Path) -> Iterator[Target]:
    """A fresh demo federation served over plain HTTP on `backend`, on a manual clock.

    Plain HTTP: the fuzzer tests the application, not TLS, and the client needs no certificate
    exceptions. A manual clock: nothing moves but what the fuzzer asks, so a seed replays.
    """
    with database_url(backend, tmp_path) as url:
        extra = ["--no-tls", "--clock", "manual", "--seed", "7"]
        with start_server(
            tmp_path / "data",
            database_url=None if backend == "sqlite" else url,
            env={"OPENOVC_ADMIN_PASSWORD": ADMIN_PASSWORD},
            extra_args=extra,
        ) as server:
            with server.client() as client:
                token = admin_token(client, ADMIN_PASSWORD, ADMIN_USER)
            target = Target(server.base_url, backend, token)
            _collect_ids(target)
            yield target
            server.stop()
