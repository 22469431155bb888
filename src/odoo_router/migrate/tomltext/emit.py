"""TOML text for new values: keys bare where TOML allows, strings basic (or literal where
the value they replace was literal), arrays and tables inline, new tables as headers."""

from __future__ import annotations

import json
import re
from typing import Any

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def key_text(path: tuple[Any, ...]) -> str:
    return ".".join(
        k if _BARE.fullmatch(k) else json.dumps(k, ensure_ascii=False) for k in map(str, path)
    )


def inline(value: Any, literal: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if literal and "'" not in value and not any(c in value for c in "\r\n\t"):
            return f"'{value}'"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(inline(v, literal) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = ", ".join(f"{key_text((k,))} = {inline(v, literal)}" for k, v in value.items())
        return "{ " + pairs + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def multiline_array(
    items: list[Any], item_indent: str, close_indent: str, nl: str, lit: bool
) -> str:
    """A multi-line array in the layout it had: one item a line, a trailing comma."""
    body = "".join(f"{item_indent}{inline(v, lit)},{nl}" for v in items)
    return f"[{nl}{body}{close_indent}]"


def table_lines(
    path: tuple[Any, ...], value: dict[str, Any], indent: str, kv_indent: str
) -> list[str]:
    """``[path]`` with the value's own keys (nested tables inline); a table of tables only
    gives its sub-tables' headers, as Traefik's documentation writes them."""
    if value and all(isinstance(v, dict) for v in value.values()):
        out: list[str] = []
        for k, v in value.items():
            out += table_lines((*path, k), v, indent, kv_indent)
        return out
    lines = [f"{indent}[{key_text(path)}]"]
    lines += [f"{kv_indent}{key_text((k,))} = {inline(v)}" for k, v in value.items()]
    return lines
