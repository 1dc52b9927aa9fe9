"""Fault rules across server processes (`serve --workers 2 --faults FILE`) and from the command line
(`openovc faults add|list|remove|clear`, `openovc pacing show|set|reset`)."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.databases import BACKENDS, database_url
from tests.support.server import RunningServer, admin_token, run_cli, start_server

pytestmark = pytest.mark.slow

PASSWORD = "Faults-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}
HOSTS_DOWN = {"match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}, "count": 5}


def _connections_per_process(server: RunningServer) -> dict[int, http.client.HTTPSConnection]:
    """A kept-alive connection served by each of the server's processes (which one took a connection is
    read from the process's own sockets)."""
    children = psutil.Process(server.pid).children()
    found: dict[int, http.client.HTTPSConnection] = {}
    context = ssl._create_unverified_context()
    for _ in range(40):
        conn = http.client.HTTPSConnection(server.host, server.port, context=context, timeout=30)
        conn.request("GET", "/api/version")
        conn.getresponse().read()
        port = conn.sock.getsockname()[1]
        owner = next(
            c.pid for c in children if any(s.raddr and s.raddr[1] == port for s in c.net_connections())
        )
        if owner in found:
            conn.close()
        else:
            found[owner] = conn
        if len(found) == 2:
            return found
    raise AssertionError("the kernel gave every connection to one process")


def _call(
    conn: http.client.HTTPSConnection, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None if body is None else json.dumps(body)
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, data, headers)
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read() or b"null")


@pytest.mark.parametrize("backend", BACKENDS)
def test_rules_hold_in_every_process_and_count_exactly(tmp_path: Path, backend: str) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text(json.dumps([HOSTS_DOWN]))
    with database_url(backend, tmp_path) as url:
        db = None if backend == "sqlite" else url
        args = ["--workers", "2", "--faults", str(rules), "--fault-seed", "11"]
        with start_server(tmp_path / "data", database_url=db, env=ENV, extra_args=args) as server:
            with server.client() as client:
                token = admin_token(client, PASSWORD)
                host = client.get("/api/hosts", headers={"Authorization": f"Bearer {token}"}).json()["hosts"][
                    0
                ]["id"]
            first, second = _connections_per_process(server).values()
            # The file's rule: its five firings shared by both processes, then no more.
            statuses = [
                _call((first, second)[n % 2], "GET", f"/api/hosts/{host}", token)[0] for n in range(12)
            ]
            assert statuses == [503] * 5 + [200] * 7
            # A rule added through one process fires in the other.
            status, added = _call(first, "POST", "/_openovc/faults", token,
                                  {"match": {"operation": "listHosts"}, "effect": {"http": {"status": 502}}, "count": 1})  # fmt: skip
            assert status == 201
            assert _call(second, "GET", "/api/hosts", token)[0] == 502
            assert _call(first, "GET", "/api/hosts", token)[0] == 200
            status, listed = _call(second, "GET", "/_openovc/faults", token)
            loaded = {**HOSTS_DOWN, "probability": 1.0, "skip": 0, "seed": 11}
            without_ids = [{k: v for k, v in f.items() if k != "id"} for f in listed["faults"]]
            rest = {k: v for k, v in added["fault"].items() if k != "id"}
            assert without_ids == [{**loaded, "fired": 5}, {**rest, "fired": 1}]
            assert listed["faults"][1]["id"] == added["fault"]["id"]
            # Pacing set through one process holds in the other.
            status, _ = _call(first, "PUT", "/_openovc/pacing", token, {"default": "polls:3"})
            assert status == 200
            assert _call(second, "GET", "/_openovc/pacing", token)[1] == {
                "default": "polls:3", "operations": {}, "set_at_run_time": True
            }  # fmt: skip
            for conn in (first, second):
                conn.close()
            assert server.stop() == 0


def _cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={"OPENOVC_URL": server.base_url, "OPENOVC_PASSWORD": PASSWORD}, timeout_s=60)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tmp_path / "data", env=ENV) as server:
        yield server
        assert server.stop() == 0


def test_the_cli_adds_lists_removes_and_clears_rules(served: RunningServer, tmp_path: Path) -> None:
    one = {"match": {"operation": "getVm"}, "effect": {"delay_ms": 10}, "seed": 1}
    added = _cli(served, "faults", "add", json.dumps(one))
    assert added.returncode == 0, added.stderr
    rule_id = added.stdout.split()[1]
    shown = {"match": one["match"], "effect": {"delay_ms": 10, "jitter_ms": 0},
             "probability": 1.0, "count": None, "skip": 0, "seed": 1}  # fmt: skip
    assert added.stdout == f"added {rule_id}  fired 0  {json.dumps(shown, separators=(',', ':'))}\n"
    saved = tmp_path / "saved.json"
    listing = _cli(served, "faults", "list", "--json")
    assert json.loads(listing.stdout) == {"faults": [{**shown, "id": rule_id, "fired": 0}]}
    saved.write_text(listing.stdout)
    again = _cli(served, "faults", "add", "--file", str(saved))  # a saved listing adds its rules again
    assert again.returncode == 0 and again.stdout.startswith("added ")
    assert len(_cli(served, "faults", "list").stdout.splitlines()) == 2
    removed = _cli(served, "faults", "remove", rule_id)
    assert removed.stdout == f"removed {rule_id}  fired 0  {json.dumps(shown, separators=(',', ':'))}\n"
    unknown = _cli(served, "faults", "remove", rule_id)
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == f"openovc: Object type: fault id: {rule_id} could not be found\n"
    bad = _cli(
        served, "faults", "add", '{"match": {"operation": "nope"}, "effect": {"drop_connection": true}}'
    )
    assert (bad.returncode, bad.stderr) == (
        1,
        "openovc: Invalid body: match.operation: unknown operation 'nope'\n",
    )
    not_json = _cli(served, "faults", "add", "{match")
    assert not_json.returncode == 2 and not_json.stderr.startswith("openovc: the rule is not JSON: ")
    assert _cli(served, "faults", "clear").stdout == "removed 1 rules\n"
    assert _cli(served, "faults", "list").stdout == ""


def test_the_cli_sets_and_resets_pacing(served: RunningServer) -> None:
    assert _cli(served, "pacing", "show").stdout == "default immediate  (as started)\n"
    done = _cli(served, "pacing", "set", "immediate", "virtual_machine.clone=duration:20:0.3")
    assert done.stdout == "default immediate  (set at run time)\nvirtual_machine.clone duration:20:0.3\n"
    bad = _cli(served, "pacing", "set", "soon")
    assert (bad.returncode, bad.stderr) == (
        1, "openovc: Invalid body: default: bad pacing 'soon': use immediate, duration:SECONDS[:JITTER] or polls:N\n"
    )  # fmt: skip
    assert _cli(served, "pacing", "reset").stdout == "default immediate  (as started)\n"


def test_serve_refuses_a_bad_rules_file(tmp_path: Path) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text(
        json.dumps([HOSTS_DOWN, {"match": {"operation": "getHost"}, "effect": {"delay_ms": -5}}])
    )
    server = start_server(tmp_path / "data", env=ENV, extra_args=["--faults", str(rules)], wait=False)
    assert server.process.wait(timeout=120) == 2
    assert (
        f"openovc: --faults {rules}: rule 2: effect.delay_ms: must be an integer from 0 to 600000, got -5"
        in (server.output())
    )
