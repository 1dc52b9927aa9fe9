"""A scenario file: the world a test session starts from (inventory, clock, pacing, faults, users).

    scenario = load_scenario(Path("tests/openovc-scenario.yaml"))

The format is in docs/scenarios.md. A bad file raises ScenarioError, one line naming the file and the
field at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from openovc.domain.tasks import parse_pacing
from openovc.domain.timefmt import to_text

_MAX_SEED = 2**63 - 1


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not describe a world: one line, naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generate(_Strict):
    """The generator's counts and seed, as `openovc init` takes them; what is left out is the demo's."""

    seed: int | None = Field(default=None, ge=0, le=_MAX_SEED)
    largest: bool = False
    clusters: NonNegativeInt | None = None
    hosts_per_cluster: NonNegativeInt | None = None
    datastores: NonNegativeInt | None = None
    vms: NonNegativeInt | None = None
    policies: NonNegativeInt | None = None
    backups: NonNegativeInt | None = None
    cluster_groups: NonNegativeInt | None = None
    external_stores: NonNegativeInt | None = None

    def init_args(self) -> list[str]:
        """The `openovc init` options that say the same."""
        args = ["--largest"] if self.largest else []
        for name, value in self.model_dump(exclude={"largest"}).items():
            if value is not None:
                args += [f"--{name.replace('_', '-')}", str(value)]
        return args


class Inventory(_Strict):
    """Where the federation comes from: exactly one of generate, file or inline."""

    generate: Generate | None = None
    file: Path | None = None
    inline: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Inventory:
        given = [name for name in ("generate", "file", "inline") if getattr(self, name) is not None]
        if len(given) != 1:
            shown = ", ".join(given) or "none"
            raise ValueError(f"give exactly one of generate, file or inline (got {shown})")
        return self


class Clock(_Strict):
    """The simulated clock: its mode, the instant it starts at, and an accelerated clock's speed-up."""

    mode: Literal["real", "manual", "accelerated"]
    start: AwareDatetime | None = None
    rate: float | None = Field(default=None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _rate_for_accelerated(self) -> Clock:
        if self.mode == "accelerated" and self.rate is None:
            raise ValueError("an accelerated clock needs a rate (e.g. rate: 60, a day in 24 minutes)")
        if self.mode != "accelerated" and self.rate is not None:
            raise ValueError(f"rate is for an accelerated clock, not a {self.mode} one")
        return self

    def serve_mode(self) -> str:
        """`openovc serve --clock`: the pace, from wherever init left the clock (its start, if given)."""
        if self.mode == "accelerated":
            return f"accelerated:{self.rate:g}"
        if self.mode == "manual" and self.start is not None:
            # A bare `manual` stands at the later of the stored time and now: it would leave a past start.
            return f"manual:{self.start_text()}"
        return self.mode

    def start_text(self) -> str | None:
        """The start as the API writes instants, or None for the real time at start."""
        return None if self.start is None else to_text(self.start)


class Pacing(_Strict):
    """How long tasks take: a default and the operations with their own (OPENOVC_TASK_PACING's values)."""

    default: str = "immediate"
    operations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, given: object) -> object:
        # OPENOVC_TASK_PACING's one-line form: `DEFAULT[,OPERATION=PACING...]`.
        if not isinstance(given, str):
            return given
        fields: dict[str, Any] = {"operations": {}}
        for part in (p.strip() for p in given.split(",") if p.strip()):
            operation, sep, pacing = part.partition("=")
            if sep:
                fields["operations"][operation.strip()] = pacing.strip()
            else:
                fields["default"] = part
        return fields

    @field_validator("default")
    @classmethod
    def _default(cls, value: str) -> str:
        return _pacing(value)

    @field_validator("operations")
    @classmethod
    def _operations(cls, value: dict[str, str]) -> dict[str, str]:
        for operation, pacing in value.items():
            if not operation:
                raise ValueError("an operation's name is empty")
            try:
                _pacing(pacing)
            except ValueError as problem:
                raise ValueError(f"{operation}: {problem}") from None
        return value


def _pacing(value: str) -> str:
    try:
        parse_pacing(value)
    except ValueError:
        # Its own messages name the forms, but a bad number is only float()'s complaint.
        raise ValueError(
            f"bad pacing {value!r}: use immediate, duration:SECONDS[:JITTER] or polls:N"
        ) from None
    return value


class User(_Strict):
    """A user added before the server starts, as `openovc users add` adds one."""

    name: str = Field(min_length=1)
    role: Literal["administrator", "read_only"]
    password: str = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)


class Scenario(_Strict):
    """The whole world of a test session; every part is optional (none: the demo, as `serve` starts)."""

    inventory: Inventory | None = None
    clock: Clock | None = None
    pacing: Pacing | None = None
    faults: list[dict[str, Any]] | None = None
    users: list[User] = Field(default_factory=list)


def load_scenario(path: Path) -> Scenario:
    """The scenario a YAML or JSON file describes; ScenarioError names the file and the field at fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise ScenarioError(f"{path}: cannot read the scenario: {problem.strerror or problem}") from None
    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise ScenarioError(f"{path}: not YAML or JSON: {_yaml_problem(problem)}") from None
    return scenario_from(found, path)


def scenario_from(found: object, path: Path) -> Scenario:
    """The scenario of a parsed document (None: an empty file, the defaults), read from `path`."""
    if found is None:
        found = {}
    if not isinstance(found, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields, not a {type(found).__name__}")
    try:
        scenario = Scenario.model_validate(found)
    except ValidationError as invalid:
        raise ScenarioError(f"{path}: " + "; ".join(_problem(e) for e in invalid.errors())) from None
    if scenario.inventory is None or scenario.inventory.file is None:
        return scenario
    # A relative inventory file is beside the scenario, wherever pytest runs from.
    inventory = path.resolve().parent / scenario.inventory.file
    if not inventory.is_file():
        raise ScenarioError(f"{path}: inventory.file: no such file: {inventory}")
    return scenario.model_copy(update={"inventory": Inventory(file=inventory)})


def _yaml_problem(problem: yaml.YAMLError) -> str:
    mark = getattr(problem, "problem_mark", None)
    what = getattr(problem, "problem", None) or " ".join(str(problem).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {what}" if mark is not None else str(what)


def _problem(error: ErrorDetails) -> str:
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "missing"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
