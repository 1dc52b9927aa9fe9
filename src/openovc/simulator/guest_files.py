"""What a VM's virtual disks held when a backup was taken: disks, partitions and a small file tree."""

# Nothing here is stored: everything derives from a few facts about the VM and the backup's time, so
# the same backup always shows the same disks and files, and two backups of one VM differ only in the
# files that changed between them (logs, registry hives, documents being edited).
#
# - Disks: `<vm>.vmdk`, `<vm>_1.vmdk`, ... one per virtual disk; the system disk takes two shares of
#   the allocated capacity and each data disk one (whole MiB; the last disk takes the remainder).
# - Partitions: a Windows system disk is GPT with a 500 MiB "System Reserved" partition that cannot be
#   mounted, then the NTFS system volume; a Linux system disk is MBR ("BIOS") with a 1 GiB /boot, then
#   the root file system; a data disk holds one partition (GPT on Windows, MBR on Linux).
# - Files: a few dozen per mountable partition. Each is shipped in the golden image (the same time and
#   size on every clone), written when the VM was deployed (per VM), or rewritten periodically (per VM,
#   disk and path: its last change is the latest tick of its period before the backup, and its size is
#   drawn afresh at each tick). No time is ever after the backup.
# - Directories have size 0 and can be restored (what the real system answers for a directory, e.g.
#   the SDK's own test data); symbolic links and the files Windows keeps locked (page file, VSS store)
#   cannot.
# - Restored files are the one stored part: restore_files writes a backup's files into a VM, and every
#   later backup of that VM shows them (see RestoredFile), until the guest itself rewrites the file.

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from openovc.domain.errors import InvalidParameter
from openovc.domain.ports.operations import RestoredFile
from openovc.domain.timefmt import to_text

MiB = 1024**2
GiB = 1024**3
DAY = 86400
HOUR = 3600

OsFamily = Literal["windows", "linux"]
WINDOWS: OsFamily = "windows"
LINUX: OsFamily = "linux"

# ---- the guest operating system --------------------------------------------------------------------

# The simulated generator picks a VM's golden image from its name (drivers/simulated/plan.image_for):
# a role prefix first, then an image name inside the name, then "win" anywhere. These mirror it, so a
# name alone gives the generator's answer whenever the generator did not choose at random.
_ROLE_PREFIXES: tuple[tuple[str, OsFamily], ...] = (
    ("web", LINUX), ("app", LINUX), ("sql", WINDOWS), ("dc", WINDOWS), ("file", WINDOWS), ("db", LINUX),
    ("k8s-node", LINUX), ("vdi", WINDOWS), ("mon", LINUX), ("exch", WINDOWS), ("jump", WINDOWS),
    ("ci-runner", LINUX), ("log", LINUX), ("proxy", LINUX),
)  # fmt: skip
_IMAGE_NAMES: tuple[tuple[str, OsFamily], ...] = (
    ("rhel9", LINUX), ("ubuntu22", LINUX), ("win2022", WINDOWS), ("win2019", WINDOWS), ("win11", WINDOWS),
)  # fmt: skip
# Names the generator does not know but a person reads at once.
_LINUX_WORDS = ("rhel", "ubuntu", "centos", "debian", "sles", "suse", "linux", "rocky", "alma")
_WINDOWS_APP_AWARE = frozenset({"CAPABLE", "VALID_CREDS", "INVALID_CREDS"})


def guest_os(vm_id: str, name: str, app_aware_status: str | None, adapter_types: Sequence[str]) -> OsFamily:
    """The guest OS family of a VM, from what its row shows (the golden image is not stored).

    In order: application-aware status (VMware Tools reports the OS of a running VM: VSS-capable
    means Windows, INVALID_OS means not Windows); an E1000E adapter (only Windows VMs get one); the
    name, as the generator reads it; and last the VM id's hash, three times in five Windows as three
    of the five golden images are.
    """
    if app_aware_status in _WINDOWS_APP_AWARE:
        return WINDOWS
    if app_aware_status == "INVALID_OS":
        return LINUX
    if any(a.upper() == "E1000E" for a in adapter_types):
        return WINDOWS
    from_name = os_from_name(name)
    if from_name is not None:
        return from_name
    return WINDOWS if _hash("os", vm_id) % 5 < 3 else LINUX


