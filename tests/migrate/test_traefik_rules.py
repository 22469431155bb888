"""traefik_rules / traefik_match / traefik_goregex: parse, refuse, simulate, render."""

from __future__ import annotations

import re

import pytest

from odoo_router.migrate.traefik_goregex import GoRegexError, translate
from odoo_router.migrate.traefik_rule_tree import And, Matcher, Not, Or, RuleError, priority
from odoo_router.migrate.traefik_rules import (
    findings,
    host_rule,
    matches,
    parse,
    path_prefix_rule,
    render,
    suffix_rule,
)
from odoo_router.migrate.traefik_version import RuleSyntax

A = Matcher("Host", ("a",), 1)


def test_tree_and_precedence() -> None:
    t = parse("Host(`a`) || Host(`b`) && !Path(`/x`)", "v3").tree
    assert isinstance(t, Or) and isinstance(t.right, And) and isinstance(t.right.right, Not)
    t2 = parse("(Host(`a`) || host(`b`)) && PATH(`/x`)", "v3").tree
    assert isinstance(t2, And) and isinstance(t2.left, Or)
    assert t2.left.right == Matcher("Host", ("b",), 15)  # canonical name, column of the call
    # Double-quoted Go strings with escapes, as YAML leaves them; backquotes are raw.
    assert parse('HostRegexp("^a\\\\.b$")', "v3").tree == Matcher("HostRegexp", ("^a\\.b$",), 1)
    assert parse("HostRegexp(`^a\\.b$`)", "v3").tree == Matcher("HostRegexp", ("^a\\.b$",), 1)


ERRORS: list[tuple[str, RuleSyntax, int, str]] = [
    (
        "Host(`a`, `b`)",
        "v3",
        1,
        "Host takes 1 argument(s) in v3, got 2: write Host(`a`) || Host(`b`)",
    ),
    ("Headers(`X`, `1`)", "v3", 1, "Headers is v2 syntax; v3 calls it Header"),
    ("HostHeader(`a`)", "v3", 1, "HostHeader is v2 syntax; v3 calls it Host"),
    ("Header(`X`, `1`)", "v2", 1, "Header is v3 syntax"),
    ("PathRegexp(`^/a`)", "v2", 1, "PathRegexp is v3 syntax"),
    ("QueryRegexp(`a`, `b`)", "v2", 1, "QueryRegexp is v3 syntax"),
    ("Header(`X`)", "v3", 1, "Header takes 2 argument(s)"),
    ("Host(`a`) && ", "v3", 14, "expected a matcher"),
    ("Host(`a`", "v3", 9, "Host: expected ',' or ')'"),
    ("Host(`a`) Host(`b`)", "v3", 11, "unexpected 'Host'"),
    ("Hots(`a`)", "v3", 1, "unknown matcher Hots"),
    ("pathPrefix(`/a`)", "v3", 1, "unknown matcher pathPrefix"),
    ("Host('a')", "v3", 6, "single quotes"),
    ("Host(`a)", "v3", 6, "unterminated string"),
    ('Host("a\\.b")', "v3", 8, "unknown escape sequence \\."),
    ("Host()", "v3", 1, "no args for matcher Host"),
    ("Host(``)", "v3", 1, "empty args"),
    ("Host(a)", "v3", 6, "expected a string argument"),
    ("Host(`é.example`)", "v3", 1, "non-ASCII"),
    ("Path(`a`)", "v3", 1, "does not start with a '/'"),
    ("HostRegexp(`(?=a)b`)", "v3", 1, "lookaround"),
    ("HostRegexp(`(a)\\1`)", "v3", 1, "backreferences"),
    ("HostRegexp(`a**`)", "v3", 1, "nested repetition"),
    ("ClientIP(`10.0.0.0/33`)", "v3", 1, "invalid IP or CIDR"),
    ("Headers(`X`)", "v2", 1, "multiple of 2"),
    ("", "v3", 0, "empty rule"),
]


