"""New values as YAML text in a given style (indentation, dash offset, quoting).

Values are plain data: None, bool, int, float, str, list/tuple, dict. Three markers choose a
style where the caller cares: :class:`Quoted` (a double-quoted string), :class:`FlowSeq` and
:class:`FlowMap` (``[a, b]`` / ``{k: v}`` on one line, e.g. a healthcheck's ``test``). An empty
list or dict is always ``[]`` / ``{}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import scalars


class Quoted(str):
    """A string written in double quotes."""

    __slots__ = ()


class FlowSeq(list[Any]):
    """A list written ``[a, b]``."""


class FlowMap(dict[Any, Any]):
    """A mapping written ``{k: v}``."""


@dataclass(frozen=True)
class Style:
    nl: str = "\n"
    step: int = 2  # a nested mapping's keys, relative to its key
    seq_indent: int = 2  # a sequence's dashes, relative to its key (0: "key:\n- a")
    offset: int = 2  # an item's content, relative to its dash ("- a": 2)
    quote: str = ""  # strings: "" plain where that reads back, "'" or '"'
    key_quote: str = ""


_SCALARS = (str, int, float, bool, type(None))


def plain_data(value: Any, _depth: int = 0) -> Any:
    """``value`` with the markers dropped (the data it stands for); TypeError for anything
    that is not plain data."""
    if _depth > 100:
        raise TypeError("value nested too deep (a cycle?)")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple):
        return [plain_data(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, _SCALARS):
                raise TypeError(f"cannot write a {type(k).__name__} as a YAML key")
            out[plain_data(k)] = plain_data(v, _depth + 1)
        return out
    raise TypeError(f"cannot write a {type(value).__name__} as YAML")


def is_block(value: Any) -> bool:
    """Written over several lines (a non-empty list or dict without a flow marker)."""
    if isinstance(value, FlowSeq | FlowMap):
        return False
    return isinstance(value, list | tuple | dict) and len(value) > 0


def scalar(value: Any, quote: str, flow: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, Quoted):
        return scalars.double(value)
    if isinstance(value, str):
        return scalars.string(value, quote, flow)
    assert isinstance(value, int | float)
    return scalars.number(value)


def key(k: Any, st: Style, flow: bool = False) -> str:
    if isinstance(k, str) and not isinstance(k, Quoted):
        if st.key_quote == "" and scalars.plain_ok(k, flow) and len(k) < 1000:
            return k
        return scalars.string(k, st.key_quote or '"', flow)
    return scalar(k, st.quote, flow)


def inline(value: Any, st: Style, flow: bool = False) -> str:
    """One-line text: a scalar, or a collection in flow style."""
    if isinstance(value, dict):
        inner = ", ".join(f"{key(k, st, True)}: {inline(v, st, True)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(inline(v, st, True) for v in value) + "]"
    return scalar(value, st.quote, flow)


def entry_lines(k: Any, value: Any, col: int, st: Style) -> list[str]:
    """``k: value`` with its key at column ``col``."""
    head = " " * col + key(k, st) + ":"
    if not is_block(value):
        return [head + " " + inline(value, st)]
    if isinstance(value, dict):
        return [head, *block_lines(value, col + st.step, st)]
    return [head, *block_lines(value, col + st.seq_indent, st)]


def item_lines(value: Any, dash: int, st: Style) -> list[str]:
    """``- value`` with its dash at column ``dash``; a collection starts on the dash line."""
    lead = " " * dash + "-" + " " * (st.offset - 1)
    if not is_block(value):
        return [lead + inline(value, st)]
    inner = block_lines(value, dash + st.offset, st)
    return [lead + inner[0][dash + st.offset :], *inner[1:]]


def block_lines(value: Any, col: int, st: Style) -> list[str]:
    """A non-empty collection's lines: keys or dashes at column ``col``."""
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in entry_lines(k, v, col, st)]
    return [line for v in value for line in item_lines(v, col, st)]


def comment_lines(comment: str | None, col: int) -> list[str]:
    if comment is None:
        return []
    return [" " * col + ("# " + line if line.strip() else "#") for line in comment.splitlines()]
