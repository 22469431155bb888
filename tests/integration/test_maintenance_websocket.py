"""Websockets of a tenant put in maintenance are closed with 1012, the close frame between
two of the server's frames: a websocket upstream streams large frames (fragments of one
message and whole messages, 7/16/64-bit lengths) in small writes, so that one is nearly
always in flight when maintenance comes; the client checks every frame byte for byte, then
the close frame, then the end of the stream; the upstream side is closed too. Another
tenant's websocket stays open."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import signal
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from harness.processes import free_port
from odoo_router.ops.maintenance import Entry, now_utc, write_state

from .client import Conn, build, connect, websocket_handshake
from .router import production_config, start_router
from .upstreams import Farm

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SIZES = [200_000, 1_000, 70_000, 10, 0, 65_535, 126, 125]  # 64/16/7-bit length forms
PIECE = 8192
NAMED = "testodoo.seisei.tokyo"  # ten_testodoo


def frame_head(opcode: int, fin: bool, n: int) -> bytes:
    first = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        return first + bytes([n])
    if n < 65536:
        return first + bytes([126]) + struct.pack("!H", n)
    return first + bytes([127]) + struct.pack("!Q", n)


def frame_bytes(i: int) -> bytes:
    """Frame ``i``: fragments of messages of three frames (binary, continuation, last
    continuation), its payload the byte ``i % 251`` repeated."""
    n = SIZES[i % len(SIZES)]
    opcode = 2 if i % 3 == 0 else 0
    return frame_head(opcode, i % 3 == 2, n) + bytes([i % 251]) * n


class StreamingUpstream:
    """A websocket server that sends frame after frame in PIECE-byte writes until closed;
    the stream of ``target`` (a Host) can be held half way through a frame."""

    def __init__(self, target: bytes = NAMED.encode()) -> None:
        self.target = target
        self.closed = asyncio.Event()  # target's connection closed
        self.hold = False  # stop half way through the next large frame...
        self.held = asyncio.Event()  # ... say so ...
        self.go_on = asyncio.Event()  # ... and wait for this

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        mine = any(line.lower() == b"host: " + self.target.lower() for line in head.split(b"\r\n"))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: %b\r\n\r\n" % accept
        )
        reading = asyncio.ensure_future(reader.read())  # b"" once the router closes its side
        try:
            i = 0
            while not reading.done():
                data = frame_bytes(i)
                for at in range(0, len(data), PIECE):
                    writer.write(data[at : at + PIECE])
                    await writer.drain()
                    # Held only inside a frame: past its middle, and not at its last piece.
                    if mine and self.hold and len(data) // 2 < at and at + PIECE < len(data):
                        self.hold = False
                        self.held.set()
                        going_on = asyncio.ensure_future(self.go_on.wait())
                        await asyncio.wait([going_on, reading], return_when="FIRST_COMPLETED")
                        going_on.cancel()
                    await asyncio.sleep(0.001)
                    if reading.done():
                        break
                i += 1
        except ConnectionError:
            pass
        finally:
            await asyncio.wait([reading], timeout=5)
            if mine:
                self.closed.set()
            writer.close()


@contextlib.asynccontextmanager
async def streaming_upstream() -> AsyncIterator[tuple[int, StreamingUpstream]]:
    upstream = StreamingUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], upstream
    finally:
        server.close()


async def read_frames(reader: asyncio.StreamReader, until: float) -> tuple[int, int, bytes]:
    """Read whole frames, each checked against frame_bytes; returns the frames read, the
    close code and the reason once the close frame comes."""
    i = 0
    while time.monotonic() < until:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        assert not b1 & 0x80, "server frames are not masked"
        payload = await reader.readexactly(n)
        if b0 & 0x0F == 8:
            assert b0 == 0x88
            return i, struct.unpack("!H", payload[:2])[0], payload[2:]
        expected = frame_bytes(i)
        assert bytes([b0]) + bytes([b1]) == expected[:2], f"frame {i}: a header out of place"
        assert payload == (expected[-n:] if n else b""), f"frame {i}: payload"
        i += 1
    raise AssertionError(f"no close frame after {i} frames")


def _config(farm: Farm, port: int, ws_port: int) -> dict[str, Any]:
    """The production profile with the tenants' websocket pool on the streaming upstream."""
    ports = dict(farm.ports)
    ports["tenant_lp"] = ws_port
    return production_config(port, ports)


