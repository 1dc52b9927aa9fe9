"""Which tasks GET /_openovc/tasks lists (states, an operation, since when, how many), read and checked."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from openovc.domain import timefmt
from openovc.domain.errors import InvalidParameter
from openovc.domain.query import parse_int
from openovc.domain.tasks import TaskState

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# The states as clients name them: a stored QUEUED task is IN_PROGRESS to them.
WIRE_STATES = {state.wire: state for state in TaskState}


@dataclass(frozen=True)
class TaskListing:
    """A checked listing: the newest `limit` tasks in one of `states` (stored values; none: any state), of
    `operation` if given, submitted at or after `since_ms` (the federation's time) if given."""

    states: tuple[str, ...] = ()
    operation: str | None = None
    since_ms: int | None = None
    limit: int = DEFAULT_LIMIT


def _given(params: Mapping[str, str], name: str) -> str | None:
    """A parameter's value, or None when absent or empty (empty means the default)."""
    raw = params.get(name)
    return None if raw is None or raw.strip() == "" else raw


def _states(raw: str) -> tuple[str, ...]:
    states: dict[str, None] = {}
    for part in (p.strip() for p in raw.split(",")):
        state = WIRE_STATES.get(part.upper())
        if state is None:
            raise InvalidParameter(
                f"Invalid value '{raw}' for parameter 'state': expected a comma list of "
                f"{', '.join(WIRE_STATES)}"
            )
        states[state.value] = None
    return tuple(states)


def _operation(raw: str, operations: Collection[str]) -> str:
    name = raw.strip()
    if name not in operations:
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'operation': expected one of {', '.join(sorted(operations))}"
        )
    return name


def _since(raw: str) -> int:
    try:
        return timefmt.epoch_ms(timefmt.parse(raw))
    except (ValueError, OverflowError):
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'since': expected an ISO-8601 date and time"
        ) from None


def parse_task_listing(params: Mapping[str, str], operations: Collection[str]) -> TaskListing:
    """Read the listing's query string; `operations`: those a task may be of. Unknown names are ignored, as
    the collections' reads ignore them."""
    state, operation = _given(params, "state"), _given(params, "operation")
    since, limit = _given(params, "since"), _given(params, "limit")
    return TaskListing(
        states=() if state is None else _states(state),
        operation=None if operation is None else _operation(operation, operations),
        since_ms=None if since is None else _since(since),
        limit=DEFAULT_LIMIT if limit is None else parse_int("limit", limit, minimum=1, maximum=MAX_LIMIT),
    )
