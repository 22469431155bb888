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
Pipelined requests queue and are answered one at a time, in order (intake.py: what the
client sends becomes queued requests; the timers).
"""

from __future__ import annotations

import asyncio

from ..http.errors import CLIENT, UPSTREAM
from ..http.headers import find
from ..routing.table import Decision, Facts, LocalAnswer, decide
from ..security.passwords import cached_basic_auth, check_basic_auth
from ..security.ratelimit import RateLimits
from . import forward, login_limit
from . import request as rs
from .clock import monotonic
from .exchange import Exchange, Outcome
from .intake import Intake
from .maintenance import maintenance_answer
from .pools import UpstreamConnection, UpstreamError
from .request import Request
from .rpc_guard import MORE, WAIT, BodyInspection, check_request, inline, inline_once_whole
from .tunnel import Tunnel


class Driver(Intake):
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
                    if self.logged(req) and self.queue and not self.dispatching:
                        self.dispatch()
                    return
                else:  # RELAYING: the exchange, then the spool, move it on
                    return
                if not go_on:
                    return
        except Exception as exc:  # a bug must cost one connection, never the worker
            self.internal_error(exc)

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
        if local is None:
            maintenance = self.state.maintenance  # empty unless a tenant is out: one test
            if maintenance:
                tenant = decision.tenant_db
                if tenant is not None and tenant in maintenance:
                    until = maintenance[tenant]
                    local = maintenance_answer(req, tenant, until, self.state.maintenance_retry)
        if local is None and decision.limit_at_head:
            local = login_limit.at_head(self.state.rate_limits, req)
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
        value = find(req.headers, b"authorization")
        header = value.decode("latin-1") if value is not None else None
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
            self.finish_as(req, rs.FAILED)
            return
        try:
            self._decide_again(req, done.result() is not None)
        except Exception as exc:
            self.internal_error(exc)
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
        if decision.inspect:  # firewall_db None: count the RPC logins only
            return self._inspect(req, decision.firewall_db)
        if decision.buffered:
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

    def body_event(self, req: Request) -> None:
        """More of the body of the request in BODY came, or it ended, or it failed."""
        if self.inspection is not None:
            self._inspect_soon()
        else:
            self.advance(req)

    def _inspect(self, req: Request, tenant_db: str | None) -> bool:
        inspection = self.inspection
        if inspection is None:
            decision = req.decision
            assert decision is not None and decision.proxy is not None
            limit = decision.proxy.rpc_body_limit
            if limit is None:
                limit = self.max_body
            if not req.error_status:
                if inline(req):  # small and whole: at once
                    return self._verdict(
                        req, check_request(req, tenant_db, limit, self._limits(decision))
                    )
                if inline_once_whole(req):
                    self.out.send_continue(req)
                    return False  # message_complete goes on
            limits = self._limits(decision)
            inspection = self.inspection = BodyInspection(req, tenant_db, limit, limits)
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
        return self._verdict(req, inspection.answer())

    def _verdict(self, req: Request, refusal: LocalAnswer | None) -> bool:
        """The firewall's verdict on a whole body: its refusal answered, or on upstream."""
        if refusal is not None:
            self.out.answer(req, refusal)
            req.enter(rs.DONE)
        else:
            req.enter(rs.UPSTREAM)
        return True

    def _limits(self, decision: Decision) -> RateLimits | None:
        """The worker's buckets when the route limits logins (rpc_guard counts them)."""
        return self.state.rate_limits if decision.rate_limit is not None else None

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
        now = 0.0
        if not req.up_head:  # the first time here (a stale retry comes back)
            key = None
            if decision.cache:
                answered, key = forward.cache_answer(self.out, req)
                if answered:
                    req.enter(rs.DONE)
                    return True
            self.cache_key = key
            self.pool = self.state.pools.by_name[decision.pool]
            websocket = req.upgrade and decision.proxy is not None and decision.proxy.websocket
            req.up_head = forward.upstream_head(self.heads, req, decision, websocket)
            # Not the read event's clock: a pipelined request starts after an earlier answer.
            req.upstream_start = now = monotonic()
            req.connect_retries = -1  # counted at the first failed connect
            req.stale_retry = req.complete  # replayable: survives one stale keep-alive
        pool = self.pool
        assert pool is not None
        up = pool.take_idle()
        if up is None:
            loop = self.loop
            action = decision.proxy
            assert loop is not None and action is not None
            timeout = action.connect_timeout or pool.cfg.connect_timeout
            connecting = self.connecting = loop.create_task(pool.connect(timeout))
            connecting.add_done_callback(self._connected)
            return False
        self._send(req, up, now or monotonic())
        return False

    def _connected(self, done: asyncio.Task[UpstreamConnection]) -> None:
        self.connecting = None
        pool = self.pool
        if done.cancelled() or not self.queue or pool is None:
            return
        req = self.queue[0]
        exc = done.exception()
        if exc is not None and not isinstance(exc, UpstreamError):
            self.internal_error(exc)
            return
        if self.out.closed:
            if exc is None:
                pool.release(done.result(), True)
            req.status = 499
            self.finish_as(req, rs.FAILED)
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
            self.finish_as(req, rs.FAILED)
            return
        try:
            self._send(req, done.result(), monotonic())
        except Exception as exc2:
            self.internal_error(exc2)

    def _send(self, req: Request, up: UpstreamConnection, now: float) -> None:
        decision = req.decision
        assert decision is not None and decision.proxy is not None
        websocket = req.upgrade and decision.proxy.websocket
        req.enter(rs.RELAYING)
        self.exchange = forward.send(self.out, self, req, up, self.cache_key, websocket, now)

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
            self.internal_error(exc)
            return
        self.finish_as(req, rs.DONE if outcome is Outcome.COMPLETE else rs.FAILED)

    def spool_done(self) -> None:
        self.spool = None
        if self.queue and self.queue[0].state == rs.RELAYING:
            self.finish_as(self.queue[0], rs.DONE)

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
        rest = ex.upgrade_rest  # the server's first bytes after its 101: frames start there
        tunnel = self.tunnel = Tunnel(self.out, up, idle, self.upgrade_rest, self, decision, rest)
        self.upgrade_rest = b""
        self.tunneled = req
        self.out.resume_reading()
        self.finish_as(req, rs.TUNNEL)
        tenant = decision.tenant_db
        if tenant is not None and tenant in self.state.maintenance:  # it began during the 101
            tunnel.restart()

    def tunnel_closed(self) -> None:
        self.out.close()
        req = self.tunneled
        if req is not None:
            self.tunneled = None
            req.enter(rs.DONE)
