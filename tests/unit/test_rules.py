"""Policy rules as clients send them: validation, normalisation, numbering, edits and max_backups."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from openovc.domain import rules
from openovc.domain.rules import LOCAL, MAX_RULES, Places, RuleError
from openovc.domain.schedules import Rule as ScheduleRule

PLACES = Places({"c-2": "Sydney"}, frozenset({"StoreOnce-01"}))


def ids() -> Any:
    counter = itertools.count()
    return lambda: f"r{next(counter)}"


def new(body: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    return rules.new_rule(body, PLACES, index)


def problem(body: object, index: int | None = 0) -> str:
    with pytest.raises(RuleError) as info:
        rules.new_rule(body, PLACES, index)  # type: ignore[arg-type]
    return str(info.value)


def test_defaults_and_shape() -> None:
    assert new({"frequency": 60, "retention": 1440}) == {
        "id": "", "number": 0, "destination_id": "", "destination_name": LOCAL, "external_store_name": "",
        "frequency": 60, "retention": 1440, "days": "All", "start_time": "00:00", "end_time": "00:00",
        "max_backups": 24, "application_consistent": False, "consistency_type": "NONE",
    }  # fmt: skip


def test_numbers_as_strings_and_tidy_text() -> None:
    rule = new({"frequency": "120", "retention": " 2880 ", "days": "mon, FRI,mon", "start_time": "9:00",
                "end_time": "17:30", "id": "ignored", "number": 7, "max_backups": 99,
                "destination_name": "ignored"})  # fmt: skip
    assert (rule["frequency"], rule["retention"], rule["max_backups"]) == (120, 2880, 24)
    assert (rule["days"], rule["start_time"], rule["end_time"]) == ("Mon,Fri", "09:00", "17:30")
    assert (rule["id"], rule["number"], rule["destination_name"]) == ("", 0, LOCAL)
    assert new({"frequency": 60.0, "retention": 60, "days": "ALL"})["days"] == "All"
    assert new({"frequency": 60, "retention": 60, "days": "01,15,last"})["days"] == "1,15,last"
    assert new({"frequency": 60, "retention": 60, "days": "", "start_time": ""})["start_time"] == "00:00"


@pytest.mark.parametrize(
    ("frequency", "retention", "expected"),
    [
        (60, 1440, 24),
        (1440, 10080, 7),
        (240, 1020, 4),
        (700, 700, 1),
        (1440, 1440, 1),
        (1, 2**31 - 1, 2**31 - 1),
    ],
)
def test_max_backups(frequency: int, retention: int, expected: int) -> None:
    assert rules.max_backups(frequency, retention) == expected
    assert new({"frequency": frequency, "retention": retention})["max_backups"] == expected


def test_every_normalised_rule_parses_for_the_scheduler() -> None:
    rule = new({"frequency": "30", "retention": "600", "days": "sat,sun,last", "start_time": "8:15"})
    parsed = ScheduleRule.from_record(rule)
    assert (parsed.frequency, parsed.retention, parsed.start, parsed.max_backups) == (30, 600, 495, 20)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"retention": 60}, "rule 0: frequency: Field required"),
        ({"frequency": 60}, "rule 0: retention: Field required"),
        ({"frequency": None, "retention": 60}, "rule 0: frequency: Field required"),
        ({"frequency": 0, "retention": 60}, "rule 0: frequency: must be between 1 and 1440 minutes, got 0"),
        ({"frequency": 1441, "retention": 9999}, "rule 0: frequency: must be between 1 and 1440 minutes, got 1441"),
        ({"frequency": "-5", "retention": 60}, "rule 0: frequency: must be between 1 and 1440 minutes, got -5"),
        ({"frequency": "ten", "retention": 60}, "rule 0: frequency: must be a whole number of minutes, got 'ten'"),
        ({"frequency": 1.5, "retention": 60}, "rule 0: frequency: must be a whole number of minutes, got 1.5"),
        ({"frequency": True, "retention": 60}, "rule 0: frequency: must be a whole number of minutes, got True"),
        ({"frequency": [60], "retention": 60}, "rule 0: frequency: must be a whole number of minutes, got [60]"),
        ({"frequency": 60, "retention": 2**31},
         "rule 0: retention: must be between 1 and 2147483647 minutes, got 2147483648"),
        ({"frequency": 60, "retention": 30},
         "rule 0: retention: must be at least the frequency (60 minutes): each backup would expire before "
         "the next is taken, got 30"),
        ({"frequency": 60, "retention": 60, "days": "Funday"},
         "rule 0: days: unknown day 'funday' in 'Funday' (use All, weekdays like Mon,Wed,Fri, month days like "
         "1,15, or last)"),
        ({"frequency": 60, "retention": 60, "days": "32"},
         "rule 0: days: unknown day '32' in '32' (use All, weekdays like Mon,Wed,Fri, month days like 1,15, "
         "or last)"),
        ({"frequency": 60, "retention": 60, "days": 5}, "rule 0: days: must be a string, got 5"),
        ({"frequency": 60, "retention": 60, "start_time": "25:00"},
         "rule 0: start_time: expected a time HH:MM, got '25:00'"),
        ({"frequency": 60, "retention": 60, "end_time": "1230"}, "rule 0: end_time: expected a time HH:MM, got '1230'"),
        ({"frequency": 60, "retention": 60, "consistency_type": "vss"},
         "rule 0: consistency_type: must be one of NONE, DEFAULT, FAILEDVSS, NOT_APPLICABLE, VSS, got 'vss'"),
        ({"frequency": 60, "retention": 60, "application_consistent": "yes"},
         "rule 0: application_consistent: must be true or false, got 'yes'"),
        ({"frequency": 60, "retention": 60, "destination_id": "nope"},
         "rule 0: destination_id: no omnistack_cluster has id 'nope'"),
        ({"frequency": 60, "retention": 60, "destination_id": 7}, "rule 0: destination_id: must be a string, got 7"),
        ({"frequency": 60, "retention": 60, "external_store_name": "Other"},
         "rule 0: external_store_name: no external_store is named 'Other'"),
        ({"frequency": 60, "retention": 60, "destination_id": "c-2", "external_store_name": "StoreOnce-01"},
         "rule 0: destination_id: give a destination_id or an external_store_name, not both"),
    ],
)  # fmt: skip
def test_invalid_rules_name_the_rule_and_field(body: dict[str, Any], message: str) -> None:
    assert problem(body) == message


def test_destinations() -> None:
    remote = new({"frequency": 60, "retention": 60, "destination_id": "c-2"})
    assert (remote["destination_id"], remote["destination_name"], remote["external_store_name"]) == (
        "c-2", "Sydney", "",
    )  # fmt: skip
    store = new(
        {"frequency": 60, "retention": 60, "external_store_name": "StoreOnce-01", "destination_id": ""}
    )
    assert (store["destination_id"], store["destination_name"], store["external_store_name"]) == (
        "", "StoreOnce-01", "StoreOnce-01",
    )  # fmt: skip
    local = new({"frequency": 60, "retention": 60, "destination_id": None, "external_store_name": ""})
    assert (local["destination_id"], local["destination_name"]) == ("", LOCAL)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("NONE", False)),
        ({"application_consistent": True}, ("DEFAULT", True)),
        ({"application_consistent": "false"}, ("NONE", False)),
        ({"consistency_type": "VSS"}, ("VSS", True)),
        ({"consistency_type": "VSS", "application_consistent": False}, ("VSS", True)),
        ({"consistency_type": "NONE", "application_consistent": True}, ("NONE", False)),
        ({"consistency_type": "NOT_APPLICABLE"}, ("NOT_APPLICABLE", False)),
        ({"consistency_type": None, "application_consistent": True}, ("DEFAULT", True)),
    ],
)
def test_consistency_type_wins_over_the_flag(given: dict[str, Any], expected: tuple[str, bool]) -> None:
    rule = new({"frequency": 60, "retention": 60, **given})
    assert (rule["consistency_type"], rule["application_consistent"]) == expected


def test_bodies_must_be_an_array_of_objects() -> None:
    assert rules.rule_bodies([{"frequency": 1}]) == [{"frequency": 1}]
    cases: list[tuple[object, str]] = [
        ({"frequency": 1}, "the body must be a JSON array of rules, not an object"),
        (None, "the body must be a JSON array of rules, not null"),
        ("x", "the body must be a JSON array of rules, not a string"),
        (5, "the body must be a JSON array of rules, not a number"),
        ([], "the body must name at least one rule"),
        ([{}, 5], "rule 1: must be a JSON object, not a number"),
        ([[]], "rule 0: must be a JSON object, not an array"),
        ([True], "rule 0: must be a JSON object, not a boolean"),
    ]
    for body, message in cases:
        with pytest.raises(RuleError) as info:
            rules.rule_bodies(body)
        assert str(info.value) == message
    with pytest.raises(RuleError, match=r"^the body must be a JSON object, not an array$"):
        rules.rule_body([{}])


def test_create_appends_or_replaces_and_numbers() -> None:
    make = ids()
    first, _ = rules.created([], [{"frequency": 60, "retention": 60}] * 2, PLACES, False, make)
    assert [(r["id"], r["number"]) for r in first] == [("r0", 0), ("r1", 1)]
    after, added = rules.created(first, [{"frequency": 1440, "retention": 1440}], PLACES, False, make)
    assert [(r["id"], r["number"]) for r in after] == [("r0", 0), ("r1", 1), ("r2", 2)]
    assert added == after[2:]
    replaced, added = rules.created(after, [{"frequency": 30, "retention": 30}], PLACES, True, make)
    assert [(r["id"], r["number"], r["frequency"]) for r in replaced] == [("r3", 0, 30)] and added == replaced


def test_a_policy_holds_at_most_16_rules() -> None:
    full, _ = rules.created([], [{"frequency": 60, "retention": 60}] * MAX_RULES, PLACES, False, ids())
    with pytest.raises(
        RuleError, match=r"^a policy can have at most 16 rules; this change would give it 17$"
    ):
        rules.created(full, [{"frequency": 60, "retention": 60}], PLACES, False, ids())
    assert len(rules.created(full, [{"frequency": 60, "retention": 60}], PLACES, True, ids())[0]) == 1


def test_edits_are_partial_and_keep_the_destination() -> None:
    (current,), _ = rules.created(
        [], [{"frequency": 60, "retention": 1440, "destination_id": "c-2", "consistency_type": "VSS"}],
        PLACES, False, ids(),
    )  # fmt: skip
    edited = rules.edited_rule(
        current, {"start_time": "10:00", "end_time": "18:00", "max_backups": 1, "number": 9}
    )
    assert edited == {**current, "start_time": "10:00", "end_time": "18:00"}
    assert rules.edited_rule(current, {"retention": "120"})["max_backups"] == 2
    assert rules.edited_rule(current, {"application_consistent": True})["consistency_type"] == "VSS"
    assert rules.edited_rule(current, {"application_consistent": False})["consistency_type"] == "NONE"
    assert rules.edited_rule(current, {"destination_id": "c-2", "external_store_name": ""}) == current
    for body, field in [({"destination_id": ""}, "destination_id"), ({"external_store_name": "StoreOnce-01"},
                        "external_store_name")]:  # fmt: skip
        with pytest.raises(RuleError) as info:
            rules.edited_rule(current, body)
        assert str(info.value) == (
            f"{field}: the destination of an existing rule cannot change; delete the rule and create a new one"
        )
    with pytest.raises(RuleError, match=r"^retention: must be at least the frequency"):
        rules.edited_rule(current, {"retention": 30})
    with pytest.raises(RuleError, match=r"^retention: must be at least the frequency"):
        rules.edited_rule(current, {"frequency": 120, "retention": 60})
    # A stored rule that keeps backups less long than its frequency can still have its times edited.
    short = {**current, "frequency": 1440, "retention": 480, "max_backups": 1}
    assert rules.edited_rule(short, {"days": "Sun"}) == {**short, "days": "Sun"}


def test_edits_by_rule_id_and_deletion_renumber() -> None:
    current, _ = rules.created(
        [], [{"frequency": f, "retention": 1440} for f in (60, 120, 240)], PLACES, False, ids()
    )
    after = rules.edited(current, [{"rule_id": "r1", "frequency": 30}], False)
    assert [(r["id"], r["number"], r["frequency"]) for r in after] == [
        ("r0", 0, 60),
        ("r1", 1, 30),
        ("r2", 2, 240),
    ]
    only = rules.edited(current, [{"rule_id": "r2"}, {"rule_id": "r0", "days": "Sun"}], True)
    assert [(r["id"], r["number"], r["days"]) for r in only] == [("r2", 0, "All"), ("r0", 1, "Sun")]
    with pytest.raises(KeyError):
        rules.edited(current, [{"rule_id": "nope"}], False)
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"frequency": 5}], "rule 0: rule_id: Field required"),
        ([{"rule_id": "r0"}, {"rule_id": "r0"}], "rule 1: rule_id: rule r0 is edited twice"),
        ([{"rule_id": "r0", "frequency": 0}], "rule 0: frequency: must be between 1 and 1440 minutes, got 0"),
    ]
    for bodies, message in cases:
        with pytest.raises(RuleError) as info:
            rules.edited(current, bodies, False)
        assert str(info.value) == message
    assert [(r["id"], r["number"]) for r in rules.without(current, "r0")] == [("r1", 0), ("r2", 1)]
    assert rules.find_rule(current, "r2") == current[2] and rules.find_rule(current, "x") is None
