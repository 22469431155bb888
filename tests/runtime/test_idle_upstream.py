"""An idle keep-alive upstream connection that becomes readable is dead before it is reused.

In-process, on a real loopback socket: the pool's own objects, no router. The router pauses
reading an upstream for a slow client (exchange.py); a response can end while reading is
paused, and such a connection, once idle, would never see the bytes or the EOF its upstream
sends: the next request would read them as its answer. ``release`` resumes reading.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from odoo_router.configuration.model import Pool
from odoo_router.datapath.pools import UpstreamPool

FORGED = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"


@contextlib.asynccontextmanager
async def _pool_and_peer() -> AsyncIterator[tuple[UpstreamPool, asyncio.StreamWriter, list[str]]]:
    """A pool of one server on loopback, one connection made, and that server's end of it."""
    peers: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def accepted(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peers.put(writer)

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    logged: list[str] = []
    pool = UpstreamPool(Pool("tenant", (("127.0.0.1", port),), keepalive=4), log=logged.append)
    conn = await pool.connect(2.0)
    peer = await asyncio.wait_for(peers.get(), 2)
    conn.pause_reading()  # as exchange.py does for a slow client; the response then ends
    pool.release(conn, True)
    assert pool.idle
    try:
        yield pool, peer, logged
    finally:
        conn.abort()
        peer.close()
        server.close()
        await server.wait_closed()


async def _closed_soon(pool: UpstreamPool, timeout: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while pool.idle and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return not pool.idle and pool.take_idle() is None


async def test_bytes_on_an_idle_connection_paused_for_a_slow_client() -> None:
    async with _pool_and_peer() as (pool, peer, logged):
        peer.write(FORGED)
        await peer.drain()
        assert await _closed_soon(pool), "the unasked answer waits for the next request"
        assert logged == [
            f"upstream pool tenant ({pool.cfg.servers[0][0]}:{pool.cfg.servers[0][1]}) "
            f"sent {len(FORGED)} bytes on an idle connection: closed"
        ]


async def test_eof_on_an_idle_connection_paused_for_a_slow_client() -> None:
    async with _pool_and_peer() as (pool, peer, logged):
        peer.close()
        assert await _closed_soon(pool), "a connection its upstream closed stays in the idle list"
        assert not logged  # Odoo closing an idle connection is routine, not worth a line
