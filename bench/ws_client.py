"""The websocket load: N idle connections through the proxy, then echo round trips.

Protocol with the harness (stdin/stdout): prints ``OPEN <n> <failed>`` when every handshake
is done, waits for a line on stdin (the harness measures RSS meanwhile), runs round trips for
the given seconds on ``--active`` of them at once (the rest stay idle), prints
``BENCHJSON {...}`` and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
from typing import cast

from bench.ws_sink import frame, parse_frame


class Client(asyncio.Protocol):
    def __init__(self, host: str, path: str) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.echo: asyncio.Future[bytes] | None = None
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: https://{host}\r\n\r\n"
        ).encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = self.buf.startswith(b"HTTP/1.1 101")
            del self.buf[: end + 4]
            self.upgraded.set_result(ok)
        while (found := parse_frame(self.buf)) is not None:
            _, payload, used = found
            del self.buf[:used]
            if self.echo is not None and not self.echo.done():
                self.echo.set_result(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_result(False)
        if self.echo is not None and not self.echo.done():
            self.echo.set_exception(ConnectionError("closed"))

    async def round_trip(self, payload: bytes) -> None:
        assert self.transport is not None
        self.echo = asyncio.get_running_loop().create_future()
        self.transport.write(frame(1, payload, os.urandom(4)))
        if await self.echo != payload:
            raise ValueError("echo differs")


async def _open(port: int, host: str, path: str) -> Client | None:
    loop = asyncio.get_running_loop()
    try:
        _, client = await loop.create_connection(lambda: Client(host, path), "127.0.0.1", port)
        if await asyncio.wait_for(client.upgraded, 10):
            return client
    except (TimeoutError, OSError):
        pass
    return None


async def main_async(
    port: int, count: int, active: int, seconds: float, host: str, path: str
) -> None:
    clients: list[Client] = []
    failed = 0
    for start in range(0, count, 100):  # in batches: the listen backlog stays small
        batch = await asyncio.gather(
            *(_open(port, host, path) for _ in range(start, min(count, start + 100)))
        )
        clients += [c for c in batch if c is not None]
        failed += sum(c is None for c in batch)
    print(f"OPEN {len(clients)} {failed}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    payload = b'{"event_name":"subscribe","data":{"channels":[],"last":0}}'

    async def loop_one(client: Client) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(client.round_trip(payload), 10)
            except (TimeoutError, ConnectionError, ValueError):
                errors += 1
                return
            latencies.append(time.perf_counter() - t0)

    t0 = time.monotonic()
    await asyncio.gather(*(loop_one(c) for c in clients[:active]))
    elapsed = time.monotonic() - t0
    latencies.sort()

    def pct(p: float) -> int:
        if not latencies:
            return 0
        return int(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1e6)

    result = {
        "opened": len(clients),
        "failed": failed,
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "errors": errors,
        "p50": pct(50),
        "p99": pct(99),
        "p999": pct(99.9),
    }
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    print("BENCHJSON " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--active", type=int, default=100, help="connections doing round trips")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--host", default="testodoo.seisei.tokyo")
    parser.add_argument("--path", default="/websocket")
    args = parser.parse_args()
    import uvloop

    uvloop.run(main_async(args.port, args.count, args.active, args.seconds, args.host, args.path))


if __name__ == "__main__":
    main()
