"""The `openovc` command as a user runs it: init, users, and real serve processes over HTTPS."""

from __future__ import annotations

import json
import re
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from openovc.app import build_runtime
from openovc.settings import Settings
from openovc.storage import tables
from tests.support.server import RunningServer, clean_environment, start_server

BASIC = "Basic c2ltcGxpdml0eTo="  # base64 of "simplivity:", as every client sends it
ADMIN = "administrator@vsphere.local"
SMALL = (
    "--clusters", "1", "--hosts-per-cluster", "2", "--datastores", "2", "--vms", "5", "--policies", "1",
    "--backups", "10", "--cluster-groups", "1", "--external-stores", "0",
)  # fmt: skip
_PASSWORD_LINE = re.compile(r"Administrator administrator@vsphere\.local, password: (\S+) \(kept in (.+)\)")


def run_cli(
    *args: str, data_dir: Path | None = None, console_script: bool = False
) -> subprocess.CompletedProcess[str]:
    command = (
        [str(Path(sys.executable).parent / "openovc")]
        if console_script
        else [sys.executable, "-m", "openovc"]
    )
    command += list(args)
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environment(None),
        timeout=120,
    )


def _database(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'openovc.db').resolve()}"


def _count(data_dir: Path, table: str) -> int:
    rt = build_runtime(Settings(data_dir=data_dir, generate_demo=False))
    try:
        with rt.storage.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(tables.metadata.tables[table])).scalar_one()
            )
    finally:
        rt.storage.engine.dispose()


def _federation_record(data_dir: Path) -> dict[str, object]:
    rt = build_runtime(Settings(data_dir=data_dir, generate_demo=False))
    try:
        record = rt.storage.federation_record()
    finally:
        rt.storage.engine.dispose()
    assert record is not None
    return record


def _can_log_in(data_dir: Path, username: str, password: str) -> bool:
    from openovc.services.auth import LoginRefused

    rt = build_runtime(Settings(data_dir=data_dir, generate_demo=False))
    try:
        rt.auth.login(username, password)
        return True
    except LoginRefused:
        return False
    finally:
        rt.storage.engine.dispose()


# ---------------------------------------------------------------------------------------------- init


def test_console_script_is_installed() -> None:
    result = run_cli("--version", console_script=True)
    assert (result.returncode, result.stdout) == (0, "openovc 0.1.0\n")


def test_init_generates_then_refuses_then_replaces_with_force(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run_cli("init", *SMALL, "--seed", "7", data_dir=data)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"Loaded a federation with seed 7 into {_database(data)} in ")
    assert "2 hosts" in first.stdout
    assert _count(data, "hosts") == 2
    record = _federation_record(data)
    assert (record["source"], record["seed"]) == ("generated", 7)
    assert isinstance(record["generated_at"], str)

    again = run_cli("init", *SMALL, "--seed", "7", data_dir=data)
    assert again.returncode == 2
    assert (
        again.stderr
        == f"openovc: a federation already exists in {_database(data)}; use --force to replace it\n"
    )
    assert again.stdout == ""

    forced = run_cli("init", *SMALL, "--hosts-per-cluster", "3", "--seed", "8", "--force", data_dir=data)
    assert forced.returncode == 0, forced.stderr
    assert _count(data, "hosts") == 3
    assert _federation_record(data)["seed"] == 8


def test_init_rejects_an_impossible_size(tmp_path: Path) -> None:
    result = run_cli("init", "--clusters", "0", data_dir=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr
        == "openovc: invalid federation size: a federation needs at least one cluster of one host\n"
    )


def test_init_rejects_a_missing_inventory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = run_cli("init", "--inventory", str(missing), data_dir=tmp_path)
    assert (result.returncode, result.stderr) == (2, f"openovc: inventory file not found: {missing}\n")