async def _websocket(port: int) -> Conn:
    """A websocket to the tenant NAMED, its 101 read (closed if the 101 does not come)."""
    conn = await connect(port)
    try:
        await conn.send(build("GET", "/websocket", websocket_handshake(NAMED)))
        head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 "), head
    except BaseException:
        await conn.close()
        raise
    return conn


async def test_websockets_closed_with_1012_between_frames(farm: Farm, tmp_path: Path) -> None:
    async with streaming_upstream() as (ws_port, upstream):
        port = free_port()
        config = _config(farm, port, ws_port)
        state = tmp_path / "maintenance.yaml"
        config["maintenance"] = {"file": str(state)}
        router = start_router(config, port)
        conns: dict[str, Conn] = {}
        try:
            for host in ("testodoo.seisei.tokyo", "acme.erp.seisei.tokyo"):
                conn = conns[host] = await connect(port)
                await conn.send(build("GET", "/websocket", websocket_handshake(host)))
                head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
                assert head.startswith(b"HTTP/1.1 101 "), head
            await asyncio.sleep(0.3)  # frames flow on both
            # A frame in flight: the upstream stops half way through it, maintenance comes
            # (the router sees it within 0.1 s), and only once the frame is finished may the
            # close frame follow it.
            upstream.hold = True
            await asyncio.wait_for(upstream.held.wait(), 5)
            write_state(str(state), {"ten_testodoo": Entry(now_utc())})
            switched = time.monotonic()
            reader = conns["testodoo.seisei.tokyo"].reader
            reading = asyncio.ensure_future(read_frames(reader, time.monotonic() + 15))
            await asyncio.sleep(0.5)
            assert not reading.done(), "closed while a frame was in flight"
            upstream.go_on.set()
            frames, code, reason = await reading
            took = time.monotonic() - switched
            assert code == 1012 and reason == b"maintenance"
            assert frames >= 2, "frames flowed before the close"
            assert took < 2.0, f"closed {took:.2f}s after the switch"
            assert await reader.read() == b"", "nothing after the close frame"
            await asyncio.wait_for(upstream.closed.wait(), 5)  # and the upstream side closed
            # The other tenant's websocket still streams.
            other = conns["acme.erp.seisei.tokyo"].reader
            await asyncio.wait_for(other.readexactly(100_000), 5)
            assert not other.at_eof()
            # A new websocket of the tenant gets the 503 instead.
            conn = conns["new"] = await connect(port)
            handshake = websocket_handshake("testodoo.seisei.tokyo")
            await conn.send(build("GET", "/websocket", handshake))
            head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 503 "), head
        finally:
            upstream.go_on.set()
            for c in conns.values():
                await c.close()
            router.stop()


