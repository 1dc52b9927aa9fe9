"""Paths inside a partition: parsing them, finding their entries, and listing what a path shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openovc.domain.errors import InvalidParameter
from openovc.simulator.guest_files.guest_os import WINDOWS
from openovc.simulator.guest_files.tree import Entry
from openovc.simulator.guest_files.vm import GuestVm


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
