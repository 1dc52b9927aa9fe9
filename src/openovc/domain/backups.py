"""A backup's states and where it is kept, as its fields say: what services and the simulator both read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NEW, SAVING, PROTECTED, CANCELED = "NEW", "SAVING", "PROTECTED", "CANCELED"
IN_FLIGHT = (NEW, SAVING)  # being taken, or sent to where it is kept


def in_cluster(backup: Mapping[str, Any]) -> bool:
    """Kept by an omnistack_cluster (not an external store)."""
    return not backup["external_store_name"] and bool(backup["omnistack_cluster_id"])


def kept_at(backup: Mapping[str, Any]) -> str:
    """Where a backup's content is kept: its cluster's id, or its external store's name."""
    return str(backup["external_store_name"] or backup["omnistack_cluster_id"])


def source_type(template: bool, persistent_volume: bool = False) -> str:
    """A backup's virtual_machine_type: a persistent volume's backups are of neither a VM nor a template."""
    if persistent_volume:
        return "UNKNOWN"
    return "TEMPLATE" if template else "VM"
