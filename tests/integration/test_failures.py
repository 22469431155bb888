"""Failure edges through a real router: 502, 504, abort after the head, client gone, and
keep-alive reuse only after a complete exchange."""

from __future__ import annotations

import asyncio
import time

import pytest

from .client import ConnectionCut, build, connect, exchange, get, new_tag
from .procnet import open_between
from .router import RouterProcess
from .upstreams import Farm, Journal

NAMED = "testodoo.seisei.tokyo"


async def test_connect_refused_is_502(compat: RouterProcess) -> None:
    for method, body in (("GET", b""), ("POST", b"{}")):
        start = time.monotonic()
        resp = await exchange(compat.port, method, "/jsonrpc", [("Host", "dead.test")], body)
        assert resp.status == 502
        assert b"502 Bad Gateway" in resp.body
        assert time.monotonic() - start < 3


async def test_no_answer_within_read_timeout_is_504(
    compat: RouterProcess, journal: Journal
) -> None:
    tag = new_tag()
    start = time.monotonic()
    extra = [("X-Test-Behave", "never"), ("X-Test-Tag", tag)]
    resp = await get(compat.port, "timeouts.test", "/web/x", extra)
    took = time.monotonic() - start
    assert resp.status == 504
    assert 0.7 <= took < 4, took  # the exact lower bound is test_504_never_before_the_timeout
    rec = await journal.record(tag)
    assert rec.values("X-Odoo-dbfilter") == ["ten_timeouts"]
    assert await journal.wait_for(lambda: journal.is_closed(rec.conn_id), 3), (
        "an upstream connection that timed out is closed, never reused"
    )


async def test_504_never_before_the_timeout(compat: RouterProcess) -> None:
    """A 1 s read timeout must not answer 504 before 1 s (BUGS.md #2). Tries start at
    different offsets within the router's 0.25 s timer tick."""
    early = []
    for i in range(4):
        await asyncio.sleep(0.07 * i)
        start = time.monotonic()
        resp = await get(compat.port, "timeouts.test", "/web/x", [("X-Test-Behave", "never")])
        took = time.monotonic() - start
        assert resp.status == 504
        if took < 0.99:
            early.append(round(took, 3))
    assert not early, f"504 after {early} s with read_timeout 1s"


async def test_answer_within_read_timeout_passes(compat: RouterProcess) -> None:
    resp = await get(compat.port, "timeouts.test", "/web/x", [("X-Test-Behave", "delay:0.3")])
    assert resp.status == 200


async def test_abort_after_head_cuts_the_client(compat: RouterProcess, journal: Journal) -> None:
    tag = new_tag()
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("X-Test-Behave", "abort-after-head"), ("X-Test-Tag", tag)]
        await conn.send(build("GET", "/web/x", head))
        data = await conn.rest(timeout=5)
    finally:
        await conn.close()
    assert data.startswith(b"HTTP/1.1 200 "), data[:100]
    assert data.count(b"HTTP/1.1 ") == 1, "never a second response after the head"
    head_end = data.index(b"\r\n\r\n") + 4
    assert len(data) - head_end < 100000, "the body was cut short, the client can tell"
    assert b"Content-Length: 100000" in data[:head_end]


async def test_abort_after_head_on_a_keep_alive_connection(compat: RouterProcess) -> None:
    """A pipelined request behind the aborted one is never answered on that connection."""
    conn = await connect(compat.port)
    try:
        await conn.send(
            build("GET", "/web/x", [("Host", NAMED), ("X-Test-Behave", "abort-after-head")])
            + build("GET", "/web/y", [("Host", NAMED)])
        )
        data = await conn.rest(timeout=5)
    finally:
        await conn.close()
    assert data.count(b"HTTP/1.1 ") == 1


async def test_pipelined_request_gets_its_own_read_timeout(compat: RouterProcess) -> None:
    """Each request's upstream read timeout runs from when it goes upstream, not from when
    the client's bytes were read: the second of two pipelined requests (0.7 s each, read
    timeout 1 s) is sent upstream 0.7 s after it was read, and must still get its 200."""
    conn = await connect(compat.port)
    try:
        head = [("Host", "timeouts.test"), ("X-Test-Behave", "delay:0.7")]
        await conn.send(build("GET", "/web/x", head) + build("GET", "/web/y", head))
        first = await conn.response()
        second = await conn.response()
    finally:
        await conn.close()
    assert (first.status, second.status) == (200, 200)


