"""An in-process server over a generated federation, with users and their tokens."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from openovc.app import AppRuntime, build_runtime, create_app
from openovc.domain.auth import Role
from openovc.domain.clock import ManualClock
from openovc.settings import Settings
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage.loading import load_federation

START = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
BASIC = "Basic " + base64.b64encode(b"simplivity:").decode()
ADMIN = ("administrator@vsphere.local", "Admin-Passw0rd!")
READER = ("auditor@vsphere.local", "Read-0nly-pass")


@dataclass
class Env:
    """An in-process server over a generated demo federation."""

    runtime: AppRuntime
    client: TestClient
    clock: ManualClock
    federation: Federation

    def login(self, user: tuple[str, str] = ADMIN) -> str:
        resp = self.client.post(
            "/api/oauth/token",
            headers={"Authorization": BASIC},
            data={"grant_type": "password", "username": user[0], "password": user[1]},
        )
        assert resp.status_code == 200, resp.text
        token: str = resp.json()["access_token"]
        return token

    def headers(self, user: tuple[str, str] = ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.login(user)}", "Accept": "application/json"}


def make_env(
    data_dir: Path,
    database_url: str | None = None,
    spec: FederationSpec | None = None,
    task_pacing: str = "polls:1",
    clock_mode: str | None = None,
) -> Env:
    """`task_pacing` "polls:1" (unlike a server's default, `immediate`): a task runs at its first poll, so
    a test can change the federation between a task's acceptance and its run."""
    clock = ManualClock(START)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        generate_demo=False,
        task_pacing=task_pacing,
        clock=clock_mode,
    )
    runtime = build_runtime(settings, clock)
    federation = generate(spec or FederationSpec.demo(), runtime.clock.now())
    load_federation(runtime.storage.engine, federation)
    runtime.auth.set_user(ADMIN[0], ADMIN[1], Role.ADMINISTRATOR)
    runtime.auth.set_user(READER[0], READER[1], Role.READ_ONLY)
    return Env(runtime, TestClient(create_app(runtime)), clock, federation)


def pick_vm(env: Env, power: str) -> dict[str, Any]:
    """The first live VM (not a template) of the generated federation with this power state."""
    return next(
        v for v in env.federation.rows["virtual_machines"]
        if v["state"] == "ALIVE" and v["hypervisor_virtual_machine_power_state"] == power
        and not v["hypervisor_is_template"]
    )  # fmt: skip
