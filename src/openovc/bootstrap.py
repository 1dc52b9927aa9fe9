"""First-start logic: open the store, generate the demo federation when empty, and ensure the administrator."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from openovc.api.deps import Runtime
from openovc.app import AppRuntime, build_runtime
from openovc.domain.auth import EMERGENCY_USERNAME, Role
from openovc.domain.clock import Clock
from openovc.domain.ports.progress import SILENT, Progress
from openovc.domain.timefmt import to_text
from openovc.services.auth import verify_password
from openovc.settings import Settings
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate

ADMIN_PASSWORD_FILE = "admin-password"
EMERGENCY_PASSWORD_FILE = "emergency-password"

Announce = Callable[[str], None]


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def open_runtime(settings: Settings, clock: Clock | None = None) -> AppRuntime:
    """The runtime over a migrated store; creates the data directory, which SQLite's file lives in."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return build_runtime(settings, clock)


def admin_password_path(settings: Settings) -> Path:
    return settings.data_dir / ADMIN_PASSWORD_FILE


def install_federation(
    rt: AppRuntime,
    federation: Federation,
    *,
    source: str,
    generated_at: datetime,
    spec: FederationSpec | None = None,
    inventory: Path | None = None,
    progress: Progress = SILENT,
) -> None:
    """Load a federation into the (empty) store, record where it came from, and keep it for reset."""
    encoded = rt.storage.load(federation, progress)
    record: dict[str, object] = {
        "source": source,
        "inventory": str(inventory.resolve()) if inventory is not None else None,
        "seed": spec.seed if spec is not None else None,
        "spec": asdict(spec) if spec is not None else None,
        "generated_at": to_text(generated_at),
        "counts": {name: len(rows) for name, rows in federation.rows.items()},
    }
    rt.storage.record_federation(record)
    progress.phase("Keeping the initial snapshot")
    rt.snapshots.keep_initial(encoded)  # what /_openovc/reset goes back to


def _read_password(path: Path) -> str | None:
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return password or None


def _write_password(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password + "\n")
    os.chmod(tmp, 0o600)  # os.open's mode passes through the umask
    os.replace(tmp, path)


def forget_generated_password(path: Path) -> bool:
    """Remove a kept generated password once it no longer works; True when a file was removed."""
    if path.exists():
        path.unlink()
        return True
    return False


@dataclass(frozen=True)
class Account:
    """A built-in account: who, with what role, whose password comes from a setting or is generated once."""

    label: str
    username: str
    role: Role
    password: str | None
    path: Path
    variable: str


def accounts(settings: Settings) -> tuple[Account, Account]:
    """The administrator, and the local `svtcli` account of the emergency grant."""
    return (
        Account("Administrator", settings.admin_username, Role.ADMINISTRATOR, settings.admin_password,
                admin_password_path(settings), "OPENOVC_ADMIN_PASSWORD"),
        Account("Emergency account", EMERGENCY_USERNAME, Role.EMERGENCY, settings.emergency_password,
                settings.data_dir / EMERGENCY_PASSWORD_FILE, "OPENOVC_EMERGENCY_PASSWORD"),
    )  # fmt: skip


def ensure_account(rt: Runtime, account: Account, announce: Announce = _stdout) -> None:
    """Make sure the account can log in, announcing a generated password only when it is new."""
    current = rt.auth.store.user(account.username)
    if account.password:
        if current is None or not verify_password(current[0], account.password):
            rt.auth.set_user(account.username, account.password, account.role)
        kept = _read_password(account.path)
        # A kept generated password that no longer works would mislead whoever reads it.
        if kept is not None and kept != account.password and forget_generated_password(account.path):
            announce(
                f"{account.label} {account.username}: password set from {account.variable}; removed {account.path}"
            )
        return
    if current is not None:
        return
    # The user can be missing while the file is kept, e.g. a new database for an old data directory:
    # reuse the kept password rather than invalidate what the operator wrote down.
    password = _read_password(account.path)
    # Only a secret generated here gets the cheap hash: a kept file may have been edited by a person.
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(18)
        _write_password(account.path, password)
        announce(
            f"{account.label} {account.username}, password: {password} (kept in {account.path.resolve()})"
        )
    rt.auth.set_user(account.username, password, account.role, generated=generated)


def ensure_admin(rt: Runtime, announce: Announce = _stdout) -> None:
    """Make sure the administrator and the emergency account can log in."""
    for account in accounts(rt.settings):
        ensure_account(rt, account, announce)


def prepare(settings: Settings, clock: Clock | None = None, *, announce: Announce = _stdout) -> AppRuntime:
    """The runtime `serve` runs: the store migrated, the demo federation loaded if empty, the admin there."""
    rt = open_runtime(settings, clock)
    with rt.storage.first_start_lock():
        if settings.generate_demo and rt.storage.is_empty():
            spec = FederationSpec.demo(seed=settings.seed)
            now = rt.clock.now()
            # Each host's controller listens on its own management address: it must be this machine's.
            federation = generate(spec, now, loopback_addresses=settings.controller_per_host)
            install_federation(rt, federation, source="demo", generated_at=now, spec=spec)
        ensure_admin(rt, announce)
    return rt
