"""Collection query parameters: defaults, tolerance of real clients' quirks, and every refusal."""

from __future__ import annotations

import pytest

from openovc.domain.catalog import BACKUPS, CLUSTER_GROUPS, HOSTS, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidParameter, InvalidSortCriteria, OmniStackError, TypeMismatch
from openovc.domain.fields import Op
from openovc.domain.query import Condition, parse_collection_query, visible_fields


def test_defaults_match_the_spec() -> None:
    q = parse_collection_query(VIRTUAL_MACHINES, {})
    assert (q.offset, q.limit, q.sort, q.descending, q.case_insensitive) == (0, 500, "name", True, False)
    # VMs are filtered to ALIVE unless the client names a state.
    assert q.conditions == (Condition("state", Op.MATCH, ("ALIVE",)),)
    assert q.fields is None and q.show_optional_fields is False


def test_empty_values_mean_default_as_the_go_sdk_sends_them() -> None:
    q = parse_collection_query(
        BACKUPS, {"sort": "", "order": "", "fields": "", "case": "", "limit": "500", "offset": "0",
                  "show_optional_fields": "false"},
    )  # fmt: skip
    assert (q.sort, q.descending, q.fields, q.case_insensitive) == ("name", True, None, False)


def test_python_sdk_parameters() -> None:
    q = parse_collection_query(
        HOSTS, {"case": "insensitive", "limit": "5", "offset": "10", "order": "ascending", "sort": "name",
                "show_optional_fields": "True", "fields": "id, name , state"},
    )  # fmt: skip
    assert (q.limit, q.offset, q.descending, q.case_insensitive, q.show_optional_fields) == (
        5,
        10,
        False,
        True,
        True,
    )
    assert q.fields == ("id", "name", "state")


def test_comma_lists_wildcards_and_enums() -> None:
    q = parse_collection_query(
        BACKUPS, {"name": "a*,b", "state": "protected,Failed", "virtual_machine_id": "x"}
    )
    by_field = {c.field: c for c in q.conditions}
    assert by_field["name"] == Condition("name", Op.MATCH, ("a*", "b"), wildcard=True)
    assert by_field["state"].values == ("PROTECTED", "FAILED")
    assert by_field["virtual_machine_id"].wildcard is False


def test_single_value_filters_keep_commas() -> None:
    q = parse_collection_query(VIRTUAL_MACHINES, {"host_id": "a,b", "state": "ALIVE"})
    assert Condition("host_id", Op.MATCH, ("a,b",)) in q.conditions


def test_ranges_dates_and_booleans() -> None:
    q = parse_collection_query(
        BACKUPS, {"size_min": "10", "size_max": "20", "created_after": "2026-01-02T03:04:05+01:00",
                  "application_consistent": "TRUE"},
    )  # fmt: skip
    by_op = {(c.field, c.op): c.values for c in q.conditions}
    assert by_op[("size", Op.MIN)] == (10,)
    assert by_op[("size", Op.MAX)] == (20,)
    assert by_op[("created_at", Op.AFTER)] == ("2026-01-02T02:04:05Z",)
    assert by_op[("application_consistent", Op.BOOL)] == (True,)


def test_unknown_parameters_are_ignored() -> None:
    q = parse_collection_query(CLUSTER_GROUPS, {"show_optional_field": "true", "pv": "x"})
    assert q.conditions == ()


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"limit": "5001"}, InvalidSortCriteria, "Invalid limit: 5001. The limit must be between 1 and 5000"),
        ({"limit": "0"}, InvalidSortCriteria, "Invalid limit: 0. The limit must be between 1 and 5000"),
        ({"limit": "ten"}, TypeMismatch, "Invalid value 'ten' for parameter 'limit': expected an integer"),
        ({"offset": "-1"}, InvalidParameter, "Invalid value '-1' for parameter 'offset': must be at least 0"),
        ({"sort": "nope"}, InvalidSortCriteria, "Invalid sort criteria: 'nope' is not a sortable field of hosts"),
        ({"sort": "cluster_group_ids"}, InvalidSortCriteria,
         "Invalid sort criteria: 'cluster_group_ids' is not a sortable field of hosts"),
        ({"order": "up"}, InvalidParameter,
         "Invalid value 'up' for parameter 'order': expected ascending or descending"),
        ({"case": "loud"}, InvalidParameter,
         "Invalid value 'loud' for parameter 'case': expected sensitive or insensitive"),
        ({"show_optional_fields": "yes"}, TypeMismatch,
         "Invalid value 'yes' for parameter 'show_optional_fields': expected true or false"),
        ({"fields": "id,bogus"}, InvalidParameter, "Invalid value for parameter 'fields': bogus is not a field of hosts"),
        ({"state": "DEAD"}, InvalidParameter,
         "Invalid value 'DEAD' for parameter 'state': expected one of ALIVE, FAULTY, MANAGED, REMOVED, SUSPECTED, UNKNOWN"),
        ({"current_feature_level_min": "x"}, TypeMismatch,
         "Invalid value 'x' for parameter 'current_feature_level_min': expected an integer"),
        ({"policy_enabled": "maybe"}, TypeMismatch,
         "Invalid value 'maybe' for parameter 'policy_enabled': expected true or false"),
    ],
)  # fmt: skip
def test_bad_values_are_refused(params: dict[str, str], error: type[OmniStackError], message: str) -> None:
    with pytest.raises(error) as caught:
        parse_collection_query(HOSTS, params)
    assert caught.value.message == message
    assert caught.value.status == 400


def test_bad_date_is_refused() -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_collection_query(BACKUPS, {"created_after": "yesterday"})
    assert caught.value.message == (
        "Invalid value 'yesterday' for parameter 'created_after': expected an ISO-8601 date and time"
    )


def test_optional_fields_need_asking_for() -> None:
    plain = visible_fields(VIRTUAL_MACHINES, parse_collection_query(VIRTUAL_MACHINES, {}))
    assert "ha_status" not in plain and "name" in plain
    full = visible_fields(
        VIRTUAL_MACHINES, parse_collection_query(VIRTUAL_MACHINES, {"show_optional_fields": "true"})
    )
    assert "ha_status" in full
    picked = visible_fields(
        VIRTUAL_MACHINES, parse_collection_query(VIRTUAL_MACHINES, {"fields": "name,id,ha_status"})
    )
    assert picked == ("id", "name")
