"""Server settings: command-line options and OPENOVC_* environment variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openovc.domain.clock import parse_clock_mode
from openovc.domain.tasks import parse_pacing_table

# The databases the store supports (storage.engine: postgresql means psycopg 3).
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")
_URL = re.compile(r"^(?P<scheme>[\w+]+)://(?P<rest>.*)$", re.DOTALL)
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_TEN_YEARS_S = 10 * 365 * 86400


class Settings(BaseSettings):
    """Everything a server process needs to know at start."""

    model_config = SettingsConfigDict(env_prefix="OPENOVC_", extra="ignore")

    data_dir: Path = Path("openovc-data")
    database_url: str | None = None  # default: SQLite in data_dir
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)  # 0: any free port
    tls: bool = True
    cert: Path | None = None
    key: Path | None = None
    admin_username: str = "administrator@vsphere.local"
    admin_password: str | None = None
    emergency_password: str | None = None  # the local svtcli account of the emergency grant
    token_idle_seconds: int = Field(default=600, ge=1, le=_TEN_YEARS_S)
    token_absolute_seconds: int = Field(default=86400, ge=1, le=_TEN_YEARS_S)
    # Login lockout (domain.lockout): this many attempts within the window from one source address lock
    # that account for that source for the lockout's duration.
    login_max_failures: int = Field(default=5, ge=1, le=1_000_000)
    login_failure_window_seconds: int = Field(default=180, ge=1, le=_TEN_YEARS_S)
    login_lockout_seconds: int = Field(default=300, ge=1, le=_TEN_YEARS_S)
    # Password checks one server process runs at once (a few more may wait; beyond, 503).
    login_concurrency: int = Field(default=2, ge=1, le=64)
    seed: int = Field(default=1, ge=0, le=2**63 - 1)
    # How long tasks take: one pacing for all (`immediate`, `duration:SECONDS[:JITTER]`, `polls:N`),
    # then optional per-operation overrides, e.g. `immediate,virtual_machine.clone=duration:20:0.3`.
    task_pacing: str = "immediate"
    task_worker: bool = True
    # The federation's clock: `real`, `manual`, `manual:<ISO time>` or `accelerated:<factor>`; None keeps
    # the stored clock as it runs (a new store's runs in real time).
    clock: str | None = None
    # Server processes sharing the listening socket and the store (`serve --workers`).
    workers: int = Field(default=1, ge=1, le=64)
    # Each host's own Virtual Controller on its management address and this port, while it runs
    # (`serve --controller-per-host`; api/controller_listeners.py).
    controller_per_host: bool = False
    controller_port: int = Field(default=443, ge=1, le=65535)
    generate_demo: bool = True
    log_level: str = "warning"
    # One line per request (`serve --access-log`); `text` or `json` (one object a line) for every line.
    access_log: bool = False
    log_format: Literal["text", "json"] = "text"
    # GET /_openovc/metrics without a token, as Prometheus scrapes (by default any valid token is needed).
    metrics_public: bool = False
    # The real one's proxy: 502 beyond this many requests at once per process, 504 for a request not
    # answered within this many seconds (the real one: 60). None: no limit.
    max_concurrent_requests: int | None = Field(default=None, ge=1, le=1_000_000)
    request_timeout: float | None = Field(default=None, gt=0, le=86_400)
    # Seed of the fault rules that name none (None: each such rule draws its own when added).
    fault_seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    # The largest request body accepted (413 beyond it); the largest legitimate ones are a few KiB.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """Refused here, in one line, rather than by SQLAlchemy with a traceback when the store opens."""
        if not value:
            return value
        found = _URL.match(value)
        if found is None:
            raise ValueError("not a database URL; use sqlite:///FILE or postgresql://USER:PASS@HOST/DB")
        scheme = found["scheme"].lower()
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database {found['scheme']!r}; use sqlite:///FILE or postgresql://..."
            )
        if scheme.startswith("postgres"):
            authority = re.split(r"[/?]", found["rest"], maxsplit=1)[0].rpartition("@")[2]
            port = (
                authority.rpartition("]")[2].partition(":")[2]
                if authority.startswith("[")
                else (authority.partition(":")[2])
            )
            if port and not (port.isdigit() and 1 <= int(port) <= 65535):
                raise ValueError(f"invalid port {port!r} in the database URL")
        return value

    @field_validator("task_pacing")
    @classmethod
    def _task_pacing(cls, value: str) -> str:
        parse_pacing_table(value)  # its ValueError names the problem
        return value

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            parse_clock_mode(value, 0)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        return value.lower()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openovc.db').resolve()}"
