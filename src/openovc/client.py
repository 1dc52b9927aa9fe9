"""A small typed client of OpenOVC's control API (/_openovc), on the standard library alone.

    from openovc.client import ControlClient
    control = ControlClient("https://127.0.0.1:8443", "administrator@vsphere.local", "secret")
    control.set_clock("2027-02-01T00:00:00Z")
    print(control.advance("7d").backups_taken)

It logs in as HPE's clients do (POST /api/oauth/token) and logs in again when the token expires.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SNAPSHOT_FILE = "application/vnd.openovc.snapshot"


class ControlError(Exception):
    """The server refused a call: its status and the error body it sent."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        message = body.get("message") or body.get("error_description") or body.get("error") or str(body)
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body
        self.message = str(message)


@dataclass(frozen=True)
class ClockReading:
    """GET /_openovc/clock: the clock's mode and simulated now (an ISO instant); on a running clock also
    how far the policy schedule is behind it, in simulated seconds (None on a manual clock)."""

    mode: str
    now: str
    schedule_lag_seconds: float | None = None


@dataclass(frozen=True)
class ClockMove:
    """What moving the clock did, and where it stands after."""

    mode: str
    now: str
    backups_taken: int
    backups_expired: int
    tasks_completed: int


@dataclass(frozen=True)
class Fault:
    """A fault rule as the server keeps it: its id, the rule (match, effect...) and how often it fired."""

    id: str
    rule: dict[str, Any]
    fired: int


@dataclass(frozen=True)
class TaskPacing:
    """How long tasks take: the default pacing, the operations with their own, and whether it was set at
    run time (else it is the servers' start-up setting)."""

    default: str
    operations: dict[str, str]
    set_at_run_time: bool


@dataclass(frozen=True)
class Snapshot:
    """A saved snapshot: when it was saved (real time), the clock it holds, its objects, rows and bytes."""

    name: str
    created_at: str
    clock_mode: str
    clock_now: str
    counts: dict[str, int]
    rows: int
    size: int
    schema_revision: str


@dataclass(frozen=True)
class Restored:
    """What a restore or a reset put in place of the federation, and the clock after it."""

    name: str
    counts: dict[str, int]
    rows: int
    clock_mode: str
    clock_now: str


@dataclass(frozen=True)
class HardwareChange:
    """What a hardware fault or repair did: the host and cluster after it (state, hardware status, capacity
    figures), the capacity it moved, VMs by new HA status (and failed over), the resyncs it began; `drive`
    for a drive's fault or repair."""

    host: dict[str, Any]
    omnistack_cluster: dict[str, Any]
    capacity_change: int
    virtual_machines: dict[str, int]
    resync: dict[str, Any]
    drive: dict[str, Any] | None


