"""The pool's upstream keep-alive limits, as nginx's upstream keepalive_timeout,
keepalive_requests and keepalive_time: in-process, the pool's own objects on real loopback
connections (no router), the upstream's end of each connection watched for the close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from time import monotonic

from odoo_router.configuration.model import Pool
from odoo_router.datapath.pools import UpstreamConnection, UpstreamPool


@contextlib.asynccontextmanager
async def _pool(
    timeout: float = 60.0, requests: int = 1000, age: float = 3600.0
) -> AsyncIterator[tuple[UpstreamPool, asyncio.Queue[bool]]]:
    """A pool of one loopback server; the queue gets True each time the server sees one of
    its connections closed by the pool."""
    closed: asyncio.Queue[bool] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # until the pool closes it
        await closed.put(True)

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    servers = (("127.0.0.1", port),)
    pool = UpstreamPool(
        Pool(
            "tenant",
            servers,
            keepalive=4,
            keepalive_timeout=timeout,
            keepalive_requests=requests,
            keepalive_time=age,
        )
    )
    try:
        yield pool, closed
    finally:
        pool.close_idle()
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def _seen_closed(closed: asyncio.Queue[bool]) -> bool:
    try:
        return await asyncio.wait_for(closed.get(), 2.0)
    except TimeoutError:
        return False


async def _reuse(pool: UpstreamPool, conn: UpstreamConnection) -> None:
    assert pool.take_idle() is conn  # the same connection carries the next request


async def test_a_connection_is_closed_after_keepalive_requests() -> None:
    async with _pool(requests=3) as (pool, closed):
        conn = await pool.connect(2.0)
        for _ in range(2):
            pool.release(conn, True, monotonic())
            await _reuse(pool, conn)
        pool.release(conn, True, monotonic())  # its third request: closed, not kept
        assert not pool.idle and conn.closed
        assert await _seen_closed(closed)


async def test_a_connection_older_than_keepalive_time_is_closed_after_its_request() -> None:
    async with _pool(age=0.5) as (pool, closed):
        conn = await pool.connect(2.0)
        pool.release(conn, True, conn.made + 0.4)
        await _reuse(pool, conn)
        pool.release(conn, True, conn.made + 0.6)
        assert not pool.idle and conn.closed
        assert await _seen_closed(closed)


async def test_an_idle_connection_is_closed_after_keepalive_timeout() -> None:
    async with _pool(timeout=0.5) as (pool, closed):
        first, second = await pool.connect(2.0), await pool.connect(2.0)
        now = monotonic()
        pool.release(first, True, now)
        pool.release(second, True, now + 0.3)
        pool.trim(now + 0.4)  # both within keepalive_timeout (and under the keepalive cap)
        assert list(pool.idle) == [first, second]
        pool.trim(now + 0.6)  # the first has been idle for longer
        assert list(pool.idle) == [second] and first.closed
        assert await _seen_closed(closed)
        pool.trim(now + 0.9)
        assert not pool.idle and second.closed
        assert await _seen_closed(closed)


async def test_the_defaults_keep_a_connection_for_many_requests() -> None:
    async with _pool() as (pool, closed):
        conn = await pool.connect(2.0)
        for _ in range(999):  # nginx's keepalive_requests 1000: the 1000th closes it
            pool.release(conn, True, monotonic())
            await _reuse(pool, conn)
        pool.trim(monotonic() + 59)  # within keepalive_timeout 60s
        pool.release(conn, True, monotonic())
        assert conn.closed and not pool.idle
        assert await _seen_closed(closed)
