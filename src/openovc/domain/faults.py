"""Fault rules: which requests a rule matches, its one effect, and whether its n-th match fires (pure)."""

from __future__ import annotations

import fnmatch
import http
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openovc.domain.errors import InvalidBody

_PKG = "com.simplivity.restapi.exceptions."
_SPRING_STATUS = "org.springframework.web.server.ResponseStatusException"
_PARAM = re.compile(r"\{[^{}/]+\}")
METHODS = ("DELETE", "GET", "POST", "PUT")
RULE_FIELDS = ("match", "object_id", "name", "effect", "probability", "count", "skip", "seed")
EFFECTS = ("http", "task_error", "delay_ms", "drop_connection")
MAX_DELAY_MS = 600_000  # ten minutes: a client's patience, well past the real proxy's 60 s
MAX_SEED = 2**63 - 1
MAX_ERROR_CODE = 2**31 - 1

# Task error messages the real one sends with these codes (reference/omnistack-api.md 7.2).
TASK_MESSAGES = {
    13: "Duplicate name exists.",
    130: "The VM power state is not acceptable.",
    142: "Invalid or unexpected destination specified.",
}
TASK_MESSAGE = "The operation could not be completed."

# What the Virtual Controller (or the proxy in front of it) answers with these statuses.
_HTTP_DEFAULTS: dict[int, tuple[str, str]] = {
    400: (_PKG + "InvalidParameterException", "You passed an invalid query parameter."),
    403: (_PKG + "PermissionDeniedException", "Permission denied: this user may not perform the operation."),
    404: ("org.springframework.web.servlet.NoHandlerFoundException", "No handler found for the request."),
    500: (_PKG + "InternalServerException", "An internal error occurred."),
    502: (_SPRING_STATUS, "Bad Gateway: too many simultaneous REST requests"),
    503: (_SPRING_STATUS, "Service Unavailable: the REST service is not available"),
    504: (_SPRING_STATUS, "Gateway Timeout: the request took too long"),
}


def http_defaults(status: int) -> tuple[str, str]:
    """The exception and message of an error with this status when a rule names neither."""
    if status in _HTTP_DEFAULTS:
        return _HTTP_DEFAULTS[status]
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _SPRING_STATUS, phrase


def template_key(path: str) -> str:
    """A path template with its parameters unnamed: /api/virtual_machines/{vmId} -> /api/virtual_machines/{}."""
    return _PARAM.sub("{}", path)


