"""From recorded edits to text splices: the new text of each edit, in the style of the place it
goes to, and where it goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import emit, scalars
from .geometry import (
    Splice,
    after_a_gap,
    anchor_point,
    blank_separated,
    comma_after,
    converts,
    delete_block,
    delete_flow,
    drop_lines,
    entry_col,
    flow_line_mode,
    gone_runs,
    item_offset,
    lines_after,
    needs_space,
    owned_lines,
)
from .style import quotes
from .tree import Doc, Entry, Path, YNode


@dataclass
class Edit:
    op: str  # delete | set | replace | insert | append | rename
    path: Path
    order: int
    node: YNode  # the node at path (for insert/append: the collection added to)
    entry: Entry | None  # the entry holding it
    value: Any = None
    key: str = ""  # insert: the new key; rename: the new name
    after: str | None = None
    comment: str | None = None
    after_entry: Entry | None = None  # insert after this original entry
    after_edit: Edit | None = None  # insert after the entry this earlier insert adds
    source: YNode | None = None  # copy: the node whose text is copied
    source_path: Path = ()


ADDS = ("insert", "append", "copy")  # the edits that add to a collection


class Builder:
    def __init__(self, doc: Doc, base: emit.Style, gone: set[int]) -> None:
        self.doc, self.base = doc, base
        self.gone = gone  # id() of the entries deleted by the edits
        self.cuts: set[int] = set()  # lines after which entries are inserted

    def style(self, values: YNode | None, at: Entry | None = None) -> emit.Style:
        """The file's style with the quoting of ``values``' entries and the indentation step
        of the mapping holding entry ``at``."""
        q, kq = quotes(values)
        return replace(self.base, quote=q, key_quote=kq, step=self.local_step(at))

    def local_step(self, h: Entry | None) -> int:
        """How far the mapping holding entry ``h`` is indented from its own key (the file's
        usual step when that shows nothing)."""
        doc = self.doc
        owner = h.owner if h is not None else None
        up = owner.holder if owner is not None else None
        if owner is not None and up is not None and up.key is not None and not owner.flow:
            step = doc.col(owner.body) - doc.col(up.start)
            if step > 0 and doc.starts_line(owner.body):
                return step
        return self.base.step

    def siblings(self, node: YNode) -> YNode | None:
        """Where a new value at ``node`` takes its quoting from."""
        if node.kind in ("map", "seq") and node.entries:
            return node
        return node.holder.owner if node.holder is not None else None

    # -- one value where a node is ---------------------------------------------------------

    def scalar_text(self, node: YNode, value: Any) -> str:
        """``value`` in ``node``'s own quoting when that holds it."""
        flow = node.holder is not None and node.holder.owner.flow
        if not isinstance(value, str) or isinstance(value, emit.Quoted) or node.kind != "scalar":
            return emit.inline(value, self.style(self.siblings(node), node.holder), flow)
        if node.style in ("|", ">"):
            text = scalars.block(value, node.style, self.block_indent(node), self.doc.nl)
            return text if text is not None else scalars.double(value)
        return scalars.string(value, node.style, flow)

    def block_indent(self, node: YNode) -> int:
        doc = self.doc
        for line in range(doc.line_of(node.body) + 1, doc.line_of(node.end) + 1):
            if not doc.is_blank(line):
                return doc.col(doc.first_char(line))
        h = node.holder
        return (doc.col(h.start) if h is not None else 0) + self.base.step

    def put(
        self, node: YNode, n: int, text: str | None, lines: Callable[[int], list[str]], kind: str
    ) -> list[Splice]:
        """Splices that put new content where ``node`` stands: ``text`` on one line, or else
        the lines of a block collection of ``kind``, ``lines(col)`` with keys/dashes at
        ``col``. The node's anchor or tag stays; so do comments outside it."""
        doc, h = self.doc, node.holder
        ap = anchor_point(node)
        same_line = ap is not None and doc.line_of(node.body) == doc.line_of(ap)
        last = doc.last_line_of(node.body, node.end)
        lo, hi = doc.line_of(node.body), last
        if node.kind in ("map", "seq") and not node.flow:
            # a block collection's lines are its entries', with the comments they own
            lo, hi = owned_lines(doc, node.entries[0])[0], owned_lines(doc, node.entries[-1])[1]
            lo = max(lo, doc.line_of(node.body)) if same_line else lo
        if text is not None:
            if same_line or ap is None:
                pad = " " if needs_space(doc, node.body) else ""
                return [Splice(node.body, node.end, pad + text, n)]
            return [Splice(ap, ap, " " + text, n), drop_lines(doc, lo, hi, n)]
        base = doc.col(h.start) if h is not None else 0
        keyed = h is not None and h.key is not None
        if node.kind in ("map", "seq") and not node.flow and doc.starts_line(node.body):
            col = doc.col(node.body)
            if kind == "map" and keyed and col <= base:
                col = base + self.local_step(h)  # an indentless list becomes a mapping
        elif h is None:
            col = 0
        elif keyed:
            col = base + (self.local_step(h) if kind == "map" else self.base.seq_indent)
        else:
            col = doc.col(node.body) if node.body < node.end else base + self.base.offset
        if same_line and not keyed:
            assert ap is not None
            col = max(col, doc.col(ap) + 1)
            new = lines(col)
            first = " " * (col - doc.col(ap)) + new[0][col:]
            return [Splice(ap, node.end, first + "".join(doc.nl + x for x in new[1:]), n)]
        body = doc.nl.join(lines(col))
        if same_line:
            assert ap is not None
            rest = doc.text[node.end : doc.line_end(last)]
            return [Splice(ap, doc.line_end(last), rest + doc.nl + body, n)]
        if not doc.starts_line(node.body):
            return [Splice(node.body, node.end, doc.nl + body, n)]
        return [Splice(doc.line_start(lo), doc.line_end(hi), body, n)]

    def replace(self, node: YNode, value: Any, n: int) -> list[Splice]:
        in_flow = node.holder is not None and node.holder.owner.flow
        st = self.style(self.siblings(node), node.holder)
        if node.flow and node.kind in ("map", "seq"):
            in_flow = True  # a flow collection stays one
        if in_flow or not emit.is_block(value):
            text = (
                self.scalar_text(node, value)
                if isinstance(value, str)
                else emit.inline(value, st, in_flow)
            )
            return self.put(node, n, text, lambda c: [], "")
        kind = "map" if isinstance(value, dict) else "seq"
        return self.put(node, n, None, lambda c: emit.block_lines(value, c, st), kind)

    def rename(self, e: Entry, new: str, n: int) -> Splice:
        assert e.key is not None
        k = e.key
        quote = k.style if k.style in ("'", '"') else ""
        return Splice(k.body, k.end, scalars.string(new, quote, e.owner.flow), n)

    # -- additions ----------------------------------------------------------------------------

    def additions(self, node: YNode, edits: list[Edit]) -> list[Splice]:
        """Inserts (or appends) into one collection, in record order. Where two collections
        end at one offset, the inner one's additions go first (they belong to it)."""
        rank = -len(edits[0].path)
        return [s if s.rank else replace(s, rank=rank) for s in self._additions(node, edits)]

    def _additions(self, node: YNode, edits: list[Edit]) -> list[Splice]:
        n = edits[0].order
        if node is self.doc.empty:
            return [self.document(edits)]
        if converts(node):
            return self.convert(node, edits, n)
        inner = node.entries[0] if node.kind == "map" and node.entries else node.holder
        st = self.style(node, inner)
        if node.flow:
            return self.add_flow(node, edits, st, n)
        groups = placement(edits)
        if None in groups:  # the end: after whatever follows the last entry
            groups.setdefault(node.entries[-1].index, []).extend(groups.pop(None))
        col = entry_col(self.doc, node)
        offset = (item_offset(self.doc, node) if node.kind == "seq" else None) or self.base.offset
        st = replace(st, offset=offset)
        gap = [""] if blank_separated(self.doc, node) else []
        # an entry inserted where a run of deleted ones was takes the run's separation
        taken = {
            next(e.index for e in run if e.index in groups)
            for run in gone_runs(node, self.gone)
            if after_a_gap(self.doc, run) and any(e.index in groups for e in run)
        }
        out = []
        for index, group in groups.items():
            assert index is not None
            lines: list[str] = []
            for i, e in enumerate(group):
                lines += [] if i == 0 and index in taken else gap
                lines += emit.comment_lines(e.comment, col)
                if e.op == "insert":
                    lines += emit.entry_lines(e.key, e.value, col, st)
                elif e.source is not None:
                    lines += self.copy_lines(e.source, e.key, col, st)
                else:
                    lines += emit.item_lines(e.value, col, st)
            last = owned_lines(self.doc, node.entries[index])[1]
            self.cuts.add(last)
            out.append(lines_after(self.doc, last, lines, group[0].order))
        return out

    def copy_lines(self, src: YNode, key: str, col: int, st: emit.Style) -> list[str]:
        """``key:`` at column ``col`` with the text of ``src`` as written, moved as a whole
        so that it sits under the new key as it sat under its own."""
        doc, h = self.doc, src.holder
        assert h is not None
        head = " " * col + emit.key(key, st) + ":"
        if src.kind in ("map", "seq") and not src.flow:
            old = doc.col(src.body)
            new = col + max(old - doc.col(h.start), 0 if src.kind == "seq" else 1)
            lo, hi = owned_lines(doc, src.entries[0])[0], owned_lines(doc, src.entries[-1])[1]
            lo = max(lo, doc.line_of(src.body)) if not doc.starts_line(src.body) else lo
            texts = [doc.text[doc.line_start(x) : doc.line_end(x)] for x in range(lo, hi + 1)]
            if not doc.starts_line(src.body):  # "- a: 1": the first line from the key on
                texts[0] = " " * old + doc.text[src.body : doc.line_end(lo)]
            return [head, *(_shift(t, new - old) for t in texts)]
        # a value on the key's line (scalar, block scalar, flow collection, alias)
        first, last = doc.line_of(src.body), doc.last_line_of(src.body, src.end)
        texts = []
        for x in range(first, last + 1):
            a = src.body if x == first else doc.line_start(x)
            texts.append(doc.text[a : src.end if x == last else doc.line_end(x)])
        moved = [_shift(t, col - doc.col(h.start)) for t in texts[1:]]
        return [head + (" " + texts[0] if texts[0] else ""), *moved]

    def convert(self, node: YNode, edits: list[Edit], n: int) -> list[Splice]:
        st = self.style(node.holder.owner if node.holder is not None else None, node.holder)
        ordered = placement(edits)[None]
        kind = "map" if ordered[0].op == "insert" else "seq"
        in_flow = node.holder is not None and node.holder.owner.flow

        def lines(col: int) -> list[str]:
            out: list[str] = []
            for e in ordered:
                out += emit.comment_lines(e.comment, col)
                if e.op == "insert":
                    out += emit.entry_lines(e.key, e.value, col, st)
                else:
                    out += emit.item_lines(e.value, col, st)
            return out

        if not in_flow:
            return self.put(node, n, None, lines, kind)
        value = new_value(ordered)
        return self.comments_above(node.start, ordered) + self.put(
            node, n, emit.inline(value, st, True), lines, ""
        )

    def document(self, edits: list[Edit]) -> Splice:
        """The first entries of an empty document, after whatever comments it has."""
        doc, st = self.doc, self.style(None)
        lines: list[str] = []
        for e in placement(edits)[None]:
            lines += emit.comment_lines(e.comment, 0)
            if e.op == "insert":
                lines += emit.entry_lines(e.key, e.value, 0, st)
            else:
                lines += emit.item_lines(e.value, 0, st)
        end = len(doc.text)  # after a line break, or at the start (see Doc.padded)
        return Splice(end, end, "".join(x + doc.nl for x in lines), edits[0].order)

    def add_flow(self, node: YNode, edits: list[Edit], st: emit.Style, n: int) -> list[Splice]:
        doc = self.doc

        def text(e: Edit) -> str:
            if e.op == "insert":
                return f"{emit.key(e.key, st, True)}: {emit.inline(e.value, st, True)}"
            return emit.inline(e.value, st, True)

        groups = placement(edits)
        kept = [x for x in node.entries if id(x) not in self.gone]
        line_mode = flow_line_mode(doc, node)
        if (not line_mode and len(kept) < len(node.entries)) or not node.entries:
            # Entries out and in on shared lines: the collection is written again, the
            # kept entries as they were.
            parts: list[str] = []
            for old in node.entries:
                parts += [doc.text[old.start : old.end]] if old in kept else []
                parts += [text(e) for e in groups.get(old.index, [])]
            parts += [text(e) for e in groups.get(None, [])]
            opener = doc.text[node.body]
            closer = "]" if opener == "[" else "}"
            whole = Splice(node.body, node.end, opener + ", ".join(parts) + closer, n)
            return [*self.comments_above(node.start, edits), whole]
        if None in groups:
            groups.setdefault(node.entries[-1].index, []).extend(groups.pop(None))
        out: list[Splice] = []
        for index, group in groups.items():
            assert index is not None
            # after the nearest entry that stays (else after the opening bracket's line)
            x = next((k for k in reversed(kept) if k.index <= index), None)
            if not line_mode:
                assert x is not None
                comma = comma_after(doc, node, x)
                follows = doc.text[comma + 1 : comma + 2] if comma is not None else " "
                sep = ", " if follows in (" ", "\n", "\r") else ","
                out.append(Splice(x.end, x.end, "".join(sep + text(e) for e in group), n))
                out += self.comments_above(x.end, group)
                continue
            col = doc.col(node.entries[0].start)
            comma = comma_after(doc, node, x) if x is not None else None
            more = x is None and bool(kept)  # kept entries follow the new ones
            lines: list[str] = []
            for i, e in enumerate(group):
                tail = "," if comma is not None or more or i < len(group) - 1 else ""
                lines += [*emit.comment_lines(e.comment, col), " " * col + text(e) + tail]
            if x is not None and comma is None:
                out.append(Splice(x.end, x.end, ",", n))
            line = owned_lines(doc, x)[1] if x is not None else doc.line_of(node.body)
            out.append(lines_after(doc, line, lines, n))
        return out

    def comments_above(self, at: int, edits: list[Edit]) -> list[Splice]:
        """Comments for entries added on one line go on lines of their own above it."""
        doc = self.doc
        line = doc.line_of(at)
        col = doc.col(doc.first_char(line))
        lines = [x for e in edits for x in emit.comment_lines(e.comment, col)]
        if not lines:
            return []
        start = doc.line_start(line)
        text = "".join(x + doc.nl for x in lines)
        return [Splice(start, start, text, edits[0].order, rank=1000)]  # after other lines

    def deletions(self, owner: YNode, gone: list[Entry], emptied: bool, n: int) -> list[Splice]:
        if owner.flow:
            return delete_flow(self.doc, owner, gone, n)
        return delete_block(self.doc, owner, gone, emptied, n, self.cuts)


def _shift(line: str, by: int) -> str:
    """``line`` moved right (or left, as far as its indentation goes) by ``by`` columns."""
    if not line.strip():
        return ""
    if by >= 0:
        return " " * by + line
    return line[min(-by, len(line) - len(line.lstrip(" "))) :]


def placement(edits: list[Edit]) -> dict[int | None, list[Edit]]:
    """Additions to one collection grouped by the original entry they follow (None: the end),
    each group in record order, an insert after an added key right behind that key's entry:
    the order Expect.pairs gives the data."""

    def chain(e: Edit) -> list[Edit]:
        return [e] + [y for x in edits if x.after_edit is e for y in chain(x)]

    groups: dict[int | None, list[Edit]] = {}
    for e in edits:
        if e.after_edit is None:
            spot = e.after_entry.index if e.after_entry is not None else None
            groups.setdefault(spot, []).extend(chain(e))
    return groups


def new_value(ordered: list[Edit]) -> Any:
    if ordered[0].op == "insert":
        return {e.key: e.value for e in ordered}
    return [e.value for e in ordered]
