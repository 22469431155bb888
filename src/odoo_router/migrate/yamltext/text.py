"""YamlText: a YAML file edited as text, node by node.

Edits are located by the parse tree and recorded; ``render()`` splices them into the original
text together. Every byte outside the edited nodes (and the comments a deleted entry owns, see
``geometry.py``) stays where it was. The result is parsed again and must give the original data
with the edits made to it, else YamlError: an edit can never silently change something else.

Paths are tuples of mapping keys and sequence indexes from the document root, naming nodes of
the original text (an index or ``after`` key refers to the file as read, whatever else is
recorded). Editing through an alias or a key a merge brings in is refused: the change would
reach every user of the anchor. Editing the anchored node itself is allowed and does.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import emit, scalars
from .copying import check_copy
from .errors import YamlError
from .expect import expected, same
from .geometry import Splice, converts, flow_line_mode
from .loader import parse_strict
from .splices import ADDS, Builder, Edit
from .style import file_style
from .tree import Doc, Entry, Path, PathKey, YNode, explicit, fmt_path


@dataclass(frozen=True)
class Span:
    """Where a node is. Lines and columns 1-based; ``last_column`` is the column of the last
    character. ``start``/``end``: character offsets into the text (end exclusive)."""

    first_line: int
    first_column: int
    last_line: int
    last_column: int
    kind: str  # "map" | "seq" | "scalar" | "alias"
    flow: bool  # flow collection, plain or quoted scalar, alias; False: block collection, | or >
    indent: int  # column (0-based) of a block collection's keys or dashes, else of its entry
    start: int
    end: int
    key_line: int | None  # line of the key or dash holding the node; None for the root
    style: str  # scalars: "" plain, "'", '"', "|", ">"
    anchor: str | None
    shared: bool  # reached through an alias or a merge key: these lines are the anchor's


_UNSET = object()
_KIND = {"map": "a mapping", "seq": "a sequence", "scalar": "a scalar", "alias": "an alias"}


@functools.lru_cache(maxsize=16)
def _read(text: str, name: str) -> Doc:
    """A Doc is never changed after it is built: one parse serves every YamlText of a text."""
    return Doc(text, name)


class YamlText:
    def __init__(self, text: str, name: str) -> None:
        self._doc = _read(text, name)
        self.text = text
        self.name = name
        self.data: Any = copy.deepcopy(self._doc.data)
        self._edits: list[Edit] = []

    # -- reading ------------------------------------------------------------------------------

    def has(self, path: Sequence[PathKey]) -> bool:
        try:
            self._doc.find(path, edit=False)
        except YamlError:
            return False
        return True

    def span(self, path: Sequence[PathKey]) -> Span:
        doc = self._doc
        node, entry, shared = doc.find(path, edit=False)
        last_line = doc.last_line_of(node.start, node.end)
        last = max(node.start, node.end - 1)
        block = node.kind in ("map", "seq") and not node.flow
        indent = doc.col(node.body) if block else doc.col(entry.start) if entry else 0
        return Span(
            first_line=doc.line_of(node.start) + 1,
            first_column=doc.col(node.start) + 1,
            last_line=last_line + 1,
            last_column=doc.col(last) + 1 if doc.line_of(last) == last_line else 1,
            kind=node.kind,
            flow=node.flow,
            indent=indent,
            start=node.start,
            end=node.end,
            key_line=doc.line_of(entry.start) + 1 if entry is not None else None,
            style=node.style,
            anchor=node.anchor,
            shared=shared,
        )

    # -- recording ----------------------------------------------------------------------------

    def delete(self, path: Sequence[PathKey]) -> None:
        """Delete a mapping entry or a sequence item, with the comments it owns."""
        p, node, entry = self._target(path)
        if entry is None:
            raise YamlError(self.name, 1, 1, "the document root cannot be deleted")
        self._record(Edit("delete", p, len(self._edits), node, entry))

    def set_scalar(self, path: Sequence[PathKey], value: str | int | bool) -> None:
        """A new scalar value, in the old one's quoting when the value allows it."""
        if not isinstance(value, str | int):
            raise TypeError(f"set_scalar takes a str, int or bool, not {type(value).__name__}")
        p, node, entry = self._target(path)
        if node.kind != "scalar":
            raise self._doc.error(
                node.start, f"{fmt_path(p)} is {_KIND[node.kind]}: use replace() to change it"
            )
        self._record(Edit("set", p, len(self._edits), node, entry, value))

    def replace(self, path: Sequence[PathKey], value: Any) -> None:
        """A new value node, written in the local style."""
        emit.plain_data(value)
        p, node, entry = self._target(path)
        self._record(Edit("replace", p, len(self._edits), node, entry, value))

    def insert(
        self,
        path: Sequence[PathKey],
        key: str,
        value: Any,
        *,
        after: str | None = None,
        comment: str | None = None,
    ) -> None:
        """A new entry in the mapping at ``path`` (a null becomes that mapping): after the
        entry ``after`` (a key of the file, or one inserted before), else at the end."""
        if not isinstance(key, str):
            raise TypeError(f"a key must be a str, not {type(key).__name__}")
        emit.plain_data(value)
        _check_comment(comment)
        p, node, _ = self._target(path, empty_ok=True)
        self._addable(p, node, "map", "insert")
        if key in self._keys(node):
            raise self._doc.error(node.body, f"{fmt_path(p)} already has the key {key!r}")
        e = Edit("insert", p, len(self._edits), node, None, value, key, after, comment)
        if after is not None:
            e.after_entry = explicit(node, after) if node.kind == "map" else None
            if e.after_entry is None:
                e.after_edit = next((x for x in self._adds(node) if x.key == after), None)
            if e.after_entry is None and e.after_edit is None:
                raise self._doc.error(node.body, f"{fmt_path(p)} has no key {after!r} to follow")
        self._record(e)

    def insert_copy(
        self,
        path: Sequence[PathKey],
        key: str,
        source: Sequence[PathKey],
        *,
        after: str | None = None,
        comment: str | None = None,
    ) -> None:
        """Like insert, with a copy of the node at ``source`` as the value: its text as
        written (comments, quoting, aliases, merge keys), moved to the new place. The block
        mapping at ``path`` gets it; ``source`` may not define an anchor (it would be defined
        twice) nor be edited in the same render (the copy is of the file as read)."""
        src_path, src, _ = self._target(source)
        self.insert(path, key, None, after=after, comment=comment)  # key, place, overlaps
        e = self._edits.pop()
        e.op, e.source, e.source_path = "copy", src, src_path
        check_copy(self._doc, e)
        self._record(e)

    def append(self, path: Sequence[PathKey], value: Any, *, comment: str | None = None) -> None:
        """A new last item in the sequence at ``path`` (a null becomes that sequence)."""
        emit.plain_data(value)
        _check_comment(comment)
        p, node, _ = self._target(path, empty_ok=True)
        self._addable(p, node, "seq", "append")
        self._record(Edit("append", p, len(self._edits), node, None, value, comment=comment))

    def rename_key(self, path: Sequence[PathKey], new_key: str) -> None:
        if not isinstance(new_key, str):
            raise TypeError(f"a key must be a str, not {type(new_key).__name__}")
        p, node, entry = self._target(path)
        if entry is None or entry.key is None:
            raise self._doc.error(node.start, f"{fmt_path(p)} is not a mapping entry")
        if new_key in self._keys(entry.owner) - {entry.key_data}:
            raise self._doc.error(entry.start, f"{fmt_path(p[:-1])} already has {new_key!r}")
        self._record(Edit("rename", p, len(self._edits), node, entry, key=new_key))

    def set_pair(
        self, path: Sequence[PathKey], key: str, value: str, *, comment: str | None = None
    ) -> None:
        """``key`` = ``value`` in a compose-style pair collection (``labels``,
        ``environment``) in the form the file uses: ``key: value`` in a mapping (a null
        becomes one), a ``key=value`` item in a list. An existing pair changes in place."""
        p, node, _ = self._target(path)
        while node.target is not None:  # only to read the form: editing it is refused below
            node = node.target
        if node.kind == "seq":
            for e in node.entries:
                v = e.value
                if v.kind == "scalar" and str(v.yn.value).partition("=")[0] == key:
                    self.set_scalar((*p, e.index), f"{key}={value}")
                    return
            self.append(p, f"{key}={value}", comment=comment)
        elif node.kind == "map" and explicit(node, key) is not None:
            self.set_scalar((*p, key), value)
        else:
            self.insert(p, key, value, comment=comment)

    def _target(
        self, path: Sequence[PathKey], empty_ok: bool = False
    ) -> tuple[Path, YNode, Entry | None]:
        if self._doc.root is None:
            if empty_ok and not path:
                return (), self._doc.empty, None
            raise self._doc.error(len(self.text), "the document is empty: nothing to edit")
        p = self._doc.normalise(path)
        node, entry, _ = self._doc.find(p, edit=True)
        return p, node, entry

    def _addable(self, p: Path, node: YNode, kind: str, op: str) -> None:
        if node.target is not None:
            raise self._doc.error(
                node.start,
                f"{fmt_path(p)} is an alias of &{node.target.anchor}: adding to it would change "
                "every user of the anchor; add to the anchored node, or replace the alias",
            )
        what = "a mapping" if kind == "map" else "a sequence"
        if node.kind == "scalar" and any(e.op != op for e in self._adds(node)):
            made = "a sequence" if op == "insert" else "a mapping"
            raise self._doc.error(
                node.start, f"{fmt_path(p)} is made {made} by an earlier edit; {op} adds to {what}"
            )
        if node.kind == kind or (converts(node) and (node.kind == kind or node.kind == "scalar")):
            return
        raise self._doc.error(
            node.start, f"{fmt_path(p)} is {_KIND[node.kind]}; {op} adds to {what}"
        )

    def _adds(self, node: YNode) -> list[Edit]:
        return [e for e in self._edits if e.op in ADDS and e.node is node]

    def _keys(self, node: YNode) -> set[Any]:
        """The keys ``node`` will hold with the edits recorded so far."""
        gone = {id(e.entry) for e in self._edits if e.op in ("delete", "rename")}
        keys = {e.key_data for e in node.entries if id(e) not in gone}
        keys |= {e.key for e in self._edits if e.op == "rename" and e.entry in node.entries}
        return keys | {e.key for e in self._adds(node) if e.op != "append"}

    def _record(self, new: Edit) -> None:
        for old in self._edits:
            if _conflict(old, new) or _conflict(new, old):
                what = f"copy of {fmt_path(new.source_path)} into" if new.op == "copy" else new.op
                hint = (
                    "; copy first, render, and edit the result"
                    if "copy" in (new.op, old.op)
                    else ""
                )
                raise self._doc.error(
                    new.node.start,
                    f"{what} {fmt_path(new.path)} overlaps the earlier "
                    f"{old.op} {fmt_path(old.path)}{hint}",
                )
        self._edits.append(new)

    # -- rendering ----------------------------------------------------------------------------

    def render(self) -> str:
        """The text with every recorded edit spliced in, checked: it must parse (no duplicate
        keys) to the original data with the edits applied, else YamlError."""
        if not self._edits:
            return self.text
        doc = self._doc
        self._check_anchors()
        splices = self._splices()
        splices.sort(key=lambda s: (s.start, s.end, s.rank, s.order))
        out, pos = [], 0
        for s in splices:
            if s.start < pos:
                raise doc.error(s.start, "two of the recorded edits change the same text")
            out += [doc.text[pos : s.start], s.text]
            pos = s.end
        out.append(doc.text[pos:])
        result = "".join(out)
        texts = [result]
        if doc.padded:
            # No final line break, as before: blank lines at the end go with it, unless a "|+"
            # scalar there holds them (then as many breaks stay as its value needs).
            texts = [result.rstrip("\r\n\x85\u2028\u2029"), result.removesuffix(doc.nl), result]
        first = self._edits[0].node.start
        want: Any = _UNSET
        for text in texts:
            try:
                data = parse_strict(text, self.name)
            except YamlError as exc:
                raise doc.error(
                    first,
                    f"the edits would make this file invalid: {exc.message} "
                    f"(line {exc.line} of the edited text)",
                ) from exc
            if want is _UNSET:
                want = expected(self._doc, self._edits)
            try:
                if same(data, want):
                    return text
            except RecursionError as exc:  # only a structure that holds itself nests this deep
                raise doc.error(first, "the edits would make a node contain itself") from exc
        raise doc.error(
            first, "the edited text does not read back as the edited data (a yamltext bug)"
        )

    def _splices(self) -> list[Splice]:
        doc = self._doc
        deleted = {id(e.entry) for e in self._edits if e.op == "delete"}
        b = Builder(doc, file_style(doc, doc.nodes), deleted)
        out: list[Splice] = []
        gone: dict[int, list[Edit]] = {}
        adds: dict[int, list[Edit]] = {}
        for e in self._edits:
            if e.op == "delete":
                assert e.entry is not None
                gone.setdefault(id(e.entry.owner), []).append(e)
            elif e.op in ADDS:
                adds.setdefault(id(e.node), []).append(e)
            elif e.op == "rename":
                assert e.entry is not None
                out.append(b.rename(e.entry, e.key, e.order))
            elif e.op == "set":
                out += b.put(e.node, e.order, b.scalar_text(e.node, e.value), lambda c: [], "")
            else:
                out += b.replace(e.node, e.value, e.order)
        for group in adds.values():
            out += b.additions(group[0].node, group)
        for key, group in gone.items():
            entries = [e.entry for e in group if e.entry is not None]
            owner = entries[0].owner
            if owner.flow and key in adds and not flow_line_mode(doc, owner):
                continue  # written again whole by its additions
            emptied = len(entries) == len(owner.entries) and key not in adds
            out += b.deletions(owner, entries, emptied, group[0].order)
        return out

    def _check_anchors(self) -> None:
        """An anchor the edits remove must not leave an alias behind."""
        cut: list[tuple[int, int, Edit]] = []
        for e in self._edits:
            if e.op == "delete" and e.entry is not None:
                cut.append((e.entry.start, e.entry.end, e))
            elif e.op in ("set", "replace"):
                cut.append((e.node.body, e.node.end, e))
        if not cut:
            return
        for alias in self._doc.aliases:
            target = alias.target
            assert target is not None
            hit = next((e for a, z, e in cut if a <= target.start < z), None)
            if hit is not None and not any(a <= alias.start < z for a, z, _ in cut):
                raise self._doc.error(
                    alias.start,
                    f"{hit.op} {fmt_path(hit.path)} removes the anchor &{target.anchor} "
                    f"that this alias uses",
                )


def _conflict(a: Edit, b: Edit) -> bool:
    """``a`` rewrites a node that ``b`` edits inside (or the same node, in a clashing way)."""
    if a.op == "copy":  # the copy is of the text as read: nothing inside it may change
        src = a.source_path
        inside = b.path[: len(src)] == src and not (b.path == src and b.op == "rename")
        return inside or (src[: len(b.path)] == b.path and b.op in ("delete", "set", "replace"))
    if a.op in ("delete", "set", "replace") and b.path[: len(a.path)] == a.path:
        # the value and the key of one entry may both change
        return not (a.path == b.path and b.op == "rename" and a.op != "delete")
    return a.op == "rename" and b.op == "rename" and a.path == b.path


def _check_comment(comment: str | None) -> None:
    if comment is not None and not scalars.single_ok(comment.replace("\n", " ")):
        raise ValueError(f"a comment must be printable text: {comment!r}")
