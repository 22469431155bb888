"""The slow path: the phases of a request that must wait for something.

``ClientConnection`` answers most requests from its callbacks alone (proxy.py, ``_fast``);
a request that needs to wait gets one task running ``handle`` (or ``proxy`` for the retry of
a stale keep-alive connection): a password check off the event loop, the body while it
arrives, a connect (with retries over the pool's servers), a body streamed or sent from its
temp file with back-pressure, the response spool, and the websocket tunnel after a 101.
"""

from __future__ import annotations

import asyncio
import contextlib
from time import monotonic
from typing import TYPE_CHECKING, Final

from .exchange import Exchange, Outcome
from .pools import UpstreamConnection, UpstreamError
from .routing import Decision, Facts, decide
from .rpc_guard import read_inspected

if TYPE_CHECKING:
    from .config import BasicAuth
    from .proxy import ClientConnection
    from .request import Request

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# A buffered body goes upstream from its temp file in these pieces; the upstream transport
# takes up to UPSTREAM_WRITE_BUFFER before the sender waits (fewer wake-ups per MiB).
_FILE_CHUNK: Final = 1 << 20


async def handle(conn: ClientConnection, req: Request) -> None:
    """Phases 2-6 for a request the fast path left to a task: local answers (after a
    password check if the route asks for one), the body, the RPC firewall, the upstream."""
    if req.error_status:
        conn.error(req, req.error_status)
        return
    decision = req.decision
    assert decision is not None
    if decision.pending_auth is not None:
        decision = await _verify_auth(conn, req, decision.pending_auth)
    if conn.local(req, decision):
        return
    action = decision.proxy
    assert action is not None
    websocket = req.upgrade and action.websocket
    if req.upgrade:
        # After an upgrade request the parser cannot go on: whatever the upstream answers
        # (101 makes a tunnel; anything else is relayed), this connection then ends.
        req.keep_alive = False
    if action.rpc_firewall and decision.tenant_db is not None:
        if not await read_inspected(conn, req, decision):  # reads the body as it inspects
            return
    elif action.request_buffering or action.rpc_firewall:
        if not await _read_body(conn, req):
            return
    elif req.expect_continue and not req.complete:
        conn.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
    await proxy(conn, req, decision, websocket)


async def _verify_auth(conn: ClientConnection, req: Request, auth: BasicAuth) -> Decision:
    """PBKDF2 takes ~0.2 s: run it in a thread, then decide again with the result."""
    from .passwords import check_basic_auth

    header = next(
        (v.decode("latin-1") for n, v in req.headers if n.lower() == b"authorization"), None
    )
    loop = asyncio.get_running_loop()
    user = await loop.run_in_executor(None, check_basic_auth, header, auth.users)
    assert req.view is not None
    facts = Facts(
        req.method,
        req.host,
        req.path,
        req.view.client_ip,
        header,
        req.upgrade,
        user is not None,
    )
    req.decision = decide(conn.state.table, facts)
    return req.decision


async def _read_body(conn: ClientConnection, req: Request) -> bool:
    """Phase 3: wait for the whole body; False when the request was answered already."""
    if req.complete:
        return not req.error_status or _late_error(conn, req)
    if req.expect_continue:
        conn.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
    req.body_waiter = conn.loop.create_future()
    await req.body_waiter
    if conn.closed:
        req.status = 499
        return False
    return not req.error_status or _late_error(conn, req)


def _late_error(conn: ClientConnection, req: Request) -> bool:
    conn.error(req, req.error_status)
    return False


async def proxy(
    conn: ClientConnection,
    req: Request,
    decision: Decision,
    websocket: bool,
    stale_retry: bool = True,
) -> None:
    """Phases 4-6 with waiting allowed: connect, stream the body, relay, tunnel."""
    action = decision.proxy
    assert action is not None
    pool = conn.state.pools[action.pool]
    connect_timeout = action.connect_timeout or pool.cfg.connect_timeout
    head = conn.upstream_head(req, decision, websocket)
    answered, cache_key = conn.cache_lookup(req) if action.cache else (False, None)
    if answered:
        return
    retries = len(pool.cfg.servers) if req.method in _IDEMPOTENT else 0
    stale_retry = stale_retry and req.complete  # replayable: survives one stale keep-alive
    req.upstream_start = monotonic()
    while True:
        up = pool.take_idle()
        if up is None:
            try:
                up = await pool.connect(connect_timeout)
            except UpstreamError as exc:
                if conn.closed:
                    req.status = 499
                    return
                if retries > 0:
                    retries -= 1
                    continue
                req.error = str(exc)
                req.upstream_addr = exc.server  # the server tried last
                conn.error(req, 504 if exc.kind == "timeout" else 502)
                return
        if conn.closed:
            pool.release(up, True)
            req.status = 499
            return
        ex = conn.begin_exchange(req, up, cache_key, None, websocket, monotonic())
        outcome = await _send_and_wait(conn, req, up, ex, head)
        if outcome is Outcome.RETRY and stale_retry:
            stale_retry = False
            conn.exchange = None
            up.close()
            continue
        break
    if outcome is Outcome.UPGRADED:
        from .tunnel import Tunnel

        conn.end_exchange(req, ex)
        pool.forget(up)
        # Only bytes cross a tunnel: neither parser nor the Exchange is needed again, and
        # each websocket may stay open for hours (issue 7 counts the RSS per websocket).
        ex.parser = None  # type: ignore[assignment]
        up.ex = None
        conn.parser = None  # type: ignore[assignment]
        conn.tunnel = Tunnel(conn, up, action.read_timeout, conn.upgrade_rest)
        conn.upgrade_rest = b""
        conn.resume_reading()
        return
    spool = conn.settle(req, ex, pool)
    if spool is not None:
        await spool.done


async def _send_and_wait(
    conn: ClientConnection, req: Request, up: UpstreamConnection, ex: Exchange, head: bytes
) -> Outcome:
    transport = up.transport
    assert transport is not None
    if req.body_file is not None:
        transport.write(head)
        req.body_file.seek(0)
        while chunk := req.body_file.read(_FILE_CHUNK):
            transport.write(chunk)
            await up.drain()
            if ex.ended():
                break
        else:
            req.body_sent = True
    elif not req.frame_chunked and req.complete:
        transport.write(head + b"".join(req.body) if req.body else head)
        req.body_sent = True
    else:  # streaming: what came so far, then on_body writes straight through
        parts = [head]
        for chunk in req.body:
            parts.append(b"%x\r\n%b\r\n" % (len(chunk), chunk) if req.frame_chunked else chunk)
        if req.complete:  # it all arrived while connecting (kept for a stale-retry)
            if req.frame_chunked:
                parts.append(b"0\r\n\r\n")
            req.body_sent = True
        else:
            req.body = []
            req.sink = up
            conn.resume_reading()
        transport.write(b"".join(parts))
    assert ex.waiter is not None
    with contextlib.suppress(asyncio.CancelledError):
        return await ex.waiter
    return Outcome.ABORTED
