"""Traefik router rules, v2 and v3 syntax: parse, check, simulate, render.

Theory (Traefik's source, ``pkg/rules/parser.go`` and ``pkg/muxer/http/*.go`` at v2.11/v3.7):
- A rule is a Go expression read by vulcand/predicate: matcher calls with string arguments
  (backquoted raw strings, or double-quoted strings with Go escapes), ``!``, ``&&`` (binds
  tighter than ``||``) and parentheses. A matcher name is accepted as written, all lower
  case, all upper case or capitalised (``Host``, ``host``, ``HOST``); ``pathPrefix`` is not.
- v2 matchers take any number of arguments (``Host(`a`, `b`)`` is an or); ``HostRegexp`` and
  ``Path``/``PathPrefix`` take gorilla/mux templates (``{sub:[a-z]+}.example.com``).
- v3 matchers take exactly one argument (``Header``/``HeaderRegexp`` two, ``Query``/
  ``QueryRegexp`` one or two); ``HostRegexp``/``PathRegexp``/``HeaderRegexp``/``QueryRegexp``
  take Go regexes matched anywhere in the value (anchor them); ``Path``/``PathPrefix`` must
  start with ``/``. ``HostHeader``, ``Headers`` and ``HeadersRegexp`` are v2 only.
- Default priority is ``len(rule)`` in bytes of the decoded rule string, in v2 (muxer
  ``AddRoute``) and v3 (``GetRulePriority``) alike.
- Hosts compare lowercased with the port stripped; a trailing dot on either side is ignored.
"""

from __future__ import annotations

import re

from .traefik_goregex import GoRegexError
from .traefik_match import Request, check_matcher, rule_matches
from .traefik_rule_tree import And, Matcher, Node, Not, Or, Rule, RuleError, walk
from .traefik_version import RuleSyntax

# fmt: off
V2_MATCHERS = ("Host", "HostHeader", "HostRegexp", "ClientIP", "Path", "PathPrefix", "Method",
               "Headers", "HeadersRegexp", "Query")
# fmt: on
# name -> accepted argument counts (pkg/muxer/http/matcher.go expectNParameters)
V3_MATCHERS: dict[str, tuple[int, ...]] = {
    "ClientIP": (1,),
    "Method": (1,),
    "Host": (1,),
    "HostRegexp": (1,),
    "Path": (1,),
    "PathRegexp": (1,),
    "PathPrefix": (1,),
    "Header": (2,),
    "HeaderRegexp": (2,),
    "Query": (1, 2),
    "QueryRegexp": (1, 2),
}
_V3_NAME_FOR = {"Headers": "Header", "HeadersRegexp": "HeaderRegexp", "HostHeader": "Host"}