def test_init_loads_an_inventory_and_keeps_the_old_federation_when_a_new_one_is_invalid(
    tmp_path: Path,
) -> None:
    inventory = tmp_path / "lab.yaml"
    inventory.write_text("seed: 3\nclusters:\n  - name: Lab\n    hosts: 2\n")
    loaded = run_cli("init", "--inventory", str(inventory), data_dir=tmp_path / "data")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith(f"Loaded a federation from {inventory} into ")
    assert _count(tmp_path / "data", "hosts") == 2
    record = _federation_record(tmp_path / "data")
    assert (record["source"], record["inventory"]) == ("inventory", str(inventory.resolve()))

    bad = tmp_path / "bad.yaml"
    bad.write_text("clusterz: []\n")
    refused = run_cli("init", "--inventory", str(bad), "--force", data_dir=tmp_path / "data")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"openovc: invalid inventory: {bad}: inventory: unknown key 'clusterz'")
    assert _count(tmp_path / "data", "hosts") == 2


def test_init_inventory_excludes_generator_options(tmp_path: Path) -> None:
    result = run_cli("init", "--inventory", "x.yaml", "--seed", "2", data_dir=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "openovc: --inventory cannot be combined with --seed, --largest or counts\n",
    )


# ---------------------------------------------------------------------------------------------- users


def test_users_add_list_passwd_remove(tmp_path: Path) -> None:
    added = run_cli(
        "users", "add", "alice@corp", "--role", "read_only", "--password", "pw-1", data_dir=tmp_path
    )
    assert (added.returncode, added.stdout) == (0, "Added user alice@corp (read_only)\n")
    run_cli("users", "add", "bob", "--role", "administrator", "--password", "pw-2", data_dir=tmp_path)

    listed = run_cli("users", "list", data_dir=tmp_path)
    assert (listed.returncode, listed.stdout) == (0, "alice@corp  read_only\nbob         administrator\n")

    changed = run_cli("users", "passwd", "alice@corp", "--password", "pw-3", data_dir=tmp_path)
    assert (changed.returncode, changed.stdout) == (0, "Changed the password of alice@corp\n")
    assert _can_log_in(tmp_path, "alice@corp", "pw-3")
    assert not _can_log_in(tmp_path, "alice@corp", "pw-1")

    removed = run_cli("users", "remove", "alice@corp", data_dir=tmp_path)
    assert (removed.returncode, removed.stdout) == (0, "Removed user alice@corp\n")
    assert run_cli("users", "list", data_dir=tmp_path).stdout == "bob  administrator\n"


def test_users_groups(tmp_path: Path) -> None:
    run_cli(
        "users",
        "add",
        "carol",
        "--role",
        "read_only",
        "--password",
        "pw",
        "--group",
        "ops",
        data_dir=tmp_path,
    )
    assert run_cli("users", "list", data_dir=tmp_path).stdout == "carol  read_only  groups: ops\n"
    changed = run_cli("users", "groups", "carol", "dba", "ops", data_dir=tmp_path)
    assert (changed.returncode, changed.stdout) == (0, "User carol is in groups: dba, ops\n")
    cleared = run_cli("users", "groups", "carol", data_dir=tmp_path)
    assert (cleared.returncode, cleared.stdout) == (0, "User carol is in groups: (none)\n")
    missing = run_cli("users", "groups", "nobody", "ops", data_dir=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, "openovc: no such user: nobody\n")


def test_users_errors(tmp_path: Path) -> None:
    run_cli("users", "add", "alice", "--role", "read_only", "--password", "pw", data_dir=tmp_path)

    duplicate = run_cli(
        "users", "add", "alice", "--role", "administrator", "--password", "x", data_dir=tmp_path
    )
    assert (duplicate.returncode, duplicate.stderr) == (1, "openovc: user already exists: alice\n")

    bad_role = run_cli("users", "add", "carol", "--role", "superuser", "--password", "x", data_dir=tmp_path)
    assert bad_role.returncode == 2
    assert "argument --role: invalid choice: 'superuser'" in bad_role.stderr

    no_password = run_cli("users", "add", "carol", "--role", "administrator", data_dir=tmp_path)
    assert (no_password.returncode, no_password.stderr) == (
        2,
        "openovc: users add: --password is required when stdin is not a terminal\n",
    )

    for action in (("passwd", "nobody", "--password", "x"), ("remove", "nobody")):
        unknown = run_cli("users", *action, data_dir=tmp_path)
        assert (unknown.returncode, unknown.stderr) == (1, "openovc: no such user: nobody\n")

    empty = run_cli("users", "passwd", "alice", "--password", "", data_dir=tmp_path)
    assert (empty.returncode, empty.stderr) == (2, "openovc: the password must not be empty\n")
    assert run_cli("users", "list", data_dir=tmp_path).stdout == "alice  read_only\n"


