"""headers.py and response_headers.py called directly: the forwarding rule, the Connection
tokens, the head sent upstream, cookie flags, the response filter and the status line. The
per-name request verdicts are in test_header_kinds.py; what an upstream and a client see
through a real router is in tests/integration/test_headers.py."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from odoo_router.configuration.model import Forwarded
from odoo_router.http import headers as hdr
from odoo_router.http import response_headers as resp
from odoo_router.http.headers import ClientView
from odoo_router.http.response_headers import RedirectRule

APPEND = Forwarded("append")
TRUSTED = Forwarded("trusted", (ipaddress.ip_network("10.0.0.0/8"),))


def test_connection_tokens_name_headers_to_drop() -> None:
    assert hdr.connection_tokens([b"keep-alive"]) == frozenset()  # hop-by-hop anyway
    assert hdr.connection_tokens([b"close, X-Foo", b" TE ,\tUpgrade"]) == {b"close", b"x-foo"}
    assert hdr.connection_tokens([b",,"]) == frozenset()


# (desc, forwarded, peer, X-Forwarded-For values, X-Forwarded-Proto, expected view)
VIEWS = [
    ("append, nothing sent", APPEND, "10.0.0.1", [], None, ("10.0.0.1", "http", "10.0.0.1", False)),
    (
        "append joins every value and the peer",
        APPEND,
        "10.0.0.1",
        [b"1.1.1.1", b"2.2.2.2, 3.3.3.3"],
        b"HTTPS",
        ("10.0.0.1", "https", "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.1", False),
    ),
    (
        "append keeps garbage as sent, the client address is the peer",
        APPEND,
        "10.0.0.1",
        [b"junk"],
        b"https, http",
        ("10.0.0.1", "http", "junk, 10.0.0.1", False),
    ),
    (
        "trusted ignores an untrusted peer's values",
        TRUSTED,
        "192.0.2.9",
        [b"1.1.1.1"],
        b"https",
        ("192.0.2.9", "http", "192.0.2.9", False),
    ),
    (
        "trusted: the right-most entry that is not a trusted proxy",
        TRUSTED,
        "10.0.0.1",
        [b"6.6.6.6, 1.1.1.1, 10.0.0.7"],
        b"https, http",
        ("1.1.1.1", "https", "1.1.1.1", True),
    ),
    (
        "trusted: a proto other than http(s) is ignored",
        TRUSTED,
        "10.0.0.1",
        [b"1.1.1.1"],
        b"ftp",
        ("1.1.1.1", "http", "1.1.1.1", True),
    ),
    (
        "trusted: a garbage entry falls back to the peer",
        TRUSTED,
        "10.0.0.1",
        [b"garbage"],
        None,
        ("10.0.0.1", "http", "10.0.0.1", True),
    ),
    (
        "trusted: only trusted hops, the left-most",
        TRUSTED,
        "10.0.0.1",
        [b"10.0.0.5"],
        None,
        ("10.0.0.5", "http", "10.0.0.5", True),
    ),
    (
        "trusted: IPv6 written in its normal form",
        TRUSTED,
        "10.0.0.1",
        [b"2001:DB8::1"],
        None,
        ("2001:db8::1", "http", "2001:db8::1", True),
    ),
]


@pytest.mark.parametrize(
    ("desc", "forwarded", "peer", "xff", "xfp", "expected"), VIEWS, ids=[v[0] for v in VIEWS]
)
def test_client_view(
    desc: str,
    forwarded: Forwarded,
    peer: str,
    xff: list[bytes],
    xfp: bytes | None,
    expected: tuple[str, str, str, bool],
) -> None:
    assert hdr.client_view(forwarded, peer, "http", xff, xfp) == ClientView(*expected)


def _head(*args: Any) -> bytes:
    return b"".join(hdr.upstream_request_parts(*args))


def test_upstream_head() -> None:
    prefix = hdr.upstream_head_prefix(
        "h.example", ClientView("1.2.3.4", "https", "9.9.9.9, 1.2.3.4")
    )
    forward = [b"Accept", b": ", b"*/*", b"\r\n", b"X-Custom", b": ", b"v", b"\r\n"]
    head = _head(b"POST", b"/a?b", prefix, b"rid", hdr.dbfilter_line("^ten_a$"), forward, 5)
    assert head == (
        b"POST /a?b HTTP/1.1\r\nHost: h.example\r\nX-Real-IP: 1.2.3.4\r\n"
        b"X-Forwarded-For: 9.9.9.9, 1.2.3.4\r\nX-Forwarded-Proto: https\r\n"
        b"X-Forwarded-Host: h.example\r\nX-Request-ID: rid\r\nX-Odoo-dbfilter: ^ten_a$\r\n"
        b"Connection: keep-alive\r\nContent-Length: 5\r\nAccept: */*\r\nX-Custom: v\r\n\r\n"
    )
    chunked = _head(
        b"POST", b"/", prefix, b"r", b"", forward, None, True, None, frozenset({b"x-custom"})
    )
    assert b"Transfer-Encoding: chunked\r\n" in chunked and b"Content-Length" not in chunked
    assert b"X-Custom" not in chunked  # named in the client's Connection header
    upgrade = _head(b"GET", b"/ws", prefix, b"r", b"", [], None, False, b"websocket")
    assert b"Connection: upgrade\r\nUpgrade: websocket\r\n" in upgrade
    assert b"keep-alive" not in upgrade and b"X-Odoo-dbfilter" not in upgrade


def test_flat_header_lists() -> None:
    flat = [b"Host", b"a", b"Upgrade", b"websocket", b"upgrade", b"h2c"]
    assert hdr.pairs(flat) == [(b"Host", b"a"), (b"Upgrade", b"websocket"), (b"upgrade", b"h2c")]
    assert hdr.find(flat, b"upgrade") == b"websocket"  # the first, in any case
    assert hdr.find(flat, b"cookie") is None
    out: list[bytes] = []
    hdr.add_line(out, b"X", b"1")
    assert b"".join(out) == b"X: 1\r\n"


def test_dbfilter_line() -> None:
    assert hdr.dbfilter_line(None) == b""
    assert hdr.dbfilter_line("ten_a") == b"X-Odoo-dbfilter: ten_a\r\n"


@pytest.mark.parametrize(
    ("value", "secure", "samesite", "expected"),
    [
        (b"a=1", True, None, b"a=1; Secure"),
        (b"a=1; secure", True, None, b"a=1; secure"),
        (b"a=1; SECURE=x", True, None, b"a=1; SECURE=x"),
        (b"secure=1", True, None, b"secure=1; Secure"),  # the cookie's name is no attribute
        (b"session_id=x; Path=/", True, b"Lax", b"session_id=x; Path=/; Secure; SameSite=Lax"),
        (b" session_id=x; samesite=None", False, b"Lax", b" session_id=x; samesite=None"),
        (b"other=x", False, b"Lax", b"other=x"),
    ],
)
def test_set_cookie_flags(
    value: bytes, secure: bool, samesite: bytes | None, expected: bytes
) -> None:
    assert resp.rewrite_set_cookie(value, secure, samesite) == expected


class _Origin:
    def origin(self) -> bytes:
        return b"http://h.example:8080"


def _response(headers: list[tuple[bytes, bytes]], keep_upgrade: bool = False) -> tuple[bytes, int]:
    out: list[bytes] = []
    rule = RedirectRule("http://odoo_tenant/", nginx=True)
    flat = [part for header in headers for part in header]
    framing = resp.response_head(flat, True, None, keep_upgrade, out, rule, _Origin())
    return b"".join(out), framing


def test_response_head_drops_hop_by_hop_hidden_and_named() -> None:
    text, framing = _response(
        [
            (b"Connection", b"keep-alive, X-Named"),
            (b"Keep-Alive", b"timeout=5"),
            (b"X-Named", b"1"),
            (b"Server", b"werkzeug"),
            (b"Date", b"then"),
            (b"X-Pad", b"x"),
            (b"X-Accel-Redirect", b"/internal"),
            (b"Upgrade", b"websocket"),
            (b"Proxy-Authenticate", b"Basic"),
            (b"Content-Length", b"12"),
            (b"X-Kept", b"yes"),
        ]
    )
    assert text == b"Proxy-Authenticate: Basic\r\nContent-Length: 12\r\nX-Kept: yes\r\n"
    assert framing == 12


def test_response_head_framing() -> None:
    text, framing = _response([(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"3")])
    assert (text, framing) == (b"", resp.CHUNKED)  # Transfer-Encoding wins (RFC 9112 6.3)
    assert _response([(b"X", b"1")])[1] == resp.NO_LENGTH
    text, _ = _response([(b"Upgrade", b"websocket"), (b"Connection", b"upgrade")], True)
    assert text == b"Upgrade: websocket\r\n"  # kept on a 101 only


def test_response_head_rewrites_cookies_and_redirects() -> None:
    text, _ = _response(
        [
            (b"Set-Cookie", b"a=1"),
            (b"Location", b"http://odoo_tenant/web/login"),
            (b"Refresh", b"0; url=http://odoo_tenant/web"),
            (b"Location", b"HTTP://ODOO_TENANT/x"),  # nginx matches the prefix by case
        ]
    )
    assert text == (
        b"Set-Cookie: a=1; Secure\r\nLocation: http://h.example:8080/web/login\r\n"
        b"Refresh: 0; url=/web\r\nLocation: HTTP://ODOO_TENANT/x\r\n"
    )


def test_redirect_rule_relative_ignores_case() -> None:
    rule = RedirectRule("http://odoo-tenant:8069/", nginx=False)
    assert rule.location(b"HTTP://Odoo-Tenant:8069/web?x", _Origin()) == b"/web?x"
    assert rule.location(b"http://elsewhere/web", _Origin()) == b"http://elsewhere/web"
    assert rule.refresh(b"5;URL=http://odoo-tenant:8069/a") == b"5;URL=/a"
    assert rule.refresh(b"5") == b"5"


def test_status_line_keeps_the_upstream_reason() -> None:
    assert resp.status_line(200, b"OK") == b"HTTP/1.1 200 OK\r\n"
    assert resp.status_line(200, b"Fine") == b"HTTP/1.1 200 Fine\r\n"
    assert resp.status_line(418, b"") == b"HTTP/1.1 418 \r\n"


@pytest.mark.parametrize(
    "value", [b"0", b"7", b"1024", b"000123", b"9" * 18, b"9" * 19, b"123456789012345678901"]
)
def test_content_length_digits_read_as_int_reads_them(value: bytes) -> None:
    length = resp.response_head([b"Content-Length", value], False, None, False, [])
    assert length == int(value)


@pytest.mark.parametrize("value", [b"", b"12a", b"-1", b"+1", b"1_0", b" 12 ", b"\xff"])
def test_content_length_not_all_digits_is_read_as_int_reads_it(value: bytes) -> None:
    try:
        expected: int | type[ValueError] = int(value)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError):
            resp.response_head([b"Content-Length", value], False, None, False, [])
    else:
        assert resp.response_head([b"Content-Length", value], False, None, False, []) == expected
