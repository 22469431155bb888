"""After a 101 Switching Protocols both connections become one byte tunnel (as nginx does).

WebSocket frames, pings and close codes pass untouched. The route's read timeout is the
idle limit (Odoo pings every 45 s, so the routes use 300 s). Back-pressure goes both ways:
a side whose peer cannot keep up stops being read. On graceful shutdown the client gets a
close frame with code 1001 (going away) before the tunnel closes. Its end is reported to
the driver (``Events.tunnel_closed``), which closes the client connection.
"""

from __future__ import annotations

from time import monotonic
from typing import Final

from ..routing.table import Decision
from .downstream import Downstream
from .events import Events
from .pools import Receiver, UpstreamConnection

# An unmasked server-to-client close frame: FIN + opcode 8, length 2, status 1001.
GOING_AWAY: Final = b"\x88\x02\x03\xe9"


class Tunnel(Receiver):
    def __init__(
        self,
        client: Downstream,
        upstream: UpstreamConnection,
        idle: float,
        early: bytes,
        owner: Events,
        decision: Decision | None = None,  # what opened it: its tenant, for the metrics
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.idle = idle
        self.owner = owner
        self.last = monotonic()
        self.closed = False
        self.decision = decision
        upstream.attach(self, self.last)
        client.state.websocket_change(1, decision)
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
            up.when_drained(self.client.resume_reading)

    def upstream_data(self, data: bytes) -> None:
        self.last = monotonic()
        self.client.write(data)
        if self.client.paused_writing:
            self.upstream.pause_reading()

    def client_drained(self) -> None:
        if not self.upstream.closed:
            self.upstream.resume_reading()

    # -- ends -----------------------------------------------------------------------

    def client_eof(self) -> None:
        transport = self.upstream.transport
        if transport is not None and transport.can_write_eof():
            transport.write_eof()

    def upstream_lost(self, exc: Exception | None) -> None:
        self.client.close()
        self._done()

    def check_idle(self, now: float) -> None:
        if now - self.last > self.idle:
            if self.client.buffered():
                self.client.abort()  # a client that stopped reading keeps nothing open
            self.close()

    def going_away(self) -> None:
        self.client.write(GOING_AWAY)
        self.close()

    def close(self) -> None:
        self.upstream.abort()  # RST: a stalled upstream must not keep the socket
        self.client.close()
        self._done()

    def _done(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.state.websocket_change(-1, self.decision)
            self.owner.tunnel_closed()
