"""framing.line_hint reads a request line's method and version without asking the parser
(the parser's getters allocate; get_http_version() formats a string). Wherever it names a
method, llhttp -- with the router's leniencies -- must either refuse the line or parse that
method and HTTP/1.1: checked on odd lines and on random ones built from the bytes that
matter in a request line."""

from __future__ import annotations

import random

import httptools
import pytest

from odoo_router.datapath.framing import line_hint

ODD = [
    b"GET / HTTP/1.1", b"GET HTTP/1.1", b"GET  HTTP/1.1", b"GET   / HTTP/1.1",
    b"GET /  HTTP/1.1", b"GET / HTTP/1.1 HTTP/1.1", b"GET / x HTTP/1.1", b"GET /a\tb HTTP/1.1",
    b"GET http://x HTTP/1.1", b"GET * HTTP/1.1", b"GET \x00 HTTP/1.1", b"GET /\rHTTP/1.1",
    b"HEAD HTTP/1.1", b"POST / HTTP/1.1", b"GETX / HTTP/1.1", b"get / HTTP/1.1",
    b"GET / HTTP/1.10", b"GET / HTTP/11.1", b"GET / http/1.1", b"GET / HTTP/1.1 ",
    b"GET\t/ HTTP/1.1", b" GET / HTTP/1.1", b"GET /HTTP/1.1", b"POST HTTP/1.1",
]  # fmt: skip


class _Seen:
    def __init__(self) -> None:
        self.parser: httptools.HttpRequestParser | None = None
        self.got: tuple[bytes, str] | None = None

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.got = (self.parser.get_method(), self.parser.get_http_version())


def _llhttp(line: bytes) -> tuple[bytes, str] | None:
    """(method, version) as the router's parser reads the line; None if it refuses it."""
    seen = _Seen()
    parser = seen.parser = httptools.HttpRequestParser(seen)
    parser.set_dangerous_leniencies(lenient_version=True)  # as RequestFraming
    try:
        parser.feed_data(line + b"\r\nHost: a\r\n\r\n")
    except httptools.HttpParserError:
        return None
    return seen.got


def _check(line: bytes) -> None:
    data = line + b"\r\nHost: a\r\n\r\n"
    hint = line_hint(data, data.find(b"\n"))
    if hint:
        got = _llhttp(line)
        assert got is None or got == (hint.encode(), "1.1"), (line, hint, got)


@pytest.mark.parametrize("line", ODD)
def test_odd_lines(line: bytes) -> None:
    _check(line)


def test_the_common_lines_are_hinted() -> None:
    for method in ("GET", "POST", "HEAD"):
        data = method.encode() + b" /web/login?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
        assert line_hint(data, data.find(b"\n")) == method
    for line in (b"GET / HTTP/1.0", b"PUT / HTTP/1.1", b"GET / HTTP/1.1"):
        data = line + b"\n"  # no CR: never hinted
        assert line_hint(data, data.find(b"\n")) == ""


def test_random_lines() -> None:
    rng = random.Random(7)
    alphabet = [b" ", b"\t", b"/", b"H", b"T", b"P", b"1", b".", b"\r", b"\x00", b"a", b"?", b"*"]
    for _ in range(5000):
        middle = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        method = rng.choice((b"GET ", b"POST ", b"HEAD ", b"GET", b"PUT "))
        _check(method + middle + b" HTTP/1.1")
