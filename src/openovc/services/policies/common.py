"""What every policy operation shares: the affected-object types and the stored rules read as Python."""

from __future__ import annotations

from typing import Any

import orjson

from openovc.domain import rules as rulebook
from openovc.domain.records import Policy

POLICY = "policy"
RULE = "rule"


def json_value(value: object) -> Any:
    """A JSON field as Python: the reader hands back text, a transaction Python values."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def rules_of(policy: Policy) -> list[rulebook.Rule]:
    """The policy's rules, in their stored order."""
    return list(json_value(policy["rules"]) or [])
