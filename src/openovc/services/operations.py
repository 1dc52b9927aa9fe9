"""Registers every operation's task handler with the engine."""

from __future__ import annotations

from openovc.operations.engine import TaskEngine
from openovc.services import (
    backups,
    clusters,
    datastores,
    external_stores,
    guest_credentials,
    hosts,
    policies,
    virtual_machines,
)

MODULES = (
    backups,
    clusters,
    datastores,
    external_stores,
    guest_credentials,
    hosts,
    policies,
    virtual_machines,
)  # fmt: skip


def register_operations(engine: TaskEngine) -> None:
    for module in MODULES:
        for name, handler in module.HANDLERS.items():
            engine.register(name, handler)
