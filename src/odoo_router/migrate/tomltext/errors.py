"""The one error of the TOML text editor, shaped like the YAML editor's: ``FILE:LINE:COL:
message`` (1-based)."""

from __future__ import annotations


class TomlError(ValueError):
    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file, self.line, self.column, self.message = file, line, column, message
