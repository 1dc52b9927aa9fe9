"""What the fuzz tier and benchmarks/fuzz.py share: the documents, the guards on each case, the checks."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import orjson
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.transport.requests import REQUESTS_TRANSPORT

from openovc.domain.clock import parse_instant
from openovc.domain.timefmt import to_text
from openovc.services.time_control import MAX_ADVANCE_S, parse_duration
from tests.fuzz.target import ADMIN_USER, Target

Operation: TypeAlias = schemathesis.APIOperation[Any, Any, Any, Any]
Case: TypeAlias = schemathesis.Case[Any]
SEED = 20261120
CONTROL_PREFIX = "/_openovc"
DOCUMENTS = {"api": "/api/openapi.json", "control": "/_openovc/openapi.json"}
# Conformance of every answer to the document is checked unless OPENOVC_FUZZ_CONFORMANCE=0: the switch for
# a time when the document lags behind the answers (the other two checks stay on).
CONFORMANCE = os.environ.get("OPENOVC_FUZZ_CONFORMANCE", "1") != "0"
CONFORMANCE_OFF = "response-schema conformance is off (OPENOVC_FUZZ_CONFORMANCE=0)"
BASIC = "Basic " + base64.b64encode(b"simplivity:").decode()
# A clock move is processed slot by slot: years of backups would take the budget of the whole run.
MAX_CLOCK_MOVE = timedelta(hours=1)
# Controls whose effect would change what every later case meets are undone at once: a fault rule makes
# HPE's operations fail on purpose (5xx included), a pacing leaves tasks queued.
UNDO = {"POST /faults": ("DELETE", "/faults"), "PUT /pacing": ("DELETE", "/pacing")}
# Far beyond any answer's time: a request that takes longer is stuck, and fails the run.
REQUEST_TIMEOUT_S = 120.0
OTHER_USER = "fuzzed-user@vsphere.local"
VENDOR_JSON = "application/vnd.simplivity.v1.25+json"
JSON_TYPE = ("application/json", "+json")


def load(target: Target, document: str) -> schemathesis.BaseSchema:
    """One of the server's own documents, its path parameters sometimes drawn from real objects."""
    # An explicit configuration: a schemathesis.toml found in a parent directory must not change the run.
    schema = schemathesis.openapi.from_url(
        target.base_url + DOCUMENTS[document], config=schemathesis.Config()
    )
    schema.hook("flatmap_path_parameters")(_real_ids(target))
    _send_files_as_bytes(schema.raw_schema)
    return schema


def _send_files_as_bytes(document: Mapping[str, Any]) -> None:
    """A body of a media type schemathesis cannot write (a snapshot file) is sent as the bytes it draws."""
    for operations_of_path in document.get("paths", {}).values():
        for operation in operations_of_path.values():
            if not isinstance(operation, dict):
                continue
            for media in operation.get("requestBody", {}).get("content", {}):
                if REQUESTS_TRANSPORT.get_first_matching_media_type(media) is None:
                    schemathesis.serializer.alias(media, "application/octet-stream")


def operations(schema: schemathesis.BaseSchema) -> list[Operation]:
    """Every operation of the document; one it cannot describe is a failure of the document."""
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    return found


