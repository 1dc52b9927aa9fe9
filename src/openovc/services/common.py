"""Shared pieces of the operations: quick checks before a task exists, and checks again when it runs."""

from __future__ import annotations

import uuid
from typing import Any

from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.fields import Collection
from openovc.domain.names import name_problem
from openovc.domain.ports.federation import FederationReader, Finder, R, Txn
from openovc.domain.tasks import Codes, TaskFailure
from openovc.domain.timefmt import to_text

DUPLICATE_NAME = "Duplicate name exists."


def existing(reader: FederationReader, coll: Collection[R], key: str) -> R:
    """Quick check: the object exists (404 with the real message otherwise)."""
    record = reader.get(coll, key)
    if record is None:
        raise ObjectNotFound(coll.singular, key)
    return record


def still_there(txn: Txn, coll: Collection[R], key: str) -> R:
    """Run-time check: the object still exists (it may have gone since the task was accepted)."""
    record = txn.get(coll, key)
    if record is None:
        raise TaskFailure(Codes.NOT_FOUND, f"Object type: {coll.singular} id: {key} could not be found")
    return record


def valid_name(kind: str, name: str) -> str:
    """Quick check of a new name's form (400 InvalidBody naming the rule)."""
    problem = name_problem(kind, name)
    if problem is not None:
        raise InvalidBody(f"Invalid body: {problem}")
    return name


def alive_vm_named(finder: Finder, name: str, except_id: str | None = None) -> bool:
    """Whether an ALIVE VM already has this name (VM names are unique among live VMs)."""
    return any(vm["id"] != except_id for vm in finder.find(VIRTUAL_MACHINES, name=name, state="ALIVE"))


def name_key(kind: str, name: str) -> str:
    """A task lock on a name: two tasks that claim one name run one after the other."""
    return f"{kind} name {name}"


def refuse_duplicate_now(taken: bool) -> None:
    if taken:
        raise TaskError(Codes.DUPLICATE_NAME, DUPLICATE_NAME)


def fail_duplicate(taken: bool) -> None:
    if taken:
        raise TaskFailure(Codes.DUPLICATE_NAME, DUPLICATE_NAME)


def new_id() -> str:
    return str(uuid.uuid4())


def stamp(now: Any) -> str:
    return to_text(now)
