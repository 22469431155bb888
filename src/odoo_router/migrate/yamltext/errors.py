"""The one error of the YAML text editor: a file, a 1-based line and column, a message."""

from __future__ import annotations


class YamlError(Exception):
    """A YAML file that cannot be read or edited as asked. ``str()`` is ``FILE:LINE:COL: message``
    (1-based line and column), the form editors and CI logs link to."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.message = message
