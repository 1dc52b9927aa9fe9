"""The fault rules of /_openovc/faults: added, listed and removed, and read by every process from a cache.

Each process keeps the rules it last read and re-reads the store's generation of them at most every
`FRESH_S` seconds (a change of rules waits twice that long before it answers, as the clock's controls
do), so a request costs nothing more while no rule exists. Which match of a rule fires is claimed in the
store, so counts hold across processes.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openovc.domain.catalog import BY_PLURAL
from openovc.domain.errors import InvalidBody, ObjectNotFound
from openovc.domain.faults import MAX_SEED, FaultRule, Operation, Operations, TaskErrorFault, parse_rule
from openovc.domain.ports.faults import FaultStore, StoredRule
from openovc.domain.ports.federation import FederationReader
from openovc.domain.tasks import TaskFailure
from openovc.services.clock import FRESH_S

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveRule:
    """A stored rule as a process applies it."""

    id: str
    rule: FaultRule


class FaultService:
    """The rules, for the control API (add, list, remove) and for the requests they apply to.

    `seed`: the seed of rules that name none (None: each such rule draws its own when added).
    """

    def __init__(
        self, store: FaultStore, operations: Operations, reader: FederationReader, seed: int | None = None
    ) -> None:
        self.operations = operations
        self._store = store
        self._reader = reader
        self._seed = seed
        self._lock = threading.Lock()
        self._rules: tuple[ActiveRule, ...] = ()
        self._generation: str | None = None
        self._read_at = -math.inf
        self._spent: set[str] = set()  # rules that fired `count` times: they never fire again

    # ---- the control API --------------------------------------------------------------------------

    def add(self, body: Mapping[str, Any]) -> dict[str, Any]:
        rule = parse_rule(body, self.operations, self._new_seed())
        rule_id = str(uuid.uuid4())
        self._store.add(rule_id, rule.as_json(), rule.count)
        self._changed()
        return {"fault": _shown(StoredRule(rule_id, rule.as_json(), 0))}

    def show(self) -> dict[str, Any]:
        return {"faults": [_shown(stored) for stored in self._store.load()]}

    def remove(self, rule_id: str) -> dict[str, Any]:
        removed = self._store.remove(rule_id)
        if removed is None:
            raise ObjectNotFound("fault", rule_id)
        self._changed()
        return {"fault": _shown(removed)}

    def clear(self) -> dict[str, Any]:
        removed = self._store.replace([])
        self._changed()
        return {"removed": removed}

    def replace(self, bodies: Sequence[object]) -> dict[str, Any]:
        """Every rule replaced by these (a rules file at a server's start); InvalidBody names the rule."""
        checked: list[tuple[str, dict[str, Any], int | None]] = []
        for number, body in enumerate(bodies, start=1):
            try:
                if not isinstance(body, dict):
                    raise InvalidBody("Invalid body: expected a JSON object")
                rule = parse_rule(body, self.operations, self._new_seed())
            except InvalidBody as problem:
                where = problem.message.removeprefix("Invalid body: ")
                raise InvalidBody(f"Invalid body: rule {number}: {where}") from None
            checked.append((str(uuid.uuid4()), rule.as_json(), rule.count))
        removed = self._store.replace(checked)
        self._changed()
        return {"removed": removed, "added": len(checked)}

    def _new_seed(self) -> int:
        return self._seed if self._seed is not None else random.randrange(MAX_SEED)

    def _changed(self) -> None:
        """This process reads the rules again at once; the others have let go of theirs on return."""
        with self._lock:
            self._read_at = -math.inf
        time.sleep(2 * FRESH_S)

    def forget(self) -> None:
        """A restore replaced the stored rules and their counts: read them again, and what was spent."""
        with self._lock:
            self._generation = None
            self._read_at = -math.inf
            self._spent = set()

    # ---- the requests they apply to ---------------------------------------------------------------

    def cached(self) -> tuple[ActiveRule, ...] | None:
        """The rules read within FRESH_S, without I/O; None when they must be read again (`rules`)."""
        if time.monotonic() - self._read_at < FRESH_S:
            return self._rules
        return None

    def rules(self) -> tuple[ActiveRule, ...]:
        """The rules, as fresh as FRESH_S: the store's generation read, and the rules only if it moved."""
        with self._lock:
            if time.monotonic() - self._read_at < FRESH_S:
                return self._rules
            generation = self._store.generation()
            if generation != self._generation:
                self._rules = tuple(self._active(self._store.load()))
                self._generation = generation
            self._read_at = time.monotonic()
            return self._rules

    def _active(self, stored: list[StoredRule]) -> list[ActiveRule]:
        active = []
        for each in stored:
            try:
                active.append(ActiveRule(each.id, parse_rule(each.rule, self.operations, 0)))
            except InvalidBody as problem:  # a rule of another version's operations: not applied here
                log.warning("fault rule %s not applied: %s", each.id, problem.message)
        return active

    def claim(self, active: ActiveRule) -> int | None:
        """Count a match of the rule: the match's number when it fires, else None (skipped, not drawn,
        or the rule has fired `count` times)."""
        if active.id in self._spent:
            return None
        seen = self._store.claim(active.id)
        if seen is None:
            self._spent.add(active.id)
            return None
        if not active.rule.fires(seen):
            return None
        if self._store.fire(active.id):
            return seen
        self._spent.add(active.id)
        return None

    def task_failure(self, rules: Sequence[ActiveRule]) -> TaskFailure | None:
        """At a task's submission: the failure of the first of these task-error rules that fires."""
        for active in rules:
            effect = active.rule.effect
            if isinstance(effect, TaskErrorFault) and self.claim(active) is not None:
                return TaskFailure(effect.error_code, effect.message)
        return None

    def name_of(self, operation: Operation, params: Mapping[str, str], body: object) -> str | None:
        """The name of the object a request works on: the one its path names, else the name in its body."""
        collection = BY_PLURAL.get(operation.collection)
        if collection is not None and operation.params:
            found: Mapping[str, Any] | None = self._reader.get(collection, params[operation.params[0]])
            name = None if found is None else found.get("name")
            return name if isinstance(name, str) else None
        given = body.get("name") if isinstance(body, dict) else None
        return given if isinstance(given, str) else None


def _shown(stored: StoredRule) -> dict[str, Any]:
    return {**stored.rule, "id": stored.id, "fired": stored.fired}
