"""The floor: a Python proxy that only forwards, to measure what the router costs beyond it.

``python -m bench.floor_proxy LISTEN_PORT UPSTREAM_PORT SECONDS`` serves keep-alive GETs on
127.0.0.1: it parses the request with httptools, adds the forwarding headers and a fixed
X-Odoo-dbfilter, writes it to a pooled keep-alive upstream connection and relays the answer.
No normalisation, routing, header rules, limits, bodies, errors or logging: not a router,
only the cheapest shape of the same data path on uvloop, for ``python -m bench.floor``. It
exits by itself after SECONDS. ``bench.floor`` also runs it compiled by mypyc, as the
router's data path is, to show the floor of that build.
"""

from __future__ import annotations

import asyncio
import sys

import httptools
import uvloop

_DROP = frozenset({b"host", b"connection", b"x-forwarded-for", b"server", b"date"})


class Upstream(asyncio.Protocol):
    def __init__(self, idle: list[Upstream]) -> None:
        self.idle = idle
        self.parser = httptools.HttpResponseParser(self)
        self.client: Client | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.out: list[bytes] = []
        self.reason = b""
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self in self.idle:
            self.idle.remove(self)

    def send(self, client: Client, head: bytes) -> None:
        assert self.transport is not None
        self.client, self.headers, self.done = client, [], False
        self.transport.write(head)

    def data_received(self, data: bytes) -> None:
        self.out = []
        self.parser.feed_data(data)
        client = self.client
        assert client is not None and client.transport is not None
        if self.out:
            client.transport.write(b"".join(self.out))
        if self.done:
            self.client = None
            self.idle.append(self)

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parts = [b"HTTP/1.1 %d %b\r\n" % (self.parser.get_status_code(), self.reason)]
        for name, value in self.headers:
            if name.lower() not in _DROP:
                parts += (name, b": ", value, b"\r\n")
        parts.append(b"Server: floor\r\nConnection: keep-alive\r\n\r\n")
        self.out.append(b"".join(parts))

    def on_body(self, body: bytes) -> None:
        self.out.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class Client(asyncio.Protocol):
    def __init__(self, upstream_port: int, idle: list[Upstream]) -> None:
        self.upstream_port = upstream_port
        self.idle = idle
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url, self.headers = b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        host = b""
        parts = [self.parser.get_method(), b" ", self.url, b" HTTP/1.1\r\n"]
        for name, value in self.headers:
            low = name.lower()
            if low == b"host":
                host = value
            elif low not in _DROP:
                parts += (name, b": ", value, b"\r\n")
        parts += (
            b"Host: ",
            host,
            b"\r\nX-Real-IP: 127.0.0.1\r\nX-Forwarded-For: 127.0.0.1\r\n"
            b"X-Odoo-dbfilter: ^ten$\r\nConnection: keep-alive\r\n\r\n",
        )
        head = b"".join(parts)
        while self.idle:
            upstream = self.idle.pop()
            if not upstream.closed:
                upstream.send(self, head)
                return
        asyncio.get_running_loop().create_task(self._connect(head))

    async def _connect(self, head: bytes) -> None:
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(
            lambda: Upstream(self.idle), "127.0.0.1", self.upstream_port
        )
        upstream.send(self, head)


async def serve(port: int, upstream_port: int, seconds: float) -> None:
    idle: list[Upstream] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Client(upstream_port, idle), "127.0.0.1", port)
    await asyncio.sleep(seconds)
    server.close()


def main(argv: list[str]) -> None:
    uvloop.run(serve(int(argv[0]), int(argv[1]), float(argv[2])))


if __name__ == "__main__":
    main(sys.argv[1:])