def os_from_name(name: str) -> OsFamily | None:
    """The OS family a VM's name suggests, or None when it suggests nothing."""
    for prefix, family in _ROLE_PREFIXES:
        if name.startswith(prefix):
            return family
    lowered = name.lower()
    for image, family in _IMAGE_NAMES:
        if image in lowered:
            return family
    if "win" in lowered:
        return WINDOWS
    if any(word in lowered for word in _LINUX_WORDS):
        return LINUX
    return None


# ---- disks and partitions ----------------------------------------------------------------------


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


# ---- files -------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Spec:
    path: str
    kind: str = "f"  # "f" file, "d" directory, "l" symbolic link
    low: int = 0
    high: int = 0
    every: int = 0  # seconds between changes; 0 = never changes once written
    vm: bool = False  # written at deployment (else shipped in the golden image)
    restorable: bool = True


def _f(path: str, low: int, high: int, every: int = 0, *, vm: bool = False, restorable: bool = True) -> _Spec:
    return _Spec(path, "f", low, high, every, vm or every > 0, restorable)


def _d(path: str, *, vm: bool = False, restorable: bool = True) -> _Spec:
    return _Spec(path, "d", vm=vm, restorable=restorable)


def _l(path: str, target: str) -> _Spec:
    # A link's size is the length of its target, as lstat reports it.
    return _Spec(path, "l", len(target), len(target), restorable=False)


