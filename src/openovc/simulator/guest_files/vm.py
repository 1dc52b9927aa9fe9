"""The facts about a VM its guest's disks, partitions and file trees are derived from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from openovc.domain.errors import InvalidParameter
from openovc.domain.ports.operations import RestoredFile
from openovc.simulator.guest_files.disks import Partition, VirtualDisk, disk_names, disk_sizes, partitions
from openovc.simulator.guest_files.guest_os import OsFamily
from openovc.simulator.guest_files.tree import Entry, partition_tree


@dataclass(frozen=True)
class GuestVm:
    """The facts about a VM its disks are derived from."""

    id: str
    name: str
    os_family: OsFamily
    disk_count: int
    allocated: int  # bytes over all its disks
    restored: tuple[RestoredFile, ...] = ()  # what restore_files wrote into it, oldest first

    def disks(self) -> list[VirtualDisk]:
        names = disk_names(self.name, self.disk_count)
        sizes = disk_sizes(self.allocated, self.disk_count)
        return [VirtualDisk(i, n, s) for i, (n, s) in enumerate(zip(names, sizes, strict=True))]

    def disk(self, name: str) -> VirtualDisk:
        disks = self.disks()
        for disk in disks:
            if disk.name == name:  # VMFS file names are case-sensitive
                return disk
        expected = ", ".join(d.name for d in disks) or "none (the VM has no virtual disk)"
        raise InvalidParameter(
            f"Invalid value '{name}' for parameter 'virtual_disk': expected one of {expected}"
        )

    def partitions(self, disk: VirtualDisk) -> tuple[Partition, ...]:
        return partitions(self.os_family, disk.index, disk.size)

    def tree(self, disk: VirtualDisk, partition_number: int, taken: datetime) -> Entry:
        restored = [
            r for r in self.restored if (r.disk_index, r.partition_number) == (disk.index, partition_number)
        ]
        return partition_tree(
            self.id, self.name, self.os_family, disk.index, disk.size, partition_number, taken, restored
        )
