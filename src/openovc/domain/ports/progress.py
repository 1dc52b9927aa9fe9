"""How far a long job (generating or loading a federation) has got: its phases, each with a count."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told of each phase as it starts and of the steps done in it; the command line shows it."""

    def phase(self, name: str, total: int | None = None) -> None:
        """A new phase begins (the previous one is over), of `total` steps when known."""
        ...

    def advance(self, steps: int = 1) -> None:
        """`steps` more steps of the current phase are done."""
        ...


class Silent:
    """Progress nobody watches: tests, logs and the server's own first start."""

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


SILENT = Silent()
