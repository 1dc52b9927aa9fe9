"""What every command shares: exit codes, the one-line error, the store options and the settings they make."""

from __future__ import annotations

import argparse
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
    """Settings from OPENOVC_* variables, with the flags that were given taking precedence."""
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        **extra,
    }
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CommandError(f"invalid setting: {problems}", EXIT_USAGE) from None


def database_label(settings: Settings) -> str:
    """The store's database as shown to the operator (without its password)."""
    from openovc.storage import store

    return store.database_label(settings.effective_database_url)


def say(line: str) -> None:
    """A line for the operator, shown at once."""
    print(line, flush=True)