@dataclass(frozen=True)
class Operation:
    """One operation the server serves: HPE's operationId, its method and path template."""

    operation_id: str
    method: str
    template: str
    starts_task: bool
    params: tuple[str, ...] = field(init=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(p[1:-1] for p in _PARAM.findall(self.template))
        literal = _PARAM.split(self.template)
        pattern = "".join(
            re.escape(part) + ("([^/]+)" if i < len(names) else "") for i, part in enumerate(literal)
        )
        object.__setattr__(self, "params", names)
        object.__setattr__(self, "_pattern", re.compile(pattern))

    def match(self, path: str) -> dict[str, str] | None:
        """The path's parameters when it is this operation's path."""
        found = self._pattern.fullmatch(path)
        return None if found is None else dict(zip(self.params, found.groups(), strict=True))

    @property
    def collection(self) -> str:
        """The collection its path starts with (/api/virtual_machines/... -> virtual_machines)."""
        return self.template.removeprefix("/api/").split("/", 1)[0]


class Operations:
    """The server's operations in its routes' order: a request is the first one whose path it matches."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self.all = tuple(operations)
        self._by_id = {o.operation_id: o for o in self.all}
        self._by_template = {(o.method, template_key(o.template)): o for o in self.all}

    def named(self, operation_id: str) -> Operation | None:
        return self._by_id.get(operation_id)

    def at(self, method: str, template: str) -> Operation | None:
        """The operation of a method and a path template, whatever its parameters are called."""
        path = template if template.startswith("/api/") else "/api" + template
        return self._by_template.get((method, template_key(path)))

    def resolve(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.all:
            if operation.method == method:
                params = operation.match(path)
                if params is not None:
                    return operation, params
        return None


@dataclass(frozen=True)
class HttpFault:
    """Answer with this status, in HPE's error body; what is not given is what the real one says."""

    status: int
    exception: str | None = None
    message: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class TaskErrorFault:
    """Accept the operation as usual; its task ends FAILED with this code, having changed nothing."""

    error_code: int
    message: str


@dataclass(frozen=True)
class DelayFault:
    """Hold the request this long (plus or minus the jitter) before it goes on."""

    delay_ms: int
    jitter_ms: int = 0

    def ms(self, rng: random.Random) -> float:
        return max(0.0, self.delay_ms + rng.uniform(-self.jitter_ms, self.jitter_ms))


@dataclass(frozen=True)
class DropFault:
    """Close the connection without an answer."""


Effect = HttpFault | TaskErrorFault | DelayFault | DropFault


@dataclass(frozen=True)
class FaultRule:
    """A rule as checked: what it matches, its effect, how often it fires."""

    match: dict[str, str]
    operation: Operation
    effect: Effect
    object_id: str | None = None
    name: str | None = None
    probability: float = 1.0
    count: int | None = None
    skip: int = 0
    seed: int = 0

    def fires(self, seen: int) -> bool:
        """Whether its `seen`-th match (from 1) fires: never within `skip`; then with its probability,
        drawn from its seed and the match's number, so that every process draws the same."""
        if seen <= self.skip:
            return False
        return self.probability >= 1 or self.draw(seen).random() < self.probability

    def draw(self, seen: int) -> random.Random:
        """The random numbers of its `seen`-th match."""
        return random.Random(f"{self.seed}:{seen}")

    def matches_ids(self, ids: Iterable[str]) -> bool:
        return self.object_id is None or self.object_id in ids

    def matches_name(self, name: str | None) -> bool:
        return self.name is None or (name is not None and fnmatch.fnmatchcase(name, self.name))

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"match": dict(self.match)}
        if self.object_id is not None:
            shown["object_id"] = self.object_id
        if self.name is not None:
            shown["name"] = self.name
        shown["effect"] = effect_json(self.effect)
        shown.update(probability=self.probability, count=self.count, skip=self.skip, seed=self.seed)
        return shown


def effect_json(effect: Effect) -> dict[str, Any]:
    if isinstance(effect, HttpFault):
        given = {"exception": effect.exception, "message": effect.message, "error_code": effect.error_code}
        return {"http": {"status": effect.status, **{k: v for k, v in given.items() if v is not None}}}
    if isinstance(effect, TaskErrorFault):
        return {"task_error": {"error_code": effect.error_code, "message": effect.message}}
    if isinstance(effect, DelayFault):
        return {"delay_ms": effect.delay_ms, "jitter_ms": effect.jitter_ms}
    return {"drop_connection": True}


