"""Edges of the data path: keep-alive and Connection: close, ordering under delay, what the
upstream may send that it should not, early websocket data, idle tunnels."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct

import aiohttp
import pytest

from .client import build, connect, exchange, get, new_tag, raw, websocket_handshake
from .router import RouterProcess
from .upstreams import Journal

NAMED = "testodoo.seisei.tokyo"


async def test_connection_close_is_honoured(compat: RouterProcess) -> None:
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/web/x", [("Host", NAMED), ("Connection", "close")]))
        resp = await conn.response()
        assert resp.status == 200
        assert resp.values("Connection") == ["close"]
        assert await conn.at_eof()
    finally:
        await conn.close()


async def test_http10_keep_alive(compat: RouterProcess) -> None:
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("Connection", "keep-alive")]
        for path in ("/web/a", "/web/b"):
            await conn.send(build("GET", path, head, version="HTTP/1.0"))
            resp = await conn.response()
            assert resp.status == 200
            assert resp.json()["target"] == path
    finally:
        await conn.close()


async def test_http10_without_keep_alive_is_closed(compat: RouterProcess) -> None:
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/web/a", [("Host", NAMED)], version="HTTP/1.0"))
        resp = await conn.response()
        assert resp.status == 200
        assert await conn.at_eof()
    finally:
        await conn.close()


async def test_pipelined_order_holds_when_the_first_is_slow(compat: RouterProcess) -> None:
    data = (
        build("GET", "/web/slow", [("Host", NAMED), ("X-Test-Behave", "delay:0.4")])
        + build("GET", "/web/fast", [("Host", "admin.erp.seisei.tokyo")])
        + build("POST", "/web/body", [("Host", NAMED)], os.urandom(3000))
    )
    conn = await connect(compat.port)
    try:
        await conn.send(data)
        got = [await conn.response() for _ in range(3)]
    finally:
        await conn.close()
    assert [r.json()["target"] for r in got] == ["/web/slow", "/web/fast", "/web/body"]
    assert got[2].json()["body_length"] == 3000


async def test_many_pipelined_requests(compat: RouterProcess) -> None:
    n = 40
    data = b"".join(build("GET", f"/web/p{i}", [("Host", NAMED)]) for i in range(n))
    conn = await connect(compat.port)
    try:
        await conn.send(data)
        got = [await conn.response() for _ in range(n)]
    finally:
        await conn.close()
    assert [r.json()["target"] for r in got] == [f"/web/p{i}" for i in range(n)]


async def test_upstream_server_and_date_are_replaced(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x")
    assert resp.values("Server") == ["odoo-router"]
    assert len(resp.values("Date")) == 1
    assert "1970" not in resp.values("Date")[0]


async def test_upstream_interim_100_is_not_relayed(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x", [("X-Test-Behave", "interim")])
    assert resp.status == 200
    assert resp.json()["target"] == "/web/x"


async def test_upstream_garbage_is_502(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x", [("X-Test-Behave", "garbage")])
    assert resp.status == 502


async def test_upstream_cl_and_te_is_502(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x", [("X-Test-Behave", "cl-and-te")])
    assert resp.status == 502, "ambiguous upstream framing is never relayed"


async def test_refused_upgrade_answer_is_relayed_and_framing_holds(
    compat: RouterProcess,
) -> None:
    headers = [
        *websocket_handshake(NAMED),
        ("X-Test-Behave", "refuse-upgrade"),
    ]
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/websocket", headers))
        resp = await conn.response()
        assert resp.status == 400
        assert resp.body == b"no"
        # Either the router closes, or the connection goes on with well-framed requests.
        if resp.values("Connection") != ["close"]:
            await conn.send(build("GET", "/web/second", [("Host", NAMED)]))
            second = await conn.response()
            assert second.json()["target"] == "/web/second"
        else:
            assert await conn.at_eof()
    finally:
        await conn.close()


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def test_websocket_data_in_the_handshake_packet(compat: RouterProcess) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    headers = [
        ("Host", NAMED),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", key),
    ]
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/websocket", headers) + _client_frame(0x1, b"early"))
        resp = await conn.response()
        assert resp.status == 101
        frame = await asyncio.wait_for(conn.reader.readexactly(2), 5)
        assert frame[0] == 0x81
        payload = await asyncio.wait_for(conn.reader.readexactly(frame[1]), 5)
        assert payload == b"tenant_lp:early"
        await conn.send(_client_frame(0x8, struct.pack("!H", 1000)))
        close = await asyncio.wait_for(conn.reader.readexactly(4), 5)
        assert close == b"\x88\x02\x03\xe8"
        assert await conn.at_eof()
    finally:
        await conn.close()


async def test_idle_websocket_closed_after_the_route_timeout(compat: RouterProcess) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{compat.port}/websocket",
            headers={"Host": "timeouts.test"},
            autoping=False,
        ) as ws,
    ):
        await ws.send_str("hi")
        assert (await ws.receive(timeout=5)).data == "tenant:hi"
        msg = await ws.receive(timeout=5)  # idle: the 1 s route read timeout closes the tunnel
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_get_with_a_body_is_forwarded(compat: RouterProcess) -> None:
    resp = await exchange(compat.port, "GET", "/web/x", [("Host", NAMED)], b"abc")
    assert resp.json()["body_length"] == 3


async def test_many_headers(compat: RouterProcess) -> None:
    """nginx has no header count limit (only 4 x 8k of buffers); the router's
    max_header_count (100) answers 400 past it (BUGS.md #6). Either way: no 500, and a 400
    closes the connection."""
    headers = [("Host", NAMED)] + [(f"X-H{i}", "v") for i in range(150)]
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/web/x", headers))
        resp = await conn.response()
        assert resp.status in (200, 400)
        if resp.status == 400:
            assert await conn.at_eof()
        else:
            assert len(resp.seen_names()) > 150
    finally:
        await conn.close()


async def test_pipelined_413_in_the_middle(compat: RouterProcess) -> None:
    data = build("GET", "/web/a", [("Host", NAMED)]) + build(
        "POST", "/web/b", [("Host", NAMED), ("Content-Length", str(60 * 1024 * 1024))]
    )
    conn = await connect(compat.port)
    try:
        await conn.send(data)
        first = await conn.response()
        second = await conn.response()
        assert first.status == 200 and first.json()["target"] == "/web/a"
        assert second.status == 413
        assert await conn.at_eof()
    finally:
        await conn.close()


async def test_utf8_header_value_passes_unchanged(compat: RouterProcess) -> None:
    value = "日本語 ü".encode()
    request = (
        b"GET /web/x HTTP/1.1\r\nHost: "
        + NAMED.encode()
        + b"\r\nX-Name: "
        + value
        + b"\r\nConnection: close\r\n\r\n"
    )
    got = await raw(compat.port, request)
    body = got.partition(b"\r\n\r\n")[2]
    seen = dict(json.loads(body)["headers"])
    assert seen["X-Name"].encode("latin-1") == value


async def test_long_uri_under_the_limit_passes(compat: RouterProcess) -> None:
    target = "/web/" + "u" * 7000
    resp = await get(compat.port, NAMED, target)
    assert resp.status == 200
    assert resp.json()["target"] == target


async def test_post_with_empty_body(compat: RouterProcess) -> None:
    resp = await exchange(compat.port, "POST", "/web/x", [("Host", NAMED), ("Content-Length", "0")])
    assert resp.status == 200
    assert resp.json()["body_length"] == 0
    assert resp.seen("Content-Length") == ["0"]


async def test_nothing_after_connection_close(compat: RouterProcess) -> None:
    data = build("GET", "/web/a", [("Host", NAMED), ("Connection", "close")]) + build(
        "GET", "/web/b", [("Host", NAMED)]
    )
    got = await raw(compat.port, data)
    assert got.count(b"HTTP/1.1 ") == 1
    assert b"/web/a" in got and b"/web/b" not in got


async def test_pipelined_request_then_websocket_with_early_frame(compat: RouterProcess) -> None:
    headers = websocket_handshake(NAMED)
    conn = await connect(compat.port)
    try:
        await conn.send(
            build("GET", "/web/x", [("Host", NAMED)])
            + build("GET", "/websocket", headers)
            + _client_frame(0x1, b"hello")
        )
        first = await conn.response()
        second = await conn.response()
        assert (first.status, second.status) == (200, 101)
        frame = await asyncio.wait_for(conn.reader.readexactly(2 + len(b"tenant_lp:hello")), 5)
        assert frame == b"\x81\x0ftenant_lp:hello"
    finally:
        await conn.close()


async def test_local_answer_body_is_consumed_before_the_next_request(
    compat: RouterProcess,
) -> None:
    data = build("POST", "/web/database/x", [("Host", NAMED)], b"GET /smuggled HTTP/1.1\r\n" * 200)
    data += build("GET", "/web/after", [("Host", NAMED), ("Connection", "close")])
    got = await raw(compat.port, data)
    assert got.count(b"HTTP/1.1 ") == 2
    assert got.startswith(b"HTTP/1.1 403 ")
    assert b"/web/after" in got and b"/smuggled" not in got


@pytest.mark.parametrize(
    "host",
    [
        "admin.erp.seisei.tokyo",
        "acme.erp.seisei.tokyo",
        NAMED,
        "demo.nagashiro.top",
        "unknown.example.com",
        "dead.test",
    ],
)
@pytest.mark.parametrize("profile", ["compat", "prod"])
async def test_health_on_every_host(
    request: pytest.FixtureRequest, profile: str, host: str
) -> None:
    router: RouterProcess = request.getfixturevalue(profile)
    resp = await get(router.port, host, "/nginx-health")
    if host == "dead.test":  # a test host rule of its own, without the health route
        assert resp.status == 502
        return
    assert resp.status == 200
    assert resp.body == b"OK"
    assert "text/plain" in resp.values("Content-Type")
    assert resp.upstream() is None


async def test_refused_upgrade_with_a_body_never_hangs_or_smuggles(
    compat: RouterProcess, journal: Journal
) -> None:
    """An upgrade request with a Content-Length body, refused by the upstream, followed by a
    pipelined request: the body is never read as a request, and the pipelined request is
    answered (or the connection closed) -- no keep-alive promise left hanging (BUGS.md #12)."""
    smuggled, after = new_tag(), new_tag()
    inner = f"GET /smuggled HTTP/1.1\r\nHost: {NAMED}\r\nX-Test-Tag: {smuggled}\r\n\r\n".encode()
    headers = [
        *websocket_handshake(NAMED),
        ("X-Test-Behave", "refuse-upgrade"),
        ("Content-Length", str(len(inner))),
    ]
    conn = await connect(compat.port)
    try:
        await conn.send(
            build("GET", "/websocket", headers, inner, length=False)
            + build("GET", "/web/next", [("Host", NAMED), ("X-Test-Tag", after)])
        )
        first = await conn.response()
        assert first.status == 400
        if first.values("Connection") != ["close"]:
            second = await conn.response(timeout=3)
            assert second.seen("X-Test-Tag") == [after]
        else:
            assert await conn.at_eof()
    finally:
        await conn.close()
    await asyncio.sleep(0.2)
    assert journal.by_tag(smuggled) == []


async def test_unexpected_101_is_502(compat: RouterProcess) -> None:
    """An upstream that switches protocols on a request that asked for no upgrade."""
    resp = await get(compat.port, NAMED, "/web/x", [("X-Test-Behave", "status:101")])
    assert resp.status == 502


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_status_with_a_content_length(compat: RouterProcess, status: int) -> None:
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("X-Test-Behave", f"status-cl:{status}")]
        await conn.send(build("GET", "/web/x", head))
        first = await conn.response(timeout=3)
        assert first.status == status
        await conn.send(build("GET", "/web/after", [("Host", NAMED)]))
        second = await conn.response(timeout=3)
        assert second.json()["target"] == "/web/after"
    finally:
        await conn.close()


async def test_bytes_after_the_response_never_reach_another_client(
    compat: RouterProcess,
) -> None:
    """An upstream that sends more than its Content-Length (here a forged second answer):
    the client gets the 5 bytes, the connection is not reused, nobody gets the forgery."""
    host = "admin.erp.seisei.tokyo"
    first = await get(compat.port, host, "/web/x", [("X-Test-Behave", "overflow")])
    assert first.status == 200 and first.body == b"hello"
    for i in range(3):
        tag = new_tag()
        resp = await get(compat.port, host, f"/web/after{i}", [("X-Test-Tag", tag)])
        assert resp.upstream() == "admin", resp.body
        assert resp.seen("X-Test-Tag") == [tag]


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 1048577])
async def test_content_length_sizes_on_one_connection(compat: RouterProcess, size: int) -> None:
    conn = await connect(compat.port)
    try:
        for _ in range(3):
            head = [("Host", NAMED), ("X-Test-Behave", f"size:{size}")]
            await conn.send(build("GET", "/web/x", head))
            resp = await conn.response()
            assert resp.status == 200
            assert resp.body == b"x" * size
    finally:
        await conn.close()
