"""Progress bars on stderr for long commands: one line per phase, with its count; only on a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from openovc.domain.ports.progress import SILENT, Progress


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """`--no-progress`: no bars even on a terminal (they are never shown when stderr is not one)."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="show no progress bars (they are shown only when stderr is a terminal)",
    )


@contextmanager
def progress_for(args: argparse.Namespace, stream: TextIO | None = None) -> Iterator[Progress]:
    """Bars on `stream` (stderr) when it is a terminal and `--no-progress` was not given; else silence."""
    out = stream if stream is not None else sys.stderr
    if getattr(args, "no_progress", False) or not out.isatty():
        yield SILENT
        return
    # Imported only to draw: a server, or a command without a terminal, does not load rich.
    from rich.console import Console

    from openovc.cli.bars import Bars

    with Bars(Console(file=out)) as bars:
        yield bars
