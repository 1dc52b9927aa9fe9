"""The policy scheduler: every rule of every policy backs up the VMs it covers, slot by slot, on the clock.

A rule's slots are its wall times on the days it runs, in the time zone of the cluster of the VMs it
backs up (domain/schedules.py). Per rule and cluster a mark says up to when the slots have fired;
firing a slot moves the mark by compare-and-set in the transaction that takes its backups, and a key
on (rule, VM, slot) refuses a second firing outright, so no slot fires twice, whatever the number of
servers. A VM (or persistent volume) is backed up while it is ALIVE, its policy is the rule's, and its
host's policy backups are not suspended. Each backup is a POLICY backup named by the slot's local time,
kept where the rule says for the rule's retention; past the rule's max_backups, its oldest of that VM go.

The worker runs the schedule as the clock moves (`run_due`); after downtime only each rule's latest
missed slot fires, as a real scheduler catching up would. A worker that falls behind the clock (a fast
accelerated clock, a busy machine) fires several slots per transaction (one that fails fires them again
one by one: a slot that cannot fire holds back no other), settles in each the backups as of the clock's
now (expired ones go, those in flight move on; backups fired late are stored as they stand now), and
drops the slots it missed by more than ten seconds of real time but each rule's latest, saying so in its
log; how far behind it is shows in GET /_openovc/clock and /_openovc/metrics (`lag_ms`). A clock moved
by hand (`advance_to`) goes through every instant that falls in the move, in time order: slots, expiries,
backups arriving, paced tasks; several instants to a transaction, up to one at which a paced task is due.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Protocol, cast

from openovc.domain import ids
from openovc.domain.catalog import (
    BACKUPS,
    EXTERNAL_STORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Record, Txn
from openovc.domain.ports.operations import OperationsState
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Backup, BackupSource, ExternalStore, OmnistackCluster
from openovc.domain.rules import max_backups
from openovc.domain.schedules import Rule, slots
from openovc.domain.tasks import TaskFailure
from openovc.domain.timefmt import to_text
from openovc.domain.timezones import zone_of
from openovc.operations.engine import TaskEngine
from openovc.services.backups.checks import LOCAL_STORE, holder, store_takes
from openovc.services.backups.lifecycle import candidates, settle_in
from openovc.services.backups.taking import consistency_for, vm_facts
from openovc.services.clock import SharedClock
from openovc.services.policies.common import json_value

# An idle worker looks for due slots once a real second: a slot fires at most that late (its backups are
# stamped with the slot's time all the same), and a federation of many rules is not planned every wake.
TURN_S = 1.0
# How far, in real seconds at the clock's pace, the worker may fall behind before it drops missed slots
# (each rule's latest still fires): behind that, it would be replaying a storm it can never catch up on.
BEHIND_REAL_S = 10.0
# A worker turn fires its due slots in transactions of up to this many backups or this long, whichever
# comes first: one commit per slot cost more than the slot's backups on a federation of many small slots,
# and a worker behind a fast clock took 1.2 times as many backups a second with these as with 2,000 and
# 0.5 s (each commit and the index pages it dirties serve more); an API write waits up to this long.
BATCH_BACKUPS = 10_000
BATCH_REAL_S = 2.0
# Each such transaction also settles up to this many backups expired by the clock's now: a commit writes
# every index page it changed once, however many of its entries changed, so removals cost less in larger
# transactions than in the settling chore's of up to 5,000 (docs/architecture.md, Performance notes).
EXPIRE_BATCH = 20_000
# A turn stops starting transactions after this long: the next plans again from the clock's new now (so
# the lag stays bounded), and expiries and the other chores get their turn in between.
TURN_BUDGET_S = 2.0
WARN_EVERY_S = 60.0  # real seconds between two log lines saying the schedule dropped slots

log = logging.getLogger("openovc.schedule")


class ScheduleWatcher(Protocol):
    """Told what the schedule did: the server's own metrics count it."""

    def taken(self, backups: int) -> None:
        """A firing of `backups` backups was committed."""
        ...

    def dropped(self, slots: int) -> None:
        """`slots` due slots were dropped: the worker had fallen behind by more than BEHIND_REAL_S."""
        ...