def ids_in(value: object) -> set[str]:
    """Every string in a JSON value (an id in a body may sit in a list or an object)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


# ---- checking a rule ------------------------------------------------------------------------------


def _bad(where: str, problem: str) -> InvalidBody:
    return InvalidBody(f"Invalid body: {where}: {problem}")


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(body: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(where, f"must be an integer from {low} to {high}, got {value!r}")
    return value


def _text(body: Mapping[str, Any], key: str, where: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _bad(where, f"must be a non-empty string, got {value!r}")
    return value


def _unknown(body: Mapping[str, Any], known: Sequence[str], prefix: str) -> None:
    for key in body:
        if key not in known:
            raise _bad(f"{prefix}{key}", f"unknown field; expected {', '.join(known)}")


def parse_rule(body: Mapping[str, Any], operations: Operations, seed: int) -> FaultRule:
    """A rule from its JSON, or InvalidBody naming the field at fault; `seed` when it names none."""
    _unknown(body, RULE_FIELDS, "")
    operation, match = _match(body.get("match"), operations)
    effect = _effect(body.get("effect"), operation)
    probability = body.get("probability", 1.0)
    if probability is None:
        probability = 1.0
    if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise _bad("probability", f"must be a number from 0 to 1, got {probability!r}")
    given_seed = _int_in(body, "seed", "seed", 0, MAX_SEED)
    return FaultRule(
        match=match,
        operation=operation,
        effect=effect,
        object_id=_text(body, "object_id", "object_id"),
        name=_text(body, "name", "name"),
        probability=float(probability),
        count=_int_in(body, "count", "count", 1, MAX_SEED),
        skip=_int_in(body, "skip", "skip", 0, MAX_SEED) or 0,
        seed=seed if given_seed is None else given_seed,
    )


def _match(raw: object, operations: Operations) -> tuple[Operation, dict[str, str]]:
    if raw is None:
        raise _bad("match", "Field required (an operation, or a method and a path)")
    if not isinstance(raw, dict):
        raise _bad("match", f'must be an object such as {{"operation": "cloneVm"}}, got {raw!r}')
    _unknown(raw, ("operation", "method", "path"), "match.")
    if "operation" in raw:
        if "method" in raw or "path" in raw:
            raise _bad("match", "give an operation, or a method and a path, not both")
        name = raw["operation"]
        found = operations.named(name) if isinstance(name, str) else None
        if found is None:
            raise _bad("match.operation", f"unknown operation {name!r}")
        return found, {"operation": found.operation_id}
    method, path = raw.get("method"), raw.get("path")
    if method is None and path is None:
        raise _bad("match", "Field required (an operation, or a method and a path)")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _bad("match.method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(path, str) or not path.startswith("/"):
        raise _bad("match.path", f"must be a path template such as /api/hosts/{{hostId}}, got {path!r}")
    found = operations.at(method.upper(), path)
    if found is None:
        raise _bad("match.path", f"no operation {method.upper()} {path}")
    return found, {"method": found.method, "path": path}


def _effect(raw: object, operation: Operation) -> Effect:
    if raw is None:
        raise _bad("effect", f"Field required (one of {', '.join(EFFECTS)})")
    if not isinstance(raw, dict):
        raise _bad("effect", f"must be an object with one of {', '.join(EFFECTS)}, got {raw!r}")
    _unknown(raw, (*EFFECTS, "jitter_ms"), "effect.")
    kinds = [k for k in EFFECTS if k in raw]
    if len(kinds) != 1:
        got = ", ".join(kinds) if kinds else "none"
        raise _bad("effect", f"one effect per rule (one of {', '.join(EFFECTS)}); got {got}")
    if "jitter_ms" in raw and kinds != ["delay_ms"]:
        raise _bad("effect.jitter_ms", "only with delay_ms")
    kind = kinds[0]
    if kind == "http":
        return _http(raw["http"])
    if kind == "task_error":
        if not operation.starts_task:
            raise _bad("effect.task_error", f"{operation.operation_id} does not start a task")
        return _task_error(raw["task_error"])
    if kind == "delay_ms":
        delay = _int_in(raw, "delay_ms", "effect.delay_ms", 0, MAX_DELAY_MS)
        jitter = _int_in(raw, "jitter_ms", "effect.jitter_ms", 0, MAX_DELAY_MS) or 0
        if delay is None:
            raise _bad("effect.delay_ms", f"must be an integer from 0 to {MAX_DELAY_MS}, got None")
        if jitter > delay:
            raise _bad("effect.jitter_ms", f"at most delay_ms ({delay}), got {jitter}")
        return DelayFault(delay, jitter)
    if raw["drop_connection"] is not True:
        raise _bad("effect.drop_connection", f"must be true, got {raw['drop_connection']!r}")
    return DropFault()


def _http(raw: object) -> HttpFault:
    if not isinstance(raw, dict):
        raise _bad("effect.http", f'must be an object such as {{"status": 503}}, got {raw!r}')
    _unknown(raw, ("status", "exception", "message", "error_code"), "effect.http.")
    status = _int_in(raw, "status", "effect.http.status", 400, 599)
    if status is None:
        raise _bad("effect.http.status", "Field required (an error status from 400 to 599)")
    code = raw.get("error_code")
    if _integer(code):
        code = str(code)
    return HttpFault(
        status,
        _text(raw, "exception", "effect.http.exception"),
        _text(raw, "message", "effect.http.message"),
        _text({"error_code": code}, "error_code", "effect.http.error_code"),
    )


def _task_error(raw: object) -> TaskErrorFault:
    if not isinstance(raw, dict):
        raise _bad("effect.task_error", f'must be an object such as {{"error_code": 130}}, got {raw!r}')
    _unknown(raw, ("error_code", "message"), "effect.task_error.")
    code = _int_in(raw, "error_code", "effect.task_error.error_code", 1, MAX_ERROR_CODE)
    if code is None:
        raise _bad("effect.task_error.error_code", "Field required (the task's error code, such as 130)")
    message = _text(raw, "message", "effect.task_error.message")
    return TaskErrorFault(code, message or TASK_MESSAGES.get(code, TASK_MESSAGE))
