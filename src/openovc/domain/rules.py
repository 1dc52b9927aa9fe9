"""Policy rules as clients send them: validation, normalisation, numbering and `max_backups`.

A rule body carries `frequency` and `retention` (minutes; numbers may arrive as strings), and
optionally `days`, `start_time`, `end_time`, `destination_id` or `external_store_name`,
`consistency_type` and `application_consistent`. Server-side fields (`id`, `number`,
`destination_name`, `max_backups`) are ignored when sent, as are keys this module does not know.
`frequency` is 1-1440 minutes, and `retention` at least `frequency` (a backup that expires before
the next is taken protects nothing); a policy holds at most 16 rules.

    max_backups = max(1, retention // frequency)

the most backups a rule keeping each one `retention` minutes can hold when it fires every
`frequency` minutes (the demo generator uses the same figure).
Day and clock parsing is `schedules`' own: a rule stored here always parses there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openovc.domain.catalog import CONSISTENCY_TYPES
from openovc.domain.schedules import WEEKDAYS, parse_clock, parse_days

LOCAL = "<local>"
MAX_RULES = 16  # per policy: SimpliVity's limit as published (vhersey.com, 2016)
MAX_FREQUENCY = 1440  # a day: what the HPE PowerShell module accepts, and the schedule's longest step
MAX_MINUTES = 2**31 - 1  # the spec's int32
APP_CONSISTENT = frozenset({"DEFAULT", "VSS", "FAILEDVSS"})

Rule = dict[str, Any]


class RuleError(ValueError):
    """A requested rule that cannot be: the message names the rule (by position) and the field."""

    def __init__(self, problem: str, *, field: str | None = None, index: int | None = None) -> None:
        self.field = field
        self.index = index
        parts = [f"rule {index}" if index is not None else None, field, problem]
        super().__init__(": ".join(p for p in parts if p))


@dataclass(frozen=True)
class Places:
    """Where rules may send backups: cluster names by id, and the external stores' names."""

    clusters: Mapping[str, str]
    stores: frozenset[str]


def max_backups(frequency: int, retention: int) -> int:
    return max(1, retention // frequency)


def _kind(value: object) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array" if isinstance(value, list) else "an object"


def rule_bodies(body: object) -> list[Mapping[str, Any]]:
    """The JSON array of rule objects a create (or impact) request carries."""
    if not isinstance(body, list):
        raise RuleError(f"the body must be a JSON array of rules, not {_kind(body)}")
    if not body:
        raise RuleError("the body must name at least one rule")
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise RuleError(f"must be a JSON object, not {_kind(item)}", index=index)
    return list(body)


def rule_body(body: object) -> Mapping[str, Any]:
    """The one rule object an edit carries."""
    if not isinstance(body, dict):
        raise RuleError(f"the body must be a JSON object, not {_kind(body)}")
    return body


def _given(body: Mapping[str, Any], name: str) -> bool:
    return body.get(name) is not None


def _minutes(raw: object, field: str, index: int | None, low: int, high: int) -> int:
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw.strip()) <= 20:
        value = int(raw.strip())  # DK sends numbers as strings; a longer one is out of range anyway
    if value is None:
        raise RuleError(f"must be a whole number of minutes, got {raw!r}", field=field, index=index)
    if not low <= value <= high:
        raise RuleError(f"must be between {low} and {high} minutes, got {value}", field=field, index=index)
    return value


def _text(raw: object, field: str, index: int | None) -> str:
    if not isinstance(raw, str):
        raise RuleError(f"must be a string, got {raw!r}", field=field, index=index)
    return raw.strip()


def _days(raw: object, index: int | None) -> str:
    """`days` written the usual way: `All`, `Mon,Wed`, `1,15`, `last` (case and spaces tidied)."""
    text = _text(raw, "days", index)
    if text == "":
        return "All"
    try:
        days = parse_days(text)
    except ValueError as err:
        raise RuleError(str(err), field="days", index=index) from None
    if days.every_day:
        return "All"
    tokens: list[str] = []
    for token in (t.strip().lower() for t in text.split(",")):
        shown = token.capitalize() if token in WEEKDAYS else str(int(token)) if token.isdigit() else token
        if shown not in tokens:
            tokens.append(shown)
    return ",".join(tokens)


def _clock(raw: object, field: str, index: int | None) -> str:
    text = _text(raw, field, index)
    if text == "":
        return "00:00"
    if len(text) == 4 and text[1] == ":":
        text = "0" + text  # `9:00`, as people type it
    try:
        minutes = parse_clock(text)
    except ValueError as err:
        raise RuleError(str(err), field=field, index=index) from None
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _flag(raw: object, index: int | None) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise RuleError(f"must be true or false, got {raw!r}", field="application_consistent", index=index)


def _consistency(body: Mapping[str, Any], index: int | None, current: str | None) -> str:
    """consistency_type wins over the older application_consistent flag (as for backups and clones)."""
    if _given(body, "consistency_type"):
        value = body["consistency_type"]
        if value not in CONSISTENCY_TYPES:
            allowed = ", ".join(CONSISTENCY_TYPES)
            raise RuleError(f"must be one of {allowed}, got {value!r}", field="consistency_type", index=index)
        return str(value)
    if _given(body, "application_consistent"):
        if not _flag(body["application_consistent"], index):
            return "NONE"
        return current if current in APP_CONSISTENT else "DEFAULT"
    return current or "NONE"


