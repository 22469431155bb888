"""TomlText: a TOML file edited as text, with the operations render_traefik asks of YamlText.

Edits are recorded against the file as read (paths and list indexes name the original
data) and spliced in by ``render()``:

- a statement whose path is at or below a deleted path goes with its lines, a table header
  with its block (its pairs and comments up to the next header's own comments), each with
  the run of comment lines directly above it; a blank separation left doubled by a removal
  is written once;
- an edit inside a pair's value (an element of an array, a key of an inline table, the
  scalar itself) rewrites that value only, the key, the comment after it and every other
  line unchanged; a multi-line array keeps one item a line;
- a new key goes where its siblings are written, in their form: a pair under the same
  header (``service = ...``), dotted keys beside dotted keys (``x.rule = ...``), an inline
  table beside inline tables, else a new ``[table]`` after the last table of its parent.

The result is parsed again and must be the original data with the edits made, else
TomlError: an edit never changes anything silently.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Sequence
from typing import Any

from . import emit
from .errors import TomlError
from .scan import Path, PathKey, scan

_GONE = object()
_SEP = "\x00"  # a blank line before a new table, unless the output already has one there


class TomlText:
    def __init__(self, text: str, name: str) -> None:
        self.original, self.name = text, name
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""  # kept, as Traefik skips it
        text = self.text = text[len(self.bom) :]
        try:
            self.data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TomlError(name, 1, 1, f"not valid TOML: {exc}") from exc
        self._stmts = scan(text, name)
        self._lines = text.splitlines(keepends=True)
        self._nl = "\r\n" if "\r\n" in text else "\n"
        self._edits: list[tuple[str, Path, Any, str | None, str | None]] = []
        self._deleted: list[Path] = []

    # -- reading ------------------------------------------------------------------------------

    def has(self, path: Sequence[PathKey]) -> bool:
        return _get(self.data, tuple(path)) is not _GONE

    # -- recording (the YamlText calls render_traefik makes) -------------------------------

    def delete(self, path: Sequence[PathKey]) -> None:
        self._need(path)
        self._edits.append(("delete", tuple(path), None, None, None))

    def set_scalar(self, path: Sequence[PathKey], value: str | int | bool) -> None:
        self._need(path)
        self._edits.append(("set", tuple(path), value, None, None))

    def replace(self, path: Sequence[PathKey], value: Any) -> None:
        self._need(path)
        self._edits.append(("set", tuple(path), value, None, None))

    def insert(
        self,
        path: Sequence[PathKey],
        key: str,
        value: Any,
        *,
        after: str | None = None,
        comment: str | None = None,
    ) -> None:
        base = _get(self.data, tuple(path))
        if not isinstance(base, dict):
            raise self._error(tuple(path), "is not a table: nothing can be inserted in it")
        if key in base:
            raise self._error(tuple(path), f"already has the key {key!r}")
        self._edits.append(("insert", (*path, key), value, after, comment))

    def append(self, path: Sequence[PathKey], value: Any, *, comment: str | None = None) -> None:
        if not isinstance(_get(self.data, tuple(path)), list):
            raise self._error(tuple(path), "is not an array")
        self._edits.append(("append", tuple(path), value, None, None))

    def _need(self, path: Sequence[PathKey]) -> None:
        if not path or not self.has(path):
            raise self._error(tuple(path), "is not in the file")

    def _error(self, path: Path, message: str) -> TomlError:
        where = next((s for s in self._stmts if s.path[: len(path)] == path), None)
        line = where.first + 1 if where is not None else 1
        return TomlError(self.name, line, 1, ".".join(map(str, path)) + " " + message)

    # -- rendering ----------------------------------------------------------------------------

    def render(self) -> str:
        if not self._edits:
            return self.original
        want = self._expected()
        gone: set[int] = set()  # lines removed
        dirty: set[int] = set()  # stmts whose value is rewritten
        adds: dict[int, list[str]] = {}  # new lines before this line (len(lines): at the end)
        self._deleted = [p for op, p, *_ in self._edits if op == "delete"]
        for op, path, value, after, comment in self._edits:
            inside = self._holder(path if op != "insert" else path[:-1], op)
            if inside is not None:
                dirty.add(inside)
            elif op == "delete":
                self._remove(path, gone)
            elif op == "set":  # a table given a new value: written anew at its parent's end
                self._remove(path, gone)
                self._place(path, value, None, None, adds)
            elif op == "insert":
                self._place(path, value, after, comment, adds)
            else:
                raise self._error(path, "is an array of tables: appending to one is not supported")
        out = self._splice(want, gone, dirty, adds)
        try:
            got = tomllib.loads(out)
        except tomllib.TOMLDecodeError as exc:
            raise TomlError(self.name, 1, 1, f"the edited file is not valid TOML: {exc}") from exc
        if got != want:
            raise TomlError(self.name, 1, 1, "the edited file does not read as the edits say")
        return self.bom + out

    def _expected(self) -> Any:
        data = copy.deepcopy(self.data)
        for op, path, value, _, _ in self._edits:
            parent = _get(data, path[:-1])
            if op == "append":
                _get(data, path).append(copy.deepcopy(value))
            elif op == "delete":
                parent[path[-1]] = _GONE
            else:
                parent[path[-1]] = copy.deepcopy(value)
        return _strip(data)

    def _holder(self, path: Path, op: str) -> int | None:
        """The pair whose value holds ``path`` (strictly inside it for a delete; for the
        others the pair itself too: an insert's ``path`` is the table it goes in), when the
        edit is inside a written value."""
        for i, s in enumerate(self._stmts):
            if s.kind != "kv" or s.path != path[: len(s.path)]:
                continue
            if len(s.path) < len(path) or op != "delete":
                return i
        return None

    def _remove(self, path: Path, gone: set[int]) -> None:
        n = len(path)
        for i, s in enumerate(self._stmts):
            if s.path[:n] != path:
                continue
            first, last = self._owned(i)
            gone.update(range(first, last + 1))

    def _owned(self, i: int) -> tuple[int, int]:
        """The lines a statement owns: the comment run directly above it, its own lines and,
        for a header, its block up to the next header's own lines (blank lines at its end
        excluded)."""
        s = self._stmts[i]
        first = self._comments_above(s.first)
        last = s.last
        if s.kind != "kv":
            nxt = next((t for t in self._stmts[i + 1 :] if t.kind != "kv"), None)
            end = self._comments_above(nxt.first) - 1 if nxt is not None else len(self._lines) - 1
            while end > last and not self._lines[end].strip():
                end -= 1
            last = max(last, end)
        return first, last

    def _comments_above(self, line: int) -> int:
        while line > 0 and self._lines[line - 1].lstrip().startswith("#"):
            line -= 1
        return line

    def _place(
        self,
        path: Path,
        value: Any,
        after: str | None,
        comment: str | None,
        adds: dict[int, list[str]],
    ) -> None:
        base, key = path[:-1], path[-1]
        n = len(base)
        under = [s for s in self._stmts if s.path[:n] == base and len(s.path) > n]
        pairs = [
            s
            for s in under
            if s.kind == "kv"
            and len(s.table) <= n
            and not any(s.path[: len(d)] == d for d in self._deleted)
        ]
        if after is not None:
            pairs = [s for s in pairs if s.path[n] == after] or pairs
        lines: list[str]
        if pairs:
            sib = pairs[-1]
            rel = base[len(sib.table) :]
            if isinstance(value, dict) and value and len(sib.path) - n > 1:
                lines = [
                    f"{sib.indent}{emit.key_text((*rel, key, k))} = {emit.inline(v)}"
                    for k, v in value.items()
                ]
            else:
                lines = [f"{sib.indent}{emit.key_text((*rel, key))} = {emit.inline(value)}"]
            at = sib.last + 1
        else:
            tables = [s for s in self._stmts if s.kind != "kv" and s.path[:n] == base]
            ref = tables[-1] if tables else None
            indent = ref.indent if ref is not None else ""
            kv = next(
                (s for s in self._stmts if s.kind == "kv" and ref and s.table == ref.path), None
            )
            kv_indent = kv.indent if kv is not None else indent
            if isinstance(value, dict):
                lines = emit.table_lines(path, value, indent, kv_indent)
            elif n == 0:
                lines = [f"{emit.key_text((key,))} = {emit.inline(value)}"]
            else:
                lines = [
                    f"{indent}[{emit.key_text(base)}]",
                    f"{kv_indent}{emit.key_text((key,))} = {emit.inline(value)}",
                ]
            if n == 0 and not isinstance(value, dict):
                head = next((s for s in self._stmts if s.kind != "kv"), None)
                at = self._comments_above(head.first) if head is not None else len(self._lines)
            else:
                at = (
                    self._owned(self._stmts.index(ref))[1] + 1
                    if ref is not None
                    else len(self._lines)
                )
                if lines[0].lstrip().startswith("["):
                    lines.insert(0, _SEP)
        if comment:
            first = 1 if lines[0] == _SEP else 0
            indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
            lines.insert(first, f"{indent}# {comment}")
        adds.setdefault(at, []).extend(lines)

    def _splice(
        self, want: Any, gone: set[int], dirty: set[int], adds: dict[int, list[str]]
    ) -> str:
        lines = list(self._lines)
        merged: set[int] = set()  # continuation lines of a rewritten multi-line value
        if lines and not lines[-1].endswith("\n") and adds.get(len(lines)):
            lines[-1] += self._nl
        for i in sorted(dirty, key=lambda i: -self._stmts[i].first):
            s = self._stmts[i]
            if s.first in gone:
                continue
            value = _get(want, s.path)
            text = self.text
            start_line = self.text[: s.value[0]].count("\n")
            head = text[text.rfind("\n", 0, s.value[0]) + 1 : s.value[0]]
            end_nl = text.find("\n", s.value[1])
            tail = text[s.value[1] : end_nl + 1 if end_nl >= 0 else len(text)]
            if value is _GONE:
                gone.update(range(*self._span_owned(i)))
                continue
            new = self._value_text(text[s.value[0] : s.value[1]], value)
            lines[start_line] = head + new + tail
            merged.update(range(start_line + 1, s.last + 1))
        out: list[str] = []
        removed_before = False
        for i, line in enumerate([*lines, ""]):
            for new in adds.get(i, ()):
                if new == _SEP:
                    if out and out[-1].strip():
                        out.append(self._nl)
                    continue
                out.append(new + self._nl)
                removed_before = False
            if i == len(lines):
                break
            if i in merged:
                continue
            if i in gone:
                removed_before = True
                continue
            if removed_before and not line.strip() and (not out or not out[-1].strip()):
                continue  # one separation where the removed lines stood
            removed_before = removed_before and not line.strip()
            out.append(line)
        while out and not out[-1].strip() and removed_before:
            out.pop()  # a removal at the end leaves no trailing blank lines
        return "".join(out)

    def _span_owned(self, i: int) -> tuple[int, int]:
        first, last = self._owned(i)
        return first, last + 1

    def _value_text(self, old: str, value: Any) -> str:
        literal = old.startswith("'")
        if isinstance(value, list) and "\n" in old:
            rows = old.split("\n")
            item = next((r for r in rows[1:] if r.strip() and not r.strip().startswith("]")), "  ")
            indent = item[: len(item) - len(item.lstrip())]
            close = rows[-1][: len(rows[-1]) - len(rows[-1].lstrip())]
            lit = "'" in old and '"' not in old
            return emit.multiline_array(value, indent, close, self._nl, lit)
        if isinstance(value, list | dict):
            lit = "'" in old and '"' not in old
            return emit.inline(value, lit)
        return emit.inline(value, literal)


def _get(data: Any, path: Path) -> Any:
    for k in path:
        in_map = isinstance(data, dict) and isinstance(k, str) and k in data
        in_list = isinstance(data, list) and isinstance(k, int) and 0 <= k < len(data)
        if in_map or in_list:
            data = data[k]
        else:
            return _GONE
    return data


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if v is not _GONE}
    if isinstance(data, list):
        return [_strip(v) for v in data if v is not _GONE]
    return data
