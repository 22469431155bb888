"""Odd but legal (and some illegal) upstream answers, written byte for byte by the raw
upstreams (raw_upstreams.py) when a target holds ``raw=NAME``.

Each script gets the upstream's side of the connection; the pool's upstream name as nginx
knows it (``odoo_tenant`` ...) is in ``UPSTREAM_NAME``, for Location headers that name it.
"""

from __future__ import annotations

import asyncio

from .raw_upstreams import Script, Writer, plain

UPSTREAM_NAME = {
    "tenant": "odoo_tenant",
    "tenant_lp": "odoo_tenant_lp",
    "admin": "odoo_admin",
    "admin_lp": "odoo_admin_lp",
}
# A complete answer no request asked for: whoever receives it was served another's bytes.
FORGED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nforged\n"


def _fixed(data: bytes, *, close: bool = False, later: bytes = b"") -> Script:
    async def script(w: Writer) -> None:
        w.write(data)
        if later:
            await asyncio.sleep(0.1)
            w.write(later)
        if close:
            w.close()

    return script


def _head(status: str, *lines: str, body: bytes = b"", length: bool = True) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: text/plain", *lines]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _location(value: str, header: str = "Location") -> Script:
    async def script(w: Writer) -> None:
        name = UPSTREAM_NAME[w.pool]
        text = value.replace("{up}", name).replace("{UP}", name.upper())
        w.write(_head("302 Found", f"{header}: {text}", body=b"moved\n"))

    return script


def _big_head(size: int) -> Script:
    cookie = "big=" + "c" * size + "; Path=/"
    return _fixed(_head("200 OK", f"Set-Cookie: {cookie}", body=b"big head\n"))


_CHUNKED = "Transfer-Encoding: chunked"
_OK = b"hello\n"

SCRIPTS: dict[str, Script] = {
    # 1xx before the final answer
    "interim-100": _fixed(b"HTTP/1.1 100 Continue\r\n\r\n" + _head("200 OK", body=_OK)),
    "interim-102": _fixed(b"HTTP/1.1 102 Processing\r\n\r\n" + _head("200 OK", body=_OK)),
    "early-hints": _fixed(
        b"HTTP/1.1 103 Early Hints\r\nLink: </web/static/x.css>; rel=preload\r\n\r\n"
        + _head("200 OK", body=_OK)
    ),
    # the upstream ends a keep-alive connection with this answer
    "close-mid": _fixed(_head("200 OK", "Connection: close", body=_OK), close=True),
    # bodies longer or shorter than declared
    "longer": _fixed(_head("200 OK", "Content-Length: 3", body=_OK, length=False)),
    "shorter": _fixed(_head("200 OK", "Content-Length: 40", body=_OK, length=False), close=True),
    "close-after-head": _fixed(_head("200 OK", "Content-Length: 100", length=False), close=True),
    # chunked: trailers, extensions, both framings at once
    "trailers": _fixed(
        _head("200 OK", _CHUNKED, "Trailer: X-Checksum", length=False)
        + b"6\r\nhello\n\r\n0\r\nX-Checksum: abc\r\n\r\n"
    ),
    "chunk-ext": _fixed(
        _head("200 OK", _CHUNKED, length=False) + b"6;name=value\r\nhello\n\r\n0;last\r\n\r\n"
    ),
    "cl-and-te": _fixed(
        _head("200 OK", "Content-Length: 3", _CHUNKED, length=False) + b"6\r\nhello\n\r\n0\r\n\r\n"
    ),
    # bodies where none may be
    "head-body": _fixed(_head("200 OK", body=_OK)),
    "204-body": _fixed(_head("204 No Content", body=_OK)),
    "304-body": _fixed(_head("304 Not Modified", 'ETag: "v1"', body=_OK)),
    "204-length": _fixed(_head("204 No Content", "Content-Length: 6", length=False)),
    "304-length": _fixed(
        _head("304 Not Modified", 'ETag: "v1"', "Content-Length: 6", length=False)
    ),
    # status lines without a reason phrase, or with one of the upstream's own
    "no-reason": _fixed(
        b"HTTP/1.1 200\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"
    ),
    "no-reason-space": _fixed(_head("200 ", body=_OK)),
    "own-reason": _fixed(_head("200 Fine Thanks", body=_OK)),
    "no-reason-404": _fixed(_head("404", body=_OK)),
    # status lines that are not
    "bad-status-code": _fixed(_head("2000 Odd", body=_OK)),
    "bad-status-line": _fixed(b"HTTP/1.1 OK\r\nContent-Length: 6\r\n\r\nhello\n"),
    # Location and Refresh naming the upstream (nginx's proxy_redirect default)
    "loc-upstream": _location("http://{up}/web/login?redirect=%2Fodoo"),
    "loc-upstream-bare": _location("http://{up}"),
    "loc-upstream-port": _location("http://{up}:8069/web"),
    "loc-upstream-upper": _location("HTTP://{UP}/web"),
    "loc-upstream-host-upper": _location("http://{UP}/web"),
    "loc-other-host": _location("http://other.example/web"),
    "loc-https-upstream": _location("https://{up}/web"),
    "loc-relative": _location("/web/login"),
    "loc-relative-path": _location("web/login"),
    "refresh-upstream": _location("0; url=http://{up}/web", header="Refresh"),
    "refresh-other": _location("5; url=http://other.example/web", header="Refresh"),
    # large heads (nginx's proxy_buffer_size: 4k, 128k in the catch-all location)
    "head-6k": _big_head(6000),
    "head-100k": _big_head(100_000),
    "head-200k": _big_head(200_000),
}

# Unasked bytes: an answer, then a second one nobody asked for, with it or 0.1 s later.
for _name, _first in {
    "cl": _head("200 OK", body=_OK),
    "chunked": _head("200 OK", _CHUNKED, length=False) + b"6\r\nhello\n\r\n0\r\n\r\n",
    "204": _head("204 No Content", length=False),
    "304": _head("304 Not Modified", 'ETag: "v1"', length=False),
}.items():
    SCRIPTS[f"unasked-{_name}-with"] = _fixed(_first + FORGED)
    SCRIPTS[f"unasked-{_name}-later"] = _fixed(_first, later=FORGED)

__all__ = ["FORGED", "SCRIPTS", "UPSTREAM_NAME", "plain"]