def _spellings(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        for s in (name, name.lower(), name.upper(), name.lower().capitalize()):
            out.setdefault(s, name)
    return out


_ALL = _spellings(list(dict.fromkeys([*V2_MATCHERS, *V3_MATCHERS])))


# --- tokenizer -------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s+|&&|\|\||[!(),]|[A-Za-z_][A-Za-z0-9_]*|`[^`]*`|\"(?:[^\"\\\n]|\\.)*\"")
_GO_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _go_string(lit: str, column: int) -> str:
    """A double-quoted Go string literal's value."""
    out: list[str] = []
    i, body = 0, lit[1:-1]
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _GO_ESC:
            out.append(_GO_ESC[e])
            i += 2
        elif e in '\\"':
            out.append(e)
            i += 2
        elif e in "xuU01234567":
            size = {"x": 2, "u": 4, "U": 8}.get(e, 3)
            start = i + (1 if e.isdigit() else 2)
            digits = body[start : start + size]
            base = 8 if e.isdigit() else 16
            try:
                out.append(chr(int(digits, base)) if len(digits) == size else "")
            except ValueError:
                digits = ""
            if len(digits) != size:
                raise RuleError(f"invalid escape \\{e} in string", column + i + 1)
            i = start + size
        else:
            # Go rejects unknown escapes such as "\." (write `\.` or "\\." for a regex dot)
            raise RuleError(
                f"unknown escape sequence \\{e} in a double-quoted string", column + i + 1
            )
    return "".join(out)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, column) with kind in op/name/str."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        col = pos + 1
        if not m:
            ch = text[pos]
            what = "unterminated string" if ch in '`"' else f"unexpected character {ch!r}"
            if ch == "'":
                what = "single quotes are not strings in a rule (use backquotes)"
            raise RuleError(what, col)
        tok = m.group(0)
        pos = m.end()
        if tok[0].isspace():
            continue
        if tok[0] == "`":
            out.append(("str", tok[1:-1], col))
        elif tok[0] == '"':
            out.append(("str", _go_string(tok, col), col))
        elif tok[0].isalpha() or tok[0] == "_":
            out.append(("name", tok, col))
        else:
            out.append(("op", tok, col))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.end = len(text) + 1

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "", self.end)

    def take(self, value: str) -> int:
        kind, v, col = self.peek()
        if v != value or kind != "op":
            found = "the end of the rule" if kind == "end" else repr(v)
            raise RuleError(f"expected {value!r}, found {found}", col)
        self.i += 1
        return col

    def parse_or(self) -> Node:
        left = self.parse_and()
        while self.peek()[1] == "||":
            self.i += 1
            left = Or(left, self.parse_and())
        return left

    def parse_and(self) -> Node:
        left = self.parse_unary()
        while self.peek()[1] == "&&":
            self.i += 1
            left = And(left, self.parse_unary())
        return left

    def parse_unary(self) -> Node:
        kind, v, col = self.peek()
        if kind == "op" and v == "!":
            self.i += 1
            return Not(self.parse_unary())
        if kind == "op" and v == "(":
            self.i += 1
            inner = self.parse_or()
            self.take(")")
            return inner
        if kind == "name":
            self.i += 1
            name = _ALL.get(v)
            if name is None:
                raise RuleError(f"unknown matcher {v}", col)
            self.take("(")
            args: list[str] = []
            while self.peek()[1] != ")" or self.peek()[0] != "op":
                if args:
                    k, a, acol = self.peek()
                    if (k, a) != ("op", ","):
                        found = "the end of the rule" if k == "end" else repr(a)
                        raise RuleError(f"{name}: expected ',' or ')', found {found}", acol)
                    self.i += 1
                k, a, acol = self.peek()
                if k != "str":
                    found = "the end of the rule" if k == "end" else repr(a)
                    raise RuleError(f"{name}: expected a string argument, found {found}", acol)
                args.append(a)
                self.i += 1
            self.take(")")
            return Matcher(name, tuple(args), col)
        found = "the end of the rule" if kind == "end" else repr(v)
        raise RuleError(f"expected a matcher, '!' or '(', found {found}", col)


def parse(text: str, syntax: RuleSyntax, wildcards: bool = True) -> Rule:
    """Parse and check one rule as Traefik would for ``syntax``; RuleError otherwise."""
    if not text.strip():
        raise RuleError("empty rule")
    p = _Parser(text)
    tree = p.parse_or()
    kind, v, col = p.peek()
    if kind != "end":
        raise RuleError(f"unexpected {v!r} after a complete expression", col)
    for m in walk(tree):
        _check(m, syntax)
    return Rule(text, syntax, tree, wildcards)


def _check(m: Matcher, syntax: RuleSyntax) -> None:
    col = m.column
    if not m.args:
        raise RuleError(f"no args for matcher {m.name}", col)
    if any(a == "" for a in m.args):
        raise RuleError(f"empty args for matcher {m.name}", col)
    if any(not a.isascii() for a in m.args) and m.name in ("Host", "HostHeader", "HostRegexp"):
        raise RuleError(f"non-ASCII characters are not allowed in {m.name}", col)
    if syntax == "v3":
        if m.name not in V3_MATCHERS:
            hint = f"; v3 calls it {_V3_NAME_FOR[m.name]}" if m.name in _V3_NAME_FOR else ""
            raise RuleError(f"{m.name} is v2 syntax{hint}", col)
        counts = V3_MATCHERS[m.name]
        if len(m.args) not in counts:
            hint = ""
            if m.name == "Host" and len(m.args) > 1:
                hint = ": write " + " || ".join(f"Host(`{a}`)" for a in m.args)
            want = " or ".join(str(c) for c in counts)
            raise RuleError(
                f"{m.name} takes {want} argument(s) in v3, got {len(m.args)}{hint}", col
            )
    elif m.name not in V2_MATCHERS:
        raise RuleError(f"{m.name} is v3 syntax, unknown to the v2 parser", col)
    try:
        check_matcher(m, syntax)
    except GoRegexError as exc:
        raise RuleError(f"{m.name}: {exc}", col) from exc
    except ValueError as exc:
        raise RuleError(f"{m.name}: {exc}", col) from exc