@dataclass
class Counts:
    """What a run of the schedule did."""

    backups_taken: int = 0
    backups_expired: int = 0
    tasks_completed: int = 0


@dataclass(frozen=True)
class Slotted:
    """One rule of one policy, as it applies to the VMs of one cluster."""

    policy_id: str
    rule: Record
    timing: Rule
    cluster_id: str
    tz: tzinfo

    @property
    def key(self) -> tuple[str, str]:
        return str(self.rule["id"]), self.cluster_id


@dataclass
class _Plan:
    """Every rule and cluster, and up to when each has fired."""

    rules: list[Slotted]
    marks: dict[tuple[str, str], int] = field(default_factory=dict)


@lru_cache(maxsize=1024)
def _timing(frequency: object, retention: object, days: object, start: object, end: object) -> Rule | None:
    try:
        return Rule.from_record(
            {
                "frequency": frequency,
                "retention": retention,
                "days": days,
                "start_time": start,
                "end_time": end,
            }
        )
    except ValueError:
        return None  # a rule the API would not have accepted fires nothing


class PolicyScheduler:
    """Fires the slots of every policy rule as the shared clock moves (see the module docstring)."""

    def __init__(
        self,
        reader: FederationReader,
        store: OperationsStore,
        sim: Simulator,
        tasks: TaskEngine,
        clock: SharedClock,
    ) -> None:
        self._reader = reader
        self._store = store
        self._sim = sim
        self._tasks = tasks
        self._clock = clock
        self._caught_up = False
        # The worker's turns and clock moves of this process never interleave: a move counts what it fires.
        self._moving = threading.Lock()
        self._looked_at = -TURN_S  # monotonic seconds of the last turn that found nothing due
        self._dropped = 0  # slots dropped since the last log line saying so
        self._warned_at = -WARN_EVERY_S
        self._watchers: list[ScheduleWatcher] = []
        self._settled = False  # a turn settled the backups since the worker's settling chore last asked

    def watch(self, watcher: ScheduleWatcher) -> None:
        """Tell `watcher` of every firing committed and every slot dropped (the server's own metrics)."""
        self._watchers.append(watcher)

    def _taken(self, backups: int) -> int:
        for watcher in self._watchers:
            watcher.taken(backups)
        return backups

    # ---- what is scheduled ------------------------------------------------------------------------

    def _plan(self) -> _Plan:
        zones = {c["id"]: zone_of(c["time_zone"]) for c in self._reader.find(OMNISTACK_CLUSTERS)}
        rules: list[Slotted] = []
        for policy in self._reader.find(POLICIES):
            for rule in json_value(policy["rules"]) or []:
                timing = _timing(
                    rule.get("frequency"), rule.get("retention"), rule.get("days") or "All",
                    rule.get("start_time") or "00:00", rule.get("end_time") or "00:00",
                )  # fmt: skip
                if timing is None or not rule.get("id"):
                    continue
                rules.extend(Slotted(policy["id"], rule, timing, c, tz) for c, tz in sorted(zones.items()))
        with self._store.reading() as state:
            marks = state.schedule_marks()
        return _Plan(rules, marks)

    def _start_marks(self, plan: _Plan, now_ms: int) -> None:
        """Rules and clusters seen for the first time start from now: their past is the history's."""
        new = [s for s in plan.rules if s.key not in plan.marks]
        if not new:
            return
        with self._store.changing() as (_, state):
            for slotted in new:
                if state.move_schedule_mark(*slotted.key, None, now_ms):
                    plan.marks[slotted.key] = now_ms
        with self._store.reading() as state:
            plan.marks.update(state.schedule_marks())

    @staticmethod
    def _due(plan: _Plan, upto_ms: int) -> Iterator[tuple[int, Slotted]]:
        for slotted in plan.rules:
            after = plan.marks[slotted.key]
            for ts in slots(slotted.timing, slotted.tz, after // 1000, upto_ms // 1000):
                yield ts * 1000, slotted

    # ---- running it -------------------------------------------------------------------------------

    def run_due(self) -> int:
        """The worker's chore: fire what is due by the clock's now; how many backups it took.

        Its first turn after the server started fires only the latest missed slot of each rule.
        """
        if time.monotonic() - self._looked_at < TURN_S:
            return 0
        if not self._moving.acquire(blocking=False):
            return 0  # the clock is being moved here: the move fires what falls due
        try:
            taken = self._run_due()
        finally:
            self._moving.release()
        if not taken:
            self._looked_at = time.monotonic()
        return taken

    def _run_due(self) -> int:
        now_ms = self._clock.now_ms()
        plan = self._plan()
        self._start_marks(plan, now_ms)
        due = sorted(self._due(plan, now_ms), key=_order)
        if not self._caught_up:
            self._caught_up = True
            latest = {slotted.key: (ts, slotted) for ts, slotted in due}
            due = sorted(latest.values(), key=_order)
        else:
            due = self._within_reach(due, now_ms)
        return self._fire_batched(due, plan)

    def _within_reach(self, due: list[tuple[int, Slotted]], now_ms: int) -> list[tuple[int, Slotted]]:
        """The due slots but those missed by more than BEHIND_REAL_S at the clock's pace, of which only each
        rule's latest stays: a worker that cannot keep pace skips, as after downtime, and says so."""
        reach_ms = round(BEHIND_REAL_S * 1000 * max(1.0, self._clock.state().rate))
        latest = {slotted.key: ts for ts, slotted in due}
        kept = [(ts, s) for ts, s in due if ts >= now_ms - reach_ms or ts == latest[s.key]]
        self._dropped += len(due) - len(kept)
        for watcher in self._watchers:
            watcher.dropped(len(due) - len(kept))
        if self._dropped and time.monotonic() - self._warned_at >= WARN_EVERY_S:
            log.warning(
                "the policy schedule is behind the clock: %d slots missed by more than %g real seconds "
                "were dropped (each rule's latest fires)",
                self._dropped,
                BEHIND_REAL_S,
            )
            self._dropped, self._warned_at = 0, time.monotonic()
        return kept

    def _fire_batched(self, due: list[tuple[int, Slotted]], plan: _Plan) -> int:
        """Fire the slots in time order, several to a transaction (BATCH_BACKUPS, BATCH_REAL_S), for up to
        TURN_BUDGET_S; what is left waits for the next turn. Each transaction first settles the backups as of
        the clock's now, within the same time (at least one slot fires): a backup past its expiration
        matters more than a slot that is late, which is dropped when too late. A transaction that fails is
        rolled back and its slots fire again one to a transaction (their expiries left to the settling
        chore), so that a slot that cannot fire holds back no other."""
        taken, i, turn = 0, 0, time.monotonic()
        while i < len(due) and (i == 0 or time.monotonic() - turn < TURN_BUDGET_S):
            began, batch, first = time.monotonic(), 0, i
            marks = dict(plan.marks)
            try:
                with _collector_waits(), self._store.changing() as (txn, state):
                    self._settle_in(txn)
                    while (
                        i < len(due)
                        and batch < BATCH_BACKUPS
                        and (i == first or time.monotonic() - began < BATCH_REAL_S)
                    ):
                        slot_ms, slotted = due[i]
                        i += 1
                        batch += self._fire_in(txn, state, slot_ms, slotted, plan)
            except Exception:
                plan.marks = marks  # as the database has them again
                batch = sum(self._fire_alone(slot_ms, slotted, plan) for slot_ms, slotted in due[first:i])
            else:
                self._taken(batch)
                self._settled = True
            taken += batch
        return taken

    def took_settling(self) -> bool:
        """Whether a turn settled the backups since the last call: the worker's settling chore, which would
        find only what came due since, then waits for its next turn (one commit, not two)."""
        settled, self._settled = self._settled, False
        return settled

    def _settle_in(self, txn: Txn) -> None:
        """Settle, in a batch's transaction, the backups as of the clock's now: up to EXPIRE_BATCH expired
        ones go, and those in flight move on.

        The pages of the backups' indexes that the batch's new backups change are then written once for
        both, in one commit: in transactions of their own (the settling chore's, of up to 5,000) the same
        removals cost more.
        """
        now = self._clock.now()
        found = candidates(self._reader, now, EXPIRE_BATCH)
        if found:
            settle_in(txn, self._sim, found, now)

    def _fire_alone(self, slot_ms: int, slotted: Slotted, plan: _Plan) -> int:
        """One slot in a transaction of its own; one that fails is logged and waits for the next turn."""
        try:
            with _collector_waits(), self._store.changing() as (txn, state):
                taken = self._fire_in(txn, state, slot_ms, slotted, plan)
            return self._taken(taken)
        except Exception:
            log.exception("policy %s, rule %s: the slot of %s did not fire", slotted.policy_id,
                          slotted.rule.get("id"), datetime.fromtimestamp(slot_ms / 1000, UTC))  # fmt: skip
            return 0

    def lag_ms(self) -> int:
        """Simulated ms the schedule is behind: from its earliest slot due and not yet fired to now (0 when
        nothing due is waiting; a rule seen for the first time starts from now, so it waits for nothing)."""
        now_ms = self._clock.now_ms()
        plan = self._plan()
        waiting = (_first_slot(s, plan.marks[s.key], now_ms) for s in plan.rules if s.key in plan.marks)
        earliest = min((ms for ms in waiting if ms is not None), default=None)
        return 0 if earliest is None else now_ms - earliest

    def advance_to(self, target_ms: int) -> Counts:
        """Move the clock to `target_ms`, going through every instant in between in time order."""
        with self._moving:
            return self._advance_to(target_ms)

    def _advance_to(self, target_ms: int) -> Counts:
        counts = Counts()
        start = self._clock.now_ms()
        if target_ms < start:
            self._clock.move_to(target_ms)  # refuses, naming the problem
        plan = self._plan()
        self._start_marks(plan, start)
        firing: dict[int, list[Slotted]] = {}
        for ts, slotted in sorted(self._due(plan, target_ms), key=_order):
            firing.setdefault(ts, []).append(slotted)
        instants = sorted({*firing, target_ms})
        with self._clock.passing() as pass_to:
            i = 0
            while i < len(instants):
                i = self._instants(instants, i, firing, plan, pass_to, counts)
            self._clock.move_to(max(target_ms, self._clock.now_ms()))
        with self._store.changing() as (txn, _):
            self._sim.keep_history(txn, datetime.fromtimestamp(target_ms / 1000, UTC))
        return counts

    def _instants(
        self,
        instants: list[int],
        i: int,
        firing: dict[int, list[Slotted]],
        plan: _Plan,
        pass_to: Callable[[int], None],
        counts: Counts,
    ) -> int:
        """From `instants[i]` on, everything due at each instant in time order, in one transaction:
        expiries and arrivals, then the slots; then the paced tasks that came due. Returns where the next
        transaction starts.

        Several instants share a transaction: rows that several instants change (a VM's content, the
        index pages of its backups) are then written once, and what the next instant settles is read in
        the transaction, its new backups included. An instant's backups are stored as they stand at the
        next instant when the transaction goes on to it: nothing sees them in between, and a backup saved
        by then is written once, not written and then settled. So whether it goes on is decided before the
        instant's slots fire: not when it had already taken BATCH_BACKUPS backups or run BATCH_REAL_S (as
        the worker's), nor when a paced task is due by this instant (it runs after the commit, stamped
        with its instant). A transaction may thus pass BATCH_BACKUPS by one instant's backups.
        """
        taken, began, going_on = 0, time.monotonic(), True
        with _collector_waits(), self._store.changing() as (txn, state):
            while going_on:
                instant_ms = instants[i]
                i += 1
                pass_to(instant_ms)
                now = datetime.fromtimestamp(instant_ms / 1000, UTC)
                found = candidates(txn, now)
                if found:
                    counts.backups_expired += settle_in(txn, self._sim, found, now).expired
                going_on = (
                    i < len(instants)
                    and taken < BATCH_BACKUPS
                    and time.monotonic() - began < BATCH_REAL_S
                    and not self._tasks.due_by(instant_ms)
                )
                as_of_ms = instants[i] if going_on else instant_ms
                taken += sum(
                    self._fire_in(txn, state, instant_ms, s, plan, as_of_ms)
                    for s in firing.get(instant_ms, [])
                )
        counts.backups_taken += self._taken(taken)
        counts.tasks_completed += self._tasks.run_due()
        return i

    def _fire_in(
        self, txn: Txn, state: OperationsState, slot_ms: int, slotted: Slotted, plan: _Plan, as_of_ms: int = 0
    ) -> int:
        """Take the slot's backups in the caller's transaction, stored as they stand at `as_of_ms` or the
        clock's now, whichever is later; 0 when another server fired the slot first."""
        mark = plan.marks[slotted.key]
        if slot_ms <= mark:
            return 0
        if not state.move_schedule_mark(*slotted.key, mark, slot_ms):
            plan.marks.update(state.schedule_marks())
            return 0
        taken = self._backups(txn, slot_ms, slotted, as_of_ms)
        rule_id = str(slotted.rule["id"])
        state.claim_slots(rule_id, slot_ms, taken)
        # Claims of slots whose backups have expired can go: the mark keeps those slots from firing.
        state.forget_slots(rule_id, slot_ms - slotted.timing.retention * 60_000)
        self._keep_at_most(txn, slot_ms, slotted, list(taken))
        plan.marks[slotted.key] = slot_ms
        return len(taken)

    def _backups(self, txn: Txn, slot_ms: int, slotted: Slotted, as_of_ms: int) -> dict[str, str]:
        rule, cid = slotted.rule, slotted.cluster_id
        # The policy's persistent volumes are backed up with its VMs, as the VMs are.
        sources: list[tuple[Collection[BackupSource], BackupSource]] = [
            (coll, found)
            for coll in (VIRTUAL_MACHINES, PERSISTENT_VOLUMES)
            for found in txn.find(coll, policy_id=slotted.policy_id, omnistack_cluster_id=cid, state="ALIVE")
        ]
        if not sources:
            return {}
        suspended = {
            h["id"] for h in txn.find(HOSTS, omnistack_cluster_id=cid) if h["policy_enabled"] is False
        }
        place = _destination(txn, rule, cid)
        if place is None:
            return {}
        cluster, store = place
        kept = holder(txn, cluster, store)
        when = datetime.fromtimestamp(slot_ms / 1000, UTC)
        created = to_text(when)
        retention = int(rule["retention"])
        name = datetime.fromtimestamp(slot_ms / 1000, slotted.tz).isoformat()
        planned: list[tuple[BackupSource, Record]] = []
        for coll, vm in sources:
            if vm["host_id"] in suspended:
                continue
            consistency = consistency_for(vm, str(rule.get("consistency_type") or "NONE"))
            backup: Record = {
                "id": time_ordered_id(slot_ms),
                "name": name,
                "type": "POLICY",
                "created_at": created,
                "expiration_time": to_text(when + timedelta(minutes=retention)),
                "application_consistent": consistency in ("DEFAULT", "VSS"),
                "consistency_type": consistency,
                **vm_facts(vm, coll),
                **kept,
                "unique_size_timestamp": created,
            }
            planned.append((vm, backup))
        rows = self._sim.take_backups(txn, planned, True, when)
        now = max(self._clock.now(), datetime.fromtimestamp(as_of_ms / 1000, UTC))
        if now > when:
            # Fired late (a worker behind the clock), or when the move's transaction goes on to a later
            # instant, they are stored as they stand then, saved or sent by then, rather than as they began,
            # each then rewritten by the settling (a row and its state's index entry, once or twice each).
            rows = [{**row, **self._sim.backup_progress(txn, cast(Backup, row), now)} for row in rows]
        txn.insert_many(BACKUPS, rows)
        return {vm["id"]: str(backup["id"]) for vm, backup in planned}

    def _keep_at_most(self, txn: Txn, slot_ms: int, slotted: Slotted, vm_ids: list[str]) -> None:
        """Past the rule's max_backups, that VM's oldest backups from the rule go.

        A VM holds at most one backup of each of the rule's slots within its retention: when those are
        no more than max_backups (as when max_backups is retention over frequency), there is nothing to do.
        """
        rule, timing = slotted.rule, slotted.timing
        cap = int(rule.get("max_backups") or max_backups(timing.frequency, timing.retention))
        kept = slots(timing, slotted.tz, slot_ms // 1000 - timing.retention * 60, slot_ms // 1000)
        if len(kept) <= cap:
            return
        with_ids = txn.state().slot_backups(str(rule["id"]), vm_ids)
        over = [backup_ids for backup_ids in with_ids.values() if len(backup_ids) > cap]
        # Those still there (others expired, or were deleted), all looked up in one statement.
        there = txn.present(BACKUPS, [b for backup_ids in over for b in backup_ids])
        doomed: list[str] = []
        for backup_ids in over:
            alive = [b for b in backup_ids if b in there]
            doomed += alive[: max(0, len(alive) - cap)]
        if doomed:
            txn.delete_many(BACKUPS, doomed)
            self._sim.delete_backups(txn, doomed)


def time_ordered_id(at_ms: int) -> str:
    """A new backup's id: a version-7 UUID carrying `at_ms` (domain/ids.py), its other bits random."""
    return ids.time_ordered_id(at_ms, int.from_bytes(os.urandom(10)))


def _first_slot(slotted: Slotted, after_ms: int, upto_ms: int) -> int | None:
    """The rule's first slot after `after_ms` and at most `upto_ms`, looking a day ahead, then twice as
    far each time: far behind, the slots of every day up to now need not be listed."""
    after_s, upto_s, span_s = after_ms // 1000, upto_ms // 1000, 86_400
    start_s = after_s
    while start_s < upto_s:
        end_s = min(upto_s, start_s + span_s)
        found = slots(slotted.timing, slotted.tz, start_s, end_s)
        if found:
            return found[0] * 1000
        start_s, span_s = end_s, span_s * 2
    return None


def _order(item: tuple[int, Slotted]) -> tuple[int, str, int, str]:
    ts, s = item
    return ts, s.policy_id, int(s.rule.get("number") or 0), s.cluster_id


def _destination(
    txn: Txn, rule: Record, cluster_id: str
) -> tuple[OmnistackCluster | None, ExternalStore | None] | None:
    """Where the rule keeps the backups of a cluster's VMs; None when it cannot (a gone destination, or a
    StoreOnce registered with another cluster, which takes backups only from its own)."""
    store_name = rule.get("external_store_name") or None
    if store_name:
        found = txn.find(EXTERNAL_STORES, name=store_name)
        if not found or found[0]["omnistack_cluster_id"] != cluster_id:
            return None
        try:
            store_takes(found[0], cluster_id, LOCAL_STORE)
        except TaskFailure:
            return None
        return None, found[0]
    target = rule.get("destination_id") or cluster_id
    cluster = txn.get(OMNISTACK_CLUSTERS, str(target))
    return (cluster, None) if cluster is not None else None


@contextmanager
def _collector_waits() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one transaction of the schedule.

    Such a transaction holds tens of thousands of objects while it runs (a slot's backups, their
    lineages, rows read ahead), all freed by reference counting when it ends. The collector's passes
    meanwhile moved them to its oldest generation, which set off full collections of the whole heap: a
    fifth of a schedule's CPU (docs/architecture.md, Performance notes). Garbage in cycles waits for
    the next pass after the transaction.
    """
    if not gc.isenabled():  # paused already (by another transaction, or by the process)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
