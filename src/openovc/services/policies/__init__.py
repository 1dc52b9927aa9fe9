"""Backup policy operations: policies, their rules, suspend/resume as tasks; impact reports at once.

The package's names are what routes call (`policies.create`, `policies.impact_of_edits`, ...), and
HANDLERS is every policy task's handler, for the engine.
"""

from __future__ import annotations

from openovc.operations.engine import Handler
from openovc.services.policies import lifecycle, rules, suspension
from openovc.services.policies.lifecycle import create, delete, rename
from openovc.services.policies.reports import (
    impact_of_applying,
    impact_of_creation,
    impact_of_deletion,
    impact_of_edits,
    schedule,
)
from openovc.services.policies.rules import create_rules, delete_rule, update_rule
from openovc.services.policies.suspension import set_policy_backups

HANDLERS: dict[str, Handler] = {**lifecycle.HANDLERS, **rules.HANDLERS, **suspension.HANDLERS}

__all__ = [
    "HANDLERS",
    "create",
    "create_rules",
    "delete",
    "delete_rule",
    "impact_of_applying",
    "impact_of_creation",
    "impact_of_deletion",
    "impact_of_edits",
    "rename",
    "schedule",
    "set_policy_backups",
    "update_rule",
]
