"""uri.py called directly: host and path normalisation as nginx 1.22 does it (the module's
rules), every refusal with its status. The conformance suite checks the same against a real
nginx through sockets; these pin the functions themselves."""

from __future__ import annotations

import pytest

from odoo_router.routing.uri import (
    BadRequest,
    match_path,
    normalise_host,
    normalise_path,
    split_absolute,
)

HOSTS = [
    ("lower-cased", "Example.COM", "example.com"),
    ("port cut", "example.com:8080", "example.com"),
    ("one trailing dot dropped", "example.com.", "example.com"),
    ("trailing dot before the port", "example.com.:80", "example.com"),
    ("port cut at the first colon", "a:b:c", "a"),
    ("empty port", "x:", "x"),
    ("IPv6 literal with port", "[::1]:8080", "[::1]"),
    ("IPv6 literal", "[::1]", "[::1]"),
    ("bytes >= 0x80 pass, only ASCII is lower-cased", "CAF\xc9.x", "caf\xc9.x"),
]
BAD_HOSTS = [
    ("two dots in a row", "a..b"),
    ("two dots at the start", "..a"),
    ("slash", "a/b"),
    ("backslash", "a\\b"),
    ("NUL", "a\x00b"),
    ("space", "a b"),
    ("tab", "a\tb"),
    ("DEL", "a\x7fb"),
    ("empty", ""),
    ("only a port", ":80"),
    ("only a dot", "."),
]
PATHS = [
    ("root", b"/", "/", b""),
    ("query split off", b"/a/b?x=1", "/a/b", b"x=1"),
    ("double slash merged", b"/a//b", "/a/b", b""),
    ("dot segment dropped", b"/a/./b", "/a/b", b""),
    ("dot-dot climbs", b"/a/../b", "/b", b""),
    ("trailing dot", b"/a/.", "/a/", b""),
    ("trailing dot-dot", b"/a/..", "/", b""),
    ("dot-dot before the query", b"/a/..?q", "/", b"q"),
    ("encoded dot-dot is a dot-dot", b"/a/%2e%2e/b", "/b", b""),
    ("encoded dot, upper case", b"/a/%2E/b", "/a/b", b""),
    ("encoded slash is a slash", b"/a%2Fb", "/a/b", b""),
    ("encoded slashes merge", b"/a%2F%2Fb", "/a/b", b""),
    ("dots inside a segment stay", b"/a%2e%2e", "/a..", b""),
    ("decoded percent is literal", b"/%25", "/%", b""),
    ("decoded question mark is literal", b"/%3F", "/?", b""),
    ("decoded question mark does not start the query", b"/%3Fx?y", "/?x", b"y"),
    ("fragment cut", b"/a#frag", "/a", b""),
    ("raw byte kept (latin-1)", b"/\xe9", "/\xe9", b""),
]
BAD_PATHS = [
    ("climb above the root", b"/.."),
    ("climb above the root from deeper", b"/a/b/../../.."),
    ("encoded climb above the root", b"/%2e%2e/"),
    ("merged slashes then a climb", b"//..//a"),
    ("encoded NUL", b"/%00"),
    ("bad escape", b"/%zz"),
    ("dangling escape", b"/%2"),
    ("not origin-form", b"a"),
]
ABSOLUTE = [
    (
        "host and port kept for normalise_host",
        b"http://Example.com:8080/a?b",
        "Example.com:8080",
        b"/a?b",
    ),
    ("empty path is /", b"https://h", "h", b"/"),
    ("query without a path", b"http://h?x", "h", b"/?x"),
    ("any alphabetic scheme", b"HTTP://h/p", "h", b"/p"),
    ("IPv6 literal", b"ftp://[::1]:80/x", "[::1]:80", b"/x"),
]
BAD_ABSOLUTE = [
    ("scheme not alphabetic", b"1http://h/"),
    ("no scheme", b"://h/"),
    ("no ://", b"http//h/"),
    ("empty host", b"http:///a"),
    ("underscore in the host", b"http://h_x/"),
]


@pytest.mark.parametrize(("desc", "raw", "expected"), HOSTS, ids=[h[0] for h in HOSTS])
def test_normalise_host(desc: str, raw: str, expected: str) -> None:
    assert normalise_host(raw) == expected


@pytest.mark.parametrize(("desc", "raw"), BAD_HOSTS, ids=[h[0] for h in BAD_HOSTS])
def test_invalid_host_is_400(desc: str, raw: str) -> None:
    with pytest.raises(BadRequest) as err:
        normalise_host(raw)
    assert err.value.status == 400
    assert err.value.reason == "client sent invalid host header"


@pytest.mark.parametrize(("desc", "target", "path", "query"), PATHS, ids=[p[0] for p in PATHS])
def test_normalise_path(desc: str, target: bytes, path: str, query: bytes) -> None:
    assert normalise_path(target) == (path, query)
    assert match_path(target) == path
    assert match_path(target) == path  # remembered: the same answer the second time


@pytest.mark.parametrize(("desc", "target"), BAD_PATHS, ids=[p[0] for p in BAD_PATHS])
def test_invalid_path_is_400(desc: str, target: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        normalise_path(target)
    assert err.value.status == 400
    with pytest.raises(BadRequest):
        match_path(target)  # never remembered as a path


def test_match_path_does_not_remember_long_targets() -> None:
    long = b"/" + b"a" * 600
    assert match_path(long) == long.decode()
    assert match_path(long + b"//x") == long.decode() + "/x"


@pytest.mark.parametrize(("desc", "target", "host", "rest"), ABSOLUTE, ids=[a[0] for a in ABSOLUTE])
def test_split_absolute(desc: str, target: bytes, host: str, rest: bytes) -> None:
    assert split_absolute(target) == (host, rest)


@pytest.mark.parametrize(("desc", "target"), BAD_ABSOLUTE, ids=[a[0] for a in BAD_ABSOLUTE])
def test_invalid_absolute_form_is_400(desc: str, target: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        split_absolute(target)
    assert err.value.status == 400


def test_bad_request_carries_status_and_reason() -> None:
    err = BadRequest("request URI too long", 414)
    assert (err.status, err.reason, str(err)) == (
        414,
        "request URI too long",
        "request URI too long",
    )
    assert BadRequest("x").status == 400
