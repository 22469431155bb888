"""Go (RE2) regular expressions, as Traefik compiles them, translated to Python's ``re``.

Rules:
- What Go refuses (lookaround, backreferences, possessive or nested repetition, ``\\Z``) is
  a :class:`GoRegexError` with Go's reason: Traefik would not load the rule.
- What Go accepts and Python reads differently is rewritten: outside ``(?m)`` Go's ``$``
  matches only at the end of the text (Python's also before a final newline), ``\\z`` is
  Python's ``\\Z``, ``\\Q...\\E`` quotes, POSIX classes ``[[:alpha:]]`` expand; ``\\d \\w \\s \\b``
  are ASCII in Go (``re.ASCII``).
- What cannot be translated faithfully (Unicode classes ``\\pL``, the ``(?U)`` flag, ``{,n}``)
  is a :class:`GoRegexError` that says so: the simulation refuses rather than guesses.
"""

from __future__ import annotations

import re

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


class GoRegexError(ValueError):
    pass


def translate(pattern: str) -> str:
    """The Python pattern that matches what Go's ``regexp.Compile(pattern)`` matches."""
    multiline = bool(re.search(r"\(\?[a-zA-Z]*m[a-zA-Z]*[:)]", pattern))
    if re.search(r"\(\?[a-zA-Z]*U", pattern):
        raise GoRegexError("the (?U) flag (ungreedy) has no Python equivalent")
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    rep = 0  # 1 after a repetition operator, 2 after its lazy ?
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise GoRegexError("trailing backslash at end of expression")
            e = pattern[i + 1]
            if e == "Q":
                end = pattern.find("\\E", i + 2)
                lit = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                rep = 0
                continue
            if e.isdigit() and e != "0":
                raise GoRegexError(f"invalid escape sequence \\{e} (Go has no backreferences)")
            if e in "pP":
                raise GoRegexError(f"\\{e} Unicode classes cannot be translated to Python")
            if e == "Z":
                raise GoRegexError("invalid escape sequence \\Z (Go writes \\z)")
            if e == "z":
                out.append("\\Z")
            elif e == "C":
                out.append("(?s:.)")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            rep = 0
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                neg = name.startswith("^")
                if neg or name not in _POSIX:
                    raise GoRegexError(f"POSIX class [:{name}:] cannot be translated")
                out.append(_POSIX[name])
                i = end + 2
                continue
            if c == "]":
                in_class = False
            elif c == "[":
                out.append("\\[")  # Python warns on nested sets; Go takes [ literally here
                i += 1
                continue
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")  # a leading ] is literal in both; say so for Python
                i += 1
            rep = 0
            continue
        if c == "(" and pattern.startswith("(?", i):
            look = pattern[i + 2 : i + 4]
            if look[:1] in ("=", "!", ">") or look in ("<=", "<!"):
                raise GoRegexError("invalid or unsupported Perl syntax (lookaround)")
        if c == "?":
            if rep == 2:
                raise GoRegexError("invalid nested repetition operator '??'")
            rep = 2 if rep == 1 else 1  # after a repetition, ? makes it lazy
            out.append(c)
            i += 1
            continue
        if c in "*+":
            if rep:
                raise GoRegexError(f"invalid nested repetition operator {c!r}")
            out.append(c)
            rep = 1
            i += 1
            continue
        if c == "{":
            m = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:])
            if m and m.group(1) == "" and m.group(2):
                raise GoRegexError("{,n} is a literal in Go and a repetition in Python")
            if m and m.group(1):
                if int(m.group(1)) > 1000 or (m.group(3) and int(m.group(3)) > 1000):
                    raise GoRegexError("invalid repeat count (Go's limit is 1000)")
                if rep:
                    raise GoRegexError("invalid nested repetition operator")
                out.append(m.group(0))
                i += len(m.group(0))
                rep = 1
                continue
            out.append("\\{")
            i += 1
            rep = 0
            continue
        if c == "$" and not multiline:
            out.append("\\Z")
        else:
            out.append(c)
        rep = 0
        i += 1
    if in_class:
        raise GoRegexError("missing closing ]")
    return "".join(out)


def compile_go(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(translate(pattern), re.ASCII)
    except re.error as exc:
        raise GoRegexError(f"does not compile: {exc}") from exc
