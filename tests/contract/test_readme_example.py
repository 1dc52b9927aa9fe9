"""The README's examples, run as written against a live TLS server, so that they cannot drift.

Each Python example names what it connects to in variables at its top (ADDRESS or URL, USERNAME,
PASSWORD); the test puts the live server's values there and runs the rest of the block unchanged. The
`curl` examples run the same way, in one bash session (later ones use the first one's URL and TOKEN),
and the `openovc clock` one with the OPENOVC_URL/USER/PASSWORD it documents.

Not run here: `./scripts/serve` (tests/integration/test_serve_script.py runs it) and `./scripts/test` (it
runs this suite); the `openovc users` block, whose `passwd` prompts on a terminal by design; and the
one-line `openovc init`/`serve` forms in the Commands table (tests/integration/test_cli.py runs them).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.testing import OpenOVCServer
from tests.contract.conftest import SDK_DEFAULTS, Api, manual_clock

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.MULTILINE | re.DOTALL)
START = "2027-01-04T00:30:00Z"


def readme_example(marker: str) -> str:
    """The README's one Python code block containing `marker`."""
    blocks: list[str] = [b for b in _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8")) if marker in b]
    assert len(blocks) == 1, f"expected one Python block with {marker!r} in the README, found {len(blocks)}"
    return blocks[0]


def with_settings(source: str, values: Mapping[str, str]) -> ast.Module:
    """The example with each of `values`' top-level variables set to the given value instead of its own."""
    tree = ast.parse(source)
    seen: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in values:
                node.value = ast.copy_location(ast.Constant(values[name]), node.value)
                seen.append(name)
    assert sorted(seen) == sorted(values), f"the example must set each of {sorted(values)} once: {seen}"
    return ast.fix_missing_locations(tree)


def run_example(marker: str, values: Mapping[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the README's example with the live server's settings; what it printed."""
    code = compile(with_settings(readme_example(marker), values), str(README), "exec")
    capsys.readouterr()
    exec(code, {"__name__": "readme_example"})
    return capsys.readouterr().out


def test_the_sdk_example_lists_the_vms(
    openovc: OpenOVCServer, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = run_example(
        "from simplivity",
        {"ADDRESS": openovc.address, "USERNAME": openovc.username, "PASSWORD": openovc.password},
        capsys,
    )
    names = [vm["name"] for vm in api.members("virtual_machines", SDK_DEFAULTS)]
    assert names
    assert printed == f"{names}\n"


def test_the_control_client_example_moves_the_clock(
    openovc_start: Callable[..., OpenOVCServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = openovc_start(manual_clock(START))
    printed = run_example(
        "from openovc.client",
        {"URL": server.url, "USERNAME": server.username, "PASSWORD": server.password},
        capsys,
    )
    assert re.fullmatch(r"\d+\n", printed), printed
    week_later = datetime.fromisoformat(START) + timedelta(days=7)
    now = server.control.clock().now
    assert datetime.fromisoformat(now) == week_later.astimezone(UTC)


def curl_examples() -> dict[str, str]:
    """The README's bash blocks that call the API with curl, by what each shows."""
    blocks: list[str] = [b for b in _BASH_BLOCK.findall(README.read_text(encoding="utf-8")) if "curl " in b]
    shows = {"quickstart": "/api/oauth/token", "writes": "vnd.simplivity", "metrics": "/_openovc/metrics",
             "clock": "/_openovc/clock", "faults": "/_openovc/faults"}  # fmt: skip
    found = {name: [b for b in blocks if mark in b] for name, mark in shows.items()}
    assert all(len(each) == 1 for each in found.values()) and len(blocks) == len(shows), (
        f"expected one curl example of each of {sorted(shows)}, found {len(blocks)} blocks"
    )
    return {name: each[0] for name, each in found.items()}


def curl_command(block: str, ending: str) -> str:
    """The block's first lines, up to the one that ends with `ending` (a command's last)."""
    lines = block.splitlines()
    end = next(i for i, line in enumerate(lines) if line.endswith(ending))
    return "\n".join(lines[: end + 1]) + "\n"


def with_shell_settings(source: str, values: Mapping[str, str]) -> str:
    """The block with each `NAME=...` line of `values` set to the given value instead of its own."""
    seen: list[str] = []

    def setting(found: re.Match[str]) -> str:
        seen.append(found["name"])
        return f"{found['name']}={_quoted(values[found['name']])}"

    names = "|".join(map(re.escape, values))
    changed = re.sub(rf"^(?P<name>{names})=.*$", setting, source, flags=re.MULTILINE)
    assert sorted(seen) == sorted(values), f"the example must set each of {sorted(values)} once: {seen}"
    return changed


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _documented(block: str) -> list[str]:
    """The `# ...` lines showing what the commands before them print."""
    return [line[2:] for line in block.splitlines() if line.startswith("# ")]


def _printed(output: str) -> list[Any]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples need curl")
def test_the_curl_examples_answer_as_documented(openovc_start: Callable[..., OpenOVCServer]) -> None:
    server = openovc_start(manual_clock(START))
    examples = curl_examples()
    quickstart, writes, clock = examples["quickstart"], examples["writes"], examples["clock"]
    script = "set -euo pipefail\n" + with_shell_settings(
        quickstart, {"URL": server.url, "PASSWORD": server.password}
    )
    script += writes + clock
    # The metrics example counts reads of a host: make one first. The fault example's CLI lines need an id
    # they print, so only its curl command runs here.
    script += 'echo ---\nHOST=$(curl -sk -H "Authorization: Bearer $TOKEN" "$URL/api/hosts?fields=id&limit=1"'
    script += ' | python3 -c \'import json,sys; print(json.load(sys.stdin)["hosts"][0]["id"])\')\n'
    script += 'curl -sk -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/hosts/$HOST"\n'
    script += examples["metrics"] + "echo ---\n" + curl_command(examples["faults"], '"$URL/_openovc/faults"')
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    first, metrics, fault_output = done.stdout.split("---\n")
    health, vms, backup, refused, shown, advanced, moved = _printed(first)

    assert json.dumps(health, separators=(",", ":")) == _documented(quickstart)[0]
    assert list(vms) == ["offset", "limit", "count", "virtual_machines"]
    assert (vms["offset"], vms["limit"], len(vms["virtual_machines"])) == (0, 5, 5)
    assert all(list(vm) == ["id", "name"] for vm in vms["virtual_machines"])
    assert list(backup) == ["task"]
    assert backup["task"]["state"] in ("IN_PROGRESS", "COMPLETED")
    assert (refused["status"], refused["message"]) == ("415", "Content type 'application/json' not supported")
    assert refused["path"].startswith("/api/virtual_machines/") and refused["path"].endswith("/backup")

    assert json.dumps(shown, separators=(",", ":")) == _documented(clock)[0]
    assert list(advanced) == list(json.loads(_documented(clock)[1]))
    assert (advanced["mode"], advanced["now"]) == ("manual", "2027-01-04T06:30:00Z")
    assert (moved["mode"], moved["now"]) == ("manual", "2027-02-01T00:00:00Z")

    documented = _documented(examples["metrics"])[0]
    assert metrics == documented.rsplit(" ", 1)[0] + " 1.0\n"  # one read of that host so far

    (fault,) = _printed(fault_output)
    shape = json.loads(_documented(examples["faults"])[0].replace("{…}", "{}").replace("…", "0"))
    assert list(fault) == list(shape) and list(fault["fault"]) == list(shape["fault"])
    assert fault["fault"]["fired"] == 0 and fault["fault"]["effect"] == {
        "task_error": {"error_code": 130, "message": "The VM power state is not acceptable."}
    }


def clock_cli_example() -> str:
    """The README's bash block of `openovc clock` commands."""
    blocks: list[str] = [
        b for b in _BASH_BLOCK.findall(README.read_text(encoding="utf-8")) if "openovc clock " in b
    ]
    assert len(blocks) == 1, f"expected one block of `openovc clock` commands, found {len(blocks)}"
    return blocks[0]


def test_the_clock_commands_move_the_clock(openovc_start: Callable[..., OpenOVCServer]) -> None:
    server = openovc_start(manual_clock(START))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENOVC_")}
    env |= {
        "OPENOVC_URL": server.url,
        "OPENOVC_USER": server.username,
        "OPENOVC_PASSWORD": server.password,
        # `openovc` as the README runs it: from the activated venv.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + clock_cli_example()],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{START}  (manual)"
    assert lines[1] == "2027-01-11T00:30:00Z  (manual)"
    assert re.fullmatch(r"backups taken \d+, expired \d+; tasks completed \d+", lines[2]), lines[2]
    assert lines[3] == "2027-02-01T00:00:00Z  (manual)"
    assert re.fullmatch(r"backups taken \d+, expired \d+; tasks completed \d+", lines[4]), lines[4]
    assert len(lines) == 5