KiB = 1024
_WINDOWS_FILES: tuple[_Spec, ...] = (
    _d("$Recycle.Bin"),
    _d("System Volume Information", restorable=False),
    _l("Documents and Settings", "C:\\Users"),
    _f("pagefile.sys", 2 * GiB, 8 * GiB, 7 * DAY, restorable=False),
    _f("swapfile.sys", 16 * MiB, 256 * MiB, 7 * DAY, restorable=False),
    _f("Program Files/Common Files/microsoft shared/ink/InkObj.dll", 200 * KiB, 400 * KiB),
    _f("Program Files/VMware/VMware Tools/vmtoolsd.exe", 90 * KiB, 120 * KiB, vm=True),
    _f("Program Files/VMware/VMware Tools/tools.conf", 1 * KiB, 4 * KiB, vm=True),
    _f("Program Files/Windows Defender/MsMpEng.exe", 120 * KiB, 140 * KiB),
    _f("Program Files (x86)/Microsoft/Edge/Application/msedge.exe", 3 * MiB, 4 * MiB, 30 * DAY),
    _d("ProgramData/Microsoft/Windows/Start Menu/Programs/Startup"),
    _f("Users/Administrator/NTUSER.DAT", 1 * MiB, 8 * MiB, DAY),
    _f("Users/Administrator/Desktop/desktop.ini", 282, 282, vm=True),
    _f("Users/Administrator/Documents/notes.txt", 1 * KiB, 64 * KiB, 3 * DAY),
    _f("Users/Administrator/Documents/report.docx", 40 * KiB, 2 * MiB, 7 * DAY),
    _f("Users/Administrator/Documents/budget.xlsx", 20 * KiB, 1 * MiB, 14 * DAY),
    _f("Users/Administrator/Downloads/setup.exe", 5 * MiB, 80 * MiB, vm=True),
    _f("Users/Public/Desktop/desktop.ini", 174, 174),
    _f("Windows/explorer.exe", 4 * MiB, 5 * MiB),
    _f("Windows/notepad.exe", 200 * KiB, 250 * KiB),
    _f("Windows/win.ini", 92, 92),
    _f("Windows/WindowsUpdate.log", 1 * KiB, 300 * KiB, DAY),
    _f("Windows/Logs/CBS/CBS.log", 1 * MiB, 40 * MiB, 6 * HOUR),
    _d("Windows/Temp", vm=True),
    _f("Windows/System32/cmd.exe", 280 * KiB, 300 * KiB),
    _f("Windows/System32/kernel32.dll", 700 * KiB, 800 * KiB),
    _f("Windows/System32/ntdll.dll", 1900 * KiB, 2100 * KiB),
    _f("Windows/System32/notepad.exe", 200 * KiB, 250 * KiB),
    _f("Windows/System32/drivers/vmxnet3.sys", 90 * KiB, 110 * KiB),
    _f("Windows/System32/drivers/etc/hosts", 824, 1200, vm=True),
    _f("Windows/System32/config/SAM", 64 * KiB, 128 * KiB, DAY),
    _f("Windows/System32/config/SOFTWARE", 60 * MiB, 120 * MiB, HOUR),
    _f("Windows/System32/config/SYSTEM", 12 * MiB, 30 * MiB, HOUR),
    _f("Windows/System32/winevt/Logs/Application.evtx", 1 * MiB, 20 * MiB, 15 * 60),
    _f("Windows/System32/winevt/Logs/Security.evtx", 1 * MiB, 20 * MiB, 10 * 60),
    _f("Windows/System32/winevt/Logs/System.evtx", 1 * MiB, 20 * MiB, 30 * 60),
)
_LINUX_BOOT_FILES: tuple[_Spec, ...] = (
    _d("lost+found"),
    _f("grub/grub.cfg", 4 * KiB, 8 * KiB, vm=True),
    _f("grub/grubenv", 1 * KiB, 1 * KiB, DAY),
    _f("grub/fonts/unicode.pf2", 2300 * KiB, 2400 * KiB),
    _f("vmlinuz-5.15.0-119-generic", 11 * MiB, 12 * MiB),
    _f("initrd.img-5.15.0-119-generic", 60 * MiB, 80 * MiB, vm=True),
    _f("config-5.15.0-119-generic", 270 * KiB, 280 * KiB),
    _f("System.map-5.15.0-119-generic", 8 * MiB, 9 * MiB),
)
_LINUX_ROOT_FILES: tuple[_Spec, ...] = (
    _l("bin", "usr/bin"),
    _l("lib", "usr/lib"),
    _l("sbin", "usr/sbin"),
    _d("boot"),  # where partition 1 is mounted
    _d("dev"),
    _d("proc"),
    _d("run"),
    _d("sys"),
    _d("lost+found"),
    _d("tmp", vm=True),
    _f("etc/hostname", 0, 0, vm=True),  # its size is the VM name's length plus a newline
    _f("etc/hosts", 180, 400, vm=True),
    _f("etc/fstab", 500, 900, vm=True),
    _f("etc/passwd", 1500, 3000, 30 * DAY),
    _f("etc/shadow", 800, 1600, 30 * DAY),
    _f("etc/group", 700, 1200, 30 * DAY),
    _f("etc/resolv.conf", 100, 300, DAY),
    _l("etc/os-release", "../usr/lib/os-release"),
    _f("etc/crontab", 700, 1100),
    _f("etc/ssh/sshd_config", 3 * KiB, 4 * KiB),
    _f("etc/ssh/ssh_host_ed25519_key", 411, 411, vm=True),
    _f("home/{user}/.bashrc", 3 * KiB, 4 * KiB, vm=True),
    _f("home/{user}/.bash_history", 1 * KiB, 40 * KiB, DAY),
    _f("home/{user}/notes.txt", 200, 20 * KiB, 3 * DAY),
    _f("home/{user}/scripts/deploy.sh", 500, 6 * KiB, 7 * DAY),
    _f("root/.bash_history", 1 * KiB, 20 * KiB, 2 * DAY),
    _f("usr/bin/bash", 1300 * KiB, 1400 * KiB),
    _f("usr/bin/ls", 130 * KiB, 150 * KiB),
    _l("usr/bin/python3", "python3.10"),
    _f("usr/bin/python3.10", 5 * MiB, 6 * MiB),
    _f("usr/bin/ssh", 800 * KiB, 900 * KiB),
    _f("usr/bin/vi", 1 * MiB, 4 * MiB),
    _f("usr/lib/os-release", 380, 420),
    _d("usr/share/doc"),
    _f("var/log/messages", 100 * KiB, 50 * MiB, HOUR),
    _f("var/log/secure", 10 * KiB, 5 * MiB, HOUR),
    _f("var/log/cron", 5 * KiB, 2 * MiB, HOUR),
    _f("var/log/audit/audit.log", 100 * KiB, 8 * MiB, 15 * 60),
    _d("var/tmp", vm=True),
)
_DATA_FILES: tuple[_Spec, ...] = (
    _f("data/archive/2025-q3.tar.gz", 1 * GiB, 6 * GiB, vm=True),
    _f("data/archive/2025-q4.tar.gz", 1 * GiB, 6 * GiB, vm=True),
    _f("data/exports/daily.csv", 10 * MiB, 400 * MiB, DAY),
    _f("data/exports/hourly.csv", 1 * MiB, 40 * MiB, HOUR),
    _f("data/reports/summary.pdf", 200 * KiB, 8 * MiB, 7 * DAY),
    _f("data/shared/README.txt", 300, 3 * KiB, vm=True),
    _d("data/tmp", vm=True),
)
_WINDOWS_DATA_EXTRA = (_d("$RECYCLE.BIN"), _d("System Volume Information", restorable=False))
_LINUX_DATA_EXTRA = (_d("lost+found"),)
# What some roles add to the system volume, by VM name prefix (and only on their own OS).
_ROLE_FILES: dict[str, tuple[OsFamily, tuple[_Spec, ...]]] = {
    "sql": (WINDOWS, (
        _f("Program Files/Microsoft SQL Server/MSSQL16.MSSQLSERVER/MSSQL/DATA/master.mdf", 4 * MiB, 8 * MiB, HOUR),
        _f("Program Files/Microsoft SQL Server/MSSQL16.MSSQLSERVER/MSSQL/Log/ERRORLOG", 10 * KiB, 4 * MiB, HOUR),
    )),
    "dc": (WINDOWS, (
        _f("Windows/NTDS/ntds.dit", 20 * MiB, 200 * MiB, HOUR),
        _d("Windows/SYSVOL/domain/Policies", vm=True),
    )),
    "web": (LINUX, (
        _f("etc/nginx/nginx.conf", 1 * KiB, 3 * KiB, vm=True),
        _f("var/www/html/index.html", 600, 20 * KiB, 7 * DAY),
        _f("var/log/nginx/access.log", 100 * KiB, 200 * MiB, 15 * 60),
    )),
    "db": (LINUX, (
        _f("var/lib/pgsql/data/postgresql.conf", 28 * KiB, 30 * KiB, vm=True),
        _f("var/lib/pgsql/data/pg_wal/000000010000000000000001", 16 * MiB, 16 * MiB, 15 * 60),
    )),
}  # fmt: skip
_USERS = ("admin", "ops", "deploy", "svc-app", "jsmith", "akumar")

