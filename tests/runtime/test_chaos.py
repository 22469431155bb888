"""A bounded storm of mixed, half-finished and hostile requests: the router must answer what
it can, never log an internal error or a traceback, leak no connection, and keep serving."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Iterator

import pytest

from harness.processes import free_port
from integration.router import RouterProcess, compat_config, start_router
from integration.upstreams import Farm
from runtime.support import children

HOSTS = [b"testodoo.seisei.tokyo", b"acme.erp.seisei.tokyo", b"admin.erp.seisei.tokyo", b"x.test"]
PATHS = [b"/web/x", b"/jsonrpc", b"/web/database/x", b"/qr/a", b"/%2e%2e/x", b"/report/p", b"/"]


@pytest.fixture(scope="module")
def router() -> Iterator[RouterProcess]:
    farm = Farm()
    farm.start()
    port = free_port()
    proc = start_router(compat_config(port, farm.ports), port)
    try:
        yield proc
    finally:
        proc.stop()
        farm.stop()


WS_HEAD = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)
SPOOFS = (
    b"X-Odoo-dbfilter: evil\r\nX_Odoo_dbfilter: e\r\n"
    b"Connection: X-Forwarded-For, close\r\nX-Forwarded-For: 1.2.3.4\r\n"
)


def _request(rng: random.Random) -> bytes:
    host, path = rng.choice(HOSTS), rng.choice(PATHS)
    kind = rng.randrange(8)
    if kind == 2:  # garbage
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    head = b"GET %b HTTP/1.1\r\nHost: %b\r\n" % (path, host)
    if kind == 0:  # a body of up to 200 kB
        body = b"b" * rng.randrange(0, 200_000)
        return head.replace(b"GET", b"POST", 1) + b"Content-Length: %d\r\n\r\n" % len(body) + body
    if kind == 1:  # chunked
        chunked = b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        return head.replace(b"GET", b"POST", 1) + chunked
    if kind == 3:  # a spoofed header soup
        return head + SPOOFS + b"\r\n"
    if kind == 4:  # a websocket handshake
        return b"GET /websocket HTTP/1.1\r\nHost: %b\r\n%b\r\n" % (host, WS_HEAD)
    if kind == 5:  # pipelined
        return (head + b"\r\n") * rng.randrange(2, 5)
    return head + b"\r\n"


async def _client(port: int, seed: int, deadline: float) -> int:
    rng = random.Random(seed)
    done = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                data = _request(rng)
                cut = rng.random() < 0.3  # leave in the middle of sending or reading
                writer.write(data[: rng.randrange(len(data))] if cut else data)
                await writer.drain()
                if not cut:
                    await asyncio.wait_for(reader.read(65536), 2)
                done += 1
            finally:
                writer.transport.abort() if rng.random() < 0.5 else writer.close()
    return done


def _open_fds(router: RouterProcess) -> int:
    total = 0
    for pid in [router.proc.pid, *children(router.proc.pid)]:
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/fd"))
    return total


async def test_storm_of_mixed_requests_leaves_the_router_healthy(router: RouterProcess) -> None:
    fds_before = _open_fds(router)
    deadline = time.monotonic() + 4.0  # bounded in time; 60 clients
    counts = await asyncio.gather(*(_client(router.port, i, deadline) for i in range(60)))
    assert sum(counts) > 200
    await asyncio.sleep(2.0)  # idle upstream connections over the keepalive cap are trimmed
    # Every client connection is gone; what stays is at most the pools' idle connections.
    assert _open_fds(router) <= fds_before + 16 + 8 + 4 + 2
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    writer.write(
        b"GET /web/after HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\nConnection: close\r\n\r\n"
    )
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    log = router.log()
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
    assert router.alive()
