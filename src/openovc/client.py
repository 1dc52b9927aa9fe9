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
from dataclasses import dataclass
from typing import Any


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
    """GET /_openovc/clock: the clock's mode and simulated now (an ISO instant)."""

    mode: str
    now: str


@dataclass(frozen=True)
class ClockMove:
    """What moving the clock did, and where it stands after."""

    mode: str
    now: str
    backups_taken: int
    backups_expired: int
    tasks_completed: int


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
        return ClockReading(str(found["mode"]), str(found["now"]))

    def advance(self, by: float | str) -> ClockMove:
        """Move the clock on by seconds, or by a duration such as `90s`, `15m`, `6h`, `7d`."""
        return _moved(self._call("POST", "/_openovc/clock/advance", {"seconds": by}))

    def set_clock(self, to: str) -> ClockMove:
        """Move the clock on to an ISO instant such as `2027-02-01T00:00:00Z`."""
        return _moved(self._call("POST", "/_openovc/clock/set", {"to": to}))

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
        for attempt in (1, 2):
            token = self._token or self._login()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            try:
                return self._send(method, path, data, headers)
            except ControlError as refused:
                if refused.status != 401 or attempt == 2:
                    raise
                self._token = None  # expired or revoked: log in again, once
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout, context=self._context) as answer:
                found: dict[str, Any] = json.loads(answer.read() or b"{}")
                return found
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


def _moved(found: dict[str, Any]) -> ClockMove:
    return ClockMove(
        str(found["mode"]),
        str(found["now"]),
        int(found["backups_taken"]),
        int(found["backups_expired"]),
        int(found["tasks_completed"]),
    )
