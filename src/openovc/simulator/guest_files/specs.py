"""The file trees a guest's partitions hold, as specs: each path's kind, sizes and how often it changes."""

from __future__ import annotations

from dataclasses import dataclass

from openovc.simulator.guest_files.disks import GiB, MiB
from openovc.simulator.guest_files.guest_os import LINUX, WINDOWS, OsFamily

KiB = 1024
DAY = 86400
HOUR = 3600


@dataclass(frozen=True)
class Spec:
    """How one path of a tree is derived: its kind, size range, period of change and origin."""

    path: str
    kind: str = "f"  # "f" file, "d" directory, "l" symbolic link
    low: int = 0
    high: int = 0
    every: int = 0  # seconds between changes; 0 = never changes once written
    vm: bool = False  # written at deployment (else shipped in the golden image)
    restorable: bool = True


def _f(path: str, low: int, high: int, every: int = 0, *, vm: bool = False, restorable: bool = True) -> Spec:
    return Spec(path, "f", low, high, every, vm or every > 0, restorable)


def _d(path: str, *, vm: bool = False, restorable: bool = True) -> Spec:
    return Spec(path, "d", vm=vm, restorable=restorable)


def _l(path: str, target: str) -> Spec:
    # A link's size is the length of its target, as lstat reports it.
    return Spec(path, "l", len(target), len(target), restorable=False)


_WINDOWS_FILES: tuple[Spec, ...] = (
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
_LINUX_BOOT_FILES: tuple[Spec, ...] = (
    _d("lost+found"),
    _f("grub/grub.cfg", 4 * KiB, 8 * KiB, vm=True),
    _f("grub/grubenv", 1 * KiB, 1 * KiB, DAY),
    _f("grub/fonts/unicode.pf2", 2300 * KiB, 2400 * KiB),
    _f("vmlinuz-5.15.0-119-generic", 11 * MiB, 12 * MiB),
    _f("initrd.img-5.15.0-119-generic", 60 * MiB, 80 * MiB, vm=True),
    _f("config-5.15.0-119-generic", 270 * KiB, 280 * KiB),
    _f("System.map-5.15.0-119-generic", 8 * MiB, 9 * MiB),
)
_LINUX_ROOT_FILES: tuple[Spec, ...] = (
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
_DATA_FILES: tuple[Spec, ...] = (
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
_ROLE_FILES: dict[str, tuple[OsFamily, tuple[Spec, ...]]] = {
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
# Whose home a Linux VM has (`{user}` in a path): one per VM, chosen by hash.
USERS = ("admin", "ops", "deploy", "svc-app", "jsmith", "akumar")


def specs_for(os_family: OsFamily, vm_name: str, role: str) -> tuple[Spec, ...]:
    """The specs of a partition holding `role`'s tree, with what the VM's role adds to a system volume."""
    if role == "data":
        return _DATA_FILES + (_WINDOWS_DATA_EXTRA if os_family == WINDOWS else _LINUX_DATA_EXTRA)
    if role == "boot":
        return _LINUX_BOOT_FILES
    specs = _WINDOWS_FILES if role == "windows" else _LINUX_ROOT_FILES
    for prefix, (family, extra) in _ROLE_FILES.items():
        if vm_name.startswith(prefix) and family == os_family:
            specs += extra
    return specs
