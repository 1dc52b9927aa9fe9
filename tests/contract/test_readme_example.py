"""The README's Python examples, run as written against a live TLS server, so that they cannot drift.

Each example names what it connects to in variables at its top (ADDRESS or URL, USERNAME, PASSWORD);
the test puts the live server's values there and runs the rest of the block unchanged.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openovc.client import ControlClient
from tests.contract.conftest import ADMIN_PASSWORD, ADMIN_USER, SDK_DEFAULTS, Api, Contract

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
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
    contract: Contract, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = run_example(
        "from simplivity",
        {"ADDRESS": contract.address, "USERNAME": ADMIN_USER, "PASSWORD": ADMIN_PASSWORD},
        capsys,
    )
    names = [vm["name"] for vm in api.members("virtual_machines", SDK_DEFAULTS)]
    assert names
    assert printed == f"{names}\n"


def test_the_control_client_example_moves_the_clock(
    manual_clock_server: Callable[[str], Contract], capsys: pytest.CaptureFixture[str]
) -> None:
    contract = manual_clock_server(START)
    printed = run_example(
        "from openovc.client",
        {"URL": contract.server.base_url, "USERNAME": ADMIN_USER, "PASSWORD": ADMIN_PASSWORD},
        capsys,
    )
    assert re.fullmatch(r"\d+\n", printed), printed
    week_later = datetime.fromisoformat(START) + timedelta(days=7)
    now = ControlClient(contract.server.base_url, ADMIN_USER, ADMIN_PASSWORD).clock().now
    assert datetime.fromisoformat(now) == week_later.astimezone(UTC)
