"""Files restored into a VM: where a backup's partition lands in it, and the records a restore writes."""

from __future__ import annotations

from collections.abc import Sequence

from openovc.domain.errors import InvalidParameter
from openovc.domain.ports.operations import RestoredFile
from openovc.simulator.guest_files.disks import Partition, VirtualDisk
from openovc.simulator.guest_files.tree import Entry
from openovc.simulator.guest_files.vm import GuestVm

# Files from a layout the VM does not share land under this directory of its main volume.
RESTORED_DIRECTORY = "restored"


def landing(source_disk: VirtualDisk, source: Partition, target: GuestVm) -> tuple[int, int, tuple[str, ...]]:
    """Where files of a backup's partition land in a VM: (disk index, partition number, directory).

    In place when the VM has the same disk and a partition of the same number and kind (a file
    restored into the VM it came from overwrites its own path); anywhere else, under
    `restored/<disk>/<partition>/` on the VM's main volume, so nothing of a foreign layout is
    overwritten. InvalidParameter when the VM has no disk to write to.
    """
    disks = target.disks()
    if source_disk.index < len(disks):
        for part in target.partitions(disks[source_disk.index]):
            if part.number == source.number and part.role == source.role and part.mountable:
                return source_disk.index, part.number, ()
    main = [p for p in target.partitions(disks[0]) if p.mountable] if disks else []
    if not main:
        raise InvalidParameter(f"The virtual machine {target.name} has no virtual disk to restore files to")
    return 0, main[-1].number, (RESTORED_DIRECTORY, source_disk.name, str(source.number))


def restored_files(
    trail: Sequence[Entry], place: tuple[int, int, tuple[str, ...]], restored_at: int
) -> list[RestoredFile]:
    """What restoring the entry at the end of `trail` (find_trail's answer) writes: the entry and, for
    a directory, every restorable entry below it."""
    disk_index, number, prefix = place
    out: list[RestoredFile] = []

    def walk(node: Entry, path: tuple[str, ...]) -> None:
        out.append(
            RestoredFile(
                disk_index, number, "/".join(path), node.directory, node.size, node.last_modified, restored_at
            )
        )
        for child in node.children:
            if child.restorable:
                walk(child, (*path, child.name))

    walk(trail[-1], (*prefix, *(e.name for e in trail)))
    return out
