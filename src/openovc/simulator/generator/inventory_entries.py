"""An inventory file's mappings, read with typed values and sizes and messages that say where a problem is."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_T = TypeVar("_T")


def kind_of(value: object) -> str:
    """What a value is, as a message names it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Entry:
    """One mapping of the file, with where it is, for messages that say exactly what is wrong."""

    def __init__(self, data: object, where: str, keys: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping, got {kind_of(data)}")
        self.data: dict[object, object] = data
        name = data.get("name")
        self.where = f"{where} ({name})" if isinstance(name, str) else where
        for key in data:
            if key not in keys:
                raise ValueError(f"{self.where}: unknown key {key!r} (expected one of {', '.join(keys)})")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> object:
        if key not in self.data:
            raise ValueError(f"{self.where}: missing key {key!r}")
        return self.data[key]

    def fail(self, key: str, problem: str) -> ValueError:
        return ValueError(f"{self.where}.{key}: {problem}")

    def _typed(self, key: str, check: Callable[[object], bool], what: str, default: _T | None) -> object:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not check(value):
            raise self.fail(key, f"expected {what}, got {kind_of(value)}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self._typed(
            key, lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string", default
        )
        assert isinstance(value, str)
        return value.strip()

    def integer(self, key: str, default: int | None = None, low: int = 0, high: int | None = None) -> int:
        value = self._typed(
            key, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", default
        )
        assert isinstance(value, int)
        if value < low or (high is not None and value > high):
            upper = f" and at most {high}" if high is not None else ""
            raise self.fail(key, f"must be at least {low}{upper}, got {value}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._typed(key, lambda v: isinstance(v, bool), "true or false", default)
        assert isinstance(value, bool)
        return value

    def items(self, key: str) -> list[object]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {kind_of(value)}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default).upper()
        if value not in allowed:
            raise self.fail(key, f"expected one of {', '.join(allowed)}, got {self.data[key]!r}")
        return value

    def size(self, key: str) -> int | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if isinstance(value, str):
            match = _SIZE.match(value)
            if match and match.group(2).lower() in _UNITS:
                size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
                if size > 0:
                    return size
        raise self.fail(key, f"expected a size in bytes or like '100GiB' or '2TB', got {value!r}")


def unique(names: list[str], what: str, where: list[str]) -> None:
    """Refuse a name given twice, saying where the second one is."""
    seen: set[str] = set()
    for name, at in zip(names, where, strict=True):
        if name in seen:
            raise ValueError(f"{at}: duplicate {what} name {name!r}")
        seen.add(name)


def entries_of(top: Entry, key: str, keys: tuple[str, ...]) -> list[Entry]:
    """The mappings listed under `key`, each allowed only `keys`."""
    return [Entry(item, f"{key}[{i}]", keys) for i, item in enumerate(top.items(key))]
