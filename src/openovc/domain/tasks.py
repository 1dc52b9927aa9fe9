"""Tasks as managed objects: states, transitions, affected objects, failures and pacing.

```mermaid
stateDiagram-v2
    [*] --> QUEUED: submitted (202; clients see IN_PROGRESS)
    QUEUED --> COMPLETED: due and its objects free - the change and the completion commit together
    QUEUED --> FAILED: the operation refused when it ran (nothing changed)
    QUEUED --> FAILED: the server that accepted it stopped before it finished (nothing changed)
```
An operation runs inside the one transaction that records its end, so a task is never half done,
and every end is a compare-and-set on the stored state: a late worker never overwrites a final state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum


class TaskState(Enum):
    QUEUED = "QUEUED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def wire(self) -> str:
        """What clients see: only IN_PROGRESS means "keep polling"."""
        return "IN_PROGRESS" if self is TaskState.QUEUED else self.value

    @property
    def final(self) -> bool:
        return self is not TaskState.QUEUED


@dataclass(frozen=True)
class AffectedObject:
    object_id: str
    object_type: str

    def as_dict(self) -> dict[str, str]:
        return {"object_id": self.object_id, "object_type": self.object_type}


class TaskFailure(Exception):
    """An operation that could not be carried out once it ran: the task ends FAILED with this code."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


# Task error codes, as the real one reports them where known (130 is documented by HPE).
class Codes:
    DUPLICATE_NAME = 13
    NOT_FOUND = 20
    INVALID_ARGUMENT = 30
    OBJECT_IN_USE = 40
    INSUFFICIENT_CAPACITY = 50
    INVALID_STATE = 60
    POWER_STATE = 130
    INVALID_DESTINATION = 142
    SERVER_DIED = 500


class PacingMode(Enum):
    IMMEDIATE = "immediate"  # done before the client's first poll
    DURATION = "duration"  # after a wall-clock duration, with jitter
    POLLS = "polls"  # after the client has polled this many times


@dataclass(frozen=True)
class Pacing:
    """How long an operation's tasks take."""

    mode: PacingMode = PacingMode.IMMEDIATE
    seconds: float = 0.0
    jitter: float = 0.0  # fraction of `seconds`, uniformly either side
    polls: int = 0

    def delay(self, rng: random.Random) -> float:
        if self.mode is not PacingMode.DURATION:
            return 0.0
        spread = self.seconds * self.jitter
        return max(0.0, self.seconds + rng.uniform(-spread, spread))


@dataclass
class PacingTable:
    """Pacing per operation name, with a default."""

    default: Pacing = field(default_factory=Pacing)
    by_operation: dict[str, Pacing] = field(default_factory=dict)

    def for_operation(self, operation: str) -> Pacing:
        return self.by_operation.get(operation, self.default)


def parse_pacing(text: str) -> Pacing:
    """`immediate`, `duration:SECONDS[:JITTER]` or `polls:N`; raises ValueError."""
    mode, _, rest = text.strip().partition(":")
    if mode == "immediate" and not rest:
        return Pacing()
    if mode == "duration":
        seconds, _, jitter = rest.partition(":")
        value, spread = float(seconds), float(jitter or 0)
        if value < 0 or not 0 <= spread <= 1:
            raise ValueError(f"bad duration pacing {text!r}: seconds >= 0 and jitter in [0, 1]")
        return Pacing(PacingMode.DURATION, value, spread)
    if mode == "polls" and rest.isdigit():
        return Pacing(PacingMode.POLLS, polls=int(rest))
    raise ValueError(f"bad pacing {text!r}: use immediate, duration:SECONDS[:JITTER] or polls:N")


def parse_pacing_table(text: str) -> PacingTable:
    """`DEFAULT[,OPERATION=PACING...]`; raises ValueError."""
    table = PacingTable()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        operation, sep, spec = part.partition("=")
        if sep:
            table.by_operation[operation.strip()] = parse_pacing(spec)
        else:
            table.default = parse_pacing(part)
    return table