def fuzz(
    operation: Operation,
    max_examples: int,
    answer: Callable[[Case], None],
    seed_value: int = SEED,
) -> None:
    """`answer` each of `max_examples` seeded cases: the document's examples, valid and invalid data."""
    strategies = [
        *operation.get_strategies_from_examples(),
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]

    @seed(seed_value)
    @settings(
        max_examples=max_examples,
        database=None,  # the seed replays a run; nothing is written beside the tests
        deadline=None,  # a server's answer time is not what is tested
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    @given(st.one_of(strategies))
    def run(case: Case) -> None:
        answer(case)

    run()


def _real_ids(target: Target) -> Callable[..., st.SearchStrategy[dict[str, Any]]]:
    """Generated ids reach only the 404 of an operation; real ones reach what lies behind it."""

    def flatmap_path_parameters(
        _context: schemathesis.HookContext, path_parameters: dict[str, Any]
    ) -> st.SearchStrategy[dict[str, Any]]:
        choices: list[st.SearchStrategy[dict[str, Any]]] = [st.just(path_parameters)]
        if not isinstance(path_parameters, dict):  # a negative case may have none at all
            return choices[0]
        if "ruleId" in path_parameters and target.rules:
            choices.append(st.sampled_from(target.rules).map(lambda pair: _with(path_parameters, pair)))
        elif any(target.ids.get(name) for name in path_parameters):
            real = {
                name: st.sampled_from(target.ids[name]) for name in path_parameters if target.ids.get(name)
            }
            choices.append(
                st.fixed_dictionaries({**{k: st.just(v) for k, v in path_parameters.items()}, **real})
            )
        return st.one_of(choices)

    return flatmap_path_parameters


def _with(path_parameters: Mapping[str, Any], pair: tuple[str, str]) -> dict[str, Any]:
    return {**path_parameters, "policyId": pair[0], "ruleId": pair[1]}


@dataclass
class Guard:
    """Keeps the fuzzer from locking itself out or spending its budget on one operation."""

    target: Target
    session: requests.Session = field(default_factory=requests.Session)

    def base_url(self, case: Case) -> str:
        """The control document's paths are relative to its server, /_openovc."""
        return self.target.base_url + (CONTROL_PREFIX if _is_control(case) else "")

    def prepare(self, case: Case) -> dict[str, str]:
        """Makes the case safe to send; the headers to send it with: the administrator's token, a
        throwaway one for revoke, the client's for a login."""
        operation = case.operation.path
        if operation == "/api/oauth/token":
            _spare_the_administrator(case)
            return {"Authorization": BASIC}
        if operation == "/api/oauth/revoke":
            return {"Authorization": f"Bearer {self.target.login()}"}
        if _is_control(case) and operation.startswith("/clock/"):
            self._bound_clock_move(case)
        return {"Authorization": f"Bearer {self.target.token}"}

    def call(self, case: Case) -> schemathesis.Response:
        headers = self.prepare(case)
        if case.media_type == "application/json" and not _is_control(case):
            # HPE's operations take their vendor media type (as the SDK sends it), and refuse plain JSON
            # with a 415 before reading the body: the body would never be tested.
            headers["Content-Type"] = VENDOR_JSON
        response = case.call(
            base_url=self.base_url(case), session=self.session, headers=headers, timeout=REQUEST_TIMEOUT_S
        )
        undo = UNDO.get(case.operation.label) if _is_control(case) else None
        if undo is not None and response.status_code < 300:
            self._undo(*undo)
        return response

    def _undo(self, method: str, path: str) -> None:
        url = self.target.base_url + CONTROL_PREFIX + path
        resp = self.session.request(method, url, headers={"Authorization": f"Bearer {self.target.token}"})
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"

    def _bound_clock_move(self, case: Case) -> None:
        """A move the server takes, longer than MAX_CLOCK_MOVE, becomes one of MAX_CLOCK_MOVE. Moves
        beyond the server's own limit stay as drawn: their refusal is tested (year 9999 once was a 500)."""
        body = case.body
        if not isinstance(body, dict):
            return
        limit = MAX_CLOCK_MOVE.total_seconds()
        if case.operation.path == "/clock/advance":
            if limit < _seconds(body.get("seconds")) <= MAX_ADVANCE_S:
                body["seconds"] = limit
        elif case.operation.path == "/clock/set" and isinstance(raw := body.get("to"), str):
            try:
                to = parse_instant(raw)
            except (ValueError, OverflowError):
                return
            now = self._clock_now()
            if now + MAX_CLOCK_MOVE < to <= now + timedelta(seconds=MAX_ADVANCE_S):
                body["to"] = to_text(now + MAX_CLOCK_MOVE)

    def _clock_now(self) -> datetime:
        url = self.target.base_url + CONTROL_PREFIX + "/clock"
        resp = self.session.get(url, headers={"Authorization": f"Bearer {self.target.token}"}, timeout=60)
        return parse_instant(resp.json()["now"])


def _is_control(case: Case) -> bool:
    return str(case.operation.schema.location).endswith(DOCUMENTS["control"])


def _seconds(raw: object) -> float:
    """The seconds a valid `seconds` value moves the clock; 0 for anything the server refuses."""
    try:
        if isinstance(raw, str):
            return parse_duration(raw)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
    except (ValueError, OverflowError):
        pass
    return 0.0


def _spare_the_administrator(case: Case) -> None:
    """Bad passwords for the fuzzer's own user would lock it out (per user and address): another user's."""
    for fields in (case.body, case.query):
        if isinstance(fields, dict):
            for name, value in fields.items():
                if isinstance(value, str) and value.strip().lower() == ADMIN_USER:
                    fields[name] = OTHER_USER


def json_answer(_ctx: object, response: schemathesis.Response, case: Case) -> None:
    """Every answer is JSON: a JSON content type and a body that parses. Except revoke's empty 200
    (HPE's), and an answer of a media type the document gives that status (a snapshot's file)."""
    if case.operation.path == "/api/oauth/revoke" and response.status_code == 200 and not response.content:
        return
    ctype = response.headers.get("content-type", [""])[0].split(";")[0].strip().lower()
    if ctype in _documented_types(case, response.status_code) and not _is_json(ctype):
        return
    assert _is_json(ctype), f"Content-Type {ctype!r} is not JSON"
    try:
        orjson.loads(response.content or b"")
    except orjson.JSONDecodeError as problem:
        raise AssertionError(f"the body is not JSON: {problem}: {response.content[:200]!r}") from None


def _is_json(ctype: str) -> bool:
    return ctype == JSON_TYPE[0] or ctype.endswith(JSON_TYPE[1])


def _documented_types(case: Case, status: int) -> set[str]:
    responses = case.operation.definition.raw.get("responses", {})
    answer = responses.get(str(status)) or {}
    return {str(media).split(";")[0].strip().lower() for media in answer.get("content", {})}


def checks() -> list[Any]:
    """The tier's checks: no 5xx, JSON answers, and (when on) conformance to the document."""
    chosen: list[Any] = [not_a_server_error, json_answer]
    return [*chosen, response_schema_conformance] if CONFORMANCE else chosen


@dataclass
class Tally:
    """The benchmark's counts: requests, and the answers each check refused."""

    requests: int = 0
    server_errors: int = 0
    non_json: int = 0
    violations: int = 0
    slowest: tuple[float, str] = (0.0, "")  # seconds, operation
    examples: dict[str, str] = field(default_factory=dict)

    def record(self, case: Case, response: schemathesis.Response) -> None:
        self.requests += 1
        label = case.operation.label
        self.slowest = max(self.slowest, (response.elapsed, label))
        if response.status_code >= 500:
            self.server_errors += 1
            self.examples.setdefault(f"5xx {label}", _replay(case, response))
        try:
            json_answer(None, response, case)
        except AssertionError as problem:
            self.non_json += 1
            self.examples.setdefault(f"non-JSON {label}", f"{problem}\n{_replay(case, response)}")
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except FailureGroup as problem:
            self.violations += 1
            first = str(problem.exceptions[0]).splitlines()[0]
            self.examples.setdefault(f"violation {label}", f"{first}\n{_replay(case, response)}")


def _replay(case: Case, response: schemathesis.Response) -> str:
    return f"{case.as_curl_command()}\n-> {response.status_code} {response.content[:300]!r}"
