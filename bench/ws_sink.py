"""A lean websocket echo server (the sink's stand-in for Odoo's :8072). Run as a module.

Answers the HTTP upgrade with 101, then echoes every data frame back unmasked and answers
close with close. Just enough RFC 6455 for the bench; not a general server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sys
from typing import cast

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_value(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    n = len(payload)
    first = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head = first + bytes([bit | n])
    elif n < 65536:
        head = first + bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head = first + bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask:
        return head + mask + unmask(payload, mask)
    return head + payload


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def parse_frame(buf: bytearray) -> tuple[int, bytes, int] | None:
    """(opcode, unmasked payload, bytes used) for the first whole frame in buf."""
    if len(buf) < 2:
        return None
    opcode, n, masked = buf[0] & 0x0F, buf[1] & 0x7F, buf[1] & 0x80
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = int.from_bytes(buf[2:10], "big"), 10
    mask = b""
    if masked:
        mask, pos = bytes(buf[pos : pos + 4]), pos + 4
    if len(buf) < pos + n:
        return None
    payload = bytes(buf[pos : pos + n])
    return opcode, (unmask(payload, mask) if masked else payload), pos + n


class EchoProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            key = b""
            for line in bytes(self.buf[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            del self.buf[: end + 4]
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_value(key) + b"\r\n\r\n"
            )
            self.upgraded = True
        while (found := parse_frame(self.buf)) is not None:
            opcode, payload, used = found
            del self.buf[:used]
            if opcode == 8:
                self.transport.write(frame(8, payload[:2]))
                self.transport.close()
                return
            if opcode == 9:
                self.transport.write(frame(10, payload))
            elif opcode in (1, 2):
                self.transport.write(frame(opcode, payload))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoProtocol, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    import uvloop

    uvloop.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
