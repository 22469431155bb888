"""Where each statement of a TOML file is: table headers and key/value pairs with their full
key paths, lines and the character span of each value. Values are not decoded here (tomllib
does that); the scanner only has to know where a value ends, which takes the string forms
(basic, literal, both multi-line) and nesting of arrays and inline tables.

Paths are the keys from the document root; an array of tables (``[[a.b]]``) adds its index,
counted per header in file order, so that ``[[http.services.x.loadBalancer.servers]]``
entries are ``(..., "servers", 0, "url")`` as in the decoded data.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from .errors import TomlError

PathKey = str | int
Path = tuple[PathKey, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"


@dataclass(frozen=True)
class Stmt:
    kind: str  # "header" ([a.b]), "array" ([[a.b]]) or "kv"
    path: Path  # the full path of the table or of the pair's value
    table: Path  # kv: the path of the table it is written in; header: its own path
    first: int  # 0-based line of the statement's first character
    last: int  # 0-based line of its last character (a multi-line value)
    indent: str  # the whitespace before it on its first line
    value: tuple[int, int] = (0, 0)  # kv: character offsets of the value (end exclusive)


class Scanner:
    def __init__(self, text: str, name: str) -> None:
        self.text, self.name, self.i = text, name, 0
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def fail(self, message: str) -> TomlError:
        line = self.line_of(self.i)
        return TomlError(self.name, line + 1, self.i - self.starts[line] + 1, message)

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def skip_ws(self) -> None:
        while self.peek() and self.peek() in _WS:
            self.i += 1

    def skip_comment_and_eol(self) -> None:
        self.skip_ws()
        if self.peek() == "#":
            while self.peek() and self.peek() != "\n":
                self.i += 1
        if self.peek() == "\r":
            self.i += 1
        if self.peek() not in ("", "\n"):
            raise self.fail("expected the end of the line")
        self.i += 1 if self.peek() == "\n" else 0

    def string(self) -> str:
        """The raw text of the string at the cursor, the cursor after it."""
        start, t = self.i, self.text
        for quote in ('"""', "'''"):
            if t.startswith(quote, self.i):
                end = self.i + 3
                while True:
                    if end >= len(t):
                        raise self.fail("unterminated multi-line string")
                    if quote == '"""' and t[end] == "\\":
                        end += 2
                        continue
                    if t.startswith(quote, end):
                        end += 3
                        for _ in range(2):  # up to two more quotes end the content
                            if end < len(t) and t[end] == quote[0]:
                                end += 1
                        self.i = end
                        return t[start:end]
                    end += 1
        quote, end = t[self.i], self.i + 1
        while end < len(t) and t[end] != quote and t[end] != "\n":
            end += 2 if quote == '"' and t[end] == "\\" else 1
        if end >= len(t) or t[end] != quote:
            raise self.fail("unterminated string")
        self.i = end + 1
        return t[start : self.i]

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_ws()
            c = self.peek()
            if c in ('"', "'"):
                raw = self.string()
                parts.append(str(tomllib.loads(f"k = {raw}")["k"]))
            else:
                m = _BARE.match(self.text, self.i)
                if not m:
                    raise self.fail("expected a key")
                parts.append(m.group())
                self.i = m.end()
            self.skip_ws()
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1

    def value(self) -> tuple[int, int]:
        start, t = self.i, self.text
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c in ("[", "{"):
            depth = 0
            while True:
                if self.i >= len(t):
                    raise self.fail("unterminated array or inline table")
                c = t[self.i]
                if c in ('"', "'"):
                    self.string()
                    continue
                if c == "#":
                    while self.i < len(t) and t[self.i] != "\n":
                        self.i += 1
                    continue
                depth += 1 if c in "[{" else -1 if c in "]}" else 0
                self.i += 1
                if depth == 0:
                    break
        else:
            while self.peek() and self.peek() not in " \t\r\n#,]}":
                self.i += 1
            if self.i == start:
                raise self.fail("expected a value")
        return start, self.i


def scan(text: str, name: str) -> list[Stmt]:
    s = Scanner(text, name)
    out: list[Stmt] = []
    table: Path = ()
    counts: dict[Path, int] = {}
    while s.i < len(text):
        line_start = s.i
        s.skip_ws()
        indent = text[line_start : s.i]
        c = s.peek()
        if c in ("#", "\r", "\n", ""):
            s.skip_comment_and_eol()
            continue
        first = s.line_of(s.i)
        if c == "[":
            array = s.peek(2) == "[["
            s.i += 2 if array else 1
            key: Path = s.key()
            close = "]]" if array else "]"
            if s.peek(len(close)) != close:
                raise s.fail(f"expected {close!r}")
            s.i += len(close)
            if array:
                n = counts.get(key, 0)
                counts[key] = n + 1
                key = (*key, n)
            table = key
            out.append(Stmt("array" if array else "header", key, key, first, first, indent))
            s.skip_comment_and_eol()
            continue
        rel = s.key()
        if s.peek() != "=":
            raise s.fail("expected '=' after the key")
        s.i += 1
        s.skip_ws()
        span = s.value()
        last = s.line_of(max(span[1] - 1, span[0]))
        out.append(Stmt("kv", (*table, *rel), table, first, last, indent, span))
        s.skip_comment_and_eol()
    return out
