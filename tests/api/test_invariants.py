"""The generated demo federation satisfies every invariant the operations must keep."""

from __future__ import annotations

from typing import Any

from tests.support.inprocess import Env
from tests.support.invariants import problems, snapshot


def test_demo_federation_is_consistent(env: Env, admin: dict[str, str]) -> None:
    def fetch(path: str, params: dict[str, str]) -> Any:
        return env.client.get(path, headers=admin, params=params).json()

    assert problems(snapshot(fetch)) == []
