"""Evaluate a parsed Traefik rule against one request, as the muxer would (pure).

Facts taken from Traefik's source (``pkg/muxer/http/matcher.go``, ``matcher_v2.go``,
``mux.go``, ``pkg/middlewares/requestdecorator``) and gorilla/mux's template rules:
- The request host is lowercased with the port stripped; a trailing dot is ignored.
- The routing path is the escaped path with unreserved %-escapes decoded (``%41`` -> ``A``;
  reserved ones such as ``%2F`` stay encoded).
- v2 templates (``{name:regex}``, default ``[^.]+`` in hosts, ``[^/]+`` in paths) are
  anchored; literal text around them is literal (a v3 regex in a v2 HostRegexp matches only
  that text). v3 regexes match anywhere unless anchored.
- v3 ``Query(`k`)`` matches only an empty value; ``Header`` needs an exact value.
- From 3.7 on, ``Host(`*.example.com`)`` matches one label in place of ``*``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .traefik_goregex import GoRegexError, compile_go
from .traefik_rule_tree import And, Matcher, Node, Not, Or, Rule
from .traefik_version import RuleSyntax

_RESERVED = {"%3A", "%2F", "%3F", "%23", "%5B", "%5D", "%40", "%21", "%24", "%26", "%27"}
_RESERVED |= {"%28", "%29", "%2A", "%2B", "%2C", "%3B", "%3D", "%25"}


@dataclass(frozen=True)
class Request:
    host: str
    path: str = "/"  # may carry a query string: "/web?db=x"
    method: str = "GET"
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    client_ip: str = "127.0.0.1"

    @property
    def canonical_host(self) -> str:
        h = self.host.strip().lower()
        if h.startswith("["):
            return h[1 : h.find("]")] if "]" in h else h
        return h.split(":", 1)[0] if h.count(":") == 1 else h

    @property
    def routing_path(self) -> str:
        raw = self.path.split("?", 1)[0] or "/"

        def dec(m: re.Match[str]) -> str:
            esc = m.group(0).upper()
            return esc if esc in _RESERVED else urllib.parse.unquote(esc)

        return re.sub(r"%[0-9A-Fa-f]{2}", dec, raw)

    @property
    def query(self) -> dict[str, list[str]]:
        q = self.path.split("?", 1)[1] if "?" in self.path else ""
        return urllib.parse.parse_qs(q, keep_blank_values=True)

    def header(self, name: str) -> list[str]:
        want = name.lower()
        return [v for k, vs in self.headers.items() if k.lower() == want for v in vs]


Check = Callable[[Request], bool]


def _host_eq(req_host: str, host: str) -> bool:
    host = host.lower()
    return req_host in (host, host.rstrip(".")) or req_host.rstrip(".") == host


def _wildcard(req_host: str, expr: str) -> bool:
    labels = req_host.split(".")
    return ".".join(["*", *labels[1:]]) == expr.lower()


def _braces(template: str) -> list[tuple[int, int]]:
    """Spans of the top-level {...} in a gorilla/mux template."""
    spans, level, start = [], 0, 0
    for i, c in enumerate(template):
        if c == "{":
            if level == 0:
                start = i
            level += 1
        elif c == "}":
            level -= 1
            if level == 0:
                spans.append((start, i + 1))
            elif level < 0:
                raise ValueError(f"unbalanced braces in {template!r}")
    if level != 0:
        raise ValueError(f"unbalanced braces in {template!r}")
    return spans


def template_regex(template: str, default: str, prefix: bool = False) -> re.Pattern[str]:
    """A gorilla/mux host or path template as an anchored Python regex."""
    out, last = ["^"], 0
    for a, b in _braces(template):
        out.append(re.escape(template[last:a]))
        name, _, pattern = template[a + 1 : b - 1].partition(":")
        if not name:
            raise ValueError(f"missing name or pattern in {template[a:b]!r}")
        out.append("(?:" + (compile_go(pattern).pattern if pattern else default) + ")")
        last = b
    out.append(re.escape(template[last:]))
    if not prefix:
        out.append(r"\Z")
    return re.compile("".join(out), re.ASCII)


def _v2(m: Matcher) -> Check:
    args = m.args
    if m.name in ("Host", "HostHeader"):
        return lambda r: any(_host_eq(r.canonical_host, h) for h in args)
    if m.name == "HostRegexp":
        rxs = [template_regex(a.lower(), "[^.]+") for a in args]
        return lambda r: any(rx.match(r.canonical_host) for rx in rxs)
    if m.name in ("Path", "PathPrefix"):
        rxs = [template_regex(a, "[^/]+", prefix=m.name == "PathPrefix") for a in args]
        return lambda r: any(rx.match(r.routing_path) for rx in rxs)
    if m.name == "Method":
        methods = {a.upper() for a in args}
        return lambda r: r.method.upper() in methods
    if m.name in ("Headers", "HeadersRegexp"):
        if len(args) % 2:
            raise ValueError("number of parameters must be multiple of 2")
        pairs = list(zip(args[::2], args[1::2], strict=True))
        if m.name == "Headers":
            return lambda r: all(
                bool(r.header(k)) and (v == "" or v in r.header(k)) for k, v in pairs
            )
        rx = [(k, compile_go(v)) for k, v in pairs]
        return lambda r: all(any(p.search(x) for x in r.header(k)) for k, p in rx)
    if m.name == "Query":
        kv = [a.split("=", 1) + ([""] if "=" not in a else []) for a in args]
        if any("{" in v for _, v in kv):
            raise ValueError("query templates cannot be simulated")
        return lambda r: all(k in r.query and (v == "" or v in r.query[k]) for k, v in kv)
    if m.name == "ClientIP":
        return _client_ip(args)
    raise ValueError(f"{m.name} is not a v2 matcher")


def _v3(m: Matcher, wildcards: bool) -> Check:
    a = m.args
    if m.name == "Host":
        host = a[0].lower()
        if host == "*":
            return lambda r: True
        if host.startswith("*") and wildcards:  # before 3.7 the * is a plain character
            return lambda r: _wildcard(r.canonical_host, host) or _host_eq(r.canonical_host, host)
        return lambda r: _host_eq(r.canonical_host, host)
    if m.name in ("HostRegexp", "PathRegexp"):
        rx = compile_go(a[0])
        if m.name == "HostRegexp":
            return lambda r: bool(rx.search(r.canonical_host))
        return lambda r: bool(rx.search(r.routing_path))
    if m.name in ("Path", "PathPrefix"):
        if not a[0].startswith("/"):
            raise ValueError(f"path {a[0]!r} does not start with a '/'")
        if m.name == "Path":
            return lambda r: r.routing_path == a[0]
        return lambda r: r.routing_path.startswith(a[0])
    if m.name == "Method":
        return lambda r: r.method.upper() == a[0].upper()
    if m.name == "Header":
        return lambda r: a[1] in r.header(a[0])
    if m.name == "HeaderRegexp":
        hx = compile_go(a[1])
        return lambda r: any(hx.search(v) for v in r.header(a[0]))
    if m.name in ("Query", "QueryRegexp"):
        val = a[1] if len(a) == 2 else ""
        if m.name == "QueryRegexp" and len(a) == 2:
            qx = compile_go(val)
            return lambda r: any(qx.search(v) for v in r.query.get(a[0], ()))
        return lambda r: val in r.query.get(a[0], ())
    if m.name == "ClientIP":
        return _client_ip(a)
    raise ValueError(f"{m.name} is not a v3 matcher")


def _client_ip(args: Sequence[str]) -> Check:
    nets = []
    for a in args:
        try:
            nets.append(ipaddress.ip_network(a.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid IP or CIDR {a!r}") from exc

    def check(r: Request) -> bool:
        ip = ipaddress.ip_address(r.client_ip)
        return any(ip in n for n in nets)

    return check


@functools.lru_cache(maxsize=4096)
def compile_matcher(m: Matcher, syntax: RuleSyntax, wildcards: bool = True) -> Check:
    return _v3(m, wildcards) if syntax == "v3" else _v2(m)


def check_matcher(m: Matcher, syntax: RuleSyntax) -> None:
    """Raise ValueError/GoRegexError where Traefik would refuse the matcher's arguments."""
    compile_matcher(m, syntax)


def evaluate(node: Node, syntax: RuleSyntax, req: Request, wildcards: bool = True) -> bool:
    if isinstance(node, Matcher):
        return compile_matcher(node, syntax, wildcards)(req)
    if isinstance(node, Not):
        return not evaluate(node.expr, syntax, req, wildcards)
    if isinstance(node, And):
        return evaluate(node.left, syntax, req, wildcards) and evaluate(
            node.right, syntax, req, wildcards
        )
    assert isinstance(node, Or)
    return evaluate(node.left, syntax, req, wildcards) or evaluate(
        node.right, syntax, req, wildcards
    )


def rule_matches(rule: Rule, req: Request) -> bool:
    return evaluate(rule.tree, rule.syntax, req, rule.wildcards)


__all__ = ["GoRegexError", "Request", "check_matcher", "rule_matches", "template_regex"]
