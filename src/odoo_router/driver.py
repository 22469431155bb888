"""The one driver: a client connection's requests moved through their states (request.py),
one phase at a time, in order.

``advance(req)`` runs the phase the request's state calls for, and the next, until one has
to wait; whatever it waited for (a body piece, the end of the message, a connect, a password
check, the exchange's end, the spool, a slice of RPC inspection) calls ``advance`` again.
The phases (Pingora's, see STYLE.md):

* FILTERED: request filter done (``head_complete``: request_filter.py); the local answer
  phase: a refusal, a redirect or respond, a 401/403, or (auth routes) the credentials
  checked first -- from the worker's memo of verified ones, else PBKDF2 in a thread;
* BODY: the body phase: read whole before any upstream is contacted (buffered routes), or
  inspected as it arrives (the RPC firewall); streamed routes go on at once;
* UPSTREAM: the static cache, the upstream request head (headers.py), the upstream peer
  (an idle keep-alive connection, or a connect with retries over the pool's servers), the
  request sent (forward.py);
* RELAYING: response head and body (exchange.py; a slow client's rest from a spool file);
* DONE / FAILED (and TUNNEL, whose answer is the 101): the logging phase, once
  (``WorkerState.finish``), then the keep-alive rule and the next request.

A keep-alive request that waits for nothing runs from the parser's and the upstream's
callbacks alone: no task, no future (the fast path is this driver, not a copy of it).
Pipelined requests queue and are answered one at a time, in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import monotonic
from typing import Final

from . import forward
from . import request as rs
from .cache import Key
from .downstream import Downstream
from .errors import CLIENT, LOCAL, UPSTREAM
from .events import Events
from .exchange import Exchange, Outcome
from .framing import RequestFraming
from .passwords import cached_basic_auth, check_basic_auth
from .pools import UpstreamConnection, UpstreamError, UpstreamPool
from .request import Request
from .request_filter import Peer, Refusal, RequestHead, request_filter
from .routing import Facts, decide
from .rpc_guard import MORE, WAIT, BodyInspection, check_request, inline
from .spool import Spool, spill
from .state import WorkerState
from .tunnel import Tunnel
from .uri import BadRequest

MAX_QUEUED: Final = 16  # requests parsed ahead of the answers; then reading pauses
# nginx's lingering_time and lingering_timeout (defaults): how long a connection that
# answered before reading the client's body goes on reading and dropping it.
LINGERING_TIME: Final = 30.0
LINGERING_TIMEOUT: Final = 5.0


class Driver(Events):
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
        self.queue: deque[Request] = deque()
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
        self.out.transport = transport
        self.peer = peer
        self.peer_info = Peer(peer)
        state = self.state
        loop = state.loop  # asyncio.get_running_loop() costs a getpid() syscall: once a worker
        if loop is None:
            loop = state.loop = asyncio.get_running_loop()
        self.loop = loop
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
            self._end(req, rs.DONE)
        elif not self.busy or req.state == rs.BODY:  # waiting for its turn or its body
            self.inspection = None
            req.status = req.status or 499
            self._end(req, rs.FAILED)
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
            req.body.append(data)
            if req.body_size > self.buffer_memory:
                self.out.pause_reading()
            return
        if req.body_file is not None or req.body_size > self.buffer_memory:
            spill(self.state, req, data)  # a failure raises RequestError(..., 500, LOCAL)
        else:
            req.body.append(data)
        if self.inspection is not None and req.state == rs.BODY:
            self._inspect_soon()

    def message_complete(self, head: RequestHead) -> None:
        assert isinstance(head, Request)
        req = head
        req.complete = True
        sink = req.sink
        if sink is not None:
            forward.stream_end(req, sink)
        if req.state == rs.BODY:
            self._body_event(req)
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
            self._body_event(req)
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

    # -- the driver -----------------------------------------------------------------

    def dispatch(self) -> None:
        """Start the request at the queue's head unless one is under way already."""
        if self.dispatching:
            return  # the loop below goes on once the current phase returns
        self.dispatching = True
        queue = self.queue
        try:
            while queue and not self.busy and not self.ending and not self.out.closed:
                req = queue[0]
                if self.served + 1 >= self.keepalive_requests:
                    req.keep_alive = False  # the last one on this connection says so (as nginx)
                self.busy = True
                self.advance(req)
        finally:
            self.dispatching = False

    def advance(self, req: Request) -> None:
        """Run the phases ``req``'s state calls for until one has to wait."""
        try:
            while True:
                state = req.state
                if state == rs.FILTERED:
                    go_on = self._filtered(req)
                elif state == rs.BODY:
                    go_on = self._body(req)
                elif state == rs.UPSTREAM:
                    go_on = self._upstream(req)
                elif state == rs.DONE or state == rs.FAILED or state == rs.TUNNEL:
                    if self._logged(req) and self.queue and not self.dispatching:
                        self.dispatch()
                    return
                else:  # RELAYING: the exchange, then the spool, move it on
                    return
                if not go_on:
                    return
        except Exception as exc:  # a bug must cost one connection, never the worker
            self._internal_error(exc)

    def _end(self, req: Request, state: int) -> None:
        req.enter(state)
        self.advance(req)

    # -- FILTERED: the local answer phase ---------------------------------------------

    def _filtered(self, req: Request) -> bool:
        out = self.out
        if req.error_status:
            out.error(req, req.error_status)
            req.enter(rs.FAILED)
            return True
        decision = req.decision
        assert decision is not None
        if decision.pending_auth is not None:
            if not self._credentials(req):
                return False  # checked in a thread: _credentials_checked goes on
            decision = req.decision
            assert decision is not None
        local = decision.local
        if local is not None:
            if not req.complete and (req.upgrade or req.expect_continue):
                # Expect: 100-continue, answered without 100: the client may send its body or
                # not, so where a next request would start is in doubt; close after the
                # answer (lingering: what it still sends is dropped). docs/deviations.md
                req.keep_alive = False
            out.answer(req, local)
            if self.upgrade_rest or req.upgrade:
                req.keep_alive = False  # the parser is in upgrade mode: no further requests
            req.enter(rs.DONE)
            return True
        if req.upgrade:
            # After an upgrade request the parser cannot go on: whatever the upstream answers
            # (101 makes a tunnel; anything else is relayed), this connection then ends.
            req.keep_alive = False
        req.enter(rs.BODY)
        return True

    def _credentials(self, req: Request) -> bool:
        """Basic auth: True when decided again at once (a success the worker remembers);
        False when PBKDF2 (~0.2 s) runs in a thread first."""
        decision = req.decision
        assert decision is not None and decision.pending_auth is not None
        users = decision.pending_auth.users
        header = next(
            (v.decode("latin-1") for n, v in req.headers if n.lower() == b"authorization"), None
        )
        if cached_basic_auth(header, users) is not None:
            self._decide_again(req, True)
            return True
        loop = self.loop
        assert loop is not None
        checking = self.checking = loop.run_in_executor(None, check_basic_auth, header, users)
        checking.add_done_callback(self._credentials_checked)
        return False

    def _credentials_checked(self, done: asyncio.Future[str | None]) -> None:
        self.checking = None
        if not self.queue:
            return
        req = self.queue[0]
        if self.out.closed:
            req.status = 499
            self._end(req, rs.FAILED)
            return
        try:
            self._decide_again(req, done.result() is not None)
        except Exception as exc:
            self._internal_error(exc)
            return
        self.advance(req)

    def _decide_again(self, req: Request, verified: bool) -> None:
        view = req.view
        assert view is not None
        facts = Facts(
            req.method, req.host, req.path, view.client_ip, req.authorization, req.upgrade, verified
        )
        req.redecided(decide(self.state.table, facts))

    # -- BODY: the body phase ---------------------------------------------------------

    def _body(self, req: Request) -> bool:
        decision = req.decision
        assert decision is not None
        action = decision.proxy
        assert action is not None
        if action.rpc_firewall and decision.tenant_db is not None:
            return self._inspect(req, decision.tenant_db)
        if action.request_buffering or action.rpc_firewall:
            if not req.complete:
                self.out.send_continue(req)
                return False  # message_complete, parse_error or the body timeout go on
            if req.error_status:
                self.out.error(req, req.error_status)
                req.enter(rs.FAILED)
                return True
        else:
            self.out.send_continue(req)  # streamed: the body follows as it arrives
        req.enter(rs.UPSTREAM)
        return True

    def _body_event(self, req: Request) -> None:
        """More of the body of the request in BODY came, or it ended, or it failed."""
        if self.inspection is not None:
            self._inspect_soon()
        else:
            self.advance(req)

    def _inspect(self, req: Request, tenant_db: str) -> bool:
        inspection = self.inspection
        if inspection is None:
            decision = req.decision
            assert decision is not None and decision.proxy is not None
            limit = decision.proxy.rpc_body_limit
            if limit is None:
                limit = self.max_body
            if inline(req) and not req.error_status:  # small and whole: at once
                refusal = check_request(req, tenant_db, limit)
                if refusal is not None:
                    self.out.answer(req, refusal)
                    req.enter(rs.DONE)
                else:
                    req.enter(rs.UPSTREAM)
                return True
            inspection = self.inspection = BodyInspection(req, tenant_db, limit)
            self.out.send_continue(req)
        step = inspection.step()
        if step == MORE:
            self._inspect_soon()
            return False
        if step == WAIT:
            return False  # body() and message_complete() schedule the next step
        self.inspection = None
        if req.error_status:
            self.out.error(req, req.error_status)
            req.enter(rs.FAILED)
            return True
        refusal = inspection.answer()
        if refusal is not None:
            self.out.answer(req, refusal)
            req.enter(rs.DONE)
        else:
            req.enter(rs.UPSTREAM)
        return True

    def _inspect_soon(self) -> None:
        """The next slice of RPC inspection from the loop: other connections go first."""
        if not self.inspect_soon and self.loop is not None:
            self.inspect_soon = True
            self.loop.call_soon(self._inspect_step)

    def _inspect_step(self) -> None:
        self.inspect_soon = False
        if self.inspection is not None and self.queue and self.queue[0].state == rs.BODY:
            self.advance(self.queue[0])

    # -- UPSTREAM: cache, upstream request head, upstream peer --------------------------

    def _upstream(self, req: Request) -> bool:
        decision = req.decision
        assert decision is not None
        action = decision.proxy
        assert action is not None
        if not req.up_head:  # the first time here (a stale retry comes back)
            key = None
            if action.cache:
                answered, key = forward.cache_answer(self.out, req)
                if answered:
                    req.enter(rs.DONE)
                    return True
            self.cache_key = key
            self.pool = self.state.pools.by_name[action.pool]
            websocket = req.upgrade and action.websocket
            req.up_head = forward.upstream_head(self.heads, req, decision, websocket)
            req.upstream_start = monotonic()
            req.connect_retries = -1  # counted at the first failed connect
            req.stale_retry = req.complete  # replayable: survives one stale keep-alive
        pool = self.pool
        assert pool is not None
        up = pool.take_idle()
        if up is None:
            loop = self.loop
            assert loop is not None
            timeout = action.connect_timeout or pool.cfg.connect_timeout
            connecting = self.connecting = loop.create_task(pool.connect(timeout))
            connecting.add_done_callback(self._connected)
            return False
        self._send(req, up)
        return False

    def _connected(self, done: asyncio.Task[UpstreamConnection]) -> None:
        self.connecting = None
        pool = self.pool
        if done.cancelled() or not self.queue or pool is None:
            return
        req = self.queue[0]
        exc = done.exception()
        if exc is not None and not isinstance(exc, UpstreamError):
            self._internal_error(exc)
            return
        if self.out.closed:
            if exc is None:
                pool.release(done.result(), True)
            req.status = 499
            self._end(req, rs.FAILED)
            return
        if isinstance(exc, UpstreamError):
            if req.connect_retries < 0:
                req.connect_retries = (
                    len(pool.cfg.servers) if req.method in forward.IDEMPOTENT else 0
                )
            if req.connect_retries > 0:
                req.connect_retries -= 1
                self.advance(req)  # another idle connection, or another server
                return
            req.upstream_addr = exc.server  # the server tried last
            req.fail(UPSTREAM, 504 if exc.kind == "timeout" else 502, str(exc))
            self.out.error(req, req.error_status)
            self._end(req, rs.FAILED)
            return
        try:
            self._send(req, done.result())
        except Exception as exc2:
            self._internal_error(exc2)

    def _send(self, req: Request, up: UpstreamConnection) -> None:
        decision = req.decision
        assert decision is not None and decision.proxy is not None
        websocket = req.upgrade and decision.proxy.websocket
        req.enter(rs.RELAYING)
        self.exchange = forward.send(self.out, self, req, up, self.cache_key, websocket)

    # -- RELAYING: the exchange's end ---------------------------------------------------

    def exchange_done(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        req = ex.req
        try:
            outcome = ex.outcome
            if outcome is Outcome.RETRY and req.stale_retry:  # a stale keep-alive connection
                req.stale_retry = False
                self.exchange = None
                ex.conn.close()
                req.enter(rs.UPSTREAM)
                self.advance(req)
                return
            if outcome is Outcome.UPGRADED:
                self._tunnel(req, ex)
                return
            pool = self.pool
            assert pool is not None
            self.exchange = None
            spool = forward.settle(self.out, req, ex, pool)
            if spool is not None:  # the upstream is free; the client still reads the file
                self.spool = spool
                return
            if outcome is not Outcome.COMPLETE:
                req.fail(CLIENT if ex.cause == "client" else UPSTREAM, ex.error_status)
        except Exception as exc:
            self._internal_error(exc)
            return
        self._end(req, rs.DONE if outcome is Outcome.COMPLETE else rs.FAILED)

    def spool_done(self) -> None:
        self.spool = None
        if self.queue and self.queue[0].state == rs.RELAYING:
            self._end(self.queue[0], rs.DONE)

    def _tunnel(self, req: Request, ex: Exchange) -> None:
        forward.end_exchange(req, ex)
        self.exchange = None
        up = ex.conn
        up.pool.forget(up)
        # Only bytes cross a tunnel: neither parser nor the Exchange is needed again, and
        # each websocket may stay open for hours (issue 7 counts the RSS per websocket).
        up.release_own()
        self.framing.close()
        decision = req.decision
        assert decision is not None and decision.proxy is not None
        idle = decision.proxy.read_timeout
        self.tunnel = Tunnel(self.out, up, idle, self.upgrade_rest, self)
        self.upgrade_rest = b""
        self.tunneled = req
        self.out.resume_reading()
        self._end(req, rs.TUNNEL)

    def tunnel_closed(self) -> None:
        self.out.close()
        req = self.tunneled
        if req is not None:
            self.tunneled = None
            req.enter(rs.DONE)

    # -- DONE / FAILED: the logging phase, the keep-alive rule --------------------------

    def _logged(self, req: Request) -> bool:
        """Log ``req`` and take it off the queue; False when the connection ends here."""
        queue = self.queue
        if queue and queue[0] is req:
            queue.popleft()
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
        self._read_on()
        self.idle_since = monotonic()  # keepalive_timeout runs from here, never earlier
        return True

    def _read_on(self) -> None:
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
            self._read_on()

    def linger(self) -> None:
        """nginx's lingering close, for an answer sent before the client's body was read:
        our side is shut after the answer, and what the client still sends is read and
        dropped (framing stopped) for at most LINGERING_TIME, LINGERING_TIMEOUT between
        reads, so that the client reads the answer instead of a reset."""
        if self.out.closed:
            return
        self.framing.stop()
        self.linger_until = monotonic() + LINGERING_TIME
        self.out.resume_reading()
        self.out.shut_write()

    def _internal_error(self, exc: BaseException) -> None:
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
        partial = self.framing.partial()
        if self.queue:
            req = self.queue[0]  # the body: between two reads
            if not req.complete and now - self.last_activity > s.client_body_timeout:
                self._body_timed_out(req)
        elif partial is not None:
            # The whole head, from the read its first byte came in: trickling bytes does
            # not extend it (slowloris).
            if now - partial.start > s.client_header_timeout:
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
            self._body_event(req)
        elif not self.busy:
            self.dispatch()
