"""A VM's virtual disks and their partition tables, derived from its disk count and allocated bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openovc.domain.errors import InvalidParameter
from openovc.simulator.guest_files.guest_os import WINDOWS, OsFamily

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class VirtualDisk:
    index: int  # 0 = the system disk
    name: str
    size: int


@dataclass(frozen=True)
class Partition:
    number: int  # from 1, as the real system numbers them
    size: int
    disk_type: str  # "GPT" or "BIOS" (MBR)
    mountable: bool
    role: str  # "reserved", "windows", "boot", "root" or "data": which file tree it holds

    def as_json(self) -> dict[str, object]:
        return {
            "partition_number": self.number,
            "size": self.size,
            "disk_type": self.disk_type,
            "mountable": self.mountable,
        }


def disk_names(vm_name: str, count: int) -> list[str]:
    """vSphere's names for a VM's disk files: the first plain, the others numbered from 1."""
    return [f"{vm_name}.vmdk" if i == 0 else f"{vm_name}_{i}.vmdk" for i in range(max(0, count))]


def disk_sizes(allocated: int, count: int) -> list[int]:
    """Disk sizes summing to `allocated`: the system disk two shares, each data disk one."""
    if count <= 0:
        return []
    allocated = max(0, allocated)
    weights = [2] + [1] * (count - 1) if count > 1 else [1]
    total = sum(weights)
    sizes: list[int] = []
    for weight in weights[:-1]:
        size = allocated * weight // total
        sizes.append(size - size % MiB if size >= MiB else size)
    sizes.append(allocated - sum(sizes))
    return sizes


_LEAD = MiB  # partitioning tools start the first partition 1 MiB in
_GPT_TAIL = MiB  # GPT keeps a backup table at the end of the disk
# (role, size or None for the rest, mountable)
_Layout = tuple[tuple[str, int | None, bool], ...]
_WINDOWS_SYSTEM: _Layout = (("reserved", 500 * MiB, False), ("windows", None, True))
_LINUX_SYSTEM: _Layout = (("boot", GiB, True), ("root", None, True))
_DATA: _Layout = (("data", None, True),)


def partitions(os_family: OsFamily, disk_index: int, disk_size: int) -> tuple[Partition, ...]:
    """The partition table of a disk; sizes sum to at most the disk's size."""
    if disk_index == 0:
        if os_family == WINDOWS:
            return _lay(disk_size, "GPT", _WINDOWS_SYSTEM)
        return _lay(disk_size, "BIOS", _LINUX_SYSTEM)
    return _lay(disk_size, "GPT" if os_family == WINDOWS else "BIOS", _DATA)


def _lay(disk_size: int, disk_type: str, layout: _Layout) -> tuple[Partition, ...]:
    free = max(0, disk_size - _LEAD - (_GPT_TAIL if disk_type == "GPT" else 0))
    out: list[Partition] = []
    for number, (role, wanted, mountable) in enumerate(layout, start=1):
        # A fixed partition never takes more than a quarter of a (tiny) disk.
        size = free if wanted is None else min(wanted, free // 4)
        free -= size
        out.append(Partition(number, size, disk_type, mountable, role))
    return tuple(out)


def find_partition(parts: Sequence[Partition], disk_name: str, number: int) -> Partition:
    """The mountable partition `number`, or InvalidParameter naming what is wrong."""
    for part in parts:
        if part.number == number:
            if not part.mountable:
                raise InvalidParameter(f"partition {number} of {disk_name} cannot be mounted")
            return part
    numbers = ", ".join(str(p.number) for p in parts)
    raise InvalidParameter(
        f"Invalid value '{number}' for parameter 'partition_number': {disk_name} has partitions {numbers}"
    )