def findings(rule: Rule) -> list[RuleError]:
    """Rules Traefik loads but that cannot mean what was written: the other syntax's host
    patterns, which each version reads literally (Go's regexp takes ``{s:...}`` as text;
    gorilla/mux quotes everything outside ``{}``), so the router matches no real host."""
    out: list[RuleError] = []
    for m in walk(rule.tree):
        if m.name != "HostRegexp":
            continue
        for a in m.args:
            if rule.syntax == "v3" and re.search(r"\{\w+:", a):
                msg = "HostRegexp template syntax {name:regex} is v2 only"
                out.append(
                    RuleError(f"{msg}: v3 reads `{a}` as a regex, matching no host", m.column)
                )
            elif rule.syntax == "v2" and "{" not in a and re.search(r"[\\^$\[\]]", a):
                msg = f"{a!r} is v3 regex syntax: v2 reads it as a literal host, matching none"
                out.append(
                    RuleError(f"HostRegexp {msg} (v2 writes {{name:regex}}.example.com)", m.column)
                )
    return out


# --- rendering -------------------------------------------------------------------------------


def quote(value: str) -> str:
    """A rule string literal: backquoted, or double-quoted when it holds a backquote."""
    if "`" not in value:
        return f"`{value}`"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(node: Node) -> str:
    """Source text for a tree (parenthesised where precedence needs it)."""
    if isinstance(node, Matcher):
        return f"{node.name}({', '.join(quote(a) for a in node.args)})"
    if isinstance(node, Not):
        inner = render(node.expr)
        return f"!{inner}" if isinstance(node.expr, Matcher | Not) else f"!({inner})"
    if isinstance(node, And):
        parts = [
            render(x) if not isinstance(x, Or) else f"({render(x)})"
            for x in (node.left, node.right)
        ]
        return " && ".join(parts)
    return f"{render(node.left)} || {render(node.right)}"


def host_rule(hosts: list[str] | tuple[str, ...]) -> str:
    """One or several exact hosts, the same text in v2 and v3 (one argument per Host())."""
    if not hosts:
        raise ValueError("host_rule needs at least one host")
    return " || ".join(f"Host({quote(h)})" for h in hosts)


def suffix_rule(
    suffix: str,
    syntax: RuleSyntax,
    label: str = "[a-z0-9]+",
    exclude: list[str] | tuple[str, ...] = (),
) -> str:
    """Any ``<label>.<suffix>`` host except ``exclude``: a v3 anchored regex or a v2 template."""
    suffix = suffix.lstrip(".").lower()
    if syntax == "v3":
        rx = "^" + label + r"\." + re.escape(suffix).replace("\\-", "-") + "$"
        rule = f"HostRegexp({quote(rx)})"
    else:
        rule = f"HostRegexp({quote('{subdomain:' + label + '}.' + suffix)})"
    if exclude:
        inner = host_rule(list(exclude))
        rule += f" && !Host({quote(exclude[0])})" if len(exclude) == 1 else f" && !({inner})"
    return rule


def path_prefix_rule(prefix: str) -> str:
    if not prefix.startswith("/"):
        raise ValueError(f"path prefix {prefix!r} must start with '/'")
    return f"PathPrefix({quote(prefix)})"


def matches(
    rule: Rule | str,
    host: str,
    path: str = "/",
    method: str = "GET",
    headers: dict[str, list[str]] | None = None,
    client_ip: str = "127.0.0.1",
    syntax: RuleSyntax = "v3",
) -> bool:
    """Whether Traefik would route this request by ``rule`` (a string is parsed with
    ``syntax``). Raises RuleError where the rule cannot be simulated faithfully."""
    parsed = rule if isinstance(rule, Rule) else parse(rule, syntax)
    req = Request(host=host, path=path, method=method, headers=headers or {}, client_ip=client_ip)
    return rule_matches(parsed, req)
