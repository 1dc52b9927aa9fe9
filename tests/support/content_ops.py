"""Random content operations mirrored on full slot maps, and the brute-force check of every figure."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from openovc.simulator.content.ledger import Totals
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import MiB, image_segment, piece_compressed, piece_size

PLACES = ("c1", "c2", "c3")
# Tiny VMs (a handful of slots) so that rewrites, clones and restores collide all the time.
IMAGES = (image_segment("tiny-linux", 1024 * MiB, 2.1), image_segment("tiny-windows", 768 * MiB, 1.6))
OPERATIONS = (
    "create", "write", "workload", "backup", "copy", "clone", "restore", "restore_as", "delete_backup",
    "delete_vm", "move",
)  # fmt: skip


@dataclass
class Mirror:
    """Every holder's place, kind and whole slot map, kept by replaying each operation on lists."""

    place: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    maps: dict[str, list[int]] = field(default_factory=dict)

    def put(self, holder_id: str, place: str, kind: str, pieces: list[int]) -> None:
        self.place[holder_id] = place
        self.kind[holder_id] = kind
        self.maps[holder_id] = list(pieces)

    def drop(self, holder_id: str) -> None:
        del self.place[holder_id], self.kind[holder_id], self.maps[holder_id]

    def vms(self) -> list[str]:
        return sorted(h for h, k in self.kind.items() if k == "vm")

    def backups(self) -> list[str]:
        return sorted(h for h, k in self.kind.items() if k != "vm")

    def totals(self, place: str) -> Totals:
        """A place's figures recomputed from the slot maps of everything it holds."""
        here = [h for h, p in self.place.items() if p == place]
        pieces = set().union(*(self.maps[h] for h in here)) if here else set()
        totals = Totals(
            uncompressed=sum(piece_size(p) for p in pieces),
            compressed=sum(piece_compressed(p) for p in pieces),
            pieces=len(pieces),
        )
        for h in here:
            totals.add_logical(self.kind[h], self.size(h))
        return totals

    def size(self, holder_id: str) -> int:
        return sum(piece_size(p) for p in self.maps[holder_id])

    def unique_size(self, holder_id: str) -> int:
        place = self.place[holder_id]
        refs: Counter[int] = Counter()
        for h, p in self.place.items():
            if p == place:
                refs.update(set(self.maps[h]))
        return sum(piece_size(p) for p in set(self.maps[holder_id]) if refs[p] == 1)


