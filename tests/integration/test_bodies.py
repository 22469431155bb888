"""Request and response bodies through a real router: framing both ways, limits, 100-continue,
pipelining, HEAD/204/304, chunked and close-delimited responses."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os

import pytest

from .client import ConnectionCut, Response, build, connect, exchange, get, new_tag
from .router import RouterProcess
from .upstreams import Journal

NAMED = "testodoo.seisei.tokyo"
MiB = 1024 * 1024
LIMIT = 50 * MiB


async def test_declared_body_over_limit_is_413_before_any_byte(
    compat: RouterProcess, journal: Journal
) -> None:
    tag = new_tag()
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("X-Test-Tag", tag), ("Content-Length", str(LIMIT + 1))]
        await conn.send(build("POST", "/web/binary/upload", head))
        resp = await conn.response()
        assert resp.status == 413
        assert await conn.at_eof()
    finally:
        await conn.close()
    assert journal.by_tag(tag) == []


async def test_declared_body_at_limit_is_accepted(compat: RouterProcess) -> None:
    # Only the head: the router must not answer 413 for exactly 50 MiB (it waits for the body).
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("Content-Length", str(LIMIT)), ("Expect", "100-continue")]
        await conn.send(build("POST", "/web/x", head))
        resp = await conn.response()
        assert resp.status == 100
    finally:
        await conn.close()


async def test_chunked_body_over_limit_is_413(compat: RouterProcess, journal: Journal) -> None:
    tag = new_tag()
    conn = await connect(compat.port)
    head = [("Host", NAMED), ("X-Test-Tag", tag), ("Transfer-Encoding", "chunked")]
    chunk = b"%x\r\n%b\r\n" % (MiB, b"z" * MiB)

    async def upload() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await conn.send(build("POST", "/web/x", head))
            for _ in range(LIMIT // MiB + 2):
                await conn.send(chunk)

    sender = asyncio.create_task(upload())
    try:
        resp = await conn.response(timeout=20)
        assert resp.status == 413
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await conn.close()
    assert journal.by_tag(tag) == []


async def test_chunked_request_body_is_forwarded_whole(compat: RouterProcess) -> None:
    parts = [os.urandom(n) for n in (1, 1000, 70000, 5)]
    body = b"".join(b"%x;ext=1\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    head = [("Host", NAMED), ("Transfer-Encoding", "chunked")]
    resp = await exchange(compat.port, "POST", "/web/x", head, body, length=False)
    assert resp.status == 200
    seen = resp.json()
    whole = b"".join(parts)
    assert seen["body_length"] == len(whole)
    assert seen["body_sha256"] == hashlib.sha256(whole).hexdigest()
    assert resp.seen("Transfer-Encoding") == [], "buffered: sent with a Content-Length"
    assert resp.seen("Content-Length") == [str(len(whole))]


@pytest.mark.parametrize("size", [0, 1, 65536, 3 * MiB])
async def test_content_length_body_is_forwarded(compat: RouterProcess, size: int) -> None:
    body = os.urandom(size)
    resp = await exchange(compat.port, "POST", "/web/x", [("Host", NAMED)], body)
    assert resp.status == 200
    seen = resp.json()
    assert seen["body_length"] == size
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_expect_100_continue(compat: RouterProcess) -> None:
    body = os.urandom(2000)
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("Content-Length", str(len(body))), ("Expect", "100-continue")]
        await conn.send(build("POST", "/web/x", head))
        interim = await conn.response()
        assert interim.status == 100
        await conn.send(body)
        resp = await conn.response()
        assert resp.status == 200
        assert resp.json()["body_length"] == len(body)
        assert resp.seen("Expect") == [], "the router answered the expectation itself"
    finally:
        await conn.close()


async def test_expect_100_continue_over_limit_gets_413_not_100(compat: RouterProcess) -> None:
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("Content-Length", str(LIMIT + 1)), ("Expect", "100-continue")]
        await conn.send(build("POST", "/web/x", head))
        resp = await conn.response()
        assert resp.status == 413
    finally:
        await conn.close()


async def test_pipelined_requests_answered_in_order(compat: RouterProcess) -> None:
    tags = [new_tag() for _ in range(3)]
    data = (
        build("GET", "/web/one", [("Host", NAMED), ("X-Test-Tag", tags[0])])
        + build("POST", "/web/two", [("Host", NAMED), ("X-Test-Tag", tags[1])], b"payload")
        + build("GET", "/web/three", [("Host", "admin.erp.seisei.tokyo"), ("X-Test-Tag", tags[2])])
    )
    conn = await connect(compat.port)
    try:
        await conn.send(data)
        got = [await conn.response() for _ in range(3)]
    finally:
        await conn.close()
    assert [r.status for r in got] == [200, 200, 200]
    assert [r.json()["target"] for r in got] == ["/web/one", "/web/two", "/web/three"]
    assert [r.seen("X-Test-Tag") for r in got] == [[t] for t in tags]
    assert [r.upstream() for r in got] == ["tenant", "tenant", "admin"]
    assert got[1].json()["body_length"] == len(b"payload")


async def test_pipelined_with_local_answers_in_between(compat: RouterProcess) -> None:
    data = (
        build("GET", "/web/a", [("Host", NAMED)])
        + build("GET", "/nginx-health", [("Host", NAMED)])
        + build("GET", "/web/database/x", [("Host", NAMED)])
        + build("GET", "/web/b", [("Host", NAMED)])
    )
    conn = await connect(compat.port)
    try:
        await conn.send(data)
        got = [await conn.response() for _ in range(4)]
    finally:
        await conn.close()
    assert [r.status for r in got] == [200, 200, 403, 200]
    assert got[0].json()["target"] == "/web/a"
    assert got[3].json()["target"] == "/web/b"


async def _two_on_one_connection(port: int, first: bytes, method: str) -> tuple[Response, Response]:
    conn = await connect(port)
    try:
        await conn.send(first)
        a = await conn.response(method)
        await conn.send(build("GET", "/web/after", [("Host", NAMED)]))
        b = await conn.response()
    finally:
        await conn.close()
    return a, b


async def test_head_has_no_body_and_keeps_framing(compat: RouterProcess) -> None:
    first = build("HEAD", "/web/x", [("Host", NAMED)])
    a, b = await _two_on_one_connection(compat.port, first, "HEAD")
    assert a.status == 200 and a.body == b""
    assert int(a.header("Content-Length") or 0) > 0
    assert b.status == 200 and b.json()["target"] == "/web/after"


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses_keep_framing(compat: RouterProcess, status: int) -> None:
    first = build("GET", "/web/x", [("Host", NAMED), ("X-Test-Behave", f"status:{status}")])
    a, b = await _two_on_one_connection(compat.port, first, "GET")
    assert a.status == status
    assert a.header("Transfer-Encoding") is None
    assert b.status == 200 and b.json()["target"] == "/web/after"


async def test_head_on_local_answer_has_no_body(compat: RouterProcess) -> None:
    resp = await exchange(compat.port, "HEAD", "/web/database/x", [("Host", NAMED)])
    assert resp.status == 403
    assert resp.body == b""


async def test_chunked_response_relayed(compat: RouterProcess) -> None:
    extra = [("Host", NAMED), ("X-Test-Behave", "chunked")]
    a, b = await _two_on_one_connection(compat.port, build("GET", "/web/c", extra), "GET")
    assert a.status == 200
    assert "chunked" in (a.header("Transfer-Encoding") or "")
    assert a.json()["target"] == "/web/c"
    assert b.status == 200


async def test_close_delimited_response_relayed(compat: RouterProcess) -> None:
    extra = [("Host", NAMED), ("X-Test-Behave", "close-delimited")]
    resp = await exchange(compat.port, "GET", "/web/cd", extra)
    assert resp.status == 200
    assert resp.json()["target"] == "/web/cd"


async def test_http10_client_gets_a_close_delimited_or_sized_body(compat: RouterProcess) -> None:
    extra = [("Host", NAMED), ("X-Test-Behave", "chunked")]
    resp = await exchange(compat.port, "GET", "/web/c10", extra, version="HTTP/1.0")
    assert resp.status == 200
    assert resp.header("Transfer-Encoding") is None, "no chunked coding to an HTTP/1.0 client"
    assert resp.json()["target"] == "/web/c10"


async def test_slow_body_relayed(compat: RouterProcess) -> None:
    extra = [("Host", NAMED), ("X-Test-Behave", "slow-body")]
    resp = await exchange(compat.port, "GET", "/web/slow", extra)
    assert resp.status == 200
    assert resp.json()["target"] == "/web/slow"


async def test_large_response_relayed(compat: RouterProcess) -> None:
    size = 8 * MiB
    extra = [("Host", NAMED), ("X-Test-Behave", f"size:{size}")]
    resp = await exchange(compat.port, "GET", "/web/big", extra, timeout=20)
    assert resp.status == 200
    assert len(resp.body) == size


async def test_local_answer_with_an_oversized_chunked_body_is_answered_once(
    compat: RouterProcess,
) -> None:
    """A local answer (403) goes out at once while the body is discarded; once that body
    passes the limit there must not be a second response (413) for the same request."""
    conn = await connect(compat.port)
    head = [("Host", NAMED), ("Transfer-Encoding", "chunked")]
    chunk = b"%x\r\n%b\r\n" % (MiB, b"z" * MiB)

    async def upload() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await conn.send(build("POST", "/web/database/restore", head))
            for _ in range(LIMIT // MiB + 3):
                await conn.send(chunk)
            await conn.send(b"0\r\n\r\n")

    sender = asyncio.create_task(upload())
    try:
        data = await conn.rest(timeout=15)
    except TimeoutError:
        data = b"(still open)"
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await conn.close()
    assert data.startswith(b"HTTP/1.1 403 "), data[:100]
    assert data.count(b"HTTP/1.1 ") == 1, data[:600]


# --------------------------------------------------------------------------- streaming routes
# The production profile streams request bodies on the websocket/longpolling routes
# (request_buffering: false): the body goes upstream as it arrives.


async def test_streamed_content_length_body(prod: RouterProcess) -> None:
    body = os.urandom(300_000)
    resp = await exchange(prod.port, "POST", "/longpolling/poll", [("Host", NAMED)], body)
    assert resp.status == 200
    assert resp.upstream() == "tenant_lp"
    assert resp.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_streamed_slow_chunked_body(prod: RouterProcess) -> None:
    conn = await connect(prod.port)
    try:
        head = [("Host", NAMED), ("Transfer-Encoding", "chunked")]
        await conn.send(build("POST", "/longpolling/poll", head))
        for _ in range(3):
            await conn.send(b"5\r\nhello\r\n")
            await asyncio.sleep(0.1)
        await conn.send(b"0\r\n\r\n")
        resp = await conn.response()
    finally:
        await conn.close()
    assert resp.status == 200
    assert resp.json()["body_length"] == 15
    assert resp.json()["body_sha256"] == hashlib.sha256(b"hello" * 3).hexdigest()


async def test_expect_100_continue_on_a_streaming_route(prod: RouterProcess) -> None:
    conn = await connect(prod.port)
    try:
        head = [("Host", NAMED), ("Content-Length", "10"), ("Expect", "100-continue")]
        await conn.send(build("POST", "/longpolling/poll", head))
        interim = await conn.response(timeout=3)
        assert interim.status == 100, "the client waits for 100 Continue before its body"
        await conn.send(b"0123456789")
        resp = await conn.response()
        assert resp.status == 200
        assert resp.json()["body_length"] == 10
    finally:
        await conn.close()


async def test_early_answer_on_a_streaming_route_does_not_leak_the_connection(
    prod: RouterProcess, journal: Journal
) -> None:
    """The upstream answers before a streamed body is complete. Its connection still owes
    the rest of that body: it must not go back to the pool for another client's request,
    and the rest of the body must never be read by the upstream as a request of its own."""
    a_tag, b_tag, smuggled_tag = new_tag(), new_tag(), new_tag()
    a = await connect(prod.port)
    try:
        head = [
            ("Host", NAMED),
            ("Content-Length", "1000"),
            ("X-Test-Behave", "early-answer"),
            ("X-Test-Tag", a_tag),
        ]
        await a.send(build("POST", "/longpolling/poll", head) + b"0123456789")
        early = await a.response()
        assert early.status == 200 and early.body == b"early"
        await asyncio.sleep(0.1)
        b = await asyncio.wait_for(
            exchange(prod.port, "GET", "/longpolling/b", [("Host", NAMED), ("X-Test-Tag", b_tag)]),
            4,
        )
        assert b.status == 200
        assert b.seen("X-Test-Tag") == [b_tag]
        smuggled = f"GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Test-Tag: {smuggled_tag}\r\n\r\n"
        await a.send(smuggled.encode().ljust(990, b"x"))
        await asyncio.sleep(0.3)
    finally:
        await a.close()
    assert journal.by_tag(smuggled_tag) == []


async def test_early_answer_to_a_large_buffered_upload_does_not_leak_the_connection(
    compat: RouterProcess,
) -> None:
    """Same as above on a buffered route: a body over request_buffer_memory (1 MiB) is sent
    from the spill file in parts; an early answer stops that loop half way."""
    host = "admin.erp.seisei.tokyo"
    body = os.urandom(20 * MiB)
    head = [("Host", host), ("X-Test-Behave", "early-answer")]
    first = await exchange(compat.port, "POST", "/web/upload", head, body)
    assert first.status == 200 and first.body == b"early"
    await asyncio.sleep(1.5)  # the upstream reads again after 1 s: the router's send ends
    for i in range(2):  # the next requests on the admin pool get well-framed connections
        resp = await asyncio.wait_for(get(compat.port, host, f"/web/after{i}"), 4)
        assert resp.status == 200
        assert resp.json()["target"] == f"/web/after{i}"


async def _streamed_upload(port: int, chunked: bool, parts: list[bytes]) -> str:
    """Head first, then the parts back to back; 'ok' when the upstream got the body whole."""
    size = sum(len(p) for p in parts)
    framing = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length", str(size))]
    conn = await connect(port)
    try:
        head = build("POST", "/upload", [("Host", "stream.test"), *framing])
        first, *rest = parts  # the head and a first part in one write: both in one read
        await conn.send(head + (b"%x\r\n%b\r\n" % (len(first), first) if chunked else first))
        await asyncio.sleep(0.2)  # the upstream connection is ready before the rest comes
        for part in rest:
            await conn.send(b"%x\r\n%b\r\n" % (len(part), part) if chunked else part)
        if chunked:
            await conn.send(b"0\r\n\r\n")
        resp = await conn.response(timeout=3)
    except (TimeoutError, ConnectionError) as exc:
        return f"no answer ({type(exc).__name__})"
    finally:
        await conn.close()
    if resp.status != 200:
        return f"status {resp.status}"
    seen = resp.json()
    if seen["body_sha256"] != hashlib.sha256(b"".join(parts)).hexdigest():
        return f"body changed: {seen['body_length']} of {size} bytes"
    return "ok"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_streamed_body_while_the_upstream_connects(
    compat: RouterProcess, chunked: bool
) -> None:
    """More than request_buffer_memory (64k in the test compat config) can arrive while a
    streaming route waits for its upstream connection; that part must still go upstream,
    framed as announced, and the rest must follow (BUGS.md #7)."""
    for attempt in range(3):
        parts = [os.urandom(MiB) for _ in range(5)]
        got = await _streamed_upload(compat.port, chunked, parts)
        assert got == "ok", f"attempt {attempt}: {got}"


async def test_streamed_chunked_body_over_the_limit(prod: RouterProcess, journal: Journal) -> None:
    """Past 50 MiB on a streaming route: 413 (nginx) or at least the connection closed, and
    the upstream connection that got the first 50 MiB is closed, not left waiting."""
    tag = new_tag()
    conn = await connect(prod.port)
    head = [("Host", NAMED), ("Transfer-Encoding", "chunked"), ("X-Test-Tag", tag)]
    piece = b"z" * (256 * 1024)
    chunk = b"%x\r\n%b\r\n" % (len(piece), piece)

    async def upload() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await conn.send(build("POST", "/longpolling/poll", head))
            await asyncio.sleep(0.1)  # the streaming exchange is set up before the body
            for _ in range(LIMIT // len(piece) + 8):
                await conn.send(chunk)

    sender = asyncio.create_task(upload())
    try:
        try:
            resp = await conn.response(timeout=6)
            assert resp.status == 413
        except ConnectionCut:
            pass  # closed without an answer: acceptable once the head went upstream
        except TimeoutError:
            pytest.fail("no answer and no close within 6 s")
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await conn.close()
    rec_conns = [cid for cid, pool in journal.opened.items() if pool == "tenant_lp"]
    assert rec_conns
    assert await journal.wait_for(lambda: journal.is_closed(max(rec_conns)), 3), (
        "the upstream connection of the refused body is closed"
    )


@pytest.mark.parametrize(
    ("behave", "version"),
    [
        ("size:31457280", "HTTP/1.1"),
        ("size:31457280", "HTTP/1.0"),
        ("chunked:31457280", "HTTP/1.1"),
        ("chunked:31457280", "HTTP/1.0"),
    ],
)
async def test_large_response_to_a_client_that_reads_late(
    compat: RouterProcess, behave: str, version: str
) -> None:
    """30 MiB, more than the read-ahead buffer: the router holds it (memory, then spool
    file) while the client does not read, and the client then gets every byte, framed."""
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("X-Test-Behave", behave)]
        await conn.send(build("GET", "/web/big", head, version=version))
        await asyncio.sleep(0.5)
        resp = await conn.response(timeout=30)
    finally:
        await conn.close()
    assert resp.status == 200
    assert len(resp.body) == 31457280
    assert set(resp.body[:1000]) <= {ord("x"), ord("y")}
    if version == "HTTP/1.0":
        assert resp.header("Transfer-Encoding") is None
