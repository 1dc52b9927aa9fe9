"""The fuzz tier's longer run: at least `--requests` generated requests on each database.

Starts a real `openovc serve` per database (a fresh demo federation, plain HTTP, a manual clock), loads
its two OpenAPI documents with schemathesis and sends each operation's seeded cases (the documents'
examples, valid and invalid data) through the fuzz tier's guard (tests/fuzz/harness.py), as the
administrator. Rounds with the next seed follow until the requests reach `--requests`. It counts the
answers that were a 5xx, that were not JSON, and that did not conform to the document (counted even
while the tier leaves that check off), and prints a markdown table, the machine and the command, then
the first request of each kind of fault, as a curl command.

    .venv/bin/python benchmarks/fuzz.py                      # 10,000 requests on SQLite and PostgreSQL
    .venv/bin/python benchmarks/fuzz.py --backend sqlite --requests 2000
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from report import loadavg, machine_facts, machine_line

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tier's harness lives in tests/

from tests.fuzz.harness import DOCUMENTS, SEED, Guard, Tally, fuzz, load, operations
from tests.fuzz.target import running_target
from tests.support.databases import BACKENDS, postgres_unreachable_reason

HEADER = (
    "| database | requests | 5xx | non-JSON | violations | duration | operations | rounds | slowest answer |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


@dataclass
class Run:
    """One database's run: its counts, how long it took, over how many operations and rounds."""

    database: str
    tally: Tally
    seconds: float
    operations: int
    rounds: int

    def row(self) -> str:
        t = self.tally
        return (
            f"| {self.database} | {t.requests:,} | {t.server_errors:,} | {t.non_json:,} | {t.violations:,} "
            f"| {self.seconds:,.1f} s | {self.operations} | {self.rounds} "
            f"| {t.slowest[0]:.2f} s ({t.slowest[1]}) |"
        )


def run(database: str, least: int) -> Run:
    """Fuzz every operation of both documents, round after round, until `least` requests were sent."""
    with (
        tempfile.TemporaryDirectory(prefix="openovc-fuzz-") as scratch,
        running_target(database, Path(scratch)) as target,
    ):
        guard = Guard(target)
        found = [op for document in DOCUMENTS for op in operations(load(target, document))]
        # Operations without inputs have one case; the others share out the rest of the budget.
        examples = max(1, math.ceil(least / len(found)))
        tally, rounds = Tally(), 0
        started = time.perf_counter()
        while tally.requests < least:
            before = tally.requests
            for operation in found:
                fuzz(operation, examples, lambda case: tally.record(case, guard.call(case)), SEED + rounds)
            rounds += 1
            # Few operations use their whole budget: the next round asks what the deficit needs.
            sent = max(1, tally.requests - before)
            examples = max(1, math.ceil(examples * (least - tally.requests) / sent))
        seconds = time.perf_counter() - started
        guard.session.close()
        return Run(database, tally, seconds, len(found), rounds)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--requests", type=int, default=10_000, help="at least this many on each database")
    args = parser.parse_args()
    chosen = BACKENDS if args.backend == "both" else [args.backend]
    if "postgresql" in chosen and (reason := postgres_unreachable_reason()) is not None:
        parser.error(reason)
    load_before = loadavg()
    runs = [run(database, args.requests) for database in chosen]
    print(HEADER)
    for each in runs:
        print(each.row())
    print()
    print(machine_line(machine_facts()))
    print(f"Load average before: {load_before}, after: {loadavg()}")
    print(f"Command: {' '.join(sys.orig_argv)}")
    for each in runs:
        for kind, replay in each.tally.examples.items():
            print(f"\n{each.database}: {kind}\n{replay}")
    faults = sum(each.tally.server_errors + each.tally.non_json for each in runs)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
