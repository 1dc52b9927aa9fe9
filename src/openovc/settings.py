"""Server settings: command-line options and OPENOVC_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a server process needs to know at start."""

    model_config = SettingsConfigDict(env_prefix="OPENOVC_", extra="ignore")

    data_dir: Path = Path("openovc-data")
    database_url: str | None = None  # default: SQLite in data_dir
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    cert: Path | None = None
    key: Path | None = None
    admin_username: str = "administrator@vsphere.local"
    admin_password: str | None = None
    emergency_password: str | None = None  # the local svtcli account of the emergency grant
    token_idle_seconds: int = 600
    token_absolute_seconds: int = 86400
    seed: int = 1
    # How long tasks take: one pacing for all (`immediate`, `duration:SECONDS[:JITTER]`, `polls:N`),
    # then optional per-operation overrides, e.g. `immediate,virtual_machine.clone=duration:20:0.3`.
    task_pacing: str = "immediate"
    task_worker: bool = True
    # The federation's clock: `real`, `manual`, `manual:<ISO time>` or `accelerated:<factor>`; None keeps
    # the stored clock as it runs (a new store's runs in real time).
    clock: str | None = None
    # Server processes sharing the listening socket and the store (`serve --workers`).
    workers: int = Field(default=1, ge=1, le=64)
    generate_demo: bool = True
    log_level: str = "warning"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openovc.db').resolve()}"
