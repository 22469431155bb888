"""The problem collector the section readers share: every check names the key path and the
line it came from, and nothing stops at the first problem.

A reader never raises for a bad value: ``get`` records the problem and returns the default,
``mapping`` records unknown keys (with the closest allowed name) and missing required ones
and still returns the mapping, so that one run reports every problem of the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .model import Problem
from .values import kind

T = TypeVar("T")


class Reader:
    """Problems found so far, and where each key path sits in the file."""

    def __init__(self, lines: dict[str, int], filename: str) -> None:
        self.lines = lines
        self.filename = filename
        self.problems: list[Problem] = []
        # No pools key at all: it was reported once; do not call every route's pool unknown.
        self.skip_pool_check = False

    def where(self, path: str) -> str | None:
        """``file:line`` of ``path``, or of its nearest parent that has a line."""
        probe = path
        while True:
            if probe in self.lines:
                return f"{self.filename}:{self.lines[probe]}"
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                return None
            probe = probe[:cut]

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, self.where(path)))

    def mapping(
        self, value: object, path: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {kind(value)}")
            return None
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                hint = closest(str(key), allowed)
                self.error(
                    sub(path, key), "unknown key" + (f" (did you mean '{hint}'?)" if hint else "")
                )
        for key in required:
            if key not in value:
                self.error(sub(path, key), "missing required key")
        return value

    def get(
        self,
        data: dict[str, Any],
        path: str,
        key: str,
        parse: Callable[[object], T],
        default: T,
    ) -> T:
        if key not in data:
            return default
        try:
            return parse(data[key])
        except (ValueError, TypeError) as exc:
            self.error(sub(path, key), str(exc))
            return default


def sub(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def closest(word: str, options: set[str]) -> str | None:
    """The allowed name a typo most likely meant (for "did you mean"), if any is close."""
    import difflib  # only a typo needs it: the master of a good config never loads it

    found = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.75)
    return found[0] if found else None
