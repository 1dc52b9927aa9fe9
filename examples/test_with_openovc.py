"""Tests written as a user writes them: the official SDK against the OpenOVC the pytest plugin serves.

    pip install openovc simplivity
    pytest examples/test_with_openovc.py --openovc-scenario examples/openovc-scenario.yaml

One server is started for the session, from the scenario; every test starts from the same federation,
clock and fault rules.
"""

from __future__ import annotations

from typing import Any

import pytest
from simplivity.exceptions import HPESimpliVityException

from openovc.testing import OpenOVCServer

START = "2027-01-04T09:00:00Z"  # the scenario's clock


def test_a_test_takes_a_backup(openovc_sdk: Any) -> None:
    backup = openovc_sdk.virtual_machines.get_by_name("web-02").create_backup("before-upgrade")
    assert (backup.data["name"], backup.data["state"]) == ("before-upgrade", "PROTECTED")
    assert backup.data["created_at"] == START


def test_the_next_test_starts_without_it(openovc_sdk: Any) -> None:
    vm = openovc_sdk.virtual_machines.get_by_name("web-02")
    assert "before-upgrade" not in [backup.data["name"] for backup in vm.get_backups()]


def test_the_clock_starts_where_the_scenario_says(openovc_clean: OpenOVCServer) -> None:
    assert openovc_clean.control.clock().now == START
    assert openovc_clean.control.advance("1d").now == "2027-01-05T09:00:00Z"


def test_the_next_test_starts_there_again(openovc_clean: OpenOVCServer) -> None:
    assert openovc_clean.control.clock().now == START


def test_the_scenario_s_fault_rule_fails_clones_of_legacy_vms(openovc_sdk: Any) -> None:
    legacy = openovc_sdk.virtual_machines.get_by_name("legacy-erp-01")
    with pytest.raises(HPESimpliVityException) as failed:
        legacy.clone("legacy-erp-02")
    assert failed.value.msg == "The VM power state is not acceptable."
    clone = openovc_sdk.virtual_machines.get_by_name("web-02").clone("web-03")
    assert clone.data["name"] == "web-03"


def test_the_scenario_s_read_only_user_cannot_back_up(openovc_clean: OpenOVCServer) -> None:
    auditor = openovc_clean.sdk("auditor@vsphere.local", "Auditor-pass-1")
    vm = auditor.virtual_machines.get_by_name("web-01")
    with pytest.raises(HPESimpliVityException) as refused:
        vm.create_backup("not-allowed")
    assert refused.value.response["status"] == "403"
