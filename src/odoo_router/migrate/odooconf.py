"""odoo.conf edited line by line: the keys of one section set or removed, every other line
(comments, blank lines, other sections, order, line endings) byte for byte.

Read as Odoo reads it (configparser, ``interpolation=None``): a key is ``name = value`` or
``name: value`` at the start of a line (case-insensitive), its value goes on over the
indented lines after it; ``;`` and ``#`` lines are comments, kept even when they look like
a key (``;db_name = x``). A key written twice is read from its last line: a change is made
to each, so the file reads the same whichever one Odoo takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]")
_KEY = re.compile(r"^(?P<key>[^\s;#=:\[][^=:]*?)(?P<sep>\s*[=:]\s*)(?P<value>.*?)(?P<end>\r?\n?)$")


@dataclass
class _Entry:
    key: str  # lower-case, as configparser gives it
    first: int  # line index of ``key = value``
    last: int  # its last continuation line


class ConfText:
    def __init__(self, text: str) -> None:
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        self.lines = text[len(self.bom) :].splitlines(keepends=True)
        self.nl = "\r\n" if "\r\n" in text else "\n"

    def _section(self, name: str) -> tuple[int, int] | None:
        """The lines of ``[name]``'s body: (first, end exclusive)."""
        start = None
        for i, line in enumerate(self.lines):
            m = _SECTION.match(line)
            if m is None:
                continue
            if start is not None:
                return start, i
            if m.group("name").strip() == name:
                start = i + 1
        return (start, len(self.lines)) if start is not None else None

    def _entries(self, section: str) -> list[_Entry]:
        body = self._section(section)
        if body is None:
            return []
        out: list[_Entry] = []
        for i in range(*body):
            line = self.lines[i]
            if out and line[:1] in (" ", "\t") and line.strip() and i == out[-1].last + 1:
                out[-1].last = i  # a continuation of the value above
                continue
            m = _KEY.match(line)
            if m is not None:
                out.append(_Entry(m.group("key").strip().lower(), i, i))
        return out

    def set(self, section: str, key: str, value: str) -> None:
        """Each ``key`` line gets ``value`` (its spelling and separator kept); a key not
        there is added after the section's last key."""
        found = [e for e in self._entries(section) if e.key == key]
        for e in reversed(found):
            m = _KEY.match(self.lines[e.first])
            assert m is not None
            end = m.group("end") or self.nl
            self.lines[e.first : e.last + 1] = [m.group("key") + m.group("sep") + value + end]
        if found:
            return
        entries = self._entries(section)
        if self._section(section) is None:
            if self.lines and not self.lines[-1].endswith("\n"):
                self.lines[-1] += self.nl
            self.lines.append(f"[{section}]{self.nl}")
        body = self._section(section)
        assert body is not None
        at = entries[-1].last + 1 if entries else body[0]
        if at > 0 and not self.lines[at - 1].endswith("\n"):
            self.lines[at - 1] += self.nl
        self.lines.insert(at, f"{key} = {value}{self.nl}")

    def delete(self, section: str, key: str) -> None:
        for e in reversed([e for e in self._entries(section) if e.key == key]):
            del self.lines[e.first : e.last + 1]

    def prepend_comment(self, text: str) -> None:
        self.lines[:0] = [(f"; {x}" if x else ";") + self.nl for x in text.splitlines()]

    def render(self) -> str:
        return self.bom + "".join(self.lines)
