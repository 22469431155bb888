"""A file's habits, read from its nodes: indentation steps, dash offsets, quoting."""

from __future__ import annotations

from collections import Counter

from .emit import Style
from .geometry import item_offset
from .loader import STR_TAG
from .tree import Doc, YNode


def file_style(doc: Doc, nodes: list[YNode]) -> Style:
    """The file's habits: nested mapping step, sequence indent (0 for "key:\\n- a"), dash
    offset; the most common of each, else 2, 2 (the mapping step) and 2."""
    step: Counter[int] = Counter()
    seq: Counter[int] = Counter()
    off: Counter[int] = Counter()
    for n in nodes:
        h = n.holder
        block = n.kind in ("map", "seq") and not n.flow
        if block and h is not None and h.key is not None and doc.starts_line(n.body):
            (step if n.kind == "map" else seq)[doc.col(n.body) - doc.col(h.start)] += 1
        if n.kind == "seq" and not n.flow:
            o = item_offset(doc, n)
            if o is not None:
                off[o] += 1
    s = _mode(step, 2)
    return Style(doc.nl, s, _mode(seq, s), _mode(off, 2))


def _mode(c: Counter[int], default: int) -> int:
    good = [(n, -v, v) for v, n in c.items() if v >= 0]
    return max(good)[2] if good else default


def quotes(node: YNode | None) -> tuple[str, str]:
    """The quoting most of a collection's string values and keys use ("" plain)."""
    vals: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for e in node.entries if node is not None else ():
        for n, c in ((e.value, vals), (e.key, keys)):
            if n is not None and n.kind == "scalar" and n.yn.tag == STR_TAG and n.flow:
                c[n.style] += 1
    return _top(vals), _top(keys)


def _top(c: Counter[str]) -> str:
    return max(c.items(), key=lambda kv: (kv[1], kv[0] == ""))[0] if c else ""
