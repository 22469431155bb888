"""The one error of the TOML text editor, shaped like the YAML editor's: ``FILE:LINE:COL:
message`` (1-based); and ``loads``, TOML read as Traefik reads it."""

from __future__ import annotations

import tomllib
from typing import Any


class TomlError(ValueError):
    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file, self.line, self.column, self.message = file, line, column, message


def loads(text: str) -> dict[str, Any]:
    """``tomllib.loads`` as Traefik reads a file: a UTF-8 byte order mark is skipped."""
    return tomllib.loads(text.removeprefix("\ufeff"))
