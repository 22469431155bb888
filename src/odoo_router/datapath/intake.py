"""A client connection's intake: what the client sends becomes requests queued in order;
the logging phase and the keep-alive rule; the connection's timers. driver.Driver adds the
phases.

Framing reports heads, bodies and parse errors here (events.Events); a whole head goes
through phase 1 (request_filter.py) and joins the queue in FILTERED, a refusal as a failure
answered in turn. Body bytes are dropped after an answer, streamed to the upstream, or
buffered (memory, then a temp file). Reading pauses while more than MAX_QUEUED requests
wait or a streamed body outruns its upstream. The timers are nginx's: the whole head, two
body reads, the last answer, a client that takes nothing, the lingering close.
"""

from __future__ import annotations

import asyncio
from typing import Final

from ..http.errors import CLIENT, LOCAL
from ..routing.request_filter import Peer, Refusal, RequestHead, request_filter
from ..routing.uri import BadRequest
from . import forward
from . import request as rs
from .cache import Key
from .clock import monotonic
from .downstream import Downstream
from .events import Events
from .exchange import Exchange
from .framing import RequestFraming
from .pools import UpstreamConnection, UpstreamPool
from .request import Request
from .rpc_guard import BodyInspection
from .spool import Spool, spill
from .state import WorkerState
from .tunnel import Tunnel

MAX_QUEUED: Final = 16  # requests parsed ahead of the answers; then reading pauses
# nginx's lingering_time and lingering_timeout (defaults): how long a connection that
# answered before reading the client's body goes on reading and dropping it.
LINGERING_TIME: Final = 30.0
LINGERING_TIMEOUT: Final = 5.0


