"""WebSockets through a real router: the right pool per route, echo, ping, close codes both
ways, and no upgrade on routes that do not allow it."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from .client import exchange, new_tag, websocket_handshake
from .procnet import open_between
from .router import RouterProcess
from .upstreams import Farm, Journal

TENANT = "acme.erp.seisei.tokyo"
NAMED = "testodoo.seisei.tokyo"
ADMIN = "admin.erp.seisei.tokyo"
UNKNOWN = "unknown.example.com"

COMPAT_WS = [
    (TENANT, "/websocket", "tenant_lp", "ten_acme"),
    (TENANT, "/websocket?version=18.0-3", "tenant_lp", "ten_acme"),
    (NAMED, "/websocket", "tenant_lp", "ten_testodoo"),
    (NAMED, "/bus/websocket", "tenant_lp", "ten_testodoo"),
    (NAMED, "/longpolling/websocket", "tenant_lp", "ten_testodoo"),
    (ADMIN, "/websocket", "admin_lp", None),
    (ADMIN, "/bus/x", "admin_lp", None),
    (UNKNOWN, "/websocket", "tenant_lp", None),
    (NAMED, "/odoo/some-socket", "tenant", "ten_testodoo"),  # the catch-all allows upgrades
    (UNKNOWN, "/anything", "tenant", None),
]
PROD_WS = [
    (TENANT, "/websocket", "tenant_lp", "^ten_acme$"),
    (NAMED, "/websocket", "tenant_lp", "^ten_testodoo$"),
    (ADMIN, "/websocket", "admin_lp", None),
    (NAMED, "/odoo/some-socket", "tenant", "^ten_testodoo$"),
]


async def _session_check(
    port: int, host: str, path: str, pool: str, dbfilter: str | None, journal: Journal
) -> None:
    tag = new_tag()
    headers = {"Host": host, "X-Test-Tag": tag, "Origin": f"https://{host}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{port}{path}",
            headers=headers,
            autoping=False,
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
        ) as ws,
    ):
        await ws.send_str("hello")
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT
        assert msg.data == f"{pool}:hello"
        await ws.send_bytes(b"\x00\x01\xff" * 1000)
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.BINARY
        assert msg.data == b"\x00\x01\xff" * 1000
        await ws.ping(b"are-you-there")
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.PONG
        assert msg.data == b"are-you-there"
        await ws.close(code=4000, message=b"done")
        assert ws.close_code == 4000, "the upstream's close code comes back unchanged"
    rec = await journal.record(tag)
    assert rec.websocket
    assert rec.pool == pool
    assert rec.values("X-Odoo-dbfilter") == ([dbfilter] if dbfilter else [])
    assert rec.values("Upgrade") == ["websocket"]
    assert [v.lower() for v in rec.values("Connection")] == ["upgrade"]
    assert rec.values("Sec-WebSocket-Key")
    assert rec.values("Origin") == [f"https://{host}"]


@pytest.mark.parametrize(("host", "path", "pool", "dbfilter"), COMPAT_WS)
async def test_websocket_compat(
    compat: RouterProcess, journal: Journal, host: str, path: str, pool: str, dbfilter: str | None
) -> None:
    await _session_check(compat.port, host, path, pool, dbfilter, journal)


@pytest.mark.parametrize(("host", "path", "pool", "dbfilter"), PROD_WS)
async def test_websocket_production(
    prod: RouterProcess, journal: Journal, host: str, path: str, pool: str, dbfilter: str | None
) -> None:
    await _session_check(prod.port, host, path, pool, dbfilter, journal)


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4001])
async def test_upstream_close_code_reaches_the_client(compat: RouterProcess, code: int) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{compat.port}/websocket", headers={"Host": NAMED}
        ) as ws,
    ):
        await ws.send_str(f"close:{code}")
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == code
        assert msg.extra == "bye"


async def test_many_messages_in_order(compat: RouterProcess) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{compat.port}/websocket", headers={"Host": ADMIN}
        ) as ws,
    ):
        for i in range(200):
            await ws.send_str(f"m{i}")
        for i in range(200):
            msg = await ws.receive(timeout=5)
            assert msg.data == f"admin_lp:m{i}"
        big = "y" * 300_000
        await ws.send_str(big)
        msg = await ws.receive(timeout=5)
        assert msg.data == f"admin_lp:{big}"


@pytest.mark.parametrize(
    ("host", "path"),
    [(NAMED, "/qr/x"), (NAMED, "/jsonrpc"), (ADMIN, "/web/x"), (ADMIN, "/qr/x")],
)
async def test_no_upgrade_where_the_route_does_not_allow_it(
    compat: RouterProcess, journal: Journal, host: str, path: str
) -> None:
    tag = new_tag()
    headers = [
        *websocket_handshake(host),
        ("X-Test-Tag", tag),
    ]
    resp = await exchange(compat.port, "GET", path, headers)
    assert resp.status == 200, "forwarded as a plain request"
    rec = await journal.record(tag)
    assert not rec.websocket
    assert rec.values("Upgrade") == []
    assert [v.lower() for v in rec.values("Connection")] == ["keep-alive"]


async def test_redirect_route_answers_an_upgrade_locally(compat: RouterProcess) -> None:
    headers = websocket_handshake(TENANT)
    resp = await exchange(compat.port, "GET", "/odoo/x", headers)
    assert resp.status == 302


@pytest.mark.parametrize(
    ("connection", "upgrade"),
    [("keep-alive, Upgrade", "websocket"), ("Upgrade", "WebSocket"), ("upgrade", "websocket")],
    ids=["firefox", "upper-case protocol", "lower-case"],
)
async def test_handshake_spellings(compat: RouterProcess, connection: str, upgrade: str) -> None:
    headers = [
        ("Host", NAMED),
        ("Connection", connection),
        ("Upgrade", upgrade),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
    resp = await exchange(compat.port, "GET", "/websocket", headers, timeout=3)
    assert resp.status == 101
    assert resp.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


async def test_tunnel_to_an_upstream_that_stops_reading_is_closed(
    compat: RouterProcess, journal: Journal, farm: Farm
) -> None:
    """The route's 1 s idle limit (timeouts.test) ends a tunnel whose upstream reads nothing
    any more, while the client still has data to send: both connections are closed."""
    tag = new_tag()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{compat.port}/websocket",
            headers={"Host": "timeouts.test", "X-Test-Tag": tag},
        ) as ws,
    ):
        await ws.send_str("stall")
        payload = b"p" * 65536
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, TimeoutError):
            for _ in range(200):  # 12.5 MiB: more than the socket buffers hold
                await asyncio.wait_for(ws.send_bytes(payload), 0.5)
        msg = await ws.receive(timeout=6)
        assert msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        )
    rec = await journal.record(tag)
    port = journal.peers[rec.conn_id]
    upstream = farm.ports["tenant"]
    # The upstream reads nothing, so it cannot see the close: look at the router's socket.
    assert await journal.wait_for(lambda: not open_between(port, upstream), 3), (
        f"the router still holds its upstream socket: {open_between(port, upstream)}"
    )
