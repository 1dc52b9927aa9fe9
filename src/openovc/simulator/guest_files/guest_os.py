"""The guest operating system of a VM, read from what its row shows; and the stable hash facts derive from."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

OsFamily = Literal["windows", "linux"]
WINDOWS: OsFamily = "windows"
LINUX: OsFamily = "linux"

# The simulated generator picks a VM's golden image from its name (simulator/generator/plan.image_for):
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


def stable_hash(*parts: object) -> int:
    """A stable 64-bit hash (Python's own hash() is salted per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


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
    return WINDOWS if stable_hash("os", vm_id) % 5 < 3 else LINUX


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
