"""Where an edit's text goes: the lines an entry owns, and the splices that delete, insert or
replace one.

Comment ownership (what deleting an entry takes with it):
- every line from the entry's key or dash to the last line of its value (end-of-line comments
  on those lines included);
- comment lines after it indented deeper than the entry (inside its block), with the blank
  lines between them;
- the run of comment lines directly above it at the entry's own column, up to a blank line or
  anything else (not above the document's first entry: those comments head the file).
Nothing else: a comment that follows the entry at its column or less, a comment above it at
another column, stay.

Blank lines (what a run of neighbouring deleted entries takes, in a block collection whose
entries start their lines): the blank lines between two of its entries; and, when nothing is
inserted among them, the blank lines after its last entry when blank lines precede its first
one or it starts the collection (the neighbours keep the one separation the run had before
it, instead of two), or those before its first entry when it ends the document. An entry
inserted where such a run was takes that separation as its own (no second blank line before
it). Every other blank line stays.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import pairwise

from .loader import NULL_TAG
from .tree import Doc, Entry, YNode

_AFTER_FLOW_ITEM = re.compile(r"[ \t]*,?[ \t]*(#.*)?")


@dataclass(frozen=True)
class Splice:
    start: int
    end: int
    text: str
    order: int = 0  # record order: splices at one offset go in the order they were asked...
    rank: int = 0  # ...after those of lower rank (additions to a deeper collection first)


def owned_lines(doc: Doc, e: Entry) -> tuple[int, int]:
    """First and last line (0-based) of what deleting entry ``e`` removes."""
    col = doc.col(e.start)
    first = doc.line_of(e.start)
    header = e.index == 0 and e.owner is doc.root  # comments above it head the file
    if doc.starts_line(e.start) and not header:
        while first > 0 and doc.is_comment(first - 1) and doc.col(doc.first_char(first - 1)) == col:
            first -= 1
    last = doc.last_line_of(e.start, e.end)
    line = last + 1
    while line <= doc.last_line:
        if doc.is_comment(line) and doc.col(doc.first_char(line)) > col:
            last = line
        elif not doc.is_blank(line):
            break
        line += 1
    return first, last


def drop_lines(doc: Doc, first: int, last: int, order: int = 0) -> Splice:
    """Whole lines out, their line breaks too."""
    return Splice(doc.line_start(first), doc.next_start(last), "", order)


def lines_after(doc: Doc, line: int, lines: list[str], order: int) -> Splice:
    """New lines after ``line``'s break (every line with content has one: see Doc.padded)."""
    at = doc.next_start(line)
    return Splice(at, at, "".join(x + doc.nl for x in lines), order)


def merged_ranges(
    doc: Doc, entries: list[Entry], cuts: AbstractSet[int] = frozenset()
) -> list[list[int]]:
    """The lines the entries own, neighbouring runs merged (not across a line after which
    something is inserted: the insertion needs the boundary)."""
    ranges: list[list[int]] = []
    for e in sorted(entries, key=lambda x: x.start):
        first, last = owned_lines(doc, e)
        if ranges and first <= ranges[-1][1] + 1 and ranges[-1][1] not in cuts:
            ranges[-1][1] = max(ranges[-1][1], last)
        else:
            ranges.append([first, last])
    return ranges


def flow_line_mode(doc: Doc, node: YNode) -> bool:
    """A flow collection written one entry per line, brackets on lines of their own."""
    if not node.entries:
        return False
    prev = doc.line_of(node.body)
    for e in node.entries:
        first, last = doc.line_of(e.start), doc.last_line_of(e.start, e.end)
        if first <= prev or not doc.starts_line(e.start):
            return False
        if not _AFTER_FLOW_ITEM.fullmatch(doc.text, e.end, doc.line_end(last)):
            return False
        prev = last
    return prev < doc.line_of(node.end - 1)


def comma_after(doc: Doc, node: YNode, e: Entry) -> int | None:
    """The "," that follows entry ``e`` in flow collection ``node``."""
    commas = doc.toks.commas
    k = bisect_left(commas, e.end)
    limit = node.entries[e.index + 1].start if e.index + 1 < len(node.entries) else node.end
    return commas[k] if k < len(commas) and commas[k] < limit else None


def delete_block(
    doc: Doc, node: YNode, gone: list[Entry], emptied: bool, n: int, cuts: set[int]
) -> list[Splice]:
    """Entries ``gone`` of block collection ``node`` out; ``emptied``: none is left and none
    added, so the collection becomes ``{}`` / ``[]`` and its key stays. ``cuts``: lines after
    which entries are inserted."""
    ranges = merged_ranges(doc, gone, cuts)
    first_entry = node.entries[0]
    compact = not doc.starts_line(first_entry.start)  # "- key: v": shares the dash's line
    out: list[Splice] = []
    if emptied:
        mark = "{}" if node.kind == "map" else "[]"
        (f0, l0), rest = ranges[0], ranges[1:]
        holder = node.holder
        if compact:
            out.append(Splice(node.body, doc.line_end(l0), mark, n))
        elif holder is None or holder.indicator is None:
            out.append(Splice(doc.line_start(f0), doc.line_end(l0), mark, n))
        else:
            at = node.props_end if node.props_end is not None else holder.indicator + 1
            out.append(Splice(at, at, " " + mark, n))
            rest = ranges
        out.extend(drop_lines(doc, f, lst, n) for f, lst in rest)
        return out + gap_splices(doc, node, gone, cuts, n, emptied=True)
    kept = len(gone) < len(node.entries)  # else entries are inserted after these
    for first, last in ranges:
        if compact and first <= doc.line_of(first_entry.start) <= last:
            nxt = last + 1
            if kept and nxt <= doc.last_line and not doc.is_blank(nxt):
                # the next kept line moves up onto the dash line: "- name: a\n  b: 1" -> "- b: 1"
                out.append(Splice(first_entry.start, doc.first_char(nxt), "", n))
            else:
                p = first_entry.start
                while doc.text[p - 1] in " \t":
                    p -= 1
                out.append(Splice(p, doc.line_end(last), "", n))
        else:
            out.append(drop_lines(doc, first, last, n))
    return out + gap_splices(doc, node, gone, cuts, n, emptied=False)


