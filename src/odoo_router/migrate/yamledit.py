"""Round-trip YAML editing that keeps comments and formatting (ruamel.yaml).

An edit is only trusted when the untouched file survives load + dump byte for byte: then the
diff of an edited file shows our change and nothing else. ``load_roundtrip`` tries the
indentation styles seen in compose and Traefik files and refuses (``RoundTripError``, with the
first differing line) when none reproduces the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

# (mapping indent, sequence indent, sequence dash offset)
_STYLES: tuple[tuple[int, int, int], ...] = (
    (2, 4, 2),  # key:\n    - item   (compose style)
    (2, 2, 0),  # key:\n  - item
    (4, 4, 2),
    (4, 6, 4),
    (4, 4, 0),
)


class RoundTripError(Exception):
    """A YAML file that ruamel.yaml would not reproduce unchanged: editing it is refused."""


@dataclass
class YamlDoc:
    data: Any
    style: tuple[int, int, int]
    name: str

    def dump(self) -> str:
        return _dump(self.data, self.style)


def _yaml(style: tuple[int, int, int]) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long Traefik rules
    y.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return y


def _dump(data: Any, style: tuple[int, int, int]) -> str:
    buf = io.StringIO()
    _yaml(style).dump(data, buf)
    return buf.getvalue()


def _first_difference(a: str, b: str) -> str:
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), start=1):
        if x != y:
            return f"line {n}: {x!r} would become {y!r}"
    return "the line count or the final newline would change"


def load_roundtrip(text: str, name: str) -> YamlDoc:
    """Parse ``text`` for editing; RoundTripError when a dump would not reproduce it."""
    last = ""
    for style in _STYLES:
        try:
            data = _yaml(style).load(text)
        except YAMLError as exc:
            raise RoundTripError(f"{name}: not valid YAML: {exc}") from exc
        out = _dump(data, style)
        if out == text:
            return YamlDoc(data=data, style=style, name=name)
        last = last or _first_difference(text, out)
    raise RoundTripError(
        f"{name}: ruamel.yaml would not reproduce this file unchanged ({last}); "
        "refusing to edit it so that the change stays reviewable. Normalise its indentation "
        "(2 spaces per level) and quoting by hand, then plan again."
    )


def load_plain(text: str) -> Any:
    """Parse without round-trip intent (for reading inventories)."""
    return YAML(typ="safe", pure=True).load(text)


def _last_holder(node: Any) -> tuple[Any, Any] | None:
    """The (container, key) whose comment slot holds what follows ``node`` in the file."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap) and len(node):
        key = list(node.keys())[-1]
        deeper = _last_holder(node[key])
        return deeper if deeper is not None else (node, key)
    if isinstance(node, CommentedSeq) and len(node):
        deeper = _last_holder(node[-1])
        return deeper if deeper is not None else (node, len(node) - 1)
    return None


def _slot(holder: tuple[Any, Any]) -> int:
    from ruamel.yaml.comments import CommentedSeq

    return 0 if isinstance(holder[0], CommentedSeq) else 2


def get_trailing(node: Any) -> Any:
    """The comment token (blank lines, comments) that follows ``node`` in the file."""
    h = _last_holder(node)
    if h is None:
        return None
    entry = h[0].ca.items.get(h[1])
    return entry[_slot(h)] if entry else None


def set_trailing(node: Any, token: Any) -> None:
    """Put ``token`` (or nothing, for None) after ``node``."""
    h = _last_holder(node)
    if h is None:
        return
    entry = h[0].ca.items.get(h[1])
    if token is None:
        if entry:
            entry[_slot(h)] = None
            if not any(entry):
                h[0].ca.items.pop(h[1], None)
        return
    if not entry:
        entry = [None, None, None, None]
        h[0].ca.items[h[1]] = entry
    entry[_slot(h)] = token


def blank_line() -> Any:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    return CommentToken("\n\n", CommentMark(0), None)


def move_trailing_comment(src: Any, dst: Any) -> None:
    """Carry the comment/blank lines that followed ``src`` over to the end of ``dst``."""
    tok = get_trailing(src)
    set_trailing(src, None)
    if tok is not None:
        set_trailing(dst, tok)


def delete_key(mapping: Any, key: Any) -> None:
    """Delete ``key`` with the comment lines written above it (they described it), keeping
    the blank line that separated the blocks."""
    keys = list(mapping.keys())
    i = keys.index(key)
    after = get_trailing(mapping[key])
    if i > 0:
        set_trailing(mapping[keys[i - 1]], after)
    del mapping[key]


def quoted(values: list[str]) -> Any:
    """A flow-style sequence of double-quoted strings: ["CMD", "curl", ...]."""
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    seq = CommentedSeq([DoubleQuotedScalarString(v) for v in values])
    seq.fa.set_flow_style()
    return seq
