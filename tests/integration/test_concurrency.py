"""Many clients at once: every answer belongs to its own request (no mix-up across the pool's
keep-alive connections), bodies intact, websockets and plain requests side by side."""

from __future__ import annotations

import asyncio
import hashlib
import os

import aiohttp

from .client import build, connect, new_tag
from .router import RouterProcess

HOSTS = [
    ("acme.erp.seisei.tokyo", "/jsonrpc", "tenant", "ten_acme"),
    ("shop7.erp.seisei.tokyo", "/report/pdf/1", "tenant", "ten_shop7"),
    ("testodoo.seisei.tokyo", "/odoo/x", "tenant", "ten_testodoo"),
    ("admin.erp.seisei.tokyo", "/web", "admin", None),
    ("unknown.example.com", "/web", "tenant", None),
]


async def _client(port: int, index: int, rounds: int) -> None:
    conn = await connect(port)
    try:
        for r in range(rounds):
            host, path, pool, dbfilter = HOSTS[(index + r) % len(HOSTS)]
            tag = new_tag()
            body = os.urandom((index * 997 + r * 131) % 5000)
            behave = [("X-Test-Behave", "chunked")] if (index + r) % 3 == 0 else []
            head = [("Host", host), ("X-Test-Tag", tag), *behave]
            await conn.send(build("POST", f"{path}?c={index}&r={r}", head, body))
            resp = await conn.response(timeout=10)
            assert resp.status == 200
            assert resp.upstream() == pool
            assert resp.seen("X-Test-Tag") == [tag], "an answer to somebody else's request"
            assert resp.seen("X-Odoo-dbfilter") == ([dbfilter] if dbfilter else [])
            assert resp.json()["target"] == f"{path}?c={index}&r={r}"
            assert resp.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    finally:
        await conn.close()


async def test_many_clients_get_their_own_answers(compat: RouterProcess) -> None:
    await asyncio.gather(*(_client(compat.port, i, 8) for i in range(40)))


async def test_websockets_and_requests_side_by_side(prod: RouterProcess) -> None:
    async def websocket(i: int) -> None:
        host = "acme.erp.seisei.tokyo" if i % 2 else "testodoo.seisei.tokyo"
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"http://127.0.0.1:{prod.port}/websocket", headers={"Host": host}
            ) as ws,
        ):
            for j in range(20):
                await ws.send_str(f"{i}-{j}")
                msg = await ws.receive(timeout=10)
                assert msg.data == f"tenant_lp:{i}-{j}"

    async def plain(i: int) -> None:
        conn = await connect(prod.port)
        try:
            for j in range(10):
                tag = new_tag()
                await conn.send(
                    build(
                        "GET",
                        f"/odoo/{i}/{j}",
                        [("Host", "testodoo.seisei.tokyo"), ("X-Test-Tag", tag)],
                    )
                )
                resp = await conn.response(timeout=10)
                assert resp.seen("X-Test-Tag") == [tag]
        finally:
            await conn.close()

    await asyncio.gather(*(websocket(i) for i in range(10)), *(plain(i) for i in range(10)))
