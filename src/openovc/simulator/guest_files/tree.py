"""The file tree of one partition as a backup holds it: generated entries, with restored files laid over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from openovc.domain.ports.operations import RestoredFile
from openovc.domain.timefmt import to_text
from openovc.simulator.guest_files.disks import disk_names, find_partition, partitions
from openovc.simulator.guest_files.guest_os import LINUX, WINDOWS, OsFamily, stable_hash
from openovc.simulator.guest_files.specs import DAY, USERS, Spec, specs_for


@dataclass(frozen=True)
class Entry:
    """A file, directory or symbolic link; a directory carries its children."""

    name: str
    directory: bool
    symbolic_link: bool
    size: int
    last_modified: int  # epoch seconds, UTC
    restorable: bool
    children: tuple[Entry, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "directory": self.directory,
            "symbolic_link": self.symbolic_link,
            "size": self.size,
            "last_modified": to_text(datetime.fromtimestamp(self.last_modified, UTC)),
            "file_level_restore_available": self.restorable,
        }


# Golden images were built in these windows; VMs were deployed from them in the next one.
_IMAGE_BUILT = {
    WINDOWS: int(datetime(2021, 8, 18, tzinfo=UTC).timestamp()),
    LINUX: int(datetime(2023, 4, 20, tzinfo=UTC).timestamp()),
}
_IMAGE_SPAN = 180 * DAY
_DEPLOYED_FROM = int(datetime(2024, 1, 8, tzinfo=UTC).timestamp())
_DEPLOY_SPAN = 540 * DAY
_DEPLOY_SETTLE = 3 * DAY  # files written at deployment land within its first days


def partition_tree(
    vm_id: str,
    vm_name: str,
    os_family: OsFamily,
    disk_index: int,
    disk_size: int,
    partition_number: int,
    taken: datetime,
    restored: Sequence[RestoredFile] = (),
) -> Entry:
    """The root directory of a mountable partition as the backup taken at `taken` holds it, with the
    files restored into it by then (`restored`, oldest first, all of this partition)."""
    parts = partitions(os_family, disk_index, disk_size)
    name = disk_names(vm_name, disk_index + 1)[-1]
    part = find_partition(parts, name, partition_number)
    when = int(taken.timestamp())
    user = USERS[stable_hash("user", vm_id) % len(USERS)]
    specs = [replace(s, path=s.path.format(user=user)) for s in specs_for(os_family, vm_name, part.role)]
    # Files never fill more than half their partition, whatever its size; the factor comes from the
    # largest sizes, so it does not move between backups.
    ceiling = sum(s.high for s in specs if s.kind == "f")
    scale = min(1.0, (part.size // 2) / ceiling) if ceiling else 1.0
    deployed = _DEPLOYED_FROM + stable_hash("deployed", vm_id) % _DEPLOY_SPAN
    leaves: dict[tuple[str, ...], tuple[Entry, int]] = {}
    for spec in specs:
        entry, born = _leaf(spec, vm_id, vm_name, os_family, disk_index, deployed, when, scale)
        leaves[tuple(spec.path.split("/"))] = (entry, born)
    _lay_restored(leaves, restored, when)
    root, _ = _directory((), "", leaves, when)
    return root


def _lay_restored(
    leaves: dict[tuple[str, ...], tuple[Entry, int]], restored: Sequence[RestoredFile], when: int
) -> None:
    """Put what was restored by `when` over the generated entries: the last write of a path wins,
    so a file the guest rewrote after the restore (a log, a registry hive) shows the guest's copy."""
    # A generated entry's time is its last write; a restored entry was written when it was restored.
    written = {key: entry.last_modified for key, (entry, _) in leaves.items()}
    for record in restored:
        if record.restored_at > when or (record.undone_at is not None and record.undone_at <= when):
            continue
        key = tuple(record.path.split("/"))
        if written.get(key, -1) > record.restored_at:
            continue
        before = leaves.get(key)
        if before is not None and before[0].directory and record.directory:
            continue  # restoring a directory over itself adds its files, not a new directory
        entry = Entry(key[-1], record.directory, False, record.size, record.last_modified, restorable=True)
        # Overwriting a file does not create it again (its directory's time stays).
        leaves[key] = (entry, before[1] if before is not None else record.restored_at)
        written[key] = record.restored_at


def _leaf(
    spec: Spec,
    vm_id: str,
    vm_name: str,
    os_family: OsFamily,
    disk_index: int,
    deployed: int,
    when: int,
    scale: float,
) -> tuple[Entry, int]:
    """An entry and when it was created (directories take their newest child's creation time)."""
    if spec.vm:
        key: tuple[object, ...] = (vm_id, disk_index, spec.path)
        born = deployed + stable_hash("born", *key) % _DEPLOY_SETTLE
    else:
        key = (os_family, spec.path)  # the same on every clone of the image
        born = _IMAGE_BUILT[os_family] + stable_hash("born", *key) % _IMAGE_SPAN
    modified, version = born, -1
    if spec.every:
        phase = stable_hash("phase", *key) % spec.every
        tick = when - (when - phase) % spec.every
        if tick > born:
            modified, version = tick, (when - phase) // spec.every
    size = 0
    if spec.kind != "d":
        size = spec.low + stable_hash("size", *key, version) % (spec.high - spec.low + 1)
        if spec.kind == "f":
            size = int(size * scale)
        if spec.path == "etc/hostname":
            size = len(vm_name) + 1
    name = spec.path.rsplit("/", 1)[-1]
    entry = Entry(name, spec.kind == "d", spec.kind == "l", size, min(modified, when), spec.restorable)
    return entry, min(born, when)


def _directory(
    path: tuple[str, ...], name: str, leaves: dict[tuple[str, ...], tuple[Entry, int]], when: int
) -> tuple[Entry, int]:
    depth = len(path)
    names = dict.fromkeys(k[depth] for k in leaves if len(k) > depth and k[:depth] == path)
    children: list[tuple[Entry, int]] = []
    for child in names:
        sub = (*path, child)
        own = leaves.get(sub)
        has_children = any(len(k) > depth + 1 and k[: depth + 1] == sub for k in leaves)
        if own is not None and not (own[0].directory and has_children):
            children.append(own)
        else:
            entry, born = _directory(sub, child, leaves, when)
            if own is not None:  # an explicit directory that also holds files keeps its own flags
                entry = Entry(
                    entry.name, True, False, 0, entry.last_modified, own[0].restorable, entry.children
                )
            children.append((entry, born))
    children.sort(key=lambda c: (c[0].name.casefold(), c[0].name))
    # A directory changes when an entry is created in it, not when a file in it is rewritten.
    born = max((b for _, b in children), default=when)
    return Entry(name, True, False, 0, born, True, tuple(e for e, _ in children)), born