@pytest.mark.parametrize(
    ("rule", "syntax", "column", "message"), ERRORS, ids=[e[0] or "empty" for e in ERRORS]
)
def test_refused(rule: str, syntax: RuleSyntax, column: int, message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse(rule, syntax)
    assert info.value.column == column
    assert message in info.value.reason


def test_findings_for_the_other_syntax_host_patterns() -> None:
    # Traefik loads both (checked with the real binary) and neither can match a real host.
    v3 = findings(parse("HostRegexp(`{sub:[a-z]+}.example.com`)", "v3"))
    assert "HostRegexp template syntax {name:regex} is v2 only" in v3[0].reason
    v2 = findings(parse("HostRegexp(`^[a-z]+\\.example\\.com$`)", "v2"))
    assert "v3 regex syntax" in v2[0].reason
    assert findings(parse("HostRegexp(`{sub:[a-z]+}.example.com`)", "v2")) == []
    assert not matches("HostRegexp(`{sub:[a-z]+}.example.com`)", "a.example.com")
    assert not matches("HostRegexp(`^a\\.example\\.com$`)", "a.example.com", syntax="v2")


# rule, syntax, host, path, method, headers, expected
MATCHES: list[tuple[str, RuleSyntax, str, str, str, dict[str, list[str]], bool]] = [
    ("Host(`a.example`)", "v3", "A.EXAMPLE", "/", "GET", {}, True),
    ("Host(`a.example`)", "v3", "a.example:8443", "/", "GET", {}, True),
    ("Host(`a.example`)", "v3", "a.example.", "/", "GET", {}, True),
    ("Host(`a.example.`)", "v3", "a.example", "/", "GET", {}, True),
    ("Host(`a.example`)", "v3", "b.a.example", "/", "GET", {}, False),
    ("Host(`*.example`)", "v3", "x.example", "/", "GET", {}, True),
    ("Host(`*.example`)", "v3", "y.x.example", "/", "GET", {}, False),
    ("Host(`a`, `b`)", "v2", "b", "/", "GET", {}, True),
    ("HostRegexp(`^[a-z0-9]+\\.erp\\.x$`)", "v3", "t1.erp.x", "/", "GET", {}, True),
    ("HostRegexp(`^[a-z0-9]+\\.erp\\.x$`)", "v3", " T1.erp.x ", "/", "GET", {}, True),
    # Go's $ is the end of the text; Python's also matches before a final newline.
    ("HeaderRegexp(`X`, `^1$`)", "v3", "h", "/", "GET", {"X": ["1\n"]}, False),
    ("HostRegexp(`[a-z]+\\.erp\\.x`)", "v3", "1.2.abc.erp.x.evil", "/", "GET", {}, True),
    ("HostRegexp(`{sub:[a-z0-9]+}.erp.x`)", "v2", "t1.erp.x", "/", "GET", {}, True),
    ("HostRegexp(`{sub:[a-z0-9]+}.erp.x`)", "v2", "t1.erpXx", "/", "GET", {}, False),
    ("HostRegexp(`{sub}.erp.x`)", "v2", "a.b.erp.x", "/", "GET", {}, False),
    ("PathPrefix(`/qr/`)", "v3", "h", "/qr/menu?x=1", "GET", {}, True),
    ("PathPrefix(`/qr/`)", "v3", "h", "/%71r/menu", "GET", {}, True),
    ("PathPrefix(`/qr/`)", "v3", "h", "/qr%2Fmenu", "GET", {}, False),
    ("PathPrefix(`/qr`)", "v3", "h", "/qrcode", "GET", {}, True),
    ("Path(`/web/login`)", "v3", "h", "/web/login/", "GET", {}, False),
    ("Path(`/item/{id:[0-9]+}`)", "v2", "h", "/item/42", "GET", {}, True),
    ("Path(`/item/{id:[0-9]+}`)", "v2", "h", "/item/x", "GET", {}, False),
    ("PathRegexp(`^/api/v[0-9]+/`)", "v3", "h", "/api/v2/x", "GET", {}, True),
    ("Method(`post`)", "v3", "h", "/", "POST", {}, True),
    ("Method(`GET`, `POST`)", "v2", "h", "/", "POST", {}, True),
    ("Header(`X-Api`, `1`)", "v3", "h", "/", "GET", {"x-api": ["2", "1"]}, True),
    ("Header(`X-Api`, `1`)", "v3", "h", "/", "GET", {"X-Api": ["11"]}, False),
    ("HeaderRegexp(`X-Api`, `^1`)", "v3", "h", "/", "GET", {"X-Api": ["11"]}, True),
    ("Headers(`X-Api`, `1`, `X-B`, `x`)", "v2", "h", "/", "GET", {"X-Api": ["1"]}, False),
    (
        "Headers(`X-Api`, `1`, `X-B`, `x`)",
        "v2",
        "h",
        "/",
        "GET",
        {"X-Api": ["1"], "x-b": ["x"]},
        True,
    ),
    ("Query(`db`, `x`)", "v3", "h", "/web?db=x", "GET", {}, True),
    ("Query(`debug`)", "v3", "h", "/web?debug", "GET", {}, True),
    ("Query(`debug`)", "v3", "h", "/web?debug=1", "GET", {}, False),
    ("Query(`db=x`)", "v2", "h", "/web?db=x", "GET", {}, True),
    ("QueryRegexp(`db`, `^t`)", "v3", "h", "/?db=ten", "GET", {}, True),
    ("ClientIP(`127.0.0.0/8`)", "v3", "h", "/", "GET", {}, True),
    ("ClientIP(`10.0.0.1`, `127.0.0.1`)", "v2", "h", "/", "GET", {}, True),
    ("!Host(`a`) && !Host(`b`)", "v3", "c", "/", "GET", {}, True),
    ("!(Host(`a`) || Host(`b`))", "v3", "b", "/", "GET", {}, False),
]


@pytest.mark.parametrize(("rule", "syntax", "host", "path", "method", "headers", "want"), MATCHES)
def test_matches(
    rule: str,
    syntax: RuleSyntax,
    host: str,
    path: str,
    method: str,
    headers: dict[str, list[str]],
    want: bool,
) -> None:
    assert matches(rule, host, path, method, headers, syntax=syntax) is want


GO_REGEX = [
    ("^a$", "^a\\Z"),
    ("(?m)^a$", "(?m)^a$"),
    ("a\\z", "a\\Z"),
    ("\\Qa.b\\E+", "a\\.b+"),
    ("[[:alpha:]]+", "[A-Za-z]+"),
    ("[]a]", "[\\]a]"),
    ("a{2,3}?", "a{2,3}?"),
    ("x{", "x\\{"),
]


@pytest.mark.parametrize(("go", "py"), GO_REGEX)
def test_go_regex_translation(go: str, py: str) -> None:
    assert translate(go) == py
    re.compile(py)


@pytest.mark.parametrize(
    "go", ["\\pL", "(?U)a*", "a{,3}", "(?<=a)b", "a\\Z", "[[:^alpha:]]", "a{1001}", "[a", "a???"]
)
def test_go_regex_refused(go: str) -> None:
    with pytest.raises(GoRegexError):
        translate(go)


def test_priority_is_bytes_of_the_decoded_rule() -> None:
    assert priority("Host(`a`)") == 9
    assert parse("HostRegexp(`^[a-z]+\\.x$`)", "v3").priority == len("HostRegexp(`^[a-z]+\\.x$`)")
    assert priority("Host(`日本.example`)") == len("Host(`日本.example`)".encode())


RENDER: list[tuple[str, RuleSyntax, str]] = [
    (host_rule(["a.example"]), "v3", "Host(`a.example`)"),
    (host_rule(["a.example", "b.example"]), "v3", "Host(`a.example`) || Host(`b.example`)"),
    (
        suffix_rule(".erp.seisei.tokyo", "v3", exclude=["admin.erp.seisei.tokyo"]),
        "v3",
        "HostRegexp(`^[a-z0-9]+\\.erp\\.seisei\\.tokyo$`) && !Host(`admin.erp.seisei.tokyo`)",
    ),
    (
        suffix_rule("erp.my-co.jp", "v2", exclude=["a.erp.my-co.jp", "b.erp.my-co.jp"]),
        "v2",
        "HostRegexp(`{subdomain:[a-z0-9]+}.erp.my-co.jp`) && !(Host(`a.erp.my-co.jp`) || "
        "Host(`b.erp.my-co.jp`))",
    ),
    (path_prefix_rule("/qr/"), "v3", "PathPrefix(`/qr/`)"),
]


@pytest.mark.parametrize(("rule", "syntax", "text"), RENDER)
def test_render(rule: str, syntax: RuleSyntax, text: str) -> None:
    assert rule == text
    parsed = parse(rule, syntax)  # what we write parses in its own syntax
    assert findings(parsed) == []
    assert render(parsed.tree) == rule


def test_rendered_suffix_rule_routes_as_meant() -> None:
    for syntax in ("v3", "v2"):
        rule = suffix_rule(".erp.my-co.jp", syntax, exclude=["admin.erp.my-co.jp"])  # type: ignore[arg-type]
        assert matches(rule, "t1.erp.my-co.jp", syntax=syntax)  # type: ignore[arg-type]
        assert not matches(rule, "admin.erp.my-co.jp", syntax=syntax)  # type: ignore[arg-type]
        assert not matches(rule, "a.b.erp.my-co.jp", syntax=syntax)  # type: ignore[arg-type]
        assert not matches(rule, "t1.erpxmy-co.jp", syntax=syntax)  # type: ignore[arg-type]


def test_quote_with_backquote() -> None:
    rule = render(Matcher("Header", ("X-A", "a`b"), 1))
    assert rule == 'Header(`X-A`, "a`b")'
    assert parse(rule, "v3").tree == Matcher("Header", ("X-A", "a`b"), 1)
