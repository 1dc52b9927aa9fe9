"""Which hosts' Virtual Controllers run now, by management address: what each host's own listener follows.

A controller stops answering once it is off: its shutdown done (HPE's shutdown_virtual_controller after
the minutes it takes, or the control API's at once), or its host failed. Until a shutdown is done the
controller still runs and answers, as the real one does while it stops its services.
"""

from __future__ import annotations

from collections.abc import Sequence

from openovc.domain.catalog import HOSTS
from openovc.domain.hardware_faults import SUCCESS, shutdown_status
from openovc.domain.ports.federation import FederationReader
from openovc.domain.ports.operations_store import OperationsStore

Addresses = dict[str, str]  # management address -> host id


def running_controllers(reader: FederationReader, store: OperationsStore, now_ms: int) -> Addresses:
    """The management address of every host whose controller runs at `now_ms`, and the host's id."""
    hosts = reader.find(HOSTS)
    # Only a host that is not ALIVE can have its controller off: the others need no second read.
    off = _off(store, [h["id"] for h in hosts if h["state"] != "ALIVE"], now_ms)
    return {
        str(h["management_ip"]): h["id"]
        for h in sorted(hosts, key=lambda h: h["id"])
        if h["management_ip"] and h["id"] not in off
    }


def _off(store: OperationsStore, host_ids: Sequence[str], now_ms: int) -> set[str]:
    if not host_ids:
        return set()
    off: set[str] = set()
    with store.reading() as state:
        for host_id in host_ids:
            shutdown = state.shutdown(host_id)
            if state.host_fault(host_id) is not None or (
                shutdown is not None and shutdown_status(shutdown, now_ms) == SUCCESS
            ):
                off.add(host_id)
    return off


def all_addresses(reader: FederationReader) -> Addresses:
    """Every host's management address, whether its controller runs or not (what `serve` checks)."""
    return {str(h["management_ip"]): h["id"] for h in reader.find(HOSTS) if h["management_ip"]}
