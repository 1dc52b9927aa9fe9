"""Start an `openovc serve` process on a fresh data directory as a scenario describes, and stop it."""

from __future__ import annotations

import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from openovc.testing.scenario import Scenario

ADMIN_USERNAME = "administrator@vsphere.local"
_LISTENING = re.compile(r"listening on (https?)://(\S+?):(\d+)/api")
_COMMAND_TIMEOUT_S = 600.0  # `init --largest` takes about a minute on a quiet machine
_READY_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 20.0


class LaunchError(RuntimeError):
    """A step of starting the server failed; the message says which, and what the command said."""


@dataclass
class ServerProcess:
    """A running `openovc serve`: where it listens, its administrator, its process and log."""

    url: str  # scheme://host:port, without /api
    address: str  # host:port, the official SDK's `ip`
    username: str
    password: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path

    def stop(self) -> int:
        """SIGTERM and a graceful exit (SIGKILL if it takes too long); the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(_STOP_TIMEOUT_S)
        return self.process.returncode


def launch(scenario: Scenario, data_dir: Path, database_url: str | None = None) -> ServerProcess:
    """Initialise the store as the scenario says (SQLite in `data_dir`, or an empty database at
    `database_url`), add its users, and serve on a free port."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = ["--data-dir", str(data_dir)]
    if database_url:
        store += ["--database-url", database_url]
    password = secrets.token_urlsafe(18)
    env = _environment(password)
    init_env = dict(env)
    if scenario.clock is not None and scenario.clock.start is not None:
        # The federation's history is generated up to the clock's start, which the store then keeps.
        init_env["OPENOVC_CLOCK"] = f"manual:{scenario.clock.start_text()}"
    _run(["init", *store, "--no-progress", *_inventory_args(scenario, data_dir)], init_env)
    for user in scenario.users:
        groups = [arg for group in user.groups for arg in ("--group", group)]
        add = ["users", "add", user.name, "--role", user.role, "--password", user.password, *groups]
        _run([*add, *store], env)
    serve = ["serve", *store, "--host", "127.0.0.1", "--port", "0"]
    if scenario.clock is not None:
        serve += ["--clock", scenario.clock.serve_mode()]
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        # A file, not a pipe: nobody reads the server's output while the tests run.
        process = subprocess.Popen(
            [sys.executable, "-m", "openovc", *serve],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        scheme, host, port = _wait_ready(process, log_path)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(_STOP_TIMEOUT_S)
        raise
    address = f"{host}:{port}"
    return ServerProcess(
        f"{scheme}://{address}", address, ADMIN_USERNAME, password, process, data_dir, log_path
    )


def _environment(password: str) -> dict[str, str]:
    # The developer's own OPENOVC_* settings (a data dir, a database, a clock) are not the scenario's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENOVC_")}
    env["OPENOVC_ADMIN_PASSWORD"] = password
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _inventory_args(scenario: Scenario, data_dir: Path) -> list[str]:
    inventory = scenario.inventory
    if inventory is None:
        return []
    if inventory.generate is not None:
        return inventory.generate.init_args()
    if inventory.file is not None:
        return ["--inventory", str(inventory.file)]
    written = data_dir / "inventory.json"  # JSON is YAML: init's loader reads it
    written.write_text(json.dumps(inventory.inline, indent=1, default=str), encoding="utf-8")
    return ["--inventory", str(written)]


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "openovc", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=_COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LaunchError(f"openovc {args[0]} took more than {_COMMAND_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        problem = said[-1].removeprefix("openovc: ") if said else f"exit status {done.returncode}"
        raise LaunchError(f"openovc {' '.join(args[:2]) if args[0] == 'users' else args[0]}: {problem}")


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path) -> tuple[str, str, int]:
    """The scheme, host and port the server announced, once its health check answers 200."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    context = ssl._create_unverified_context()  # its certificate is self-signed
    while time.monotonic() < deadline:
        output = log_path.read_text(encoding="utf-8", errors="replace")
        if process.poll() is not None:
            raise LaunchError(f"openovc serve exited with status {process.returncode}:\n{output}")
        found = _LISTENING.search(output)
        if found is not None:
            scheme, host, port = found.group(1), found.group(2).strip("[]"), int(found.group(3))
            try:
                url = f"{scheme}://{host}:{port}/_openovc/health"
                with urllib.request.urlopen(url, timeout=5, context=context) as answer:
                    if answer.status == 200:
                        return scheme, host, port
            except (urllib.error.URLError, OSError):
                pass  # listening, not yet answering
        time.sleep(0.1)
    raise LaunchError(f"openovc serve was not ready within {_READY_TIMEOUT_S:g} s:\n{output}")
