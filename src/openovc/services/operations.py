"""Registers every operation's task handler with the engine."""

from __future__ import annotations

from ..operations.engine import TaskEngine
from . import virtual_machines


def register_operations(engine: TaskEngine) -> None:
    for module in (virtual_machines,):
        for name, handler in module.HANDLERS.items():
            engine.register(name, handler)
