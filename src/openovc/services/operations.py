"""Registers every operation's task handler with the engine."""

from __future__ import annotations

from openovc.domain.ports.simulator import Simulator
from openovc.operations.engine import TaskEngine
from openovc.services import (
    backups,
    clusters,
    datastores,
    external_stores,
    guest_credentials,
    hosts,
    persistent_volumes,
    policies,
    virtual_machines,
)

PLAIN = (clusters, datastores, external_stores, persistent_volumes, policies)
# Their operations change what the simulated hardware holds: their handlers are given the simulator.
SIMULATED = (backups, guest_credentials, hosts, virtual_machines)


def register_operations(engine: TaskEngine, sim: Simulator) -> None:
    for module in PLAIN:
        for name, handler in module.HANDLERS.items():
            engine.register(name, handler)
    for simulated in SIMULATED:
        for name, handler in simulated.handlers(sim).items():
            engine.register(name, handler)
