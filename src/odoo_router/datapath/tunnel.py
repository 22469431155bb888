"""After a 101 Switching Protocols both connections become one byte tunnel (as nginx does).

WebSocket frames, pings and close codes pass untouched. The route's read timeout is the
idle limit (Odoo pings every 45 s, so the routes use 300 s). Back-pressure goes both ways:
a side whose peer cannot keep up stops being read. Its end is reported to the driver
(``Events.tunnel_closed``), which closes the client connection.

The router closes a websocket itself with a close frame between two of the server's frames,
never inside one in flight: 1012 (service restart) when its tenant is put in maintenance,
1001 (going away) on graceful shutdown. Every tunnel tracks where the server's frames end
from the first byte after the 101 (wsframes.py: headers only, one subtraction per read), so
a tunnel opened before a reload added the ``maintenance`` section closes as cleanly as any.
Mid-frame, the rest of that frame is relayed first, then the close frame; an upstream that
does not finish its frame within RESTART_WAIT gets the connection cut (no close frame: it
could only land inside the frame). Then the upstream side is closed.
"""

from __future__ import annotations

from typing import Final

from ..routing.table import Decision
from .clock import monotonic
from .downstream import Downstream
from .events import Events
from .pools import Receiver, UpstreamConnection
from .wsframes import FrameEnds

# An unmasked server-to-client close frame: FIN + opcode 8, length 2, status 1001.
GOING_AWAY: Final = b"\x88\x02\x03\xe9"
# The same with status 1012 (service restart) and the reason "maintenance".
SERVICE_RESTART: Final = b"\x88\x0d\x03\xf4maintenance"
RESTART_WAIT: Final = 10.0  # seconds an upstream may take to finish the frame in flight


class Tunnel(Receiver):
    def __init__(
        self,
        client: Downstream,
        upstream: UpstreamConnection,
        idle: float,
        early: bytes,
        owner: Events,
        decision: Decision | None = None,  # what opened it: its tenant, for the metrics
        relayed: bytes = b"",  # what the upstream sent after its 101 head, already relayed
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.idle = idle
        self.owner = owner
        self.last = monotonic()
        self.closed = False
        self.decision = decision
        self.tenant = decision.tenant_db if decision is not None else None  # for maintenance
        self.frames = FrameEnds()  # where the server's frames end
        self.frames.advance(relayed, False)
        self.closing = 0.0  # closing between frames: the deadline for the frame in flight
        self.close_frame = b""
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
        if self.closing:
            end = self.frames.advance(data, True)
            if end >= 0:
                self.client.write(data[:end])
                self._close_now()
                return
        else:
            self.frames.advance(data, False)
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
        if self.closing and now > self.closing:  # the frame in flight never ended
            self.client.abort()
            self.close()
            return
        if now - self.last > self.idle:
            if self.client.buffered():
                self.client.abort()  # a client that stopped reading keeps nothing open
            self.close()

    def going_away(self) -> None:
        """Close with 1001 (graceful shutdown), between two of the server's frames."""
        self._close_with(GOING_AWAY)

    def restart(self) -> None:
        """Close with 1012 (service restart: maintenance), between two of the server's
        frames."""
        self._close_with(SERVICE_RESTART)

    def _close_with(self, frame: bytes) -> None:
        if self.closed:
            return
        if self.closing:  # asked again while the frame in flight has not ended: cut
            self.client.abort()
            self.close()
            return
        self.close_frame = frame
        if self.frames.at_end():
            self._close_now()
        else:  # the rest of the frame first (upstream_data), within RESTART_WAIT
            self.closing = monotonic() + RESTART_WAIT

    def _close_now(self) -> None:
        self.client.write(self.close_frame)
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
