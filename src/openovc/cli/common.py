"""What every command shares: exit codes, the one-line error, the store options and the settings they make."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from openovc.settings import Settings

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure to report as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def store_options(parser: argparse.ArgumentParser) -> None:
    """The options that say which store a command uses."""
    parser.add_argument(
        "--data-dir", type=Path, help="directory for the SQLite store, certificate and admin password"
    )
    parser.add_argument(
        "--database-url",
        help="sqlite:///FILE or postgresql://USER:PASS@HOST/DB (default: SQLite in the data dir)",
    )


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from OPENOVC_* variables, with the flags that were given taking precedence; every value
    checked, and the data directory usable."""
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        **extra,
    }
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise CommandError(f"invalid setting: {problems}", EXIT_USAGE) from None
    usable_data_dir(settings.data_dir)
    return settings


def usable_data_dir(path: Path) -> None:
    """The data directory exists (made if need be) and takes new files, or a one-line CommandError."""
    if path.exists() and not path.is_dir():
        raise CommandError(f"cannot use the data dir {path}: it is not a directory", EXIT_USAGE)
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Permissions alone do not say it (root ignores them; a read-only mount does not): try.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".openovc-probe-"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot use the data dir {path}: {exc.strerror or exc}", EXIT_USAGE) from None


def database_label(settings: Settings) -> str:
    """The store's database as shown to the operator (without its password)."""
    from openovc.storage import store

    return store.database_label(settings.effective_database_url)


def say(line: str) -> None:
    """A line for the operator, shown at once."""
    print(line, flush=True)
