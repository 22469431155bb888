"""A minimal WebSocket client side (RFC 6455) on a ``Conn``: masked frames out, frames in.

aiohttp's client does not wait for its TLS connections to finish closing, which leaves a
socket for the garbage collector (a ResourceWarning, an error in this suite); a ``Conn``
closes and waits."""

from __future__ import annotations

import asyncio
import os
import struct

from integration.client import Conn

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final frame, masked as a client must."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_frame(conn: Conn, timeout: float = 5.0) -> tuple[int, bytes]:
    """(opcode, payload) of the next frame from the server (unmasked, final)."""
    async with asyncio.timeout(timeout):
        first, second = await conn.reader.readexactly(2)
        assert first & 0x80 and not second & 0x80, "a final, unmasked frame"
        n = second & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await conn.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await conn.reader.readexactly(8))
        return first & 0x0F, await conn.reader.readexactly(n)