@dataclass
class Runner:
    """Applies operations to a model and to its mirror; `step` picks one at random."""

    model: ContentModel
    mirror: Mirror = field(default_factory=Mirror)
    serial: int = 0
    log: list[str] = field(default_factory=list)

    def _name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def _map(self, holder_id: str) -> list[int]:
        return self.model.lineage(holder_id).slot_map(self.model.holder(holder_id).version)

    def create(self, place: str, image: int | None, own_mib: int) -> str:
        vm = self._name("vm")
        segment = IMAGES[image] if image is not None else None
        self.model.create_vm(vm, place, own_bytes=own_mib * MiB, compression=1.8, image=segment)
        self.mirror.put(vm, place, "vm", self._map(vm))
        return vm

    def write(self, vm: str, slots: list[int]) -> None:
        self.model.write(vm, slots)
        holder, lineage = self.model.holder(vm), self.model.lineage(vm)
        for slot in set(slots):
            self.mirror.maps[vm][slot] = lineage.written_piece(holder.version, slot)

    def workload(self, vm: str, count: int) -> None:
        before = self.model.holder(vm).version
        done = self.model.workload(vm, count)
        holder, lineage = self.model.holder(vm), self.model.lineage(vm)
        assert holder.version == before + (1 if done else 0)
        if done:
            for slot in lineage.step_slots(holder.version):
                self.mirror.maps[vm][slot] = lineage.written_piece(holder.version, slot)

    def backup(self, vm: str, place: str) -> str:
        backup = self._name("bk")
        self.model.backup(vm, backup, place)
        kind = "local" if place == self.mirror.place[vm] else "remote"
        self.mirror.put(backup, place, kind, self.mirror.maps[vm])
        return backup

    def copy(self, backup: str, place: str) -> str:
        new = self._name("copy")
        self.model.copy(backup, new, place)
        self.mirror.put(new, place, "remote", self.mirror.maps[backup])
        return new

    def clone(self, vm: str) -> str:
        new = self._name("clone")
        self.model.clone(vm, new)
        self.mirror.put(new, self.mirror.place[vm], "vm", self.mirror.maps[vm])
        return new

    def restore(self, backup: str, vm: str) -> None:
        self.model.restore(backup, vm)
        self.mirror.maps[vm] = list(self.mirror.maps[backup])

    def restore_as(self, backup: str, place: str) -> str:
        new = self._name("restored")
        self.model.restore_as(backup, new, place)
        self.mirror.put(new, place, "vm", self.mirror.maps[backup])
        return new

    def delete(self, holder_id: str) -> None:
        self.model.delete(holder_id)
        self.mirror.drop(holder_id)

    def move(self, vm: str, place: str) -> None:
        self.model.move(vm, place)
        self.mirror.place[vm] = place

    def step(self, rng: random.Random) -> str:
        """One random operation that applies to the current state; returns its description."""
        vms, backups = self.mirror.vms(), self.mirror.backups()
        choices = [op for op in OPERATIONS if self._applies(op, vms, backups)]
        op = rng.choice(choices)
        place = rng.choice(PLACES)
        if op == "create":
            image = rng.choice([None, 0, 1, 1])
            own = rng.choice([32, 128, 700, 1500])
            text = f"create({place}, {image}, {own})"
            self.create(place, image, own)
        elif op == "write":
            vm = rng.choice(vms)
            total = len(self.mirror.maps[vm])
            slots = rng.sample(range(total), min(total, rng.randint(1, 3)))
            text = f"write({vm}, {slots})"
            self.write(vm, slots)
        elif op == "workload":
            vm, count = rng.choice(vms), rng.randint(0, 4)
            text = f"workload({vm}, {count})"
            self.workload(vm, count)
        elif op == "backup":
            vm = rng.choice(vms)
            target = self.mirror.place[vm] if rng.random() < 0.7 else place
            text = f"backup({vm}, {target})"
            self.backup(vm, target)
        elif op == "copy":
            backup = rng.choice(backups)
            text = f"copy({backup}, {place})"
            self.copy(backup, place)
        elif op == "clone":
            vm = rng.choice(vms)
            text = f"clone({vm})"
            self.clone(vm)
        elif op == "restore":
            backup, vm = rng.choice(backups), rng.choice(vms)
            text = f"restore({backup}, {vm})"
            self.restore(backup, vm)
        elif op == "restore_as":
            backup = rng.choice(backups)
            text = f"restore_as({backup}, {place})"
            self.restore_as(backup, place)
        elif op == "delete_backup":
            backup = rng.choice(backups)
            text = f"delete({backup})"
            self.delete(backup)
        elif op == "delete_vm":
            vm = rng.choice(vms)
            text = f"delete({vm})"
            self.delete(vm)
        else:
            vm = rng.choice(vms)
            text = f"move({vm}, {place})"
            self.move(vm, place)
        self.log.append(text)
        return text

    @staticmethod
    def _applies(op: str, vms: list[str], backups: list[str]) -> bool:
        if op in ("create",):
            return True
        if op in ("write", "workload", "backup", "clone", "delete_vm", "move"):
            return bool(vms)
        if op == "restore":
            return bool(vms) and bool(backups)
        return bool(backups)


def check(runner: Runner) -> None:
    """Every figure of the model equals its brute-force recomputation from the slot maps."""
    model, mirror = runner.model, runner.mirror
    context = " -> ".join(runner.log[-8:])
    for holder_id in mirror.maps:
        assert runner._map(holder_id) == mirror.maps[holder_id], (holder_id, context)
        assert model.size(holder_id) == mirror.size(holder_id), (holder_id, context)
        assert model.unique_size(holder_id) == mirror.unique_size(holder_id), (holder_id, context)
    for place in PLACES:
        assert model.totals(place) == mirror.totals(place), (place, context)