class ControlClient:
    """The control API of one server. `verify`: check its TLS certificate (a generated one is not)."""

    def __init__(
        self, url: str, username: str, password: str, *, verify: bool = False, timeout: float = 600
    ) -> None:
        self.base = url.rstrip("/").removesuffix("/api")
        self._username = username
        self._password = password
        self._timeout = timeout
        self._context = ssl.create_default_context() if verify else ssl._create_unverified_context()
        self._token: str | None = None

    @classmethod
    def from_environment(cls, **given: str | None) -> ControlClient:
        """A client from OPENOVC_URL, OPENOVC_USER and OPENOVC_PASSWORD, each overridden when given."""
        url = given.get("url") or os.environ.get("OPENOVC_URL") or "https://127.0.0.1:8443"
        user = given.get("user") or os.environ.get("OPENOVC_USER") or "administrator@vsphere.local"
        password = given.get("password") or os.environ.get("OPENOVC_PASSWORD")
        if not password:
            raise ControlError(401, {"message": "no password: set OPENOVC_PASSWORD or give --password"})
        return cls(url, user, password)

    # ---- the clock --------------------------------------------------------------------------------

    def clock(self) -> ClockReading:
        found = self._call("GET", "/_openovc/clock")
        lag = found.get("schedule_lag_seconds")
        return ClockReading(str(found["mode"]), str(found["now"]), None if lag is None else float(lag))

    def advance(self, by: float | str) -> ClockMove:
        """Move the clock on by seconds, or by a duration such as `90s`, `15m`, `6h`, `7d`."""
        return _moved(self._call("POST", "/_openovc/clock/advance", {"seconds": by}))

    def set_clock(self, to: str) -> ClockMove:
        """Move the clock on to an ISO instant such as `2027-02-01T00:00:00Z`."""
        return _moved(self._call("POST", "/_openovc/clock/set", {"to": to}))

    # ---- fault rules ------------------------------------------------------------------------------

    def faults(self) -> list[Fault]:
        return [_fault(each) for each in self._call("GET", "/_openovc/faults")["faults"]]

    def add_fault(self, rule: Mapping[str, Any]) -> Fault:
        """Add a rule such as {"match": {"operation": "cloneVm"}, "effect": {"http": {"status": 503}}}."""
        return _fault(self._call("POST", "/_openovc/faults", dict(rule))["fault"])

    def remove_fault(self, fault_id: str) -> Fault:
        """Remove a rule; it is answered as it was, with how often it fired."""
        quoted = urllib.parse.quote(fault_id, safe="")
        return _fault(self._call("DELETE", f"/_openovc/faults/{quoted}")["fault"])

    def clear_faults(self) -> int:
        """Remove every rule; how many there were."""
        return int(self._call("DELETE", "/_openovc/faults")["removed"])

    # ---- task pacing ------------------------------------------------------------------------------

    def pacing(self) -> TaskPacing:
        return _pacing(self._call("GET", "/_openovc/pacing"))

    def set_pacing(self, default: str, operations: Mapping[str, str] | None = None) -> TaskPacing:
        """Pace tasks from now on, e.g. `set_pacing("immediate", {"virtual_machine.clone": "duration:20"})`."""
        body = {"default": default, "operations": dict(operations or {})}
        return _pacing(self._call("PUT", "/_openovc/pacing", body))

    def reset_pacing(self) -> TaskPacing:
        """Back to the pacing the servers started with."""
        return _pacing(self._call("DELETE", "/_openovc/pacing"))

    # ---- snapshots --------------------------------------------------------------------------------

    def snapshots(self) -> list[Snapshot]:
        return [_snapshot(s) for s in self._call("GET", "/_openovc/snapshots")["snapshots"]]

    def snapshot(self, name: str) -> Snapshot:
        return _snapshot(self._call("GET", f"/_openovc/snapshots/{_path(name)}"))

    def save_snapshot(self, name: str) -> Snapshot:
        """Save the whole federation (objects, tasks, clock) under a name."""
        return _snapshot(self._call("POST", "/_openovc/snapshots", {"name": name}))

    def restore_snapshot(self, name: str) -> Restored:
        """Replace the federation by a snapshot's; this client stays logged in."""
        return _restored(self._call("POST", f"/_openovc/snapshots/{_path(name)}/restore"))

    def delete_snapshot(self, name: str) -> Snapshot:
        return _snapshot(self._call("DELETE", f"/_openovc/snapshots/{_path(name)}"))

    def export_snapshot(self, name: str) -> bytes:
        """The snapshot as a file, which import_snapshot takes on this or another server."""
        return self._authorised("GET", f"/_openovc/snapshots/{_path(name)}/export", None, SNAPSHOT_FILE)

    def import_snapshot(self, data: bytes, name: str | None = None) -> Snapshot:
        """Keep a snapshot file, under `name` or the name it was saved under."""
        query = "" if name is None else "?" + urllib.parse.urlencode({"name": name})
        raw = self._authorised("POST", f"/_openovc/snapshots/import{query}", data, SNAPSHOT_FILE)
        return _snapshot(json.loads(raw))

    def reset(self) -> Restored:
        """Back to the federation init or the first start generated or loaded."""
        return _restored(self._call("POST", "/_openovc/reset"))

    # ---- tasks ------------------------------------------------------------------------------------

    def tasks(
        self,
        state: str | None = None,
        operation: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """The federation's tasks, newest first, each as GET /api/tasks/{id} shows it plus its `operation`
        (as pacing names it): `state` a comma list of IN_PROGRESS, COMPLETED, FAILED; `operation` one to
        list only; `limit` 1 to 500 (default 50); `since` an ISO instant of the federation's clock."""
        given = {"state": state, "operation": operation, "limit": limit, "since": since}
        query = urllib.parse.urlencode({k: v for k, v in given.items() if v is not None})
        found: list[dict[str, Any]] = self._call("GET", "/_openovc/tasks" + (query and "?" + query))["tasks"]
        return found

    # ---- hardware faults --------------------------------------------------------------------------

    def fail_drive(self, host_id: str, slot: int | str) -> HardwareChange:
        """The host's drive in `slot` fails (its array degrades, the host's capacity shrinks)."""
        return self._hardware(f"{_path(host_id)}/drives/{_path(str(slot))}/fail")

    def repair_drive(self, host_id: str, slot: int | str) -> HardwareChange:
        """The failed drive in `slot` is replaced."""
        return self._hardware(f"{_path(host_id)}/drives/{_path(str(slot))}/repair")

    def fail_host(self, host_id: str) -> HardwareChange:
        """The host fails: FAULTY, its VMs restarted on their other replica's host."""
        return self._hardware(f"{_path(host_id)}/fail")

    def repair_host(self, host_id: str) -> HardwareChange:
        """The failed host is back: ALIVE, its replicas resyncing."""
        return self._hardware(f"{_path(host_id)}/repair")

    def shutdown_controller(self, host_id: str) -> HardwareChange:
        """The host's Virtual Controller stops at once."""
        return self._hardware(f"{_path(host_id)}/controller/shutdown")

    def restart_controller(self, host_id: str) -> HardwareChange:
        """A Virtual Controller that shut down runs again."""
        return self._hardware(f"{_path(host_id)}/controller/restart")

    def _hardware(self, path: str) -> HardwareChange:
        return _hardware_change(self._call("POST", f"/_openovc/hardware/hosts/{path}"))

    # ---- the wire ---------------------------------------------------------------------------------

    def _login(self) -> str:
        form = urllib.parse.urlencode(
            {"grant_type": "password", "username": self._username, "password": self._password}
        ).encode()
        basic = base64.b64encode(b"simplivity:").decode()
        headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
        found = self._send("POST", "/api/oauth/token", form, headers)
        self._token = str(found["access_token"])
        return self._token

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        found: dict[str, Any] = json.loads(self._authorised(method, path, data, "application/json") or b"{}")
        return found

    def _authorised(self, method: str, path: str, data: bytes | None, content_type: str) -> bytes:
        """The answer's bytes to a call with the session's token (`content_type`: of `data`, if any)."""
        for attempt in (1, 2):
            token = self._token or self._login()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            try:
                return self._send_raw(method, path, data, headers)
            except ControlError as refused:
                if refused.status != 401 or attempt == 2:
                    raise
                self._token = None  # expired or revoked: log in again, once
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self._send_raw(method, path, data, headers) or b"{}")
        return found

    def _send_raw(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> bytes:
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout, context=self._context) as answer:
                raw: bytes = answer.read()
                return raw
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {"message": raw.decode(errors="replace")}
            raise ControlError(
                error.code, body if isinstance(body, dict) else {"message": str(body)}
            ) from None
        except urllib.error.URLError as error:
            raise ControlError(0, {"message": f"cannot reach {self.base}: {error.reason}"}) from None


