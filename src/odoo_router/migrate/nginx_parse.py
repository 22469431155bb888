"""nginx configuration syntax, pure: directives, blocks and includes, each with file and line.

Rules (nginx's ``ngx_conf_file.c``): a directive is words ended by ``;`` or followed by a
``{ ... }`` block; words are separated by whitespace; ``"..."`` and ``'...'`` quote (``\\``
escapes the next character); ``#`` starts a comment only where a word could start;
``${name}`` is part of a word. ``include`` is expanded where it stands (a glob, sorted),
through a resolver that maps the container path to the host's files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


class NginxSyntaxError(Exception):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = file, line


@dataclass
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    block: list[Directive] | None = None
    quoted: list[bool] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def children(self, name: str) -> list[Directive]:
        return [d for d in self.block or () if d.name == name]


# path pattern as written -> [(shown name, text)]; [] when nothing matches
Resolver = Callable[[str], list[tuple[str, str]]]


def _unescape(c: str) -> str:
    """nginx unescapes only these; ``\\.`` in a regex keeps its backslash."""
    return {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}.get(c, "\\" + c)


def _tokens(text: str, file: str) -> list[tuple[str, int, bool]]:
    """(word, line, quoted) with ``;``, ``{``, ``}`` as their own tokens."""
    out: list[tuple[str, int, bool]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in ";{}":
            out.append((c, line, False))
            i += 1
        elif c in "\"'":
            start_line, buf, i = line, [], i + 1
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    buf.append(_unescape(text[i + 1]))
                    i += 2
                    continue
                if text[i] == "\n":
                    line += 1
                buf.append(text[i])
                i += 1
            if i >= n:
                raise NginxSyntaxError(file, start_line, f"unclosed {c} quote")
            out.append(("".join(buf), start_line, True))
            i += 1
        else:
            buf = []
            while i < n and not text[i].isspace() and text[i] not in ";{}\"'":
                if text[i] == "$" and text[i + 1 : i + 2] == "{":
                    end = text.find("}", i)
                    if end < 0:
                        raise NginxSyntaxError(file, line, "unclosed ${")
                    buf.append(text[i : end + 1])
                    i = end + 1
                    continue
                if text[i] == "\\" and i + 1 < n:
                    buf.append(_unescape(text[i + 1]))
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            out.append(("".join(buf), line, False))
    return out


def parse(
    text: str, file: str, resolve: Resolver | None = None, _depth: int = 0
) -> list[Directive]:
    """The directives of ``text``; NginxSyntaxError with file and line."""
    toks = _tokens(text, file)
    pos = 0

    def block(closing: bool, opened_at: int) -> list[Directive]:
        nonlocal pos
        out: list[Directive] = []
        words: list[tuple[str, int, bool]] = []
        while pos < len(toks):
            word, line, quoted = toks[pos]
            pos += 1
            if word == ";" and not quoted:
                if not words:
                    continue
                d = Directive(
                    words[0][0], [w for w, _, _ in words[1:]], file, words[0][1],
                    quoted=[q for _, _, q in words[1:]],
                )  # fmt: skip
                words = []
                if d.name == "include" and resolve is not None and _depth < 8:
                    out += _include(d, resolve, _depth)
                else:
                    out.append(d)
            elif word == "{" and not quoted:
                if not words:
                    raise NginxSyntaxError(file, line, "unexpected {")
                d = Directive(
                    words[0][0], [w for w, _, _ in words[1:]], file, words[0][1],
                    quoted=[q for _, _, q in words[1:]],
                )  # fmt: skip
                words = []
                d.block = block(True, line)
                out.append(d)
            elif word == "}" and not quoted:
                if words:
                    raise NginxSyntaxError(file, words[0][1], f"{words[0][0]}: missing ;")
                if not closing:
                    raise NginxSyntaxError(file, line, "unexpected }")
                return out
            else:
                words.append((word, line, quoted))
        if words:
            raise NginxSyntaxError(file, words[0][1], f"{words[0][0]}: missing ; at end of file")
        if closing:
            raise NginxSyntaxError(file, opened_at, "{ is never closed")
        return out

    return block(False, 1)


def _include(d: Directive, resolve: Resolver, depth: int) -> list[Directive]:
    if len(d.args) != 1:
        raise NginxSyntaxError(d.file, d.line, "include takes one argument")
    out: list[Directive] = []
    for name, text in resolve(d.args[0]):
        out += parse(text, name, resolve, depth + 1)
    return out


def walk(directives: list[Directive]) -> list[Directive]:
    """Every directive, depth first."""
    out: list[Directive] = []
    for d in directives:
        out.append(d)
        if d.block is not None:
            out += walk(d.block)
    return out
