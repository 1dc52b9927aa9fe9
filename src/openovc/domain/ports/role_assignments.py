"""The RBAC role assignments: which vCenter groups hold each role; storage implements it."""

from __future__ import annotations

from typing import Protocol

from openovc.domain.ports.federation import Record


class RoleAssignmentStore(Protocol):
    def role_assignments(self) -> list[Record]:
        """Each role with groups, as {"role": ..., "groups": [...]}, ordered by role."""
        ...

    def set_groups(self, role: str, groups: list[str]) -> None:
        """The role's groups become `groups` (none: the role is assigned to nobody)."""
        ...