async def test_router_serves_normally_after_failures(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/after-failures")
    assert resp.status == 200
    assert compat.alive()


async def test_client_gone_before_the_head_closes_the_upstream_connection(
    compat: RouterProcess, journal: Journal
) -> None:
    tag = new_tag()
    conn = await connect(compat.port)
    await conn.send(
        build("GET", "/web/x", [("Host", NAMED), ("X-Test-Behave", "never"), ("X-Test-Tag", tag)])
    )
    rec = await journal.record(tag)
    await conn.close()
    assert await journal.wait_for(lambda: journal.is_closed(rec.conn_id), 3), (
        "the upstream connection of a cancelled exchange must be closed"
    )
    resp = await get(compat.port, NAMED, "/web/next")
    assert resp.status == 200
    assert resp.json()["conn_id"] != rec.conn_id


async def test_client_gone_mid_body_closes_the_upstream_connection(
    compat: RouterProcess, journal: Journal
) -> None:
    tag = new_tag()
    conn = await connect(compat.port)
    try:
        await conn.send(
            build(
                "GET",
                "/web/x",
                [("Host", NAMED), ("X-Test-Behave", "slow-body"), ("X-Test-Tag", tag)],
            )
        )
        line = await asyncio.wait_for(conn.reader.readuntil(b"\r\n"), 5)
        assert line.startswith(b"HTTP/1.1 200")
    finally:
        await conn.close()
    rec = await journal.record(tag)
    assert await journal.wait_for(lambda: journal.is_closed(rec.conn_id), 3)


async def test_client_gone_during_upload_never_reaches_the_upstream(
    compat: RouterProcess, journal: Journal
) -> None:
    tag = new_tag()
    conn = await connect(compat.port)
    head = [("Host", NAMED), ("X-Test-Tag", tag), ("Content-Length", "100000")]
    await conn.send(build("POST", "/web/upload", head) + b"x" * 1000)
    await asyncio.sleep(0.2)
    await conn.close()
    await asyncio.sleep(0.3)
    assert journal.by_tag(tag) == [], "request bodies are buffered whole before the upstream"
    assert compat.alive()


async def test_complete_exchange_reuses_the_upstream_connection(compat: RouterProcess) -> None:
    first = await get(compat.port, "admin.erp.seisei.tokyo", "/web/one")
    second = await get(compat.port, "admin.erp.seisei.tokyo", "/web/two")
    assert first.upstream() == second.upstream() == "admin"
    assert first.json()["conn_id"] == second.json()["conn_id"], "keepalive: idle connection reused"
    assert second.json()["seq"] == first.json()["seq"] + 1


async def test_cut_response_is_not_reused(compat: RouterProcess, journal: Journal) -> None:
    tag = new_tag()
    extra = [("X-Test-Behave", "abort-after-head"), ("X-Test-Tag", tag)]
    with pytest.raises(ConnectionCut):
        await get(compat.port, "admin.erp.seisei.tokyo", "/web/cut", extra)
    rec = await journal.record(tag)
    after = await get(compat.port, "admin.erp.seisei.tokyo", "/web/after")
    assert after.json()["conn_id"] != rec.conn_id


async def test_no_traceback_in_the_router_log(compat: RouterProcess) -> None:
    assert "Traceback" not in compat.log()
    assert "internal error" not in compat.log()


async def test_keepalive_keeps_at_most_n_idle_connections(
    compat: RouterProcess, journal: Journal
) -> None:
    """nginx ``keepalive 4`` on the admin pool: not a concurrency cap (8 requests at once
    get 8 connections), but at most 4 stay idle afterwards."""
    extra = [("X-Test-Behave", "delay:0.3")]
    answers = await asyncio.gather(
        *(get(compat.port, "admin.erp.seisei.tokyo", f"/web/k{i}", extra) for i in range(8))
    )
    conn_ids = {a.json()["conn_id"] for a in answers}
    assert len(conn_ids) == 8, "keepalive is no cap on concurrent connections"

    def idle_left() -> int:
        return sum(1 for c in conn_ids if not journal.is_closed(c))

    assert await journal.wait_for(lambda: idle_left() <= 4, 3), idle_left()
    assert idle_left() >= 1, "some connections are kept for reuse"


async def test_upstream_that_stops_reading_the_body_is_504(
    compat: RouterProcess, journal: Journal, farm: Farm
) -> None:
    """send_timeout / read_timeout 1 s: a 20 MiB body the upstream stops reading ends in 504
    soon, and that upstream connection is closed."""
    tag = new_tag()
    body = b"b" * (20 * 1024 * 1024)
    head = [("Host", "timeouts.test"), ("X-Test-Behave", "stall"), ("X-Test-Tag", tag)]
    start = time.monotonic()
    resp = await exchange(compat.port, "POST", "/web/upload", head, body, timeout=10)
    assert resp.status == 504
    assert time.monotonic() - start < 5
    port = journal.peers[journal.heads[tag]]  # the body never completes: no record
    upstream = farm.ports["tenant"]
    assert await journal.wait_for(lambda: not open_between(port, upstream), 3), (
        f"the router still holds its upstream socket: {open_between(port, upstream)}"
    )


async def test_slow_uploader_times_out_before_reaching_the_upstream(
    compat: RouterProcess, journal: Journal
) -> None:
    """client_body_timeout 2 s in the test compat config: a body that stops coming ends the
    connection without an answer, as nginx does (checked by hand against nginx 1.22: a
    FIN and no byte), and the upstream never sees any of it."""
    tag = new_tag()
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("X-Test-Tag", tag), ("Content-Length", "1000")]
        await conn.send(build("POST", "/web/upload", head) + b"x" * 100)
        start = time.monotonic()
        data = await conn.rest(timeout=6)
        assert 1.5 < time.monotonic() - start < 5
        assert data == b"", data[:100]
    finally:
        await conn.close()
    assert journal.by_tag(tag) == []


async def test_half_sent_head_is_closed_after_the_header_timeout(compat: RouterProcess) -> None:
    conn = await connect(compat.port)
    try:
        await conn.send(b"GET /web/x HTTP/1.1\r\nHost: " + NAMED.encode() + b"\r\n")
        start = time.monotonic()
        data = await conn.rest(timeout=6)
        assert 1.5 < time.monotonic() - start < 5
        assert not data.startswith(b"HTTP/1.1 2"), data[:100]
    finally:
        await conn.close()