# ---------------------------------------------------------------------------------------------- serve


def test_serve_refuses_half_a_certificate(tmp_path: Path) -> None:
    result = run_cli("serve", "--cert", str(tmp_path / "c.pem"), data_dir=tmp_path)
    assert (result.returncode, result.stderr) == (2, "openovc: --cert and --key must be given together\n")


def _login(server: RunningServer, username: str, password: str) -> httpx.Response:
    with server.client() as client:
        return client.post(
            "/api/oauth/token",
            headers={"Authorization": BASIC, "Accept": "application/json"},
            data={"grant_type": "password", "username": username, "password": password},
        )


def _host_ids(server: RunningServer, token: str) -> list[str]:
    with server.client() as client:
        resp = client.get(
            "/api/hosts", headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
    assert resp.status_code == 200, resp.text
    return sorted(h["id"] for h in resp.json()["hosts"])


@pytest.mark.slow
def test_serve_first_start_restart_and_admin_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data) as first:
        printed = _PASSWORD_LINE.findall(first.output())
        assert len(printed) == 1, first.output()
        password, kept_in = printed[0]
        path = data / "admin-password"
        assert Path(kept_in) == path.resolve()
        assert path.read_text().strip() == password
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert f"listening on https://127.0.0.1:{first.port}/api (data in {data.resolve()})" in first.output()

        resp = _login(first, ADMIN, password)
        assert resp.status_code == 200, resp.text
        token = resp.json()["access_token"]
        hosts = _host_ids(first, token)
        assert hosts
        assert first.stop() == 0

    with start_server(data) as second:
        assert "password" not in second.output()
        assert password not in second.output()
        assert _host_ids(second, token) == hosts  # tokens and the federation survive a restart
        assert _login(second, ADMIN, password).status_code == 200
        assert second.stop() == 0

    with start_server(data, env={"OPENOVC_ADMIN_PASSWORD": "From-The-Env-1"}) as third:
        assert password not in third.output()
        assert _login(third, ADMIN, "From-The-Env-1").status_code == 200
        assert _login(third, ADMIN, password).status_code == 400
        assert not path.exists()  # the kept password no longer works, so it is gone
        assert third.stop() == 0
    assert (data / "cert.pem").is_file()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with start_server(tmp_path_factory.mktemp("served")) as server:
        yield server
        server.stop()


def _raw_request(server: RunningServer, request_line: str) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # The official SDK's context speaks TLS 1.2 only.
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection((server.host, server.port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname=server.host) as tls,
    ):
        tls.sendall(
            f"{request_line}\r\nHost: {server.address}\r\nAccept: application/json\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
def test_absolute_form_request_target_over_tls_1_2(served: RunningServer) -> None:
    response = _raw_request(served, f"GET https://{served.address}/api/version HTTP/1.1")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), response
    assert json.loads(body)["REST_API_Version"] == "1.25"


@pytest.mark.slow
def test_tls_1_3_is_served_too(served: RunningServer) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with (
        socket.create_connection((served.host, served.port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname=served.host) as tls,
    ):
        assert tls.version() == "TLSv1.3"


@pytest.mark.slow
@pytest.mark.postgres
def test_two_controllers_first_start_on_one_postgresql_database(tmp_path: Path) -> None:
    """Started together, they load one federation and one administrator between them."""
    from tests.support.databases import fresh_postgres_database

    with fresh_postgres_database() as url:
        a = start_server(tmp_path / "a", database_url=url, wait=False)
        b = start_server(tmp_path / "b", database_url=url, wait=False)
        with a, b:
            a.wait_ready()
            b.wait_ready()
            printed = _PASSWORD_LINE.findall(a.output()) + _PASSWORD_LINE.findall(b.output())
            assert len(printed) == 1, a.output() + b.output()
            token = _login(a, ADMIN, printed[0][0]).json()["access_token"]
            hosts = _host_ids(b, token)
            assert len(hosts) == 6  # the demo federation's hosts, loaded once
            assert "listening on https://127.0.0.1:" in b.output()
            assert f"(data in {(tmp_path / 'b').resolve()}, database postgresql://" in b.output()
            assert a.stop() == b.stop() == 0