# Golden images were built in these windows; VMs were deployed from them in the next one.
_IMAGE_BUILT = {
    WINDOWS: int(datetime(2021, 8, 18, tzinfo=UTC).timestamp()),
    LINUX: int(datetime(2023, 4, 20, tzinfo=UTC).timestamp()),
}
_IMAGE_SPAN = 180 * DAY
_DEPLOYED_FROM = int(datetime(2024, 1, 8, tzinfo=UTC).timestamp())
_DEPLOY_SPAN = 540 * DAY
_DEPLOY_SETTLE = 3 * DAY  # files written at deployment land within its first days


def _hash(*parts: object) -> int:
    """A stable 64-bit hash (Python's own hash() is salted per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _specs(os_family: OsFamily, vm_name: str, role: str) -> tuple[_Spec, ...]:
    if role == "data":
        return _DATA_FILES + (_WINDOWS_DATA_EXTRA if os_family == WINDOWS else _LINUX_DATA_EXTRA)
    if role == "boot":
        return _LINUX_BOOT_FILES
    specs = _WINDOWS_FILES if role == "windows" else _LINUX_ROOT_FILES
    for prefix, (family, extra) in _ROLE_FILES.items():
        if vm_name.startswith(prefix) and family == os_family:
            specs += extra
    return specs


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
    user = _USERS[_hash("user", vm_id) % len(_USERS)]
    specs = [replace(s, path=s.path.format(user=user)) for s in _specs(os_family, vm_name, part.role)]
    # Files never fill more than half their partition, whatever its size; the factor comes from the
    # largest sizes, so it does not move between backups.
    ceiling = sum(s.high for s in specs if s.kind == "f")
    scale = min(1.0, (part.size // 2) / ceiling) if ceiling else 1.0
    deployed = _DEPLOYED_FROM + _hash("deployed", vm_id) % _DEPLOY_SPAN
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
    spec: _Spec,
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
        born = deployed + _hash("born", *key) % _DEPLOY_SETTLE
    else:
        key = (os_family, spec.path)  # the same on every clone of the image
        born = _IMAGE_BUILT[os_family] + _hash("born", *key) % _IMAGE_SPAN
    modified, version = born, -1
    if spec.every:
        phase = _hash("phase", *key) % spec.every
        tick = when - (when - phase) % spec.every
        if tick > born:
            modified, version = tick, (when - phase) // spec.every
    size = 0
    if spec.kind != "d":
        size = spec.low + _hash("size", *key, version) % (spec.high - spec.low + 1)
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


# ---- restored files ----------------------------------------------------------------------------


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


# ---- paths -------------------------------------------------------------------------------------


def split_path(raw: str) -> tuple[str, ...]:
    """The segments of a path inside a partition: '/' or '' is the root; backslashes, repeated,
    leading and trailing separators and '.' are tolerated, '..' goes up (never above the root)."""
    segments: list[str] = []
    for segment in raw.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return tuple(segments)


def find(root: Entry, segments: Sequence[str], *, fold_case: bool) -> Entry | None:
    """The entry at `segments`, or None; symbolic links are not followed (as the real system does
    not mount through them). NTFS compares names without case, Linux file systems with it."""
    trail = find_trail(root, segments, fold_case=fold_case)
    if trail is None:
        return None
    return trail[-1] if trail else root


def find_trail(root: Entry, segments: Sequence[str], *, fold_case: bool) -> list[Entry] | None:
    """The entries from below the root down to `segments` (their names as stored), or None."""
    trail: list[Entry] = []
    node = root
    for segment in segments:
        if not node.directory:
            return None
        wanted = segment.casefold() if fold_case else segment
        node_next = next(
            (c for c in node.children if (c.name.casefold() if fold_case else c.name) == wanted), None
        )
        if node_next is None:
            return None
        node = node_next
        trail.append(node)
    return trail


def list_files(
    vm: GuestVm, disk_name: str, partition_number: int, file_path: str, taken: datetime
) -> list[Entry]:
    """What `file_path` shows: a directory's entries, or a file's (or link's) own entry."""
    disk = vm.disk(disk_name)
    root = vm.tree(disk, partition_number, taken)
    found = find(root, split_path(file_path), fold_case=vm.os_family == WINDOWS)
    if found is None:
        raise InvalidParameter(
            f"Invalid value '{file_path}' for parameter 'file_path': no such file or directory "
            f"in partition {partition_number} of {disk_name}"
        )
    return list(found.children) if found.directory else [found]