async def test_a_frame_never_finished_gets_the_connection_cut_without_a_close_frame(
    farm: Farm, tmp_path: Path
) -> None:
    """The upstream stops half way through a frame for good: no place for a close frame
    ever comes, so after RESTART_WAIT (10 s) the client connection is cut, and what the
    client got is whole frames, then part of one: never a close frame inside it."""
    async with streaming_upstream() as (ws_port, upstream):
        port = free_port()
        config = _config(farm, port, ws_port)
        state = tmp_path / "maintenance.yaml"
        config["maintenance"] = {"file": str(state)}
        router = start_router(config, port)
        conn: Conn | None = None
        try:
            conn = await _websocket(port)
            await asyncio.sleep(0.2)
            upstream.hold = True  # and never go on
            await asyncio.wait_for(upstream.held.wait(), 5)
            write_state(str(state), {"ten_testodoo": Entry(now_utc())})
            switched = time.monotonic()
            stream = await conn.rest(timeout=20)
            took = time.monotonic() - switched
            assert 9.5 < took < 15, f"cut {took:.2f}s after the switch"
            whole, at = 0, 0
            while at + len(frame_bytes(whole)) <= len(stream):
                assert stream[at : at + len(frame_bytes(whole))] == frame_bytes(whole)
                at += len(frame_bytes(whole))
                whole += 1
            partial = stream[at:]
            assert partial and frame_bytes(whole).startswith(partial), "a frame cut, nothing else"
            await asyncio.wait_for(upstream.closed.wait(), 5)
        finally:
            upstream.go_on.set()
            if conn is not None:
                await conn.close()
            router.stop()


async def test_a_websocket_opened_before_the_reload_that_added_maintenance(
    farm: Farm, tmp_path: Path
) -> None:
    """Every tunnel tracks its frames from the 101 on, so one opened while router.yaml had no
    ``maintenance`` section is closed with 1012 between two frames too, once a reload has
    added the section and the tenant is put in maintenance."""
    async with streaming_upstream() as (ws_port, upstream):
        port = free_port()
        config = _config(farm, port, ws_port)
        config.pop("maintenance", None)
        router = start_router(config, port)
        conn: Conn | None = None
        try:
            conn = await _websocket(port)
            reading = asyncio.ensure_future(read_frames(conn.reader, time.monotonic() + 30))
            await asyncio.sleep(0.3)  # frames flow before the section exists
            state = tmp_path / "maintenance.yaml"
            config["maintenance"] = {"file": str(state)}
            router.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
            os.kill(router.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "reloaded" not in router.log() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert "reloaded" in router.log()
            await asyncio.sleep(0.3)  # the worker has swapped its table (and watches the file)
            upstream.hold = True  # a frame in flight when maintenance comes
            await asyncio.wait_for(upstream.held.wait(), 5)
            write_state(str(state), {"ten_testodoo": Entry(now_utc())})
            await asyncio.sleep(0.5)
            assert not reading.done(), "closed while a frame was in flight"
            upstream.go_on.set()
            frames, code, reason = await asyncio.wait_for(reading, 20)
            assert (code, reason) == (1012, b"maintenance")
            assert frames >= 2, "frames flowed before the close"
            assert await conn.reader.read() == b"", "nothing after the close frame"
            await asyncio.wait_for(upstream.closed.wait(), 5)
        finally:
            upstream.go_on.set()
            if conn is not None:
                await conn.close()
            router.stop()


async def test_shutdown_closes_with_1001_between_frames(farm: Farm) -> None:
    """Graceful stop (SIGTERM), with no maintenance section at all: the 1001 close frame
    waits for the frame in flight, as the 1012 of maintenance does."""
    async with streaming_upstream() as (ws_port, upstream):
        port = free_port()
        config = _config(farm, port, ws_port)
        config.pop("maintenance", None)
        router = start_router(config, port)
        conn: Conn | None = None
        try:
            conn = await _websocket(port)
            reading = asyncio.ensure_future(read_frames(conn.reader, time.monotonic() + 30))
            await asyncio.sleep(0.3)
            upstream.hold = True
            await asyncio.wait_for(upstream.held.wait(), 5)
            os.kill(router.proc.pid, signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert not reading.done(), "closed while a frame was in flight"
            upstream.go_on.set()
            frames, code, _ = await asyncio.wait_for(reading, 20)
            assert code == 1001 and frames >= 2
            assert await conn.reader.read() == b"", "nothing after the close frame"
        finally:
            upstream.go_on.set()
            if conn is not None:
                await conn.close()
            router.stop()
