"""The server a test session uses: where it is, who logs in, its control client, and its start snapshot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openovc.client import ControlClient, ControlError, Fault, Restored, TaskPacing
from openovc.testing.scenario import Scenario, ScenarioError


@dataclass
class OpenOVCServer:
    """One OpenOVC server for the session (or a private one of `openovc_start`): `url` (no /api), `address` (host:port, the SDK's `ip`), the
    administrator's `username` and `password`, `control` (the /_openovc API), the snapshot of the
    federation as the session started, which `restore()` puts back, and for a server the plugin started,
    its `data_dir`."""

    url: str
    address: str
    username: str
    password: str
    control: ControlClient
    scenario: Scenario
    start_snapshot: str = ""
    data_dir: Path | None = None  # None: a server given by URL, whose files are its starter's
    restores: int = field(default=0, init=False)
    _faults: list[Fault] = field(default_factory=list, init=False, repr=False)
    _ovc: Any = field(default=None, init=False, repr=False)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def credentials(self) -> dict[str, str]:
        """The administrator, as the official SDK's `credentials` takes it."""
        return {"username": self.username, "password": self.password}

    @property
    def certificate(self) -> Path | None:
        """The TLS certificate a started server serves (self-signed), for the SDK's `ssl_certificate`."""
        return None if self.data_dir is None else self.data_dir / "cert.pem"

    def sdk_config(
        self, username: str | None = None, password: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """The official SDK's configuration for this server: `OVC(server.sdk_config())`; `options` are
        the SDK's other settings, such as `timeout` or `ssl_certificate`."""
        user = {"username": username, "password": password} if username else self.credentials
        return {"ip": self.address, "credentials": user, **options}

    def sdk(self, username: str | None = None, password: str | None = None, **options: Any) -> Any:
        """A new official-SDK client (`simplivity.ovc_client.OVC`), logged in as the administrator or as
        the user given, with the SDK's other settings in `options`; needs the `simplivity` package."""
        from simplivity.ovc_client import OVC

        return OVC(self.sdk_config(username, password, **options))

    @property
    def ovc(self) -> Any:
        """The administrator's official-SDK client, logged in once: its token outlives every restore."""
        if self._ovc is None:
            self._ovc = self.sdk()
        return self._ovc

    def prepare(self) -> None:
        """Apply the scenario's run-time parts (fault rules, pacing), then save the start snapshot."""
        if self.scenario.faults is not None:
            self.control.clear_faults()
            for index, rule in enumerate(self.scenario.faults):
                try:
                    self.control.add_fault(rule)
                except ControlError as refused:
                    raise ScenarioError(f"faults[{index}]: {_refusal(refused)}") from None
        self._pace()
        # As the server keeps them (probability, count, skip and seed filled in): added again, they fire
        # exactly as they did.
        self._faults = self.control.faults()
        # A name of its own: several sessions may share a server given by URL.
        name = f"pytest-start-{uuid.uuid4().hex[:12]}"
        self.control.save_snapshot(name)
        self.start_snapshot = name

    def restore(self) -> Restored:
        """Back to the federation, tasks, clock and fault rules as the session started."""
        left = self.control.faults() if self._faults else []
        restored = self.control.restore_snapshot(self.start_snapshot)
        if left != self._faults:
            # The snapshot holds the rules, but a server process keeps applying those it last read, and
            # a rule spent in the test would stay spent: rules added again are new to every process.
            self.control.clear_faults()
            self._faults = [self.control.add_fault(fault.rule) for fault in self._faults]
        self._pace()  # pacing is the servers' setting, not the federation's: no snapshot holds it
        self.restores += 1
        return restored

    def forget(self) -> None:
        """Delete the start snapshot (a server given by URL keeps running after the session)."""
        if self.start_snapshot:
            self.control.delete_snapshot(self.start_snapshot)

    def _pace(self) -> None:
        # Each change waits for every process to see it: make none when the pacing is already right.
        pacing, now = self.scenario.pacing, self.control.pacing()
        if pacing is None:
            if now.set_at_run_time:
                self.control.reset_pacing()
            return
        if now == TaskPacing(pacing.default, pacing.operations, True):
            return
        try:
            self.control.set_pacing(pacing.default, pacing.operations)
        except ControlError as refused:
            raise ScenarioError(f"pacing: {_refusal(refused)}") from None


def _refusal(refused: ControlError) -> str:
    return refused.message.removeprefix("Invalid body: ")
