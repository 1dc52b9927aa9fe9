"""Random sequences of operations and bad requests; after every step the federation stays consistent,
every task has ended, and a refused request changed nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.support.inprocess import Env, make_env
from tests.support.invariants import problems, snapshot
from tests.support.tasks import media

NAMES = st.sampled_from(["alpha", "beta", "gamma", "web-01", "db 2", "x" * 80])
BAD_BODIES: st.SearchStrategy[Any] = st.sampled_from([None, [], {}, {"virtual_machine_name": 7}, {"destination_datastore_id": None},
                              {"policy_id": ""}, "not json"])  # fmt: skip


class Federation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.env: Env = make_env(Path(self.tmp.name))
        self.h = self.env.headers()
        self.state = self._snapshot()

    def teardown(self) -> None:
        self.env.runtime.storage.engine.dispose()
        self.tmp.cleanup()

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        resp = self.env.client.get(path, headers=self.h, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def _snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return snapshot(self._get)

    def _alive(self) -> list[dict[str, Any]]:
        return [v for v in self.state["virtual_machines"] if v["state"] == "ALIVE"]

    def _post(self, path: str, body: Any, version: str = "1.8", method: str = "POST") -> None:
        """Submit; a 202 task must end at the first poll; a refusal must be a 4xx that changed nothing."""
        headers = {**self.h, **media(version)}
        if isinstance(body, str):
            resp = self.env.client.request(method, path, headers=headers, content=body.encode())
        else:
            resp = self.env.client.request(method, path, headers=headers, json=body)
        before = self.state
        task = (
            self._get(f"/api/tasks/{resp.json()['task']['id']}")["task"] if resp.status_code == 202 else None
        )
        self.state = self._snapshot()
        if task is not None:
            assert task["state"] in ("COMPLETED", "FAILED"), task
            if task["state"] == "FAILED":
                assert self.state == before, f"a failed task changed state: {task}"
        else:
            assert resp.status_code in (400, 404), resp.text
            assert set(resp.json()) >= {"exception", "path", "message", "timestamp", "status"}
            assert self.state == before, f"a refused request changed state: {resp.text}"

    @precondition(lambda self: bool(self._alive()))
    @rule(data=st.data(), name=NAMES)
    def clone(self, data: st.DataObject, name: str) -> None:
        vm = data.draw(st.sampled_from(self._alive()))
        self._post(f"/api/virtual_machines/{vm['id']}/clone", {"virtual_machine_name": name})

    @precondition(lambda self: bool(self._alive()))
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        vm = data.draw(st.sampled_from(self._alive()))
        ds = data.draw(st.sampled_from(self.state["datastores"]))
        self._post(f"/api/virtual_machines/{vm['id']}/move", {"destination_datastore_id": ds["id"]})

    @precondition(lambda self: bool(self._alive()))
    @rule(data=st.data(), on=st.booleans())
    def power(self, data: st.DataObject, on: bool) -> None:
        vm = data.draw(st.sampled_from(self._alive()))
        self._post(f"/api/virtual_machines/{vm['id']}/power_{'on' if on else 'off'}", None, version="1.14")

    @precondition(lambda self: bool(self._alive()))
    @rule(data=st.data())
    def set_policy(self, data: st.DataObject) -> None:
        vms = data.draw(st.lists(st.sampled_from(self._alive()), min_size=1, max_size=4))
        policy = data.draw(st.sampled_from(self.state["policies"]))
        self._post("/api/virtual_machines/set_policy", {"virtual_machine_id": [v["id"] for v in vms],
                                                          "policy_id": policy["id"]})  # fmt: skip

    @rule(data=st.data(), name=NAMES, size=st.sampled_from([1, 10**9, 10**12, 10**15, 0, -5]))
    def create_datastore(self, data: st.DataObject, name: str, size: int) -> None:
        cluster = data.draw(st.sampled_from(self.state["omnistack_clusters"]))
        policy = data.draw(st.sampled_from(self.state["policies"]))
        body = {"name": name, "omnistack_cluster_id": cluster["id"], "policy_id": policy["id"], "size": size}
        self._post("/api/datastores", body)

    @rule(data=st.data(), size=st.sampled_from([1, 10**10, 10**12, 10**13]))
    def resize_datastore(self, data: st.DataObject, size: int) -> None:
        ds = data.draw(st.sampled_from(self.state["datastores"]))
        self._post(f"/api/datastores/{ds['id']}/resize", {"size": size})

    @precondition(lambda self: bool(self.state["datastores"]))
    @rule(data=st.data())
    def delete_datastore(self, data: st.DataObject) -> None:
        ds = data.draw(st.sampled_from(self.state["datastores"]))
        self._post(f"/api/datastores/{ds['id']}", None, method="DELETE")

    @rule(data=st.data())
    def datastore_policy(self, data: st.DataObject) -> None:
        ds = data.draw(st.sampled_from(self.state["datastores"]))
        policy = data.draw(st.sampled_from(self.state["policies"]))
        self._post(f"/api/datastores/{ds['id']}/set_policy", {"policy_id": policy["id"]})

    @rule(name=NAMES)
    def create_policy(self, name: str) -> None:
        self._post("/api/policies", {"name": name})

    @rule(data=st.data(), name=NAMES)
    def rename_policy(self, data: st.DataObject, name: str) -> None:
        policy = data.draw(st.sampled_from(self.state["policies"]))
        self._post(f"/api/policies/{policy['id']}/rename", {"name": name})

    @rule(data=st.data())
    def delete_policy(self, data: st.DataObject) -> None:
        policy = data.draw(st.sampled_from(self.state["policies"]))
        self._post(f"/api/policies/{policy['id']}", None, method="DELETE")

    @rule(data=st.data(), frequency=st.sampled_from([0, 30, 60, 1440, 2000]),
          retention=st.sampled_from([10, 60, 10080]), replace=st.booleans())  # fmt: skip
    def create_rules(self, data: st.DataObject, frequency: int, retention: int, replace: bool) -> None:
        policy = data.draw(st.sampled_from(self.state["policies"]))
        rules = [{"frequency": frequency, "retention": retention, "days": "Mon,Fri"}]
        self._post(f"/api/policies/{policy['id']}/rules?replace_all_rules={replace}", rules, version="1.1")

    @precondition(lambda self: any(p["rules"] for p in self.state["policies"]))
    @rule(data=st.data())
    def delete_rule(self, data: st.DataObject) -> None:
        policy = data.draw(st.sampled_from([p for p in self.state["policies"] if p["rules"]]))
        rule = data.draw(st.sampled_from(policy["rules"]))
        self._post(f"/api/policies/{policy['id']}/rules/{rule['id']}", None, method="DELETE")

    @rule(data=st.data(), zone=st.sampled_from(["Europe/Paris", "Mars/Olympus", "utc", "America/New_York"]))
    def set_time_zone(self, data: st.DataObject, zone: str) -> None:
        cluster = data.draw(st.sampled_from(self.state["omnistack_clusters"]))
        self._post(f"/api/omnistack_clusters/{cluster['id']}/set_time_zone", {"time_zone": zone})

    @rule(
        data=st.data(),
        suspend=st.booleans(),
        scope=st.sampled_from(["federation", "omnistack_cluster", "host"]),
    )
    def suspend_or_resume(self, data: st.DataObject, suspend: bool, scope: str) -> None:
        target = "" if scope == "federation" else data.draw(st.sampled_from(self.state[f"{scope}s"]))["id"]
        body = {"target_object_type": scope, "target_object_id": target}
        self._post(f"/api/policies/{'suspend' if suspend else 'resume'}", body)

    @rule(data=st.data(), body=BAD_BODIES, unknown=st.booleans())
    def bad_request(self, data: st.DataObject, body: Any, unknown: bool) -> None:
        vm_id = (
            "no-such-vm" if unknown or not self._alive() else data.draw(st.sampled_from(self._alive()))["id"]
        )
        action = data.draw(st.sampled_from(["clone", "move", "set_policy"]))
        before = self.state
        headers = {**self.h, **media()}
        path = f"/api/virtual_machines/{vm_id}/{action}"
        if isinstance(body, str):
            resp = self.env.client.post(path, headers=headers, content=body.encode())
        else:
            resp = self.env.client.post(path, headers=headers, json=body)
        assert resp.status_code in (400, 404), resp.text
        assert self._snapshot() == before

    @invariant()
    def consistent(self) -> None:
        assert problems(self.state) == []


# Each example builds a federation, so shrinking is left out: a failure prints its whole sequence.
Federation.TestCase.settings = settings(
    database=None,
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
TestFederation = Federation.TestCase
