"""Every bad argument, setting or database gives the operator one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.support.server import run_cli, start_server

pytestmark = pytest.mark.slow


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


@pytest.mark.parametrize(
    ("args", "env", "line", "code"),
    [
        (["init", "--database-url", "notaurl"], {},
         "invalid setting: database_url: not a database URL; use sqlite:///FILE or postgresql://USER:PASS@HOST/DB", 2),
        (["init", "--database-url", "mysql://root@localhost/db"], {},
         "invalid setting: database_url: unsupported database 'mysql'; use sqlite:///FILE or postgresql://...", 2),
        (["init", "--database-url", "postgresql://u@localhost:http/db"], {},
         "invalid setting: database_url: invalid port 'http' in the database URL", 2),
        (["serve", "--no-tls"], {"OPENOVC_TASK_PACING": "bogus"},
         "invalid setting: task_pacing: bad pacing 'bogus': use immediate, duration:SECONDS[:JITTER] or polls:N", 2),
        (["init"], {"OPENOVC_CLOCK": "sometimes"},
         "invalid setting: clock: clock mode must be real, manual, manual:<time> or accelerated:<factor>; "
         "got 'sometimes'", 2),
        (["serve", "--no-tls"], {"OPENOVC_LOG_LEVEL": "loud"},
         "invalid setting: log_level: expected one of critical, error, warning, info, debug, trace", 2),
        (["serve", "--no-tls", "--port", "70000"], {},
         "invalid setting: port: Input should be less than or equal to 65535", 2),
        (["serve", "--no-tls"], {"OPENOVC_MAX_BODY_BYTES": "10"},
         "invalid setting: max_body_bytes: Input should be greater than or equal to 1024", 2),
        (["init", "--vms", "9999999999"], {},
         "invalid federation size: --vms must be between 0 and 100000", 2),
        (["init", "--backups", "-1"], {}, "invalid federation size: --backups must be between 0 and 3000000", 2),
        (["init", "--seed", "-5"], {}, "invalid seed: --seed must be between 0 and 9223372036854775807", 2),
        (["users", "list", "--database-url", "postgresql://postgres@127.0.0.1:5432/postgres?bogus_option=1"], {},
         'cannot use the database: invalid connection option "bogus_option"', 1),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], line: str, code: int
) -> None:
    result = _run([*args, "--data-dir", str(tmp_path / "data")], env)
    assert (result.returncode, result.stderr) == (code, f"openovc: {line}\n")


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a directory")
    result = _run(["init", "--data-dir", str(taken)])
    assert (result.returncode, result.stderr) == (
        2,
        f"openovc: cannot use the data dir {taken}: it is not a directory\n",
    )
    below = taken / "data"
    result = _run(["serve", "--no-tls", "--data-dir", str(below)])
    assert (result.returncode, result.stderr) == (
        2,
        f"openovc: cannot use the data dir {below}: Not a directory\n",
    )


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        url = f"postgresql://postgres@127.0.0.1:{port}/openovc"
        result = _run(["init", "--database-url", url, "--data-dir", str(tmp_path)])
    assert result.returncode == 1
    assert result.stderr.startswith("openovc: cannot use the database: connection failed:")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _raw(port: int, request: bytes) -> tuple[bytes, dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, orjson.loads(body)


def test_requests_the_http_parser_refuses_get_json(tmp_path: Path) -> None:
    with start_server(tmp_path, extra_args=["--no-tls"]) as server:
        # Not even the whole request line: the server answers once the target passes its limit (sending
        # more than it reads would have its kernel reset the connection, and the answer could be lost).
        head, body = _raw(server.port, b"GET /api/hosts?name=" + b"x" * 33_000)
        assert head.startswith(b"HTTP/1.1 414 ")
        assert b"content-type: application/json" in head and b"connection: close" in head
        assert {k: v for k, v in body.items() if k != "timestamp"} == {
            "exception": "org.springframework.web.server.ResponseStatusException",
            "path": "/api/hosts",
            "message": "Request URI too long: at most 32768 bytes are accepted",
            "status": "414",
        }
        head, body = _raw(server.port, b"GET /api/hosts HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ")
        assert body["message"] == "Invalid HTTP request: Invalid HTTP request received"
