"""Four recording echo upstreams (tenant, tenant_lp, admin, admin_lp) in a background thread.

Each records what it received, exactly: the raw request target, the HTTP version, every
header in order with duplicates, the body's length and sha256. It answers 200 with a few
cookies (one already Secure, to see that the flag is not added twice) and a body naming the
upstream, or, on a websocket handshake, echoes every message back.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from .answers import requested

POOLS = ("tenant", "tenant_lp", "admin", "admin_lp")
UPSTREAM_COOKIES = (
    "session_id=s3cr3t; Path=/; HttpOnly",
    "tz=Asia/Tokyo; Path=/; Secure",
    "frontend_lang=en_US; path=/; secure; SameSite=Lax",
)


@dataclass(frozen=True)
class Received:
    pool: str
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body_length: int
    body_sha256: str
    websocket: bool


class Recorder:
    """What the upstreams received since the last `take()`; shared with the server thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Received] = []

    def add(self, item: Received) -> None:
        with self._lock:
            self._items.append(item)

    def take(self) -> list[Received]:
        with self._lock:
            items, self._items = self._items, []
            return items


def _is_websocket(request: web.Request) -> bool:
    upgrade = request.headers.get("Upgrade", "").lower()
    connection = request.headers.get("Connection", "").lower()
    return upgrade == "websocket" and "upgrade" in connection and request.version >= (1, 1)


def _handler(
    pool: str, recorder: Recorder
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        digest = hashlib.sha256()
        length = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            digest.update(chunk)
            length += len(chunk)
        websocket = _is_websocket(request)
        recorder.add(
            Received(
                pool=pool,
                method=request.method,
                target=request.raw_path,
                version=f"{request.version.major}.{request.version.minor}",
                headers=tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
                ),
                body_length=length,
                body_sha256=digest.hexdigest(),
                websocket=websocket,
            )
        )
        if websocket:
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await ws.send_str(f"{pool}:{msg.data}")
                elif msg.type == WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
            return ws
        answer = requested(request.raw_path)
        if answer is not None:
            return await answer(request, pool)
        response = web.Response(text=f"upstream={pool}\n", content_type="text/plain")
        for cookie in UPSTREAM_COOKIES:
            response.headers.add("Set-Cookie", cookie)
        return response

    return handle


class Upstreams:
    """The four servers on loopback ports of their own, served from one daemon thread."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="echo-upstreams", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._cleanup())
        self._loop.close()

    async def _start(self) -> None:
        for pool in POOLS:
            app = web.Application(client_max_size=1 << 30)
            app.router.add_route("*", "/{tail:.*}", _handler(pool, self.recorder))
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.ports[pool] = sock.getsockname()[1]
            await web.SockSite(runner, sock).start()
            self._runners.append(runner)

    async def _cleanup(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=20):
            raise TimeoutError("echo upstreams did not start")
        if self._error is not None:
            raise RuntimeError("echo upstreams failed to start") from self._error

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=20)


@contextmanager
def running_upstreams() -> Iterator[Upstreams]:
    upstreams = Upstreams()
    upstreams.start()
    try:
        yield upstreams
    finally:
        upstreams.stop()
