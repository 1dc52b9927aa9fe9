"""Settings read OPENOVC_* variables under the values given, and refuse bad ones naming the setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from openovc.settings import Settings


@pytest.fixture(autouse=True)
def _no_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("OPENOVC_"):
            monkeypatch.delenv(key)


def test_defaults_without_variables() -> None:
    settings = Settings()
    assert (settings.data_dir, settings.port, settings.tls, settings.database_url) == (
        Path("openovc-data"), 8443, True, None,
    )  # fmt: skip
    assert (settings.log_level, settings.task_pacing, settings.max_concurrent_requests) == (
        "warning", "immediate", None,
    )  # fmt: skip


def test_variables_in_any_case_under_the_given_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENOVC_PORT", "9000")
    monkeypatch.setenv("openovc_tls", "false")
    monkeypatch.setenv("OpenOVC_Log_Level", "INFO")
    monkeypatch.setenv("OPENOVC_REQUEST_TIMEOUT", "1.5")
    monkeypatch.setenv("openovc_not_a_setting", "x")  # read by nothing: ignored
    settings = Settings(port=1234, data_dir=Path("/tmp/d"))
    assert (settings.port, settings.tls, settings.log_level, settings.request_timeout) == (
        1234,
        False,
        "info",
        1.5,
    )
    assert settings.data_dir == Path("/tmp/d")
    assert Settings().port == 9000


def test_a_bad_variable_is_refused_by_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENOVC_PORT", "70000")
    monkeypatch.setenv("OPENOVC_DATABASE_URL", "mysql://db")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [
        (
            ("database_url",),
            "Value error, unsupported database 'mysql'; use sqlite:///FILE or postgresql://...",
        ),
        (("port",), "Input should be less than or equal to 65535"),
    ]


def test_json_round_trip_reads_no_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # Worker processes get their settings as JSON (processes.py): the variables must not win there.
    text = Settings(port=1).model_dump_json()
    monkeypatch.setenv("OPENOVC_PORT", "2")
    assert Settings.model_validate_json(text).port == 1
