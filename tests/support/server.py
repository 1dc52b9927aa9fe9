"""Real `openovc serve` processes for integration and contract tests: start, wait until ready, stop."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

_LISTENING = re.compile(r"listening on (https?)://(\S+?):(\d+)/api")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    """A port that was free a moment ago (prefer port=0, which cannot race with other tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def admin_token(client: httpx.Client, password: str, username: str = "administrator@vsphere.local") -> str:
    """Log in through `client` with the password grant; the access token."""
    basic = "Basic " + base64.b64encode(b"simplivity:").decode()
    resp = client.post(
        "/api/oauth/token",
        headers={"Authorization": basic},
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


def clean_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment without OPENOVC_* (a developer's own settings), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENOVC_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class ServerFailed(RuntimeError):
    """The server exited or did not become ready; the message carries its output."""


class RunningServer:
    """One `openovc serve` process; stdout and stderr go to one log file, readable with output()."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self._log_path = log_path
        self._final_output: str | None = None
        self.scheme = "https"
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def address(self) -> str:
        """host:port, as the official SDK's `ip` setting takes it."""
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """scheme://host:port, without the /api prefix."""
        return f"{self.scheme}://{self.address}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr interleaved)."""
        if self._final_output is not None:
            return self._final_output
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, timeout_s: float = 30.0) -> httpx.Client:
        """An httpx client for this server that accepts its self-signed certificate."""
        return httpx.Client(base_url=self.base_url, verify=False, timeout=timeout_s)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Block until GET /api/version answers 200; raise ServerFailed with the output otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"server exited with {self.process.returncode}:\n{self.output()}")
            match = _LISTENING.search(self.output())
            if match is not None:
                self.scheme, self.host, self.port = (
                    match.group(1),
                    match.group(2).strip("[]"),
                    int(match.group(3)),
                )
                try:
                    with self.client() as client:
                        if client.get("/api/version").status_code == 200:
                            return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        self.kill()
        raise ServerFailed(f"server not ready within {timeout_s} s:\n{self.output()}")

    def _finish(self) -> None:
        if self._final_output is None:
            self._final_output = self._log_path.read_text(encoding="utf-8", errors="replace")
            self._log_path.unlink(missing_ok=True)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then wait for a graceful exit; returns the exit status (SIGKILLs on timeout)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerFailed(f"server ignored SIGTERM for {timeout_s} s:\n{self.output()}") from None
        self._finish()
        return self.process.returncode

    def kill(self) -> int:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)
        self._finish()
        return self.process.returncode

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.kill()
        self._finish()


def start_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    port: int = 0,
    wait: bool = True,
    timeout_s: float = READY_TIMEOUT_S,
) -> RunningServer:
    """Start `python -m openovc serve` on 127.0.0.1 (a kernel-chosen port unless given) and wait for it."""
    args = [sys.executable, "-m", "openovc", "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--data-dir", str(data_dir)]
    if database_url is not None:
        args += ["--database-url", database_url]
    args += list(extra_args)
    fd, log_name = tempfile.mkstemp(prefix="openovc-serve-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        # A file, not a pipe: a chatty server can never block on a pipe no test is reading.
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=clean_environment(env)
        )
    server = RunningServer(process, Path(log_name))
    if wait:
        try:
            server.wait_ready(timeout_s)
        except BaseException:
            server.kill()
            raise
    return server


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m openovc ARGS` as an operator runs it: no input, output captured, and of the environment
    only the OPENOVC_* variables given in `env` (clean_environment)."""
    return subprocess.run(
        [sys.executable, "-m", "openovc", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environment(env),
        timeout=timeout_s,
        cwd=cwd,
    )