def _path(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _snapshot(found: dict[str, Any]) -> Snapshot:
    clock = found["clock"]
    counts = {str(k): int(v) for k, v in found["counts"].items()}
    return Snapshot(
        str(found["name"]), str(found["created_at"]), str(clock["mode"]), str(clock["now"]), counts,
        int(found["rows"]), int(found["size"]), str(found["schema_revision"]),
    )  # fmt: skip


def _restored(found: dict[str, Any]) -> Restored:
    counts = {str(k): int(v) for k, v in found["counts"].items()}
    clock = found["clock"]
    return Restored(str(found["name"]), counts, int(found["rows"]), str(clock["mode"]), str(clock["now"]))


def _moved(found: dict[str, Any]) -> ClockMove:
    return ClockMove(
        str(found["mode"]),
        str(found["now"]),
        int(found["backups_taken"]),
        int(found["backups_expired"]),
        int(found["tasks_completed"]),
    )


def _fault(found: dict[str, Any]) -> Fault:
    rule = {k: v for k, v in found.items() if k not in ("id", "fired")}
    return Fault(str(found["id"]), rule, int(found["fired"]))


def _pacing(found: dict[str, Any]) -> TaskPacing:
    operations = {str(k): str(v) for k, v in found["operations"].items()}
    return TaskPacing(str(found["default"]), operations, bool(found["set_at_run_time"]))


def _hardware_change(found: dict[str, Any]) -> HardwareChange:
    return HardwareChange(
        dict(found["host"]),
        dict(found["omnistack_cluster"]),
        int(found["capacity_change"]),
        {str(k): int(v) for k, v in found["virtual_machines"].items()},
        dict(found["resync"]),
        dict(found["drive"]) if "drive" in found else None,
    )
