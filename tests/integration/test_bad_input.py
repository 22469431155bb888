"""Malformed requests through a real router: nginx's status, the connection closed where the
framing is in doubt, nothing forwarded, never a 500."""

from __future__ import annotations

import asyncio

import pytest

from .client import connect, new_tag, raw
from .router import RouterProcess
from .upstreams import Journal

H = b"Host: testodoo.seisei.tokyo\r\n"

BAD: dict[str, tuple[bytes, tuple[int, ...]]] = {
    "garbage request line": (b"GARBAGE\r\n\r\n", (400,)),
    "method only": (b"GET\r\n\r\n", (400,)),
    "extra token": (b"GET / HTTP/1.1 extra\r\n" + H + b"\r\n", (400,)),
    "bad version": (b"GET / HTTX/1.1\r\n" + H + b"\r\n", (400,)),
    "target without slash": (b"GET web/x HTTP/1.1\r\n" + H + b"\r\n", (400,)),
    "header without colon": (b"GET / HTTP/1.1\r\n" + H + b"Broken header\r\n\r\n", (400,)),
    "NUL in a header": (b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", (400,)),
    "obs-fold": (b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", (400,)),
    "duplicate host": (b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", (400,)),
    "empty host": (b"GET / HTTP/1.1\r\nHost: \r\n\r\n", (400,)),
    "host with slash": (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", (400,)),
    "oversized header": (
        b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n",
        (400,),
    ),
    "oversized headers in total": (
        b"GET / HTTP/1.1\r\n"
        + H
        + b"".join(b"X-H%d: %b\r\n" % (i, b"b" * 7000) for i in range(6))
        + b"\r\n",
        (400,),
    ),
    "long URI": (b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", (414,)),
    "CL and TE": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        (400,),
    ),
    "TE and CL": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        b"0\r\n\r\n",
        (400,),
    ),
    "conflicting content lengths": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        (400,),
    ),
    "content length list": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!",
        (400,),
    ),
    "negative content length": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
        (400,),
    ),
    "non-numeric content length": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n",
        (400,),
    ),
    "bad chunk size": (
        b"POST /web/x HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        (400,),
    ),
    "chunk data overruns its size": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        b"3\r\nhello\r\n0\r\n\r\n",
        (400,),
    ),
    "chunk size overflow": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        b"fffffffffffffffffff\r\nx\r\n0\r\n\r\n",
        (400, 413),
    ),
    "unknown transfer coding": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nxx",
        (400, 501),
    ),
    "chunked on HTTP/1.0": (
        b"POST /web/x HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        (400,),
    ),
    "chunked not last": (
        b"POST /web/x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        (400, 501),
    ),
    "CONNECT": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", (400, 405)),
    "asterisk target": (b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", (400,)),
    "lower-case method": (b"get / HTTP/1.1\r\n" + H + b"\r\n", (400,)),
    "HTTP/2.0 request line": (b"GET / HTTP/2.0\r\n" + H + b"\r\n", (505,)),
    "HTTP/0.9 request line": (b"GET /\r\n\r\n", (400,)),
    "climb above root": (b"GET /../etc/passwd HTTP/1.1\r\n" + H + b"\r\n", (400,)),
    "bad escape": (b"GET /web/%g0 HTTP/1.1\r\n" + H + b"\r\n", (400,)),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
async def test_bad_request(compat: RouterProcess, journal: Journal, case: str) -> None:
    tag = new_tag()
    data, statuses = BAD[case]
    data = data.replace(H, H + b"X-Test-Tag: " + tag.encode() + b"\r\n", 1)
    got = await raw(compat.port, data)
    assert got, "an answer, not a silent close"
    status = int(got.split(b" ", 2)[1])
    assert status in statuses, got[:200]
    assert got.count(b"HTTP/1.1 ") == 1, "one answer, then the connection is closed"
    assert b"Connection: close" in got.split(b"\r\n\r\n", 1)[0]
    await asyncio.sleep(0.05)
    assert journal.by_tag(tag) == [], "nothing with doubtful framing is forwarded"


async def test_good_then_bad_on_one_connection(compat: RouterProcess) -> None:
    data = (
        b"GET /web/ok HTTP/1.1\r\n" + H + b"\r\n"
        b"POST /web/x HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx"
        b"GET /web/never HTTP/1.1\r\n" + H + b"\r\n"
    )
    got = await raw(compat.port, data)
    assert got.startswith(b"HTTP/1.1 200 ")
    assert got.count(b"HTTP/1.1 ") == 2
    assert b"\r\nHTTP/1.1 400 " in got or b"}\nHTTP/1.1 400 " in got
    assert b"/web/never" not in got


async def test_too_large_header_page(compat: RouterProcess) -> None:
    got = await raw(
        compat.port, b"GET / HTTP/1.1\r\n" + H + b"Cookie: " + b"c" * 9000 + b"\r\n\r\n"
    )
    assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Request Header Or Cookie Too Large" in got


async def test_half_sent_head_gets_no_answer_yet(compat: RouterProcess) -> None:
    """An unfinished head does not hold anything upstream (the router's header timeout is 60 s:
    only check that a half-sent head gets no answer while it is incomplete)."""
    conn = await connect(compat.port)
    try:
        await conn.send(b"GET /web/x HTTP/1.1\r\n" + H)
        assert not await conn.at_eof(timeout=0.3)
    finally:
        await conn.close()


async def test_never_500_and_router_alive(compat: RouterProcess) -> None:
    log = compat.log()
    assert "Traceback" not in log
    assert "internal error" not in log
    assert compat.alive()


@pytest.mark.parametrize(
    "codings",
    [
        b"Transfer-Encoding: identity, chunked\r\n",
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
    ],
    ids=["identity-chunked", "gzip then chunked, two lines", "gzip-chunked"],
)
async def test_transfer_codings_other_than_chunked_are_501(
    compat: RouterProcess, journal: Journal, codings: bytes
) -> None:
    """nginx 1.22 accepts exactly ``chunked`` and answers 501 to any other transfer coding;
    forwarding the decoded body would drop a coding the upstream never hears of (BUGS.md #9)."""
    tag = new_tag()
    got = await raw(
        compat.port,
        b"POST /web/x HTTP/1.1\r\n"
        + H
        + b"X-Test-Tag: "
        + tag.encode()
        + b"\r\n"
        + codings
        + b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    assert got.startswith(b"HTTP/1.1 501 "), got[:100]
    assert journal.by_tag(tag) == []
