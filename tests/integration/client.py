"""A raw HTTP/1.x client over asyncio streams: exact bytes out, exact responses back.

aiohttp's client normalises too much for these tests (it would refuse to send a duplicate
Host or a bad chunk); this one writes what it is given and parses what comes back,
including the case where the router cuts the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

TIMEOUT = 5.0


@dataclass
class Response:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def values(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    def header(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def upstream(self) -> str | None:
        """The pool that answered (the echo upstream's X-Upstream), None for local answers."""
        return self.header("X-Upstream")

    def seen(self, name: str) -> list[str]:
        """Values of a request header as the upstream received it (from the echo body)."""
        low = name.lower()
        return [v for k, v in self.json()["headers"] if k.lower() == low]

    def seen_names(self) -> list[str]:
        return [k for k, _ in self.json()["headers"]]


class ConnectionCut(Exception):
    """The peer closed or reset the connection before a complete response."""


def new_tag() -> str:
    return uuid.uuid4().hex


def websocket_handshake(host: str) -> list[tuple[str, str]]:
    """The headers of a client's WebSocket opening request (RFC 6455's sample key)."""
    return [
        ("Host", host),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]


def build(
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
    *,
    length: bool = True,
) -> bytes:
    """A request as bytes; Content-Length is added for a body unless ``length`` is False."""
    lines = [f"{method} {target} {version}"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if body and length:
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


async def read_response(reader: asyncio.StreamReader, method: str = "GET") -> Response:
    try:
        line = await reader.readuntil(b"\r\n")
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ConnectionCut("no status line") from exc
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError(f"bad status line {line!r}")
    resp = Response(int(parts[1]), parts[2] if len(parts) > 2 else "", parts[0])
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionCut("cut inside the head") from exc
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        resp.headers.append((name.strip(), value.strip()))
    if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
        return resp
    te = (resp.header("Transfer-Encoding") or "").lower()
    try:
        if "chunked" in te:
            resp.body = await _read_chunked(reader)
        elif resp.header("Content-Length") is not None:
            resp.body = await reader.readexactly(int(resp.values("Content-Length")[0]))
        else:
            resp.body = await reader.read()
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ConnectionCut(f"cut inside the body of a {resp.status}") from exc
    return resp


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, method: str = "GET", timeout: float = TIMEOUT) -> Response:
        return await asyncio.wait_for(read_response(self.reader, method), timeout)

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """True when the peer closed (EOF or reset) with nothing more to read."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except ConnectionError:
            return True
        except TimeoutError:
            return False
        return data == b""

    async def rest(self, timeout: float = TIMEOUT) -> bytes:
        """Everything until the peer closes (b"" when it closes at once)."""
        out = bytearray()
        try:
            async with asyncio.timeout(timeout):
                while chunk := await self.reader.read(65536):
                    out += chunk
        except ConnectionError:
            pass
        return bytes(out)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def connect(port: int, source: str | None = None) -> Conn:
    local = (source, 0) if source else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=local, limit=1 << 20), TIMEOUT
    )
    return Conn(reader, writer)


async def exchange(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    *,
    version: str = "HTTP/1.1",
    source: str | None = None,
    timeout: float = TIMEOUT,
    length: bool = True,
) -> Response:
    """One request on a fresh connection, one response."""
    conn = await connect(port, source)
    try:
        await conn.send(build(method, target, headers, body, version, length=length))
        return await conn.response(method, timeout)
    finally:
        await conn.close()


async def get(
    port: int,
    host: str | None,
    target: str,
    extra: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    body: bytes = b"",
    source: str | None = None,
) -> Response:
    headers = [("Host", host)] if host is not None else []
    return await exchange(port, method, target, headers + list(extra or []), body, source=source)


async def raw(port: int, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send bytes, return everything the router sends back until it closes."""
    conn = await connect(port)
    try:
        await conn.send(data)
        return await conn.rest(timeout)
    finally:
        await conn.close()
