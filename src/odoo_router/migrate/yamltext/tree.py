"""The document as the editor sees it: nodes with character offsets, entries with the offsets
of their key, ``:`` or ``-``, and the lines around them.

Offsets are character indexes into the original text (PyYAML marks), end exclusive:

- ``start``: the first character of the node, its anchor or tag included;
- ``body``: the first character after the anchor and tag (for a block collection, its first
  key or dash; for an empty scalar, ``end``);
- ``end``: after the last character of the content (a block scalar's last content line, its
  kept trailing blank lines included; a block collection's last value).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import YamlError
from .loader import BREAK_RE, MERGE_TAG, NULL_TAG, AliasNode, key_value, load

PathKey = str | int
Path = tuple[PathKey, ...]


@dataclass(eq=False)
class YNode:
    kind: str  # "map" | "seq" | "scalar" | "alias"
    yn: Node
    start: int
    body: int
    end: int
    flow: bool  # a flow collection, or a plain or quoted scalar
    style: str  # scalars: "" plain, "'", '"', "|", ">"
    anchor: str | None = None
    props_end: int | None = None  # after the anchor/tag, when there is one
    entries: list[Entry] = field(default_factory=list)
    target: YNode | None = None  # alias
    holder: Entry | None = None  # the entry whose value this is (None: root or a key)


@dataclass(eq=False)
class Entry:
    owner: YNode  # the collection
    index: int
    start: int  # the key (or "?"), the "-", or the flow item
    key: YNode | None  # None in a sequence
    value: YNode
    indicator: int | None  # offset of ":" or "-"
    key_data: Any = None

    @property
    def end(self) -> int:
        if self.key is not None and self.indicator is None and self.value.start == self.value.end:
            return self.key.end  # "{a, b: 1}": a has no value
        return max(self.value.end, self.key.end if self.key is not None else 0)

    @property
    def is_merge(self) -> bool:
        return self.key is not None and self.key.yn.tag == MERGE_TAG


def explicit(node: YNode, key: PathKey) -> Entry | None:
    """The entry written in mapping ``node`` for ``key`` ("<<" names the merge key)."""
    for e in node.entries:
        if (e.is_merge and key == "<<") or (type(e.key_data) is type(key) and e.key_data == key):
            return e
    return None


def fmt_path(path: Sequence[PathKey]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p and all(c.isalnum() or c in "_-" for c in p):
            out += f".{p}" if out else p
        else:
            out += f"[{p!r}]"
    return out or "(document root)"


class Doc:
    """The parsed text, its lines, its nodes."""

    def __init__(self, text: str, name: str) -> None:
        loaded = load(text, name)
        self.name, self.data = name, loaded.data
        self.toks = loaded.tokens
        first = BREAK_RE.search(text)
        self.nl = first.group() if first else "\n"
        # Edits are spliced into a text that ends with a line break; for one that did not,
        # ``padded`` says to take the break(s) at the end off again after splicing.
        self.padded = bool(text.strip("\ufeff")) and not BREAK_RE.match(text[-1:])
        self.text = text + self.nl if self.padded else text
        bom = 1 if text.startswith("\ufeff") else 0
        self.starts = [bom] + [m.end() for m in BREAK_RE.finditer(self.text)]
        self._anchor_of = loaded.anchor_of
        self._built: dict[int, YNode] = {}
        self.aliases: list[YNode] = []
        self.multi: list[tuple[int, int]] = []  # scalars over several lines: not comments
        self.root = None if loaded.root is None else self._build(loaded.root)
        # An empty document (nothing, or only comments) stands for a null at its end, so
        # that entries can be added to it.
        end = len(self.text)
        self.empty = YNode("scalar", ScalarNode(NULL_TAG, ""), end, end, end, True, "")
        self.nodes = list(self._built.values())
        self.multi.sort()
        self._multi_starts = [s for s, _ in self.multi]

    # -- lines (0-based) ------------------------------------------------------------------

    @property
    def last_line(self) -> int:
        return len(self.starts) - 1

    def line_of(self, i: int) -> int:
        return max(0, bisect_right(self.starts, i) - 1)

    def line_start(self, line: int) -> int:
        return self.starts[line]

    def next_start(self, line: int) -> int:
        """After the line's break (the text's end for the last line)."""
        return self.starts[line + 1] if line < self.last_line else len(self.text)

    def line_end(self, line: int) -> int:
        """Before the line's break."""
        if line == self.last_line:
            return len(self.text)
        m = BREAK_RE.match(self.text, self._break_pos(line))
        assert m is not None
        return m.start()

    def _break_pos(self, line: int) -> int:
        nxt = self.starts[line + 1]
        return nxt - 2 if self.text[nxt - 2 : nxt] == "\r\n" else nxt - 1

    def first_char(self, line: int) -> int:
        """Offset of the first character that is not a space or tab (the line end if none)."""
        i, end = self.starts[line], self.line_end(line)
        while i < end and self.text[i] in " \t":
            i += 1
        return i

    def last_line_of(self, start: int, end: int) -> int:
        """The line of the last character in [start, end); a "|+" scalar's kept blank lines
        end it at the start of an empty line, which counts."""
        line = self.line_of(end)
        if end > start and self.starts[line] == end and line > self.line_of(start):
            return line
        return self.line_of(max(start, end - 1))

    def col(self, i: int) -> int:
        return i - self.starts[self.line_of(i)]

    def is_blank(self, line: int) -> bool:
        return self.first_char(line) == self.line_end(line)

    def in_scalar(self, i: int) -> bool:
        k = bisect_right(self._multi_starts, i) - 1
        return k >= 0 and self.multi[k][0] < i < self.multi[k][1]

    def is_comment(self, line: int) -> bool:
        i = self.first_char(line)
        return i < len(self.text) and self.text[i] == "#" and not self.in_scalar(i)

    def starts_line(self, i: int) -> bool:
        """Only spaces and tabs before offset ``i`` on its line."""
        return self.text[self.starts[self.line_of(i)] : i].strip(" \t") == ""

    def error(self, i: int, message: str) -> YamlError:
        line = self.line_of(i)
        return YamlError(self.name, line + 1, i - self.starts[line] + 1, message)

    # -- building -------------------------------------------------------------------------

    def _build(self, n: Node) -> YNode:
        start, end = n.start_mark.index, n.end_mark.index
        if isinstance(n, AliasNode):
            target = self._built[id(n.target)]
            node = YNode("alias", n, start, start, end, True, "", target=target)
            self.aliases.append(node)
            return node
        if isinstance(n, ScalarNode):
            body = self.toks.scalars.get(end, end)
            body = body if body >= start else end
            style = n.style or ""
            node = YNode("scalar", n, start, body, end, style not in ("|", ">"), style)
            if not node.flow:
                node.end = self._block_scalar_end(body, end)
            if self.line_of(node.body) != self.last_line_of(node.body, node.end):
                self.multi.append((node.body, node.end))
        else:
            assert isinstance(n, MappingNode | SequenceNode)
            kind = "map" if isinstance(n, MappingNode) else "seq"
            flow = bool(n.flow_style)
            node = YNode(kind, n, start, start, end, flow, "")
            self._built[id(n)] = node
            if flow:
                node.body = self.toks.opens[bisect_left(self.toks.opens, start)]
            self._build_entries(node, n)
            if not flow:
                node.body = node.entries[0].start
                node.end = node.entries[-1].end
        self._built[id(n)] = node
        node.anchor = self._anchor_of.get(n)
        if node.body > node.start:
            props = self.toks.props
            k = bisect_left(props, (node.start, -1))
            ends = [e for s, e in props[k:] if s < node.body]
            node.props_end = max(ends) if ends else None
        return node

    def _block_scalar_end(self, body: int, end: int) -> int:
        """PyYAML ends a block scalar inside the next line's indentation; ours is the end of
        its last content line (every consumed line with a "+" chomping indicator)."""
        line = self.line_of(end)
        if self.text[self.starts[line] : end].strip(" ") == "" and line > self.line_of(body):
            line -= 1  # the mark sits in the indentation of the line after the scalar
        head = self.line_of(body)
        header = self.text[body : self.line_end(head)].split("#")[0]
        if "+" not in header:
            while line > head and self.is_blank(line):
                line -= 1
        return self.line_end(line)

    def _build_entries(self, node: YNode, n: MappingNode | SequenceNode) -> None:
        toks = self.toks
        low = node.start
        if isinstance(n, MappingNode):
            for i, (k, v) in enumerate(n.value):
                key, value = self._build(k), self._build(v)
                kt = bisect_right(toks.keys, key.start) - 1
                start = toks.keys[kt] if kt >= 0 and toks.keys[kt] >= low else key.start
                vt = bisect_left(toks.values, key.end)
                colon = toks.values[vt] if vt < len(toks.values) else None
                if colon is not None and colon >= max(value.start, key.end + 1):
                    colon = None
                entry = Entry(node, i, start, key, value, colon, key_value(k))
                value.holder = entry
                node.entries.append(entry)
                low = entry.end
        else:
            for i, v in enumerate(n.value):
                value = self._build(v)
                dash: int | None = None
                if not node.flow:
                    dt = bisect_left(toks.dashes, value.start) - 1
                    if dt >= 0 and toks.dashes[dt] >= low:
                        dash = toks.dashes[dt]
                entry = Entry(node, i, value.start if dash is None else dash, None, value, dash)
                value.holder = entry
                node.entries.append(entry)
                low = entry.end

    # -- paths ----------------------------------------------------------------------------

    def lookup(self, node: YNode, key: PathKey) -> tuple[Entry | None, Entry | None]:
        """The entry for ``key`` in mapping ``node``: (explicit entry, None), or (the entry
        a merge brings in, the ``<<`` entry of ``node`` it came through)."""
        found = explicit(node, key)
        if found is not None:
            return found, None
        for e in node.entries:
            if not e.is_merge:
                continue
            sources = [e.value] if e.value.kind != "seq" else [x.value for x in e.value.entries]
            for src in sources:
                while src.target is not None:
                    src = src.target
                if src.kind == "map":
                    found, _ = self.lookup(src, key)
                    if found is not None:
                        return found, e
        return None, None

    def find(self, path: Sequence[PathKey], *, edit: bool) -> tuple[YNode, Entry | None, bool]:
        """The node at ``path``, the entry holding it (None for the root), and whether the way
        crossed an alias or a merge key. With ``edit`` such a crossing is refused (the last
        node may itself be an alias: the entry holding it is edited, not its target)."""
        if self.root is None:
            raise YamlError(self.name, 1, 1, "the document is empty")
        node, entry, shared = self.root, None, False
        for depth, key in enumerate(path):
            where = fmt_path(path[:depth])
            if node.target is not None:
                if edit:
                    raise self.error(
                        node.start,
                        f"{where} is an alias of &{node.target.anchor} "
                        f"(line {self.line_of(node.target.start) + 1}); editing through it "
                        "would change every place that uses the anchor: edit the anchored "
                        "node, or replace the alias",
                    )
                node, shared = node.target, True
            if node.kind == "map" and not isinstance(key, bool):
                found, merge = self.lookup(node, key)
                if found is not None and merge is not None:
                    if edit:
                        raise self.error(
                            merge.start,
                            f"{fmt_path(path[: depth + 1])} is inherited through the merge key "
                            f"at line {self.line_of(merge.start) + 1}; edit the anchored "
                            "mapping (every mapping that merges it changes), or set the key "
                            f"in {where} itself",
                        )
                    shared = True
            elif node.kind == "seq" and isinstance(key, int) and not isinstance(key, bool):
                found = node.entries[key] if -len(node.entries) <= key < len(node.entries) else None
            else:
                what = {"scalar": "a scalar", "map": "a mapping", "seq": "a sequence"}[node.kind]
                raise self.error(node.body, f"{where} is {what}; cannot look up {key!r} in it")
            if found is None:
                raise self.error(node.body, f"{where} has no {key!r}")
            entry, node = found, found.value
        return node, entry, shared

    def normalise(self, path: Sequence[PathKey]) -> Path:
        """``path`` with negative indexes made positive (paths are compared by value)."""
        out: list[PathKey] = []
        for depth, key in enumerate(path):
            if isinstance(key, int) and key < 0:
                node, _, _ = self.find(path[:depth], edit=False)
                while node.target is not None:
                    node = node.target
                key += len(node.entries)
            out.append(key)
        return tuple(out)