def _destination(body: Mapping[str, Any], places: Places, index: int | None) -> tuple[str, str, str]:
    """(destination_id, destination_name, external_store_name) of a new rule."""
    cluster = _text(body["destination_id"], "destination_id", index) if _given(body, "destination_id") else ""
    store = (
        _text(body["external_store_name"], "external_store_name", index)
        if _given(body, "external_store_name")
        else ""
    )
    if cluster and store:
        raise RuleError(
            "give a destination_id or an external_store_name, not both", field="destination_id", index=index
        )
    if cluster:
        if cluster not in places.clusters:
            raise RuleError(f"no omnistack_cluster has id {cluster!r}", field="destination_id", index=index)
        return cluster, places.clusters[cluster], ""
    if store:
        if store not in places.stores:
            raise RuleError(f"no external_store is named {store!r}", field="external_store_name", index=index)
        return "", store, store
    return "", LOCAL, ""


def _same_destination(body: Mapping[str, Any], current: Rule, index: int | None) -> None:
    """An edit may repeat the rule's destination but not change it (HPE: delete and re-create instead)."""
    for field in ("destination_id", "external_store_name"):
        if _given(body, field) and _text(body[field], field, index) != (current.get(field) or ""):
            raise RuleError(
                "the destination of an existing rule cannot change; delete the rule and create a new one",
                field=field,
                index=index,
            )


def _rule(
    body: Mapping[str, Any], index: int | None, current: Rule | None, destination: tuple[str, str, str]
) -> Rule:
    base: Rule = current or {}

    def pick(name: str, default: object) -> object:
        return body[name] if _given(body, name) else base.get(name, default)

    for name in ("frequency", "retention"):
        if pick(name, None) is None:
            raise RuleError("Field required", field=name, index=index)
    frequency = _minutes(pick("frequency", None), "frequency", index, 1, MAX_FREQUENCY)
    retention = _minutes(pick("retention", None), "retention", index, 1, MAX_MINUTES)
    # Checked when the request sets either: a stored rule may predate the check (the generator can
    # shrink retentions), and an edit of its times alone should not fail for it.
    timing_set = current is None or _given(body, "frequency") or _given(body, "retention")
    if retention < frequency and timing_set:
        raise RuleError(
            f"must be at least the frequency ({frequency} minutes): each backup would expire before the "
            f"next is taken, got {retention}",
            field="retention",
            index=index,
        )
    consistency = _consistency(body, index, base.get("consistency_type"))
    destination_id, destination_name, store = destination
    return {
        "id": base.get("id", ""),
        "number": base.get("number", 0),
        "destination_id": destination_id,
        "destination_name": destination_name,
        "external_store_name": store,
        "frequency": frequency,
        "retention": retention,
        "days": _days(pick("days", "All"), index),
        "start_time": _clock(pick("start_time", "00:00"), "start_time", index),
        "end_time": _clock(pick("end_time", "00:00"), "end_time", index),
        "max_backups": max_backups(frequency, retention),
        "application_consistent": consistency in APP_CONSISTENT,
        "consistency_type": consistency,
    }


def new_rule(body: Mapping[str, Any], places: Places, index: int | None = None) -> Rule:
    """A rule to create (id and number still to give); raises RuleError."""
    return _rule(body, index, None, _destination(body, places, index))


def edited_rule(current: Rule, body: Mapping[str, Any], index: int | None = None) -> Rule:
    """`current` with the fields `body` gives changed (a partial edit); raises RuleError."""
    _same_destination(body, current, index)
    destination = (
        str(current.get("destination_id") or ""),
        str(current.get("destination_name") or LOCAL),
        str(current.get("external_store_name") or ""),
    )
    return _rule(body, index, current, destination)


def numbered(rules: Sequence[Rule]) -> list[Rule]:
    """Rules numbered 0, 1, ... in order (PowerShell addresses them by number)."""
    return [{**rule, "number": n} for n, rule in enumerate(rules)]


def _within_limit(count: int) -> None:
    if count > MAX_RULES:
        raise RuleError(f"a policy can have at most {MAX_RULES} rules; this change would give it {count}")


def find_rule(rules: Sequence[Rule], rule_id: str) -> Rule | None:
    return next((rule for rule in rules if rule.get("id") == rule_id), None)


def created(
    current: Sequence[Rule],
    bodies: Sequence[Mapping[str, Any]],
    places: Places,
    replace: bool,
    make_id: Callable[[], str],
) -> tuple[list[Rule], list[Rule]]:
    """(the policy's rules afterwards, the new ones): appended, or replacing every rule."""
    new = [{**new_rule(body, places, i), "id": make_id()} for i, body in enumerate(bodies)]
    after = numbered(new if replace else [*current, *new])
    _within_limit(len(after))
    return after, after[len(after) - len(new) :]


def edited(current: Sequence[Rule], bodies: Sequence[Mapping[str, Any]], replace: bool) -> list[Rule]:
    """The rules after edits that each name their `rule_id`; with `replace`, only the edited remain.

    Raises RuleError for a bad edit, and KeyError with the id of a rule the policy does not have.
    """
    changes: dict[str, Rule] = {}
    for index, body in enumerate(bodies):
        rule_id = body.get("rule_id")
        if rule_id is None:
            raise RuleError("Field required", field="rule_id", index=index)
        rule_id = _text(rule_id, "rule_id", index)
        if rule_id in changes:
            raise RuleError(f"rule {rule_id} is edited twice", field="rule_id", index=index)
        rule = find_rule(current, rule_id)
        if rule is None:
            raise KeyError(rule_id)
        changes[rule_id] = edited_rule(rule, body, index)
    if replace:
        return numbered([changes[str(body["rule_id"]).strip()] for body in bodies])
    return numbered([changes.get(str(rule.get("id")), rule) for rule in current])


def without(current: Sequence[Rule], rule_id: str) -> list[Rule]:
    """The rules once one is deleted, renumbered."""
    return numbered([rule for rule in current if rule.get("id") != rule_id])