def delete_flow(doc: Doc, node: YNode, gone: list[Entry], n: int) -> list[Splice]:
    if flow_line_mode(doc, node):
        return [drop_lines(doc, f, lst, n) for f, lst in merged_ranges(doc, gone)]
    es = node.entries
    out: list[Splice] = []
    idx = sorted(e.index for e in gone)
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    for i, j in runs:
        if j + 1 < len(es):
            out.append(Splice(es[i].start, es[j + 1].start, "", n))
        elif i > 0:
            comma = comma_after(doc, node, es[i - 1])
            same = comma is not None and doc.line_of(comma) == doc.line_of(es[i].start)
            out.append(Splice(es[i - 1].end if same else es[i].start, es[j].end, "", n))
        else:
            comma = comma_after(doc, node, es[j])
            out.append(Splice(es[i].start, es[j].end if comma is None else comma + 1, "", n))
    return out


def gone_runs(node: YNode, gone: AbstractSet[int]) -> list[list[Entry]]:
    """The deleted entries (``id()`` in ``gone``) of ``node`` in runs of neighbours."""
    runs: list[list[Entry]] = []
    for e in node.entries:
        if id(e) not in gone:
            continue
        if runs and runs[-1][-1].index == e.index - 1:
            runs[-1].append(e)
        else:
            runs.append([e])
    return runs


def after_a_gap(doc: Doc, run: list[Entry]) -> bool:
    """Blank lines precede the run's first entry, or it starts its collection."""
    return run[0].index == 0 or doc.is_blank(owned_lines(doc, run[0])[0] - 1)


def gap_splices(
    doc: Doc, node: YNode, gone: list[Entry], cuts: AbstractSet[int], n: int, emptied: bool
) -> list[Splice]:
    """The blank lines the runs of deleted entries take with them (see the top); of an
    emptied collection, which stays as ``{}``/``[]``, only those between its entries."""
    if not doc.starts_line(node.entries[0].start):
        return []  # "- key: v" items: their own rules (delete_block)
    out: list[Splice] = []
    for run in gone_runs(node, {id(e) for e in gone}):
        spans = [owned_lines(doc, e) for e in run]
        for (_, a), (b, _) in pairwise(spans):
            if b > a + 1 and all(doc.is_blank(x) for x in range(a + 1, b)):
                out.append(drop_lines(doc, a + 1, b - 1, n))
        if emptied or any(hi in cuts for _, hi in spans):
            continue
        first, last = spans[0][0], spans[-1][1]
        x = last + 1
        while x <= doc.last_line and doc.is_blank(x):
            x += 1
        if x > doc.last_line and run[0].index > 0:
            # the run ends the document: the blank lines before it would end it instead
            y = first - 1
            while y > 0 and doc.is_blank(y):
                y -= 1
            if y < first - 1:
                out.append(drop_lines(doc, y + 1, first - 1, n))
        elif x > last + 1 and after_a_gap(doc, run):
            out.append(drop_lines(doc, last + 1, x - 1, n))
    return out


def blank_separated(doc: Doc, node: YNode) -> bool:
    """Every two neighbouring entries of a block collection have a blank line between them."""
    if len(node.entries) < 2:
        return False
    for a, b in zip(node.entries, node.entries[1:], strict=False):
        lo, hi = owned_lines(doc, a)[1], owned_lines(doc, b)[0]
        if not any(doc.is_blank(line) for line in range(lo + 1, hi)):
            return False
    return True


def entry_col(doc: Doc, node: YNode) -> int:
    return doc.col(node.entries[-1].start)


def item_offset(doc: Doc, node: YNode) -> int | None:
    """Dash-to-content distance of a block sequence's items ("-   x": 4), if one shows it."""
    if node.kind != "seq" or node.flow:
        return None
    for e in node.entries:
        v = e.value
        if (
            e.indicator is not None
            and v.end > v.start > e.indicator  # an empty item shows nothing
            and doc.line_of(v.start) == doc.line_of(e.indicator)
        ):
            return v.start - e.indicator
    return None


def anchor_point(node: YNode) -> int | None:
    """Where a one-line value for ``node`` would start: after its anchor/tag, else after the
    ``:`` or ``-`` holding it (None for the root or a flow item)."""
    if node.props_end is not None:
        return node.props_end
    h = node.holder
    return None if h is None or h.indicator is None else h.indicator + 1


def needs_space(doc: Doc, at: int) -> bool:
    return at > 0 and doc.text[at - 1] not in " \t\r\n[{,"


def is_null(node: YNode) -> bool:
    return node.kind == "scalar" and node.yn.tag == NULL_TAG and node.style == ""


def converts(node: YNode) -> bool:
    """Adding to ``node`` rewrites it whole: a null, or an empty ``[]``/``{}`` outside a flow
    collection (which becomes a block collection, in the style of the file)."""
    if is_null(node):
        return True
    in_flow = node.holder is not None and node.holder.owner.flow
    return node.flow and node.kind != "scalar" and not node.entries and not in_flow
