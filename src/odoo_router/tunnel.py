"""After a 101 Switching Protocols both connections become one byte tunnel (as nginx does).

WebSocket frames, pings and close codes pass untouched. The route's read timeout is the
idle limit (Odoo pings every 45 s, so the routes use 300 s). Back-pressure goes both ways:
a side whose peer cannot keep up stops being read. On graceful shutdown the client gets a
close frame with code 1001 (going away) before the tunnel closes.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .pools import UpstreamConnection
    from .proxy import ClientConnection

# An unmasked server-to-client close frame: FIN + opcode 8, length 2, status 1001.
GOING_AWAY: Final = b"\x88\x02\x03\xe9"


class Tunnel:
    def __init__(
        self, client: ClientConnection, upstream: UpstreamConnection, idle: float, early: bytes
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.idle = idle
        self.last = monotonic()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.resuming: asyncio.Task[None] | None = None  # held: loops keep tasks weakly
        upstream.exchange = self
        client.state.websocket_change(1)
        if early and upstream.transport is not None:
            upstream.transport.write(early)

    # -- both directions ------------------------------------------------------------

    def from_client(self, data: bytes) -> None:
        self.last = monotonic()
        up = self.upstream
        if up.closed or up.transport is None:
            return
        up.transport.write(data)
        if up.paused_writing:
            self.client.pause_reading()
            self.resuming = asyncio.get_running_loop().create_task(self._resume_client())

    async def _resume_client(self) -> None:
        try:
            await self.upstream.drain()
        except Exception:
            return
        self.client.resume_reading()

    def upstream_data(self, data: bytes) -> None:
        self.last = monotonic()
        self.client.write_raw(data)
        if self.client.paused_writing and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def client_drained(self) -> None:
        if self.upstream.transport is not None and not self.upstream.closed:
            self.upstream.transport.resume_reading()

    # -- ends -----------------------------------------------------------------------

    def client_eof(self) -> None:
        if self.upstream.transport is not None and self.upstream.transport.can_write_eof():
            self.upstream.transport.write_eof()

    def upstream_lost(self, exc: Exception | None) -> None:
        self.client.close()
        self._done()

    def check_idle(self, now: float) -> None:
        if now - self.last > self.idle:
            transport = self.client.transport
            if transport is not None and transport.get_write_buffer_size():
                transport.abort()  # a client that stopped reading keeps nothing open
            self.close()

    def going_away(self) -> None:
        self.client.write_raw(GOING_AWAY)
        self.close()

    def close(self) -> None:
        self.upstream.abort()  # RST: a stalled upstream must not keep the socket
        self.client.close()
        self._done()

    def _done(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
            self.client.state.websocket_change(-1)
