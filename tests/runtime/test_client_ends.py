"""How a client connection ends, as nginx ends it.

The client timeouts, each measured from where nginx starts it:
* client_header_timeout bounds the whole head, from its first byte (a client trickling a
  byte at a time does not reset it: slowloris), and a new connection's wait for its first
  request;
* client_body_timeout is the time between two reads of the body, and ends the connection
  without an answer (test_failures.py: the upstream never sees such a body);
* keepalive_timeout is the idle time after an answer, not since the request was read;
* send_timeout (the router's client_send_timeout): a client that takes no byte of an
  answer for that long loses the connection.
And the lingering close: an answer sent before the client's body was read (413 for a
declared length) is followed by reading and dropping the rest, so the client reads the
answer instead of a reset, for at most lingering_timeout (5 s) between reads.

Each test runs against a router of its own with 1 s and 2 s timeouts (its timers tick every
0.25 s) and against real nginx running the reference with the same timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from conformance.nginx_ref import NginxProcess, start_nginx
from harness.processes import free_port
from integration.client import Conn, build, connect
from integration.router import RouterProcess, compat_config, start_router
from integration.upstreams import Farm

NAMED = "testodoo.seisei.tokyo"
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
SEND_TIMEOUT = 1.0
LINGERING_TIMEOUT = 5.0  # nginx's default, and the router's (not configurable)
KEEPALIVE_TIMEOUT = 2.0


@pytest.fixture(scope="module", params=["odoo-router", "nginx"])
def server(request: pytest.FixtureRequest, farm: Farm) -> Iterator[RouterProcess | NginxProcess]:
    port = free_port()
    handle: RouterProcess | NginxProcess
    if request.param == "nginx":
        timeouts = (
            f"client_header_timeout {HEADER_TIMEOUT:g}s; client_body_timeout {BODY_TIMEOUT:g}s; "
            f"send_timeout {SEND_TIMEOUT:g}s; keepalive_timeout {KEEPALIVE_TIMEOUT:g}s;"
        )
        handle = start_nginx(port, farm.ports, timeouts)
    else:
        data = compat_config(port, farm.ports)
        data["server"]["client_header_timeout"] = f"{HEADER_TIMEOUT:g}s"
        data["server"]["client_body_timeout"] = f"{BODY_TIMEOUT:g}s"
        data["server"]["client_send_timeout"] = f"{SEND_TIMEOUT:g}s"
        data["server"]["keepalive_timeout"] = f"{KEEPALIVE_TIMEOUT:g}s"
        handle = start_router(data, port)
    try:
        yield handle
    finally:
        handle.stop()


async def _closed_within(conn: Conn, seconds: float) -> bool:
    """The server closed the connection within ``seconds`` (EOF or reset)."""
    return await conn.at_eof(timeout=seconds)


async def test_trickled_head_is_cut_at_the_header_timeout(
    server: RouterProcess | NginxProcess,
) -> None:
    conn = await connect(server.port)
    try:
        start = time.monotonic()
        await conn.send(b"GET /web/x HTTP/1.1\r\nHost: " + NAMED.encode() + b"\r\n")
        closed_at = None
        for i in range(20):  # a header byte every 0.2 s, for up to 4 s
            await asyncio.sleep(0.2)
            try:
                await conn.send(b"X-Slow-%d: 1\r\n" % i)
            except (ConnectionError, OSError):
                closed_at = time.monotonic() - start
                break
            if conn.reader.at_eof():
                closed_at = time.monotonic() - start
                break
        if closed_at is None and await _closed_within(conn, 0.5):
            closed_at = time.monotonic() - start
    finally:
        await conn.close()
    assert closed_at is not None, "a head trickled for 4 s was never cut"
    assert HEADER_TIMEOUT - 0.1 < closed_at < HEADER_TIMEOUT + 1.2, closed_at


async def test_new_connection_waits_the_header_timeout_for_its_first_request(
    server: RouterProcess | NginxProcess,
) -> None:
    conn = await connect(server.port)
    try:
        start = time.monotonic()
        assert await _closed_within(conn, 4), "an idle new connection was never closed"
        took = time.monotonic() - start
    finally:
        await conn.close()
    assert HEADER_TIMEOUT - 0.1 < took < KEEPALIVE_TIMEOUT, took


async def test_keepalive_timeout_counts_from_the_answer(
    server: RouterProcess | NginxProcess,
) -> None:
    conn = await connect(server.port)
    try:
        head = [("Host", NAMED), ("X-Test-Behave", "delay:1.5")]
        await conn.send(build("GET", "/web/slow", head))
        assert (await conn.response(timeout=5)).status == 200
        # 1.5 s in the upstream, then 1 s idle: 2.5 s since the request was read, more than
        # keepalive_timeout, but only 1 s since the answer.
        await asyncio.sleep(1.0)
        await conn.send(build("GET", "/web/next", [("Host", NAMED)]))
        assert (await conn.response(timeout=5)).status == 200
        start = time.monotonic()
        assert await _closed_within(conn, 4), "an idle keep-alive connection was never closed"
        took = time.monotonic() - start
    finally:
        await conn.close()
    assert KEEPALIVE_TIMEOUT - 0.1 < took < KEEPALIVE_TIMEOUT + 1.0, took


async def test_stalled_body_ends_the_connection_without_an_answer(
    server: RouterProcess | NginxProcess,
) -> None:
    conn = await connect(server.port)
    try:
        head = [("Host", NAMED), ("Content-Length", "1000")]
        await conn.send(build("POST", "/web/upload", head) + b"x" * 100)
        start = time.monotonic()
        data = await conn.rest(timeout=5)
        took = time.monotonic() - start
    finally:
        await conn.close()
    assert data == b"", data[:100]
    assert BODY_TIMEOUT - 0.1 < took < BODY_TIMEOUT + 1.2, took


def test_client_that_stops_reading_is_cut_after_the_send_timeout(
    server: RouterProcess | NginxProcess,
) -> None:
    """nginx's send_timeout (the router's client_send_timeout): a client that takes no byte
    of a large answer for that long loses the connection; it never gets the whole body."""
    size = 48 * 1024 * 1024  # more than every buffer between the server and this socket
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(("127.0.0.1", server.port))
        head = [("Host", NAMED), ("X-Test-Behave", f"size:{size}")]
        sock.sendall(build("GET", "/web/content/big", head))
        time.sleep(SEND_TIMEOUT + 2.5)  # reads nothing: the buffers fill, then the timer runs
        got = 0
        sock.settimeout(3)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(1 << 20):
                got += len(chunk)
    assert 0 < got < size, got


def test_refused_body_is_read_and_dropped_so_the_answer_arrives(
    server: RouterProcess | NginxProcess,
) -> None:
    """Most clients send the whole body before they read: without the lingering close the
    413 sent after the head is lost in a reset while they are still sending."""
    size = 60 * 1024 * 1024  # above client_max_body_size (50m)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        sock.sendall(build("POST", "/web/upload", [("Host", NAMED), ("Content-Length", str(size))]))
        sock.sendall(b"x" * size)
        got = sock.recv(100)
    assert got.startswith(b"HTTP/1.1 413 "), got


def test_lingering_ends_when_the_client_stops_sending(
    server: RouterProcess | NginxProcess,
) -> None:
    """After the answer the server shuts its side (the client reads the 413, then the end),
    drops what still comes, and closes once nothing came for lingering_timeout: a send
    after that is refused."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        head = [("Host", NAMED), ("Content-Length", "60000000")]
        sock.sendall(build("POST", "/web/upload", head) + b"x" * 100_000)
        data = b""
        while chunk := sock.recv(65536):  # the 413, then the end of the server's side
            data += chunk
        assert data.startswith(b"HTTP/1.1 413 "), data[:100]
        sock.sendall(b"x" * 100_000)  # still read and dropped
        time.sleep(LINGERING_TIMEOUT + 1.0)
        with pytest.raises(OSError):  # closed by now: the first send draws a reset
            for _ in range(50):
                sock.sendall(b"x" * 65536)
                time.sleep(0.02)
