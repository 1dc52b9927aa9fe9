"""A Progress that records what a long job reports, for tests to compare with what it did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Phase:
    name: str
    total: int | None
    done: int = 0


@dataclass
class Recorder:
    """Every phase reported, with the steps reported in it."""

    phases: list[Phase] = field(default_factory=list)

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append(Phase(name, total))

    def advance(self, steps: int = 1) -> None:
        if not self.phases:
            raise AssertionError("a step reported before any phase")
        self.phases[-1].done += steps

    def summary(self) -> list[tuple[str, int | None, int]]:
        return [(p.name, p.total, p.done) for p in self.phases]