class Intake(Events):
    def __init__(self, state: WorkerState) -> None:
        self.state = state
        settings = state.settings
        self.out = Downstream(state, None)
        self.framing = RequestFraming(
            self, settings.large_client_header_buffers, settings.max_header_count
        )
        self.peer = "127.0.0.1"
        self.peer_info = Peer(self.peer)
        self.keepalive_requests = settings.keepalive_requests
        self.max_body = settings.client_max_body_size
        self.buffer_memory = settings.request_buffer_memory
        # Not a deque: the compiled build calls a deque's methods by name (~130 instructions).
        self.queue: list[Request] = []
        self.busy = False  # the request at the queue's head has been started
        self.dispatching = False
        self.ending = False  # the connection answers no further request
        self.exchange: Exchange | None = None
        self.spool: Spool | None = None
        self.tunnel: Tunnel | None = None
        self.tunneled: Request | None = None
        self.upgrade_rest = b""
        self.inspection: BodyInspection | None = None
        self.inspect_soon = False  # a step of the inspection is scheduled
        self.pool: UpstreamPool | None = None  # the current request's pool
        self.cache_key: Key | None = None
        # What the request at the queue's head waits for (held: loops keep tasks weakly).
        self.checking: asyncio.Future[str | None] | None = None  # a password check
        self.connecting: asyncio.Task[UpstreamConnection] | None = None
        self.heads = forward.HeadMemo()
        self.served = 0
        self.last_activity = monotonic()
        self.idle_since = self.last_activity  # the end of the last answer
        self.linger_until = 0.0  # lingering (see linger()) until then
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- the connection's events (proxy.ClientConnection) -----------------------------

    def connection_made(self, transport: asyncio.Transport, peer: str) -> None:
        self.out.made(transport)
        self.peer = peer
        self.peer_info = Peer(peer)
        state = self.state
        self.loop = state.event_loop()
        state.connection_opened(self)

    def received(self, data: bytes) -> None:
        self.last_activity = now = monotonic()
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.from_client(data)
            return
        self.framing.feed(data, now)

    def eof(self) -> bool:
        if self.tunnel is not None:
            self.tunnel.client_eof()
            return True
        return False

    def drained(self) -> None:
        self.out.writing_resumed()
        if self.spool is not None:
            self.spool.pump()
        ex = self.exchange
        if ex is not None:
            ex.conn.resume_reading()
        if self.tunnel is not None:
            self.tunnel.client_drained()

    def lost(self) -> None:
        cut = None if self.queue else self.framing.cut_short()
        if isinstance(cut, Request):  # a head the client never finished: logged, as nginx
            self.queue.append(cut)
        self.out.lost()
        self.framing.close()
        self.state.connection_closed(self)
        if self.tunnel is not None:
            self.tunnel.close()
        ex = self.exchange
        if ex is not None:
            ex.client_gone()  # the exchange ends (ABORTED) and tells exchange_done
        if not self.queue:
            return
        req = self.queue[0]
        if self.spool is not None:  # the response is whole upstream; the client left
            self.spool.abort()
            self.spool = None
            self.finish_as(req, rs.DONE)
        elif not self.busy or req.state == rs.BODY:  # waiting for its turn, body or head
            self.inspection = None
            req.status = req.status or (499 if req.complete else 400)  # cut short: 400, as nginx
            self.finish_as(req, rs.FAILED)
        # FILTERED or UPSTREAM with a check or a connect pending: it sees the close

    # -- from framing: heads, bodies, errors ------------------------------------------

    def new_head(self, start: float) -> RequestHead:
        return Request(start)

    def head_complete(self, head: RequestHead) -> None:
        assert isinstance(head, Request)
        state = self.state
        found = request_filter(
            head, self.peer_info, state.filter_settings, state.table, state.routes
        )
        if isinstance(found, Refusal):
            head.refused(found)
            raise BadRequest(found.reason, found.status)  # framing stops, parse_error answers
        rid = found.request_id
        head.filtered(found, rid if rid is not None else state.new_request_id())
        head.enter(rs.FILTERED)
        queue = self.queue
        queue.append(head)
        if len(queue) > MAX_QUEUED:
            self.out.pause_reading()
        if not self.busy:
            self.dispatch()

    def body(self, head: RequestHead, data: bytes) -> None:
        assert isinstance(head, Request)
        req = head
        req.body_size += len(data)
        decision = req.decision
        if req.error_status or req.status or (decision is not None and decision.local is not None):
            # Answered already (or will be without it): read and dropped, as nginx does;
            # past the body limit the connection just ends (never a second response).
            if req.body_size > self.max_body:
                self.framing.stop()
                self.out.close()
            return
        if req.body_size > self.max_body:
            raise BadRequest("request body too large", 413)
        sink = req.sink
        if sink is not None:
            forward.stream_body(req, sink, data)
            return
        if req.streaming:  # not connected yet: held in memory, framed when sent
            req.add_piece(data)
            if req.body_size > self.buffer_memory:
                self.out.pause_reading()
            return
        if req.body_file is not None or req.body_size > self.buffer_memory:
            spill(self.state, req, data)  # a failure raises RequestError(..., 500, LOCAL)
        else:
            req.add_piece(data)
        if self.inspection is not None and req.state == rs.BODY:
            self.body_event(req)

    def message_complete(self, head: RequestHead) -> None:
        assert isinstance(head, Request)
        req = head
        req.complete = True
        sink = req.sink
        if sink is not None:
            forward.stream_end(req, sink)
        if req.state == rs.BODY:
            self.body_event(req)
        elif not self.busy and self.queue:
            self.dispatch()

    def parse_error(self, head: RequestHead | None, status: int, source: str) -> None:
        """A request that cannot be parsed or is refused before routing ends the connection."""
        req = head if isinstance(head, Request) else Request(monotonic())
        ex = self.exchange
        if ex is not None and ex.req is req and not ex.ended():
            # The body went wrong while streaming upstream: that connection is unusable; the
            # exchange answers the error, or aborts the client if the head went out already.
            req.sink = None
            ex.fail(status, "request body error while streaming", "client")
            self.out.pause_reading()
            return
        if req.status:  # answered already: there is nothing left to say, only to close
            self.out.close()
            return
        req.fail(source, status)
        req.keep_alive = False
        req.body_unread = not req.complete and (bool(req.content_length) or req.chunked)
        req.complete = True
        if req.state == rs.HEAD:
            req.enter(rs.FILTERED)
            self.queue.append(req)
        self.out.pause_reading()
        if req.state == rs.BODY:
            self.body_event(req)
        elif not self.busy:
            self.dispatch()

    def upgraded(self, rest: bytes) -> None:
        self.upgrade_rest = rest
        self.out.pause_reading()  # the rest belongs to the tunnel, if one is made

    def parse_more(self) -> bool:
        if len(self.queue) > MAX_QUEUED:
            self.out.pause_reading()
            return False
        return True

    def body_due(self, head: RequestHead) -> int:
        assert isinstance(head, Request)
        length = head.content_length
        return length - head.body_size if length is not None else -1

    # -- what the driver does (driver.Driver) ---------------------------------------------

    def dispatch(self) -> None:
        """Start the request at the queue's head unless one is under way already."""
        raise NotImplementedError

    def advance(self, req: Request) -> None:
        """Run the phases ``req``'s state calls for until one has to wait."""
        raise NotImplementedError

    def body_event(self, req: Request) -> None:
        """More of the body of the request in BODY came, or it ended, or it failed."""
        raise NotImplementedError

    def finish_as(self, req: Request, state: int) -> None:
        req.enter(state)
        self.advance(req)

    # -- DONE / FAILED: the logging phase, the keep-alive rule --------------------------

    def logged(self, req: Request) -> bool:
        """Log ``req`` and take it off the queue; False when the connection ends here."""
        queue = self.queue
        if queue and queue[0] is req:
            queue.pop(0)
        self.busy = False
        if req.body_file is not None:
            req.body_file.close()
        state = self.state
        if state.observers:
            state.finish(self, req)
        out = self.out
        if self.tunnel is not None:
            self.ending = True
            return False
        self.served += 1
        if not req.keep_alive or self.served >= self.keepalive_requests:
            self.ending = True
            if req.complete and not req.body_unread:
                out.close()
            else:
                self.linger()
            return False
        if state.draining and not queue:
            self.ending = True
            out.close()
            return False
        self.read_on()
        self.idle_since = monotonic()  # keepalive_timeout runs from here, never earlier
        return True

    def read_on(self) -> None:
        """Reading goes on once the queue has room (and no tunnel waits for the rest): what
        framing held first, from the loop as this may run inside a parser callback, then
        the socket."""
        out = self.out
        if not out.paused_reading or len(self.queue) > MAX_QUEUED or self.upgrade_rest:
            return
        if self.framing.held and self.loop is not None:
            self.loop.call_soon(self._feed_held)
        else:
            out.resume_reading()

    def _feed_held(self) -> None:
        if not self.out.closed:
            self.framing.feed_held()
            self.read_on()

    def linger(self) -> None:
        """nginx's lingering close, for an answer sent before the client's body was read: our
        side is shut, what the client still sends read and dropped (framing stopped) for at
        most LINGERING_TIME, LINGERING_TIMEOUT between reads: it reads the answer, no reset."""
        if self.out.closed:
            return
        self.framing.stop()
        self.linger_until = monotonic() + LINGERING_TIME
        self.out.resume_reading()
        self.out.shut_write()

    def internal_error(self, exc: BaseException) -> None:
        """A bug costs one connection, never the worker."""
        self.state.log_error(f"internal error on connection from {self.peer}: {exc!r}")
        if self.queue:
            self.queue[0].fail(LOCAL, 500, f"internal error: {exc!r}")
        self.ending = True
        self.out.abort()

    # -- the worker's view (timers, drain) ------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.out.closed

    @property
    def transport(self) -> asyncio.Transport | None:
        return self.out.transport

    def close(self) -> None:
        self.out.close()

    def tick(self, now: float) -> None:
        """The worker's timer: each timeout as nginx measures it (silent closes, as nginx's)."""
        out = self.out
        if out.closed:
            return
        s = self.state.settings
        if out.paused_writing and out.send_stalled(now, s.client_send_timeout):
            if self.queue:
                self.queue[0].error = "client took nothing within client_send_timeout"
            return
        if self.linger_until:  # reading and dropping the rest of a refused body
            if now > self.linger_until or now - self.last_activity > LINGERING_TIMEOUT:
                out.close()
            return
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.check_idle(now)
            return
        ex = self.exchange
        if ex is not None:
            action = ex.req.decision.proxy if ex.req.decision else None
            up = ex.conn
            if up.paused_writing:  # the upstream is not taking the body: send timeout
                limit, since = (action.send_timeout if action else 60.0), up.last_write
            else:
                limit, since = (action.read_timeout if action else 60.0), up.last_read
            if not ex.ended() and now - since > limit:
                ex.timed_out()
            return
        began = self.framing.partial_start()
        if self.queue:
            req = self.queue[0]  # the body: between two reads
            if not req.complete and now - self.last_activity > s.client_body_timeout:
                self._body_timed_out(req)
        elif began >= 0:  # the whole head, from its first byte (no slowloris)
            if now - began > s.client_header_timeout:
                self.framing.stop()  # not logged (nginx: 408)
                out.close()
        elif self.served == 0:  # a new connection's first request: from the accept
            if now - self.last_activity > s.client_header_timeout:
                out.close()
        elif now - self.idle_since > s.keepalive_timeout:  # from the last answer
            out.close()

    def _body_timed_out(self, req: Request) -> None:
        """client_body_timeout passed while the body was awaited: the connection is closed
        with no answer, as nginx does, and the request logged as 408."""
        req.fail(CLIENT, 408)
        req.complete = True
        self.framing.stop()
        if req.state == rs.BODY:
            self.body_event(req)
        elif not self.busy:
            self.dispatch()
