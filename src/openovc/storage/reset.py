"""Empties the stored federation (for `openovc init --force`), keeping users, tokens and role assignments."""

from __future__ import annotations

from sqlalchemy import Engine, Table, delete

from openovc.storage import tables
from openovc.storage.content_rows import CONTENT_TABLES

FEDERATION_STATE_KEY = "federation"


def federation_tables() -> list[Table]:
    """Every table a generated or loaded federation writes to."""
    # Trusted certificates are the controller's configuration, not federation state: they stay.
    collections = [t for name, t in tables.COLLECTION_TABLES.items() if name != "certificates"]
    operation_records = [
        tables.host_shutdowns,
        tables.host_faults,
        tables.vm_resyncs,
        tables.drive_rebuilds,
        tables.external_store_credentials,
        tables.vm_guest_credentials,
        tables.guest_facts,
        tables.restored_files,
        tables.schedule_marks,
        tables.schedule_slots,
        tables.capacity_history,
        tables.power_history,
        tables.io_history,
    ]
    return [*collections, tables.host_hardware, tables.standard_hosts, tables.tasks, tables.task_locks,
            *operation_records, *CONTENT_TABLES]  # fmt: skip


def clear_federation(engine: Engine) -> None:
    """Delete every federation row in one transaction: a failure leaves the old federation intact."""
    with engine.begin() as conn:
        for table in federation_tables():
            conn.execute(delete(table))
        conn.execute(delete(tables.settings_kv).where(tables.settings_kv.c.key == FEDERATION_STATE_KEY))
