"""Surgical TOML edits for Traefik's dynamic files: statements located by a scanner,
changed as line splices, every other line (comments, blank lines, quoting) byte for byte."""

from .errors import TomlError, loads
from .text import TomlText

__all__ = ["TomlError", "TomlText", "loads"]
