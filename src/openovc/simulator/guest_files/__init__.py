"""What a VM's virtual disks held when a backup was taken: disks, partitions and a small file tree."""

# Nothing here is stored: everything derives from a few facts about the VM and the backup's time, so
# the same backup always shows the same disks and files, and two backups of one VM differ only in the
# files that changed between them (logs, registry hives, documents being edited).
#
# - Disks (disks.py): `<vm>.vmdk`, `<vm>_1.vmdk`, ... one per virtual disk; the system disk takes two
#   shares of the allocated capacity and each data disk one (whole MiB; the last disk takes the rest).
# - Partitions (disks.py): a Windows system disk is GPT with a 500 MiB "System Reserved" partition that
#   cannot be mounted, then the NTFS system volume; a Linux system disk is MBR ("BIOS") with a 1 GiB
#   /boot, then the root file system; a data disk holds one partition (GPT on Windows, MBR on Linux).
# - Files (specs.py, tree.py): a few dozen per mountable partition. Each is shipped in the golden image
#   (the same time and size on every clone), written when the VM was deployed (per VM), or rewritten
#   periodically (per VM, disk and path: its last change is the latest tick of its period before the
#   backup, and its size is drawn afresh at each tick). No time is ever after the backup.
# - Directories have size 0 and can be restored (what the real system answers for a directory, e.g.
#   the SDK's own test data); symbolic links and the files Windows keeps locked (page file, VSS store)
#   cannot.
# - Restored files (restored.py) are the one stored part: restore_files writes a backup's files into a
#   VM, and every later backup of that VM shows them (see RestoredFile), until the guest itself
#   rewrites the file.
#
# This package's names are its public face: callers use `guest_files.<name>` whatever module holds it.

from openovc.simulator.guest_files.disks import (
    GiB,
    MiB,
    Partition,
    VirtualDisk,
    disk_names,
    disk_sizes,
    find_partition,
    partitions,
)
from openovc.simulator.guest_files.guest_os import LINUX, WINDOWS, OsFamily, guest_os, os_from_name
from openovc.simulator.guest_files.paths import find, find_trail, list_files, split_path
from openovc.simulator.guest_files.restored import RESTORED_DIRECTORY, landing, restored_files
from openovc.simulator.guest_files.specs import DAY, HOUR, KiB
from openovc.simulator.guest_files.tree import Entry, partition_tree
from openovc.simulator.guest_files.vm import GuestVm

__all__ = [
    "DAY",
    "HOUR",
    "LINUX",
    "RESTORED_DIRECTORY",
    "WINDOWS",
    "Entry",
    "GiB",
    "GuestVm",
    "KiB",
    "MiB",
    "OsFamily",
    "Partition",
    "VirtualDisk",
    "disk_names",
    "disk_sizes",
    "find",
    "find_partition",
    "find_trail",
    "guest_os",
    "landing",
    "list_files",
    "os_from_name",
    "partition_tree",
    "partitions",
    "restored_files",
    "split_path",
]
