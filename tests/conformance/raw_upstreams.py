"""Four upstreams that answer with exact bytes, for answers no HTTP library would write.

Same pools and recording as upstreams.py (a ``Received`` per request), but each answer is
written by hand: a request whose target holds ``raw=NAME`` gets the script ``NAME`` of
upstream_answers.py (interim answers, bodies longer or shorter than declared, trailers, a
second answer nobody asked for, a head of 70 KB ...); any other request gets a plain
keep-alive ``200`` naming the pool. The servers parse requests with httptools, one
connection at a time in order, and keep connections open unless a script closes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httptools

from .upstreams import POOLS, Received, Recorder


@dataclass
class Writer:
    """What a script may do with the upstream's side of the connection."""

    transport: asyncio.Transport
    pool: str
    method: str

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.transport.close()


Script = Callable[[Writer], Awaitable[None]]


def plain(pool: str) -> bytes:
    body = f"upstream={pool}\n".encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%b" % (
        len(body),
        body,
    )


class _Conn(asyncio.Protocol):
    def __init__(self, pool: str, recorder: Recorder, scripts: dict[str, Script]) -> None:
        self.pool = pool
        self.recorder = recorder
        self.scripts = scripts
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.digest = hashlib.sha256()
        self.length = 0
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.task = asyncio.get_running_loop().create_task(self._answer_in_order())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.digest = hashlib.sha256()
        self.length = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.digest.update(body)
        self.length += len(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        target = self.url.decode("latin-1")
        self.recorder.add(
            Received(
                pool=self.pool,
                method=method,
                target=target,
                version=self.parser.get_http_version(),
                headers=tuple(self.headers),
                body_length=self.length,
                body_sha256=self.digest.hexdigest(),
                websocket=False,
            )
        )
        self.queue.put_nowait((method, target))

    async def _answer_in_order(self) -> None:
        while True:
            method, target = await self.queue.get()
            assert self.transport is not None
            name = target.split("raw=", 1)[1].split("&", 1)[0] if "raw=" in target else ""
            script = self.scripts.get(name)
            writer = Writer(self.transport, self.pool, method)
            if script is None:
                writer.write(plain(self.pool))
            else:
                await script(writer)


class RawUpstreams:
    """The four servers on loopback ports of their own, served from one daemon thread."""

    def __init__(self, scripts: dict[str, Script]) -> None:
        self.recorder = Recorder()
        self.scripts = scripts
        self.ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.AbstractServer] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-upstreams", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()
        for server in self._servers:
            server.close()
        self._loop.close()

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for pool in POOLS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.ports[pool] = sock.getsockname()[1]
            server = await loop.create_server(
                lambda pool=pool: _Conn(pool, self.recorder, self.scripts), sock=sock
            )
            self._servers.append(server)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=20):
            raise TimeoutError("raw upstreams did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=20)


@contextmanager
def running_raw_upstreams(scripts: dict[str, Script]) -> Iterator[RawUpstreams]:
    upstreams = RawUpstreams(scripts)
    upstreams.start()
    try:
        yield upstreams
    finally:
        upstreams.stop()
