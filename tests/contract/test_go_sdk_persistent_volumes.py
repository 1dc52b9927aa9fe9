"""Contract tier: the Go SDK's persistent-volume calls (ovc/persistent_volumes.go), byte for byte over TLS.

The Go SDK is not a Python package, so its requests are rebuilt here as it sends them: its login form, its
query strings (url.Values.Encode: every paging key, empty ones too, sorted), its headers (v1.16 `Accept`
and `Content-Type` on every volume call, GETs included; none on task polls and backup look-ups) and its
bodies (encoding/json: sorted map keys, omitempty struct fields, a trailing newline).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from openovc.testing import OpenOVCServer
from tests.contract.conftest import READER_PASSWORD, READER_USER, Api

V116 = {
    "Accept": "application/vnd.simplivity.v1.16+json",
    "Content-Type": "application/vnd.simplivity.v1.16+json",
}


class GoClient:
    """What ovc.Client does on the wire: a bearer token from its login, then DoRequest."""

    def __init__(self, http: httpx.Client, username: str, password: str) -> None:
        self.http = http
        resp = http.post(
            "/api/oauth/token",
            auth=("simplivity", ""),
            headers={"Content-Type": "application/x-www-form-urlencoded; param=value"},
            content=urlencode({"grant_type": "password", "password": password, "username": username}),
        )
        assert resp.status_code == 200, resp.text
        self.token = resp.json()["access_token"]

    @staticmethod
    def query(filters: Mapping[str, str] | None = None, limit: int = 500) -> str:
        """GetAllParams.QueryString: the paging keys always, empty ones included, then the filters."""
        values = {"limit": str(limit), "offset": "0", "sort": "", "order": "", "fields": "", "case": "",
                  "show_optional_fields": "false", **(filters or {})}  # fmt: skip
        return urlencode(sorted(values.items()))

    def request(
        self,
        method: str,
        path: str,
        query: str = "",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            sent["Content-Type"] = "application/vnd.simplivity.v1+json"
        sent.update(headers or {})
        content = None if body is None else (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n")
        url = f"/api{path}" + (f"?{query}" if query else "")
        return self.http.request(method, url, headers=sent, content=content)

    def ok(self, resp: httpx.Response) -> Any:
        # Go's success statuses; anything else is an error body it decodes.
        assert resp.status_code in (200, 201, 202, 204), resp.text
        return resp.json()

    def wait_for_task(self, posted: httpx.Response) -> dict[str, Any]:
        """Tasks.WaitForTask: the POST's own task first, then polls while IN_PROGRESS."""
        task: dict[str, Any] = self.ok(posted)["task"]
        for _ in range(60):
            if task["state"] != "IN_PROGRESS":
                return task
            task = self.ok(self.request("GET", f"/tasks/{task['id']}"))["task"]
        raise AssertionError(f"task {task['id']} still in progress")

    # ---- PersistentVolumeResource -------------------------------------------------------------------------

    def pvs_get_all(self, filters: Mapping[str, str] | None = None, limit: int = 500) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(
            self.request("GET", "/persistent_volumes", self.query(filters, limit), headers=V116)
        )
        return body

    def pv_get_by(self, field: str, value: str) -> dict[str, Any]:
        members = self.pvs_get_all({field: value})["persistent_volumes"]
        assert members, "Resource doesn't exist"
        pv: dict[str, Any] = members[0]
        return pv

    def set_policy_for_multiple_pvs(self, policy_id: str, pv_ids: list[str]) -> dict[str, Any]:
        body = {"policy_id": policy_id, "persistent_volume_id": pv_ids}
        return self.wait_for_task(
            self.request("POST", "/persistent_volumes/set_policy", body=body, headers=V116)
        )

    def create_backup(self, pv_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """PersistentVolume.CreateBackup: the task's first affected object, looked up by id."""
        task = self.wait_for_task(
            self.request("POST", f"/persistent_volumes/{pv_id}/backup", body=request, headers=V116)
        )
        assert task["affected_objects"], f"Backup was not successful. Error code:{task['error_code']}"
        backup_id = task["affected_objects"][0]["object_id"]
        (backup,) = self.ok(self.request("GET", "/backups", self.query({"id": backup_id})))["backups"]
        found: dict[str, Any] = backup
        return found

    def get_backups(self, pv_name: str) -> dict[str, Any]:
        """PersistentVolume.GetBackups: the backups list with the undocumented `pv` filter."""
        body: dict[str, Any] = self.ok(self.request("GET", "/backups", self.query({"pv": pv_name})))
        return body


@pytest.fixture(scope="module")
def go(openovc: OpenOVCServer) -> Iterator[GoClient]:
    with httpx.Client(base_url=openovc.url, verify=False, timeout=30.0) as http:
        yield GoClient(http, openovc.username, openovc.password)


def test_get_all_get_by_name_and_by_id(go: GoClient, api: Api) -> None:
    listed = go.pvs_get_all()
    alive = api.everything("persistent_volumes")
    assert listed == {"offset": 0, "limit": 500, "count": len(alive), "persistent_volumes": alive}
    assert alive and all(pv["name"].startswith("pvc-") for pv in alive)
    first = alive[0]
    assert go.pv_get_by("name", first["name"]) == first
    assert go.pv_get_by("id", first["id"]) == first
    assert api.json(f"/api/persistent_volumes/{first['id']}") == {"persistent_volume": first}
    page = go.pvs_get_all({"name": first["name"]}, limit=1)
    assert (page["count"], page["limit"], [p["id"] for p in page["persistent_volumes"]]) == (
        1,
        1,
        [first["id"]],
    )


def test_set_policy_for_multiple_pvs(go: GoClient, api: Api) -> None:
    pvs = api.everything("persistent_volumes")[:2]
    policies = api.everything("policies")
    other = next(p for p in policies if p["id"] != pvs[0]["policy_id"])
    task = go.set_policy_for_multiple_pvs(other["id"], [pv["id"] for pv in pvs])
    assert task["state"] == "COMPLETED", task
    assert task["affected_objects"] == [
        {"object_id": pv["id"], "object_type": "persistent_volume"} for pv in pvs
    ]
    for pv in pvs:
        assert go.pv_get_by("id", pv["id"])["policy_name"] == other["name"]
    for pv in pvs:  # as they were: the shared server's other tests see the generated policies
        assert go.set_policy_for_multiple_pvs(str(pv["policy_id"]), [pv["id"]])["state"] == "COMPLETED"


def test_create_backup_and_get_backups(go: GoClient, api: Api) -> None:
    pv = api.everything("persistent_volumes")[0]
    clusters = {c["id"]: c for c in api.everything("omnistack_clusters")}
    before = go.get_backups(pv["name"])
    backup = go.create_backup(
        pv["id"], {"backup_name": "csi-snapshot-1", "destination_id": pv["omnistack_cluster_id"]}
    )
    assert {k: backup[k] for k in ("name", "type", "virtual_machine_id", "virtual_machine_name",
                                   "omnistack_cluster_name", "datastore_id")} == {
        "name": "csi-snapshot-1", "type": "MANUAL", "virtual_machine_id": pv["id"],
        "virtual_machine_name": pv["name"], "omnistack_cluster_name": clusters[pv["omnistack_cluster_id"]]["name"],
        "datastore_id": pv["datastore_id"],
    }  # fmt: skip
    after = go.get_backups(pv["name"])
    assert after["count"] == before["count"] + 1
    assert {b["id"] for b in after["backups"]} == {b["id"] for b in before["backups"]} | {backup["id"]}
    assert all(b["virtual_machine_id"] == pv["id"] for b in after["backups"])


def test_errors_reach_go_as_its_error_body(go: GoClient, openovc: OpenOVCServer) -> None:
    resp = go.request("GET", "/persistent_volumes/nope", headers=V116)
    body = resp.json()
    # OVCRespError: every field a string, or Go fails to decode it.
    assert resp.status_code == 404 and all(
        isinstance(body[k], str) for k in ("exception", "path", "message", "status")
    )
    assert (body["status"], body["message"], body["path"]) == (
        "404", "Object type: persistent_volume id: nope could not be found", "/api/persistent_volumes/nope",
    )  # fmt: skip
    resp = go.request("POST", "/persistent_volumes/nope/backup", body={"backup_name": "b"}, headers=V116)
    assert (resp.status_code, resp.json()["status"]) == (404, "404")
    with httpx.Client(base_url=openovc.url, verify=False, timeout=30.0) as http:
        reader = GoClient(http, READER_USER, READER_PASSWORD)
        pv = reader.pvs_get_all()["persistent_volumes"][0]
        resp = reader.request("POST", "/persistent_volumes/set_policy", body={
            "policy_id": pv["policy_id"], "persistent_volume_id": [pv["id"]]}, headers=V116)  # fmt: skip
        assert (resp.status_code, resp.json()["status"]) == (403, "403")
