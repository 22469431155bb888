"""The soak's clients (bench/soak.py): keep-alive GETs, JSON-RPC calls, 20 MiB uploads and
held websockets, each loop bounded by a deadline, each answer that is not the expected one
recorded with when its request started and ended (a restart window explains it, or not).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field

from bench.ws_client import Client as WsClient

HOST = "testodoo.seisei.tokyo"  # a named tenant of config/router.yaml (dbfilter ten_testodoo)
RPC_BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {
            "service": "object",
            "method": "execute_kw",
            "args": ["ten_testodoo", 2, "pw", "res.partner", "search_read", [[]]],
        },
    }
).encode()
ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError)


@dataclass
class Event:
    """An answer that was not the expected one; times in seconds since the soak began."""

    start: float
    end: float
    kind: str
    what: str


@dataclass
class Tally:
    t0: float = field(default_factory=time.monotonic)
    ok: dict[str, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, kind: str, start: float, what: str | None) -> None:
        if what is None:
            self.ok[kind] = self.ok.get(kind, 0) + 1
        else:
            self.events.append(Event(start, self.now(), kind, what))


class Http:
    """One keep-alive HTTP/1.1 connection, reopened when the server ends it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", ctype: str = "") -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
        if body or method == "POST":
            head += f"Content-Length: {len(body)}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        self.writer.write(head.encode() + b"\r\n")
        if body:
            self.writer.write(body)
        await self.writer.drain()
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
        }
        if "content-length" in fields:
            await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None


async def http_loop(
    tally: Tally,
    port: int,
    kind: str,
    deadline: float,
    pause: float,
    method: str = "GET",
    body: bytes = b"",
    ctype: str = "",
) -> None:
    """Requests one after another on one keep-alive connection until ``deadline``."""
    conn = Http(port)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        start = tally.now()
        try:
            status = await asyncio.wait_for(
                conn.request(method, f"/web/soak/{kind}/{n}", body, ctype), 120
            )
        except ERRORS as exc:
            conn.close()
            tally.add(kind, start, f"error {type(exc).__name__}")
        else:
            tally.add(kind, start, None if status == 200 else str(status))
        await asyncio.sleep(pause)
    conn.close()


async def _open_ws(port: int) -> WsClient | None:
    loop = asyncio.get_running_loop()
    try:
        _, client = await loop.create_connection(
            lambda: WsClient(HOST, "/websocket"), "127.0.0.1", port
        )
        if await asyncio.wait_for(client.upgraded, 10):
            return client
        if client.transport is not None:
            client.transport.abort()
    except ERRORS:
        pass
    return None


async def websocket_loop(
    tally: Tally, port: int, deadline: float, every: float, offset: float
) -> None:
    """One websocket held open; a round trip every ``every`` seconds; reopened if it fails."""
    await asyncio.sleep(offset)  # spread the round trips of all the sockets over ``every``
    client: WsClient | None = None
    while time.monotonic() < deadline:
        start = tally.now()
        if client is None:
            client = await _open_ws(port)
            tally.add("ws-open", start, None if client is not None else "no 101")
        elif client.transport is None or client.transport.is_closing():
            tally.add("ws", start, "closed by the router")
            client = None
            continue
        else:
            try:
                await asyncio.wait_for(client.round_trip(os.urandom(8).hex().encode()), 10)
                tally.add("ws", start, None)
            except (*ERRORS, ConnectionError) as exc:
                tally.add("ws", start, f"error {type(exc).__name__}")
                client.transport.abort() if client.transport is not None else None
                client = None
                continue
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))
    if client is not None and client.transport is not None:
        client.transport.close()
