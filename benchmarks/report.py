"""Results of a benchmark: rows with units, targets and verdicts, the markdown table, the machine line, JSON."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import platform
import shlex
import ssl
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psutil

Bound = Literal["min", "max", "eq"]

HEADER = (
    "| backend | measurement | value (median) | p95 | target | result | notes |\n"
    "| --- | --- | ---: | ---: | ---: | --- | --- |"
)
SIGNS: dict[str, str] = {"min": "≥", "max": "≤", "eq": "="}
VERDICTS: dict[bool | None, str] = {True: "pass", False: "**FAIL**", None: "-"}


def _rate(unit: str) -> Callable[[float], str]:
    return lambda v: f"{v:,.1f} {unit}"


# Every unit a row may have, and how its values are written. Small latencies and sizes keep two
# decimals: the targets (3 ms, a few MB) are judged at that grain.
FORMATS: dict[str, Callable[[float], str]] = {
    "tasks/s": _rate("tasks/s"),
    "backups/s": _rate("backups/s"),
    "ms": lambda v: f"{v:.2f} ms" if v < 100 else f"{v:,.0f} ms",
    "s": lambda v: f"{v:,.2f} s",
    "MB": lambda v: f"{v:.2f} MB" if v < 10 else f"{v:,.1f} MB",
    "%": lambda v: f"{v:.0f} %",
    "x": lambda v: f"{v:.2f}x",  # a ratio
    "": lambda v: f"{v:,.0f}",  # a count
}


@dataclasses.dataclass
class Row:
    """One measurement. `target` bounds `value`: at least ("min"), at most ("max") or exactly ("eq") it."""

    backend: str
    measurement: str
    value: float
    unit: str  # a key of FORMATS
    p95: float | None = None
    target: float | None = None
    bound: Bound = "max"
    detail: str = ""
    samples: int | None = None  # how many timings the median (value) and the p95 are of

    def __post_init__(self) -> None:
        if self.unit not in FORMATS:
            raise ValueError(f"unknown unit {self.unit!r} of {self.measurement!r}")
        if self.bound not in SIGNS:
            raise ValueError(f"unknown bound {self.bound!r} of {self.measurement!r}")

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        if self.bound == "min":
            return self.value >= self.target
        if self.bound == "eq":
            return self.value == self.target
        return self.value <= self.target


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def timing(
    backend: str, measurement: str, ms: Sequence[float], target: float | None = None, detail: str = ""
) -> Row:
    """A row of timings in milliseconds: their median, judged against the target, and their p95."""
    return Row(
        backend, measurement, statistics.median(ms), "ms", p95(ms), target, detail=detail, samples=len(ms)
    )


def mb(nbytes: float) -> float:
    """Bytes in the unit "MB" (2**20 bytes)."""
    return nbytes / 2**20


def fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else FORMATS[unit](value)


def table(rows: Iterable[Row]) -> str:
    lines = [HEADER]
    for r in rows:
        target = f"{SIGNS[r.bound]} {fmt(r.target, r.unit)}" if r.target is not None else "-"
        lines.append(
            f"| {r.backend} | {r.measurement} | {fmt(r.value, r.unit)} | {fmt(r.p95, r.unit)} "
            f"| {target} | {VERDICTS[r.passed]} | {r.detail} |"
        )
    return "\n".join(lines)


def common_errors(texts: Iterable[str]) -> str:
    """The three commonest error texts with their counts, for a row's notes."""
    common = Counter(t[:120] for t in texts if t).most_common(3)
    return "; ".join(f"{n} x {text}" for text, n in common)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_facts() -> dict[str, Any]:
    """The machine the benchmark runs on (a PostgreSQL version is added by whoever asks the server)."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_line(m: dict[str, Any]) -> str:
    pg = f", PostgreSQL {m['postgresql']}" if "postgresql" in m else ""
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}{pg}, {m['platform']}, {m['date']}"
    )


@dataclasses.dataclass
class Report:
    """One run of a benchmark: what it ran with (`settings`), where, its rows and each backend's details."""

    settings: dict[str, Any]
    command: str = dataclasses.field(default_factory=lambda: shlex.join(sys.orig_argv))
    machine: dict[str, Any] = dataclasses.field(default_factory=machine_facts)
    backends: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    rows: list[Row] = dataclasses.field(default_factory=list)
    failed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "machine": self.machine,
            **self.settings,
            "backends": self.backends,
            "results": [dict(dataclasses.asdict(r), passed=r.passed) for r in self.rows],
            "failed": self.failed,
        }

    def text(self, notes: Sequence[str] = ()) -> str:
        """The table, the machine line, the notes (what was run), the load during each backend, the command."""
        lines = [table(self.rows), "", machine_line(self.machine), *notes]
        lines += [
            f"Load average (1, 5, 15 min) during {backend}: {info['loadavg_start']} at start, "
            f"{info['loadavg_end']} at end (the machine may be shared)"
            for backend, info in self.backends.items()
            if "loadavg_start" in info
        ]
        lines.append(f"Command: {self.command}")
        if self.failed:
            lines.append(
                "\nThe benchmark FAILED (see the traceback above); the table holds what was measured before."
            )
        return "\n".join(lines)

    def finish(self, notes: Sequence[str], json_path: Path | None) -> int:
        """Print the report, write it as JSON when asked; the exit status of the benchmark."""
        print()
        print(self.text(notes))
        if json_path is not None:
            json_path.write_text(json.dumps(self.as_json(), indent=2, default=str) + "\n")
        return 1 if self.failed else 0


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | str | None = None,
    *,
    tls: bool = False,
) -> tuple[int, bytes]:
    """One request on a new connection to a local server (TLS unverified, as an SDK with verification
    off makes it): its status and body."""
    conn: http.client.HTTPConnection
    if tls:
        context = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
