"""The access log: one line per request, in text or JSON, with the request id and the token's user."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from openovc.api.observe import AccessLog, timestamp
from openovc.app import create_app
from tests.support.inprocess import ADMIN, READER, Env

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
# The test client's address is "testclient".
TEXT_LINE = re.compile(
    rf"^(?P<time>{TIME}) testclient (?P<method>\S+) (?P<path>\S+) (?P<status>\d{{3}}) (?P<ms>\d+\.\d{{3}})ms "
    r"user=(?P<user>\S+) request_id=(?P<id>\S+)$"
)


def _client(env: Env, **settings: Any) -> TestClient:
    changed = dataclasses.replace(env.runtime, settings=env.runtime.settings.model_copy(update=settings))
    return TestClient(create_app(changed))


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_text_lines_name_the_request_its_answer_and_its_user(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _client(env, access_log=True)
    admin = {"Authorization": f"Bearer {env.login(ADMIN)}"}
    reader = {"Authorization": f"Bearer {env.login(READER)}"}
    host = env.federation.rows["hosts"][0]["id"]
    _lines(capsys)
    answers = [
        client.get(f"/api/hosts/{host}", headers=admin),
        client.get("/api/hosts/nope?fields=name", headers=reader),
        client.get("/api/hosts"),
        client.get("/api/hosts", headers={"Authorization": "Bearer not-a-token"}),
        client.get("/_openovc/clock", headers={**reader, "X-Request-Id": "trace-42"}),
    ]
    found = [TEXT_LINE.match(line) for line in _lines(capsys)]
    assert all(found), found
    seen = [(m["method"], m["path"], int(m["status"]), m["user"], m["id"]) for m in found if m]
    assert seen == [
        ("GET", f"/api/hosts/{host}", 200, ADMIN[0], answers[0].headers["x-request-id"]),
        ("GET", "/api/hosts/nope", 404, READER[0], answers[1].headers["x-request-id"]),
        ("GET", "/api/hosts", 401, "-", answers[2].headers["x-request-id"]),
        ("GET", "/api/hosts", 401, "-", answers[3].headers["x-request-id"]),
        ("GET", "/_openovc/clock", 200, READER[0], "trace-42"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 401, 401, 200]


def test_json_lines_are_one_object_each(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    client = _client(env, access_log=True, log_format="json")
    admin = {"Authorization": f"Bearer {env.login(ADMIN)}"}
    _lines(capsys)
    resp = client.get("/api/hosts/a%20b", headers={**admin, "X-Request-Id": "abc.1"})
    assert resp.status_code == 404
    (line,) = _lines(capsys)
    record = orjson.loads(line)
    assert re.fullmatch(TIME, record.pop("time"))
    assert record.pop("duration_ms") > 0
    assert record == {
        "level": "info",
        "logger": "access",
        "request_id": "abc.1",
        "client": "testclient",
        "user": ADMIN[0],
        "method": "GET",
        "path": "/api/hosts/a%20b",
        "status": 404,
    }


def test_no_lines_unless_asked(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    _lines(capsys)
    assert env.client.get("/api/version").status_code == 200
    assert _lines(capsys) == []


def test_a_path_is_written_as_received_never_as_decoded(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    client = _client(env, access_log=True)
    _lines(capsys)
    assert client.get("/api/hosts/%0Afake%20line").status_code == 401
    (line,) = _lines(capsys)
    assert " GET /api/hosts/%0Afake%20line 401 " in line


def test_access_log_writes_to_its_sink_and_refuses_unknown_formats() -> None:
    written: list[str] = []
    log = AccessLog("text", written.append)
    log.request(
        at=0.25, request_id="r1", client="10.0.0.1", user="bad\nname", method="GET", path="/api/hosts",
        status=200, seconds=0.00125,
    )  # fmt: skip
    assert written == [
        "1970-01-01T00:00:00.250Z 10.0.0.1 GET /api/hosts 200 1.250ms user='bad\\nname' request_id=r1"
    ]
    with pytest.raises(ValueError, match="log format 'xml': expected one of text, json"):
        AccessLog("xml", written.append)
    assert timestamp(1_795_000_000.9999) == "2026-11-18T11:06:40.999Z"
