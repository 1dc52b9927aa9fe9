"""In-memory fakes of the ports, so that services run in-process with no HTTP and no database.

- `MemoryFederation`: the federation's objects, seeded from the demo generator (`generated()`, a cheap
  copy each time: copies share the stored records, which are replaced, never changed in place). It is a
  FederationReader (JSON-kind values come back as JSON text, as storage gives them), a CertificateStore,
  an OperationsStore (`reading()`, `changing()`) and a WorkloadSchedule (`due()`), and opens write
  transactions (`writing()`), serialised as on SQLite.
- `MemoryTxn`: the Txn port over copies that replace the federation's only when it commits; an
  exception, a TaskFailure among them, discards them all. `finish()` runs the before-commit hooks,
  `state()` is a `MemoryOperationsState` changed with the transaction, and `content()` a ContentModel
  over a copy of the federation's `MemoryLedger`, also committed or discarded with it (`content_of` is
  that, for SimulatedFederation; the Txn port itself no longer has `content()`).
- `MemoryTaskStore`: the TaskStore port, so that the real `TaskEngine` submits, queues (object locks,
  pacing by duration or polls), runs, fails and recovers tasks in-process. `Services` wires it all to a
  manual clock and the handlers of service modules (with a SimulatedFederation for `handlers(sim)`).

Lookups follow SQL's: `find(coll, field=None)` matches nothing, as `field = NULL` does; finds are in key
order, as storage's; an insert with a key already there, or an unknown field anywhere, raises.
`page()` does what storage/querying.py does (tests/storage/test_memory_federation.py compares them),
with SQLite's ordering of NULLs (the smallest value; PostgreSQL puts them last). Not modelled: a task's
`scope` (every writer excludes the others), and the worker's threads (call `tasks.run_due()`).
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import ModuleType
from typing import Any, cast

import orjson

from openovc.domain.catalog import BY_PLURAL, CLUSTER_GROUPS, HOSTS, VIRTUAL_MACHINES
from openovc.domain.clock import ManualClock
from openovc.domain.fields import Collection, Kind, Op
from openovc.domain.metrics import IoSpan, roll_up
from openovc.domain.ports.certificates import CertificateStore
from openovc.domain.ports.federation import FederationReader, Page, R, Record, Txn
from openovc.domain.ports.operations import (
    DriveRebuild,
    GuestCredentials,
    GuestFacts,
    HostFault,
    OperationsState,
    RestoredFile,
    Resync,
    Shutdown,
    StoreCredentials,
)
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.ports.tasks import TaskStore
from openovc.domain.query import CollectionQuery, Condition
from openovc.domain.task_listing import TaskListing
from openovc.domain.tasks import AffectedObject, Pacing, PacingMode, PacingTable, TaskState
from openovc.operations.engine import TaskEngine
from openovc.simulator.content.ledger import MemoryLedger, WorkloadSchedule
from openovc.simulator.content.model import ContentModel
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate

# The in-process API tests' clock (tests/support/inprocess.START), without importing the web app.
START = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)

Work = Callable[[str, Txn, Record], list[AffectedObject]]


class ConstraintViolation(Exception):
    """What the database would refuse: a second object with a key already taken."""


@lru_cache(maxsize=64)
def _json_fields(plural: str) -> frozenset[str]:
    return frozenset(f.name for f in BY_PLURAL[plural].fields if f.kind is Kind.JSON)


@lru_cache(maxsize=64)
def _field_names(plural: str) -> tuple[str, ...]:
    return tuple(f.name for f in BY_PLURAL[plural].fields)


def _checked(coll: Collection[Any], names: Iterable[str]) -> None:
    known = _field_names(coll.plural)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"{coll.plural} has no field {', '.join(unknown)}")


def _copied(record: Record) -> Record:
    """A record a caller may change without changing the stored one (JSON values are lists and dicts)."""
    return {k: copy.deepcopy(v) if isinstance(v, list | dict) else v for k, v in record.items()}


def _as_read(coll: Collection[Any], record: Record) -> Record:
    """A record as the reader gives it: JSON-kind values as JSON text."""
    json_fields = _json_fields(coll.plural)
    return {
        k: orjson.dumps(v).decode() if k in json_fields and v is not None else v for k, v in record.items()
    }


def _matches(record: Record, equals: Mapping[str, object]) -> bool:
    # SQL's `field = NULL` is never true.
    return all(value is not None and record[name] == value for name, value in equals.items())


# ------------------------------------------------------------------------------- operations state


@dataclass
class OperationsData:
    """The server's own operation records, and the hosts' hardware documents (Python values)."""

    hardware: dict[str, Any] = field(default_factory=dict)
    shutdowns: dict[str, Shutdown] = field(default_factory=dict)
    host_faults: dict[str, HostFault] = field(default_factory=dict)
    resyncs: dict[tuple[str, str], Resync] = field(default_factory=dict)  # (VM, host) -> its resync
    rebuilds: dict[tuple[str, str], DriveRebuild] = field(default_factory=dict)  # (host, slot) -> its rebuild
    store_credentials: dict[str, StoreCredentials] = field(default_factory=dict)
    guest_credentials: dict[str, GuestCredentials] = field(default_factory=dict)
    guest_facts: dict[str, GuestFacts] = field(default_factory=dict)
    restored: dict[str, list[RestoredFile]] = field(default_factory=dict)
    marks: dict[tuple[str, str], int] = field(default_factory=dict)
    slots: dict[tuple[str, str, int], str] = field(default_factory=dict)  # (rule, VM, slot) -> backup id
    capacity: dict[tuple[str, int], dict[str, object]] = field(default_factory=dict)  # (host, ms) -> fields
    power: dict[tuple[str, int], bool] = field(default_factory=dict)  # (VM, ms) -> powered on after
    io: list[IoSpan] = field(default_factory=list)

    def copy(self) -> OperationsData:
        # The records are frozen dataclasses: copying the containers is enough.
        return OperationsData(
            hardware=copy.deepcopy(self.hardware),
            shutdowns=dict(self.shutdowns),
            host_faults=dict(self.host_faults),
            resyncs=dict(self.resyncs),
            rebuilds=dict(self.rebuilds),
            store_credentials=dict(self.store_credentials),
            guest_credentials=dict(self.guest_credentials),
            guest_facts=dict(self.guest_facts),
            restored={vm: list(files) for vm, files in self.restored.items()},
            marks=dict(self.marks),
            slots=dict(self.slots),
            capacity=dict(self.capacity),
            power=dict(self.power),
            io=list(self.io),
        )


class MemoryOperationsState:
    """OperationsState over OperationsData (a transaction's copy, or the committed data)."""

    def __init__(self, data: OperationsData) -> None:
        self.data = data

    def shutdown(self, host_id: str) -> Shutdown | None:
        return self.data.shutdowns.get(host_id)

    def put_shutdown(self, shutdown: Shutdown) -> None:
        self.data.shutdowns[shutdown.host_id] = shutdown

    def drop_shutdown(self, host_id: str) -> bool:
        return self.data.shutdowns.pop(host_id, None) is not None

    def drop_host_hardware(self, host_id: str) -> bool:
        return self.data.hardware.pop(host_id, None) is not None

    def host_hardware(self, host_id: str) -> dict[str, Any] | None:
        found = self.data.hardware.get(host_id)
        return copy.deepcopy(found) if found is not None else None

    def put_host_hardware(self, host_id: str, document: dict[str, Any]) -> None:
        self.data.hardware[host_id] = copy.deepcopy(document)

    def host_fault(self, host_id: str) -> HostFault | None:
        return self.data.host_faults.get(host_id)

    def put_host_fault(self, fault: HostFault) -> None:
        self.data.host_faults[fault.host_id] = fault

    def drop_host_fault(self, host_id: str) -> bool:
        return self.data.host_faults.pop(host_id, None) is not None

    def resyncs(self) -> list[Resync]:
        return [self.data.resyncs[k] for k in sorted(self.data.resyncs)]

    def put_resync(self, resync: Resync) -> None:
        self.data.resyncs[(resync.vm_id, resync.host_id)] = resync

    def drop_resyncs(self, vm_id: str | None = None, host_id: str | None = None) -> int:
        if vm_id is None and host_id is None:
            raise ValueError("name the VM, the host or both")
        gone = [k for k in self.data.resyncs if vm_id in (None, k[0]) and host_id in (None, k[1])]
        for key in gone:
            del self.data.resyncs[key]
        return len(gone)

    def rebuilds(self) -> list[DriveRebuild]:
        return [self.data.rebuilds[k] for k in sorted(self.data.rebuilds)]

    def put_rebuild(self, rebuild: DriveRebuild) -> None:
        self.data.rebuilds[(rebuild.host_id, rebuild.slot)] = rebuild

    def drop_rebuilds(self, host_id: str, slot: str | None = None) -> int:
        gone = [k for k in self.data.rebuilds if k[0] == host_id and slot in (None, k[1])]
        for key in gone:
            del self.data.rebuilds[key]
        return len(gone)

    def store_credentials(self, name: str) -> StoreCredentials | None:
        return self.data.store_credentials.get(name)

    def put_store_credentials(self, credentials: StoreCredentials) -> None:
        self.data.store_credentials[credentials.name] = credentials

    def drop_store_credentials(self, name: str) -> bool:
        return self.data.store_credentials.pop(name, None) is not None

    def guest_credentials(self, vm_id: str) -> GuestCredentials | None:
        return self.data.guest_credentials.get(vm_id)

    def put_guest_credentials(self, credentials: GuestCredentials) -> None:
        self.data.guest_credentials[credentials.vm_id] = credentials

    def guest_facts(self, vm_id: str) -> GuestFacts | None:
        return self.data.guest_facts.get(vm_id)

    def put_guest_facts(self, facts: GuestFacts) -> None:
        self.data.guest_facts[facts.vm_id] = facts

    def drop_guest_facts(self, vm_id: str) -> bool:
        return self.data.guest_facts.pop(vm_id, None) is not None

    def restored_files(self, vm_id: str) -> list[RestoredFile]:
        # Oldest first; files restored at the same time keep the order they were added in.
        return sorted(self.data.restored.get(vm_id, []), key=lambda f: f.restored_at)

    def add_restored_files(self, vm_id: str, files: list[RestoredFile]) -> None:
        if files:
            self.data.restored.setdefault(vm_id, []).extend(files)

    def undo_restored_files(self, vm_id: str, after: int, at: int) -> int:
        files = self.data.restored.get(vm_id, [])
        undone = 0
        for i, f in enumerate(files):
            if f.restored_at > after and f.undone_at is None:
                files[i] = RestoredFile(**{**vars(f), "undone_at": at})
                undone += 1
        return undone

    def schedule_marks(self) -> dict[tuple[str, str], int]:
        return dict(self.data.marks)

    def move_schedule_mark(self, rule_id: str, cluster_id: str, expected: int | None, through: int) -> bool:
        if self.data.marks.get((rule_id, cluster_id)) != expected:
            return False
        self.data.marks[(rule_id, cluster_id)] = through
        return True

    def claim_slots(self, rule_id: str, slot_ms: int, backups: dict[str, str]) -> None:
        for vm_id, backup_id in backups.items():
            if (rule_id, vm_id, slot_ms) in self.data.slots:
                raise KeyError(f"slot {slot_ms} of rule {rule_id} already fired for {vm_id}")
            self.data.slots[(rule_id, vm_id, slot_ms)] = backup_id

    def slot_backups(self, rule_id: str, vm_ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {vm: [] for vm in vm_ids}
        for (rule, vm, _), backup_id in sorted(self.data.slots.items()):
            if rule == rule_id and vm in found:
                found[vm].append(backup_id)
        return found

    def record_capacity(self, at_ms: int, hosts: list[tuple[str, dict[str, object]]]) -> None:
        for host_id, fields in hosts:
            self.data.capacity[(host_id, at_ms)] = dict(fields)

    def capacity_history(
        self, host_id: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, dict[str, object]]]:
        mine = sorted((at, f) for (h, at), f in self.data.capacity.items() if h == host_id and at <= until_ms)
        before = [p for p in mine if p[0] <= since_ms][-1:]
        return [*before, *(p for p in mine if p[0] > since_ms)]

    def thin_capacity(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        gone = 0
        for host_id in sorted({h for h, _ in self.data.capacity}):
            times = sorted(at for h, at in self.data.capacity if h == host_id)
            doomed = set()
            for age, bucket in keep:
                old = [at for at in times if at < now_ms - age]
                doomed |= {a for a, b in itertools.pairwise(old) if a // bucket == b // bucket}
            if keep:
                old = [at for at in times if at < now_ms - max(age for age, _ in keep)]
                doomed |= set(old[:-1])
            for at in doomed:
                del self.data.capacity[(host_id, at)]
            gone += len(doomed)
        return gone

    def record_power(self, vm_id: str, at_ms: int, on: bool) -> None:
        if self.data.power.pop((vm_id, at_ms), None) is None:
            self.data.power[(vm_id, at_ms)] = on

    def power_changes(self, vm_ids: Sequence[str], since_ms: int) -> dict[str, list[tuple[int, bool]]]:
        found: dict[str, list[tuple[int, bool]]] = {}
        for (vm_id, at_ms), on in sorted(self.data.power.items()):
            if vm_id in vm_ids and at_ms > since_ms:
                found.setdefault(vm_id, []).append((at_ms, on))
        return found

    def record_io(self, spans: Sequence[IoSpan]) -> None:
        self.data.io.extend(spans)

    def stop_io(self, source: str, at_ms: int) -> int:
        mine = [s for s in self.data.io if s.source == source and s.end_ms > at_ms]
        self.data.io = [s for s in self.data.io if s not in mine]
        self.data.io += [kept for kept in (s.until(at_ms) for s in mine) if kept is not None]
        return len(mine)

    def thin_io(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        gone = 0
        for age, bucket in keep:
            cut = now_ms - age - ((now_ms - age) % bucket if bucket else 0)
            old = [s for s in self.data.io if s.end_ms <= cut and (not bucket or s.step_ms < bucket)]
            self.data.io = [s for s in self.data.io if s not in old]
            if bucket:
                self.data.io += roll_up(old, bucket)
            gone += len(old)
        return gone

    def thin_power(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        if not keep:
            return 0
        cut = now_ms - max(age for age, _ in keep)
        old = sorted(key for key in self.data.power if key[1] < cut)
        newest = dict(old)  # sorted: each VM's last old change wins
        doomed = [key for key in old if newest[key[0]] != key[1]]
        for key in doomed:
            del self.data.power[key]
        return len(doomed)

    def forget_slots(self, rule_id: str, before_ms: int) -> int:
        gone = [key for key in self.data.slots if key[0] == rule_id and key[2] < before_ms]
        for key in gone:
            del self.data.slots[key]
        return len(gone)


# ------------------------------------------------------------------------------------- the query


def _like(pattern: str) -> re.Pattern[str]:
    """A `*` wildcard as SQL LIKE (case-sensitive, as SQLite runs with case_sensitive_like)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _match_one(value: object, wanted: str, kind: Kind, wildcard: bool, insensitive: bool) -> bool:
    if value is None:
        return False
    text = value if isinstance(value, str) else str(value)
    if insensitive and kind is Kind.STR:
        text, wanted = text.lower(), wanted.lower()
    if wildcard and "*" in wanted:
        return _like(wanted).fullmatch(text) is not None
    return text == wanted


class _Query:
    """A CollectionQuery applied to records, as storage/querying.py compiles it into SQL."""

    def __init__(self, fed: MemoryFederation, coll: Collection[Any], query: CollectionQuery) -> None:
        self.fed = fed
        self.coll = coll
        self.query = query

    def _holds(self, record: Record, cond: Condition) -> bool:
        value = record[cond.field]
        fld = self.coll.field(cond.field)
        assert fld is not None
        if cond.op is Op.MATCH:
            return any(
                _match_one(value, str(v), fld.kind, cond.wildcard, self.query.case_insensitive)
                for v in cond.values
            )
        if value is None:
            return False
        if cond.op in (Op.MIN, Op.AFTER):
            return bool(value >= cond.values[0])
        if cond.op in (Op.MAX, Op.BEFORE):
            return bool(value <= cond.values[0])
        if cond.op is Op.BOOL:
            return bool(value == cond.values[0])
        groups = self.fed.collections[CLUSTER_GROUPS.plural]
        clusters = {c for g in cond.values if (group := groups.get(str(g))) for c in group["clusters"] or []}
        return value in clusters

    def _sort_key(self, record: Record) -> tuple[object, ...]:
        fld = self.coll.field(self.query.sort)
        assert fld is not None
        value = record[self.query.sort]
        lower = self.query.case_insensitive or self.query.sort in self.coll.insensitive_sort
        if value is not None and fld.kind is Kind.STR and lower:
            value = str(value).lower()
        # NULL is the smallest value (SQLite's order); the key breaks ties in the same direction.
        return (value is not None, value, record[self.coll.key])

    def page(self, records: Iterable[Record], columns: Sequence[str]) -> Page:
        found = [r for r in records if all(self._holds(r, c) for c in self.query.conditions)]
        found.sort(key=self._sort_key, reverse=self.query.descending)
        shown = found[self.query.offset : self.query.offset + self.query.limit]
        rows = [tuple(_as_read(self.coll, r)[c] for c in columns) for r in shown]
        return Page(count=len(found), columns=tuple(columns), rows=rows)


# -------------------------------------------------------------------------------------- federation


class MemoryFederation:
    """The federation's objects in dictionaries: what storage holds, without a database."""

    def __init__(
        self,
        rows: Mapping[str, Iterable[Record]] | None = None,
        ledger: MemoryLedger | None = None,
    ) -> None:
        # Stored records are never changed in place (a transaction replaces them), so copies of a
        # federation share them; change objects through writing(), never through these dicts.
        self.collections: dict[str, dict[str, Record]] = {plural: {} for plural in BY_PLURAL}
        self.standard: list[Record] = []
        self.data = OperationsData()
        self.commits = 0  # write transactions committed
        self._ledger = ledger if ledger is not None else MemoryLedger()
        self._ledger_source: MemoryLedger | None = None  # shared with the original: copied when first used
        self._writer = threading.RLock()
        for table, records in (rows or {}).items():
            self.load(table, records)

    @classmethod
    def from_federation(cls, federation: Federation) -> MemoryFederation:
        """A copy of a generated federation (changing one never changes the other)."""
        return cls(copy.deepcopy(federation.rows), copy.deepcopy(federation.content))

    @classmethod
    def generated(cls, spec: FederationSpec | None = None) -> MemoryFederation:
        """A fresh copy of the federation the generator makes from `spec` (the demo's by default) at START."""
        return _generated(spec or FederationSpec.demo()).copy()

    def copy(self) -> MemoryFederation:
        """An independent federation with the same objects (cheap: they are shared until replaced)."""
        twin = MemoryFederation()
        twin.collections = {plural: dict(stored) for plural, stored in self.collections.items()}
        twin.standard = [dict(s) for s in self.standard]
        twin.data = self.data.copy()
        twin._ledger_source = self._ledger_source if self._ledger_source is not None else self._ledger
        return twin

    @property
    def ledger(self) -> MemoryLedger:
        """What every VM and backup holds (the content model's state)."""
        if self._ledger_source is not None:
            self._ledger, self._ledger_source = copy.deepcopy(self._ledger_source), None
        return self._ledger

    @ledger.setter
    def ledger(self, ledger: MemoryLedger) -> None:
        self._ledger, self._ledger_source = ledger, None

    def due(self, now_ms: int, limit: int) -> list[str]:
        """The WorkloadSchedule port: VMs whose workload step is due, from the committed ledger."""
        return self.ledger.due(now_ms, limit)

    def load(self, table: str, records: Iterable[Record]) -> None:
        """Add rows of a generated federation's table (storage form: JSON values as Python)."""
        if table == "host_hardware":
            self.data.hardware.update((str(r["host_id"]), r["document"]) for r in records)
        elif table == "standard_hosts":
            self.standard.extend(dict(r) for r in records)
        else:
            coll = BY_PLURAL[table]
            stored = self.collections[table]
            for record in records:
                _checked(coll, record)
                key = str(record[coll.key])
                if key in stored:
                    raise ConstraintViolation(f"{table} already has {key}")
                stored[key] = {name: record.get(name) for name in _field_names(table)}

    def named(self, coll: Collection[Any], name: str) -> Record:
        """The object of that name as stored (the first by key); KeyError when there is none."""
        for record in self.rows(coll):
            if record["name"] == name:
                return record
        raise KeyError(f"no {coll.singular} named {name!r}")

    def snapshot(self) -> dict[str, dict[str, Record]]:
        """Every object as stored now, to compare with later (a deep copy)."""
        return copy.deepcopy(self.collections)

    def rows(self, coll: Collection[Any]) -> list[Record]:
        """Every object of a collection as stored (JSON values as Python), in key order; copies."""
        stored = self.collections[coll.plural]
        return [_copied(stored[key]) for key in sorted(stored)]

    def row(self, coll: Collection[Any], key: str) -> Record:
        """One object as stored (JSON values as Python); KeyError when there is none."""
        return _copied(self.collections[coll.plural][key])

    # ---- FederationReader -------------------------------------------------------------------------

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page:
        return _Query(self, coll, query).page(self.collections[coll.plural].values(), columns)

    def get(self, coll: Collection[R], key: str) -> R | None:
        found = self.get_many(coll, [key])
        return found[0] if found else None

    def get_many(self, coll: Collection[R], keys: Sequence[str]) -> list[R]:
        stored = self.collections[coll.plural]
        if coll.key == "hash":  # thumbprints match in any case
            wanted = {k.lower() for k in keys}
            chosen = [k for k in stored if k.lower() in wanted]
        else:
            chosen = [k for k in dict.fromkeys(keys) if k in stored]
        return cast(list[R], [_as_read(coll, stored[k]) for k in sorted(chosen)])

    def find(self, coll: Collection[R], **equals: object) -> list[R]:
        _checked(coll, equals)
        stored = self.collections[coll.plural]
        return cast(
            list[R], [_as_read(coll, stored[k]) for k in sorted(stored) if _matches(stored[k], equals)]
        )

    def hardware(self, host_id: str) -> str | None:
        document = self.data.hardware.get(host_id)
        return orjson.dumps(document).decode() if document is not None else None

    def standard_hosts(self, cluster_id: str) -> list[Record]:
        found = [dict(s) for s in self.standard if s["omnistack_cluster_id"] == cluster_id]
        return sorted(found, key=lambda s: str(s["name"]))

    def count_vms(self, datastore_id: str, host_names: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for vm in self.collections[VIRTUAL_MACHINES.plural].values():
            if (
                vm["datastore_id"] == datastore_id
                and vm["state"] == "ALIVE"
                and vm["host_name"] in host_names
            ):
                counts[str(vm["host_name"])] = counts.get(str(vm["host_name"]), 0) + 1
        return counts

    def controller_host_id(self) -> str | None:
        """The host whose Virtual Controller this server plays: the first host, by id."""
        return min(self.collections[HOSTS.plural], default=None)

    # ---- CertificateStore ------------------------------------------------------------------------

    def certificate_list(self) -> list[Record]:
        stored = self.collections["certificates"]
        return [dict(stored[k]) for k in sorted(stored)]

    def put_certificate(self, record: Record) -> None:
        with self._writer:
            self.collections["certificates"][str(record["hash"])] = dict(record)

    def delete_certificate(self, thumbprint: str) -> bool:
        with self._writer:
            return self.collections["certificates"].pop(thumbprint, None) is not None

    # ---- transactions ----------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[MemoryTxn]:
        """One write transaction: committed when the block ends, discarded when it raises."""
        with self._writer:
            txn = MemoryTxn(self)
            try:
                yield txn
                txn.finish()
            finally:
                txn.closed = True
            txn.commit()

    # ---- OperationsStore (structurally: domain/ports/operations_store.py) ------------------------

    @contextmanager
    def reading(self) -> Iterator[OperationsState]:
        # A copy: what a reader changes by mistake is not kept.
        yield MemoryOperationsState(self.data.copy())

    @contextmanager
    def changing(self) -> Iterator[tuple[Txn, OperationsState]]:
        with self.writing() as txn:
            yield txn, txn.state()


@lru_cache(maxsize=8)
def _generated(spec: FederationSpec) -> MemoryFederation:
    """Generated once per spec; callers take copies (MemoryFederation.generated)."""
    return MemoryFederation.from_federation(generate(spec, START))


class MemoryTxn:
    """The Txn port over copies of a MemoryFederation's objects, committed together or not at all.

    The ledger behind `content()` and the operations state behind `state()` are copied when first
    used in the transaction and committed with it too.
    """

    def __init__(self, federation: MemoryFederation) -> None:
        self.federation = federation
        self.closed = False
        self._collections: dict[str, dict[str, Record]] = {}
        self._data: OperationsData | None = None
        self._ledger: MemoryLedger | None = None
        self._content: ContentModel | None = None
        self._before_commit: dict[str, Callable[[], None]] = {}

    def _stored(self, coll: Collection[Any]) -> dict[str, Record]:
        """The transaction's own copy of a collection (its records are replaced, never changed in place)."""
        assert not self.closed, "the transaction is over"
        mine = self._collections.get(coll.plural)
        if mine is None:
            mine = self._collections[coll.plural] = dict(self.federation.collections[coll.plural])
        return mine

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page:
        return _Query(self.federation, coll, query).page(self._stored(coll).values(), columns)

    def get(self, coll: Collection[R], key: str) -> R | None:
        record = self._stored(coll).get(key)
        return cast(R, _copied(record)) if record is not None else None

    def get_many(self, coll: Collection[R], keys: Sequence[str]) -> list[R]:
        stored = self._stored(coll)
        return cast(list[R], [_copied(stored[k]) for k in dict.fromkeys(keys) if k in stored])

    def present(self, coll: Collection[Any], keys: Sequence[str]) -> set[str]:
        stored = self._stored(coll)
        return {k for k in keys if k in stored}

    def find(self, coll: Collection[R], **equals: object) -> list[R]:
        _checked(coll, equals)
        stored = self._stored(coll)
        return cast(list[R], [_copied(stored[k]) for k in sorted(stored) if _matches(stored[k], equals)])

    def count(self, coll: Collection[Any], **equals: object) -> int:
        _checked(coll, equals)
        return sum(1 for record in self._stored(coll).values() if _matches(record, equals))

    def insert(self, coll: Collection[Any], record: Record) -> None:
        _checked(coll, record)
        stored = self._stored(coll)
        key = record.get(coll.key)
        if key is None:
            raise ConstraintViolation(f"{coll.plural}.{coll.key} must not be NULL")
        if str(key) in stored:
            raise ConstraintViolation(f"{coll.plural} already has {key}")
        stored[str(key)] = _copied({name: record.get(name) for name in _field_names(coll.plural)})

    def insert_many(self, coll: Collection[Any], records: Sequence[Record]) -> None:
        for record in records:
            self.insert(coll, record)

    def update(self, coll: Collection[Any], key: str, values: Record) -> None:
        self.update_where(coll, {coll.key: key}, values)

    def update_where(self, coll: Collection[Any], equals: Record, values: Record) -> int:
        _checked(coll, [*equals, *values])
        stored = self._stored(coll)
        chosen = [k for k, record in stored.items() if _matches(record, equals)]
        for k in chosen:
            changed = {**stored[k], **_copied(values)}
            new_key = str(changed[coll.key])
            if new_key != k:
                if new_key in stored:
                    raise ConstraintViolation(f"{coll.plural} already has {new_key}")
                del stored[k]
            stored[new_key] = changed
        return len(chosen)

    def update_each(self, coll: Collection[Any], changes: Sequence[tuple[str, Record]]) -> None:
        if not changes:
            return
        columns = tuple(changes[0][1])
        assert all(tuple(values) == columns for _, values in changes), "every change sets the same fields"
        for key, values in changes:
            self.update(coll, key, values)

    def delete_many(self, coll: Collection[Any], keys: Sequence[str]) -> list[str]:
        return [key for key in dict.fromkeys(keys) if self.delete(coll, key)]

    def delete_at_most(self, coll: Collection[Any], keys: Sequence[str], field: str, value: Any) -> list[str]:
        stored = self._stored(coll)
        chosen = [k for k in dict.fromkeys(keys) if k in stored and stored[k].get(field) is not None]
        return [k for k in chosen if stored[k][field] <= value and self.delete(coll, k)]

    def delete(self, coll: Collection[Any], key: str) -> bool:
        return self._stored(coll).pop(key, None) is not None

    def before_commit(self, key: str, hook: Callable[[], None]) -> None:
        self._before_commit.setdefault(key, hook)

    def finish(self) -> None:
        """The work is done: run the hooks it left (one may leave another), before it commits."""
        while self._before_commit:
            key = next(iter(self._before_commit))
            self._before_commit.pop(key)()

    def state(self) -> OperationsState:
        if self._data is None:
            self._data = self.federation.data.copy()
        return MemoryOperationsState(self._data)

    def content(self) -> ContentModel:
        # One model per transaction, so that what its ledger remembers stays true.
        if self._content is None:
            self._ledger = copy.deepcopy(self.federation.ledger)
            self._content = ContentModel(self._ledger)
        return self._content

    def commit(self) -> None:
        """Make the transaction's changes the federation's (MemoryFederation.writing() calls it)."""
        assert not self._before_commit, "finish() runs the hooks first"
        fed = self.federation
        fed.collections.update(self._collections)
        if self._data is not None:
            fed.data = self._data
        if self._ledger is not None:
            fed.ledger = self._ledger
        fed.commits += 1
        self._collections = {}


def content_of(txn: Txn) -> ContentModel:
    """The content model of a MemoryTxn (what the simulator is handed to reach a transaction's)."""
    assert isinstance(txn, MemoryTxn), f"not a memory transaction: {txn!r}"
    return txn.content()


# ------------------------------------------------------------------------------------------- tasks


class MemoryTaskStore:
    """The TaskStore port in memory: tasks, their object locks while queued, and live servers."""

    def __init__(self, federation: MemoryFederation) -> None:
        self.federation = federation
        self.tasks: dict[str, Record] = {}
        self.locks: dict[str, tuple[str, ...]] = {}  # queued tasks only: their lock rows go when they end
        self.servers: dict[str, int] = {}  # instance id -> heartbeat (epoch ms)
        self._lock = threading.RLock()

    def _queue(self, task: Record, locks: Sequence[str]) -> None:
        self.tasks[str(task["id"])] = dict(task)
        self.locks[str(task["id"])] = tuple(dict.fromkeys(locks))

    def _held(self, locks: Sequence[str], except_id: str | None = None) -> bool:
        wanted = set(locks)
        return any(task_id != except_id and wanted & set(held) for task_id, held in self.locks.items())

    def _eligible(self, task: Record, now_ms: int) -> bool:
        """Queued, due at `now_ms`, and no earlier queued task holds one of its objects."""
        if (
            task["state"] != TaskState.QUEUED.value
            or task["not_before_ms"] > now_ms
            or task["polls_left"] > 0
        ):
            return False
        mine = set(self.locks.get(str(task["id"]), ()))
        return not any(
            other_id != task["id"] and self.tasks[other_id]["seq"] < task["seq"] and mine & set(held)
            for other_id, held in self.locks.items()
        )

    @staticmethod
    def _completed(task: Record, end_time: str, affected: list[AffectedObject]) -> Record:
        return {
            **task,
            "state": TaskState.COMPLETED.value,
            "percent_complete": 100,
            "end_time": end_time,
            "affected_objects": orjson.dumps([a.as_dict() for a in affected]).decode(),
        }

    def insert(self, task: Record, locks: Sequence[str]) -> None:
        with self._lock:
            self._queue(task, locks)

    def insert_and_run(
        self,
        task: Record,
        locks: Sequence[str],
        end_time: str,
        work: Work,
        *,
        scope: Sequence[str] | None = None,
    ) -> Record | None:
        del scope  # one writer at a time here, as on SQLite
        with self._lock:
            if locks and self._held(locks):
                self._queue(task, locks)
                return None
            with self.federation.writing() as txn:
                affected = work(str(task["operation"]), txn, orjson.loads(task["payload"]))
                txn.finish()
            ended = self._completed(task, end_time, affected)
            self.tasks[str(task["id"])] = ended
            return dict(ended)

    def insert_ended(self, task: Record) -> None:
        with self._lock:
            self.tasks[str(task["id"])] = dict(task)

    def get(self, task_id: str) -> Record | None:
        with self._lock:
            task = self.tasks.get(task_id)
            return dict(task) if task is not None else None

    def recent(self, listing: TaskListing) -> list[Record]:
        with self._lock:
            found = [
                dict(t) for t in self.tasks.values()
                if (not listing.states or t["state"] in listing.states)
                and listing.operation in (None, t["operation"])
                and (listing.since_ms is None or t["created_ms"] >= listing.since_ms)
            ]  # fmt: skip
        found.sort(key=lambda t: (int(t["created_ms"]), int(t["seq"])), reverse=True)
        return found[: listing.limit]

    def note_poll(self, task_id: str) -> None:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is not None and task["state"] == TaskState.QUEUED.value and task["polls_left"] > 0:
                task["polls_left"] -= 1

    def due(self, now_ms: int, limit: int) -> list[str]:
        with self._lock:
            ready = [t for t in self.tasks.values() if self._eligible(t, now_ms)]
            return [str(t["id"]) for t in sorted(ready, key=lambda t: int(t["seq"]))[:limit]]

    def run(self, task_id: str, now_ms: int, end_time: str, work: Work) -> bool:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None or not self._eligible(task, now_ms):
                return False
            with self.federation.writing() as txn:
                affected = work(str(task["operation"]), txn, orjson.loads(task["payload"]))
                txn.finish()
            self.tasks[task_id] = self._completed(task, end_time, affected)
            self.locks.pop(task_id, None)
            return True

    def fail(self, task_id: str, error_code: int, message: str, end_time: str) -> bool:
        with self._lock:
            self.locks.pop(task_id, None)
            task = self.tasks.get(task_id)
            if task is None or task["state"] != TaskState.QUEUED.value:
                return False  # a final state is never overwritten
            task.update(
                state=TaskState.FAILED.value, error_code=error_code, message=message, end_time=end_time
            )
            return True

    def beat(self, instance_id: str, now_ms: int) -> None:
        with self._lock:
            self.servers[instance_id] = now_ms

    def leave(self, instance_id: str) -> None:
        with self._lock:
            self.servers.pop(instance_id, None)

    def orphans(self, live_since_ms: int) -> list[str]:
        with self._lock:
            alive = {i for i, beat in self.servers.items() if beat >= live_since_ms}
            return [
                str(t["id"])
                for t in self.tasks.values()
                if t["state"] == TaskState.QUEUED.value and t["owner"] not in alive
            ]

    def forget_dead_servers(self, live_since_ms: int) -> None:
        with self._lock:
            self.servers = {i: beat for i, beat in self.servers.items() if beat >= live_since_ms}


# ---------------------------------------------------------------------------------------- services


@dataclass(frozen=True)
class Ended:
    """How a task ended, as a poll shows it: state, error code, message and affected objects."""

    state: str
    error_code: int = 0
    message: str | None = None
    affected: tuple[tuple[str, str], ...] = ()  # (object_id, object_type)

    @classmethod
    def of(cls, task: Record) -> Ended:
        affected = orjson.loads(task["affected_objects"])
        return cls(
            state=str(task["state"]),
            error_code=int(task["error_code"]),
            message=task["message"],
            affected=tuple((a["object_id"], a["object_type"]) for a in affected),
        )


@dataclass
class Services:
    """The services' world in-process: a MemoryFederation, the real TaskEngine over a MemoryTaskStore,
    and a manual clock. `reader` and `tasks` are what service functions take first."""

    federation: MemoryFederation
    store: MemoryTaskStore
    tasks: TaskEngine
    clock: ManualClock
    pacing: PacingTable

    simulator: Simulator | None = None

    @classmethod
    def start(
        cls,
        *modules: ModuleType,
        simulated: Sequence[ModuleType] = (),
        federation: MemoryFederation | None = None,
        pacing: PacingTable | None = None,
    ) -> Services:
        """`modules`: service modules whose HANDLERS the engine runs; `simulated`: modules whose
        `handlers(sim)` need the simulator, which then runs over the same federation."""
        fed = federation if federation is not None else MemoryFederation.generated()
        clock = ManualClock(START)
        table = pacing if pacing is not None else PacingTable()
        store = MemoryTaskStore(fed)
        engine = TaskEngine(store, clock, table, lambda: "vc")
        for module in modules:
            for name, handler in module.HANDLERS.items():
                engine.register(name, handler)
        services = cls(fed, store, engine, clock, table)
        if simulated:
            # Imported here: only the tests of simulated operations need the simulator.
            from openovc.simulator.simulated import SimulatedFederation

            services.simulator = SimulatedFederation(content_of, fed, fed)
            for module in simulated:
                for name, handler in module.handlers(services.simulator).items():
                    engine.register(name, handler)
        return services

    @property
    def reader(self) -> MemoryFederation:
        return self.federation

    @property
    def sim(self) -> Simulator:
        """The simulator (started with `simulated` modules)."""
        assert self.simulator is not None
        return self.simulator

    def live_vms(self, **wanted: object) -> list[Record]:
        """The live VMs that are not templates, whose fields have these values."""
        return [
            v for v in self.federation.rows(VIRTUAL_MACHINES)
            if v["state"] == "ALIVE" and not v["hypervisor_is_template"] and all(v[k] == w for k, w in wanted.items())
        ]  # fmt: skip

    def run_on_poll(self) -> None:
        """From now on a task waits for its first poll: what changes meanwhile, it finds when it runs."""
        self.pacing.default = Pacing(PacingMode.POLLS, polls=1)

    def poll(self, task: Record) -> Ended:
        """Poll a task as a client does (a queued task that is due runs first); it must have ended."""
        polled = self.tasks.poll(str(task["id"]))
        assert polled is not None, f"no task {task['id']}"
        assert polled["state"] != TaskState.QUEUED.value, f"task {task['id']} has not ended: {polled}"
        return Ended.of(polled)

    def queued(self, task: Record) -> bool:
        stored = self.store.get(str(task["id"]))
        return stored is not None and stored["state"] == TaskState.QUEUED.value


def _implements_the_ports(
    fed: MemoryFederation, txn: MemoryTxn, store: MemoryTaskStore, state: MemoryOperationsState
) -> tuple[
    FederationReader, CertificateStore, OperationsStore, WorkloadSchedule, Txn, TaskStore, OperationsState
]:
    """Never called: mypy checks here that each fake has its port's shape."""
    return fed, fed, fed, fed, txn, store, state
