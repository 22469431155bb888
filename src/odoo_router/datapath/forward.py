"""The upstream phases of a proxied request, as functions the driver calls in the UPSTREAM
and RELAYING states: the static cache (an answer without the upstream), the upstream
request head, sending head and body on the connection the pool gave, and what becomes of
that connection once the exchange ended.

Failure edges (Pingora's): a connect failure is a 502 (504 on its timeout), after the
idempotent methods tried each server once; a reused keep-alive connection that closes
before any answer byte is retried once on another (``Outcome.RETRY``: the upstream closed
it while we sent); a failure after the response head went out cuts the client (never a
second response); an early answer leaves the upstream owing body bytes, so that connection
is never reused.
"""

from __future__ import annotations

from typing import Final

from ..http import headers as hdr
from ..http.pages import status_line
from ..routing.table import Decision
from .cache import Key, cache_key
from .clock import monotonic
from .downstream import Downstream
from .events import Events
from .exchange import Exchange, Outcome
from .headparse import join_pieces
from .pools import UpstreamConnection, UpstreamPool
from .request import NO_LINES, Request
from .spool import Spool

IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# A buffered body goes upstream from its temp file in these pieces; the upstream transport
# takes up to pools.UPSTREAM_WRITE_BUFFER before the sender waits (fewer wake-ups per MiB).
FILE_CHUNK: Final = 1 << 20
_METHOD_BYTES: Final = {
    m: m.encode() for m in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")
}
_LAST_CHUNK: Final = b"0\r\n\r\n"


class HeadMemo:
    """headers.upstream_head_prefix() for a connection's last host and client view: a
    keep-alive client sends the same ones every time."""

    def __init__(self) -> None:
        self.prefix = b""
        self.host = ""
        self.view: hdr.ClientView | None = None


def cache_answer(out: Downstream, req: Request) -> tuple[bool, Key | None]:
    """(answered from the static cache, the key to store the response under if not)."""
    raw_path, _, query = req.target.decode("latin-1").partition("?")
    # Per host: an unknown /<word>/static/... falls back to the tenant's own attachments
    # in Odoo, so one tenant's content must never be served on another tenant's host.
    key = cache_key(req.method, raw_path, query, hdr.pairs(req.headers), host=req.host)
    if key is None:
        return False, None
    state = out.state
    entry = state.cache.lookup(key, state.now)
    if entry is None:
        return False, key
    status, headers, body = state.cache.answer(entry, hdr.pairs(req.headers), state.now, key.head)
    req.status = status
    req.bytes_out = len(body)
    parts = [status_line(status), state.server_date]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts += (out.connection_line(req), b"\r\n", body)
    out.write(join_pieces(parts))
    return True, None


def upstream_head(memo: HeadMemo, req: Request, decision: Decision, websocket: bool) -> bytes:
    """The request head for the upstream (headers.py has the rules); decides whether the
    body goes chunked (streamed with its length unknown)."""
    view = req.view
    assert view is not None
    if req.host is not memo.host or view is not memo.view:
        memo.prefix = hdr.upstream_head_prefix(req.host, view)
        memo.host = req.host
        memo.view = view
    complete = req.complete
    chunked = req.frame_chunked = req.chunked and not complete
    return join_pieces(
        hdr.upstream_request_parts(
            _METHOD_BYTES.get(req.method) or req.method.encode("ascii"),
            req.target,
            memo.prefix,
            req.request_id,
            decision.dbfilter_line,
            req.forward,
            req.body_size if complete else req.content_length,
            chunked,
            _upgrade_value(req) if websocket else None,
            req.connection_named,
        )
    )


def _upgrade_value(req: Request) -> bytes:
    value = hdr.find(req.headers, b"upgrade")
    return value if value is not None else b"websocket"


def send(
    out: Downstream,
    owner: Events,
    req: Request,
    up: UpstreamConnection,
    key: Key | None,
    websocket: bool,
    now: float,
) -> Exchange:
    """The exchange begins on ``up`` at ``now`` (the read timeout runs from there): the head
    and what there is of the body go out; a spilled body follows from its file as the
    upstream takes it, a streamed one as it arrives (``req.sink``)."""
    ex = up.own
    if not isinstance(ex, Exchange):
        ex = Exchange(up)
        up.adopt(ex)
    ex.begin(out, req, req.method == "HEAD", websocket, owner, now, key)
    send = up.send  # transport.write, bound (pools.py)
    assert send is not None
    head = req.up_head
    if req.body_file is not None:
        send(head)
        req.body_file.seek(0)
        FileBody(req, up, ex).pump()
    elif not req.frame_chunked and req.complete:
        send(join_pieces([head, *req.body]) if req.body else head)
        req.body_sent = True
    else:  # streaming: what came so far, then each piece as it arrives (the driver's body())
        parts = [head]
        for chunk in req.body:
            parts.append(b"%x\r\n%b\r\n" % (len(chunk), chunk) if req.frame_chunked else chunk)
        if req.complete:  # it all arrived while connecting (kept for a stale-retry)
            if req.frame_chunked:
                parts.append(_LAST_CHUNK)
            req.body_sent = True
        else:
            req.body = NO_LINES
            req.sink = up
            out.resume_reading()
        send(join_pieces(parts))
    return ex


def stream_body(req: Request, sink: UpstreamConnection, data: bytes) -> None:
    """A piece of a streamed body, straight to the upstream connection."""
    if not sink.closed and sink.transport is not None:
        sink.transport.write(b"%x\r\n%b\r\n" % (len(data), data) if req.frame_chunked else data)


def stream_end(req: Request, sink: UpstreamConnection) -> None:
    """The streamed body ended: its last chunk, if it went chunked."""
    if req.frame_chunked and not sink.closed and sink.transport is not None:
        sink.transport.write(_LAST_CHUNK)
    req.body_sent = True


class FileBody:
    """A spilled body sent from its temp file as the upstream takes it."""

    def __init__(self, req: Request, up: UpstreamConnection, ex: Exchange) -> None:
        self.req = req
        self.up = up
        self.ex = ex

    def pump(self) -> None:
        req, up, ex = self.req, self.up, self.ex
        file = req.body_file
        transport = up.transport
        while not ex.ended() and not up.closed and file is not None and transport is not None:
            chunk = file.read(FILE_CHUNK)
            if not chunk:
                req.body_sent = True
                return
            transport.write(chunk)
            up.sent()
            if up.paused_writing:
                up.when_drained(self.pump)
                return


def end_exchange(req: Request, ex: Exchange) -> None:
    """The exchange is over, however it ended: what the logging phase reports of it."""
    req.upstream_status = ex.status
    # A complete response ended at the upstream's last read (the clock upstream_data read);
    # a failed one ends now.
    end = ex.conn.last_read if ex.outcome is Outcome.COMPLETE else monotonic()
    req.upstream_time = end - req.upstream_start
    req.bytes_out = ex.bytes_out


def settle(out: Downstream, req: Request, ex: Exchange, pool: UpstreamPool) -> Spool | None:
    """After the exchange: the upstream connection kept or closed, the outcome recorded, an
    error answered; returns the spool still feeding the client, if any."""
    end_exchange(req, ex)
    conn = ex.conn
    state = out.state
    outcome = ex.outcome
    spool = ex.spool
    if outcome is Outcome.COMPLETE:
        pool.mark_ok(conn.server)
        if ex.capture is not None and ex.cache_key is not None:
            body = b"".join(ex.capture)
            state.cache.store(ex.cache_key, ex.status, hdr.pairs(ex.headers), body, state.now)
        # An early answer leaves the upstream owing body bytes: never reuse that.
        reusable = ex.keep_alive and not ex.close_delimited and not ex.head_only
        reusable = reusable and req.body_sent
        if not req.body_sent:
            req.sink = None
            if not req.complete:
                req.keep_alive = False  # the client's unread body ends the connection
        pool.release(conn, reusable and not conn.closed, state.now)
        if ex.head_only:
            conn.close()
        if spool is not None and not spool.finish():
            return spool
        return None
    if spool is not None:
        spool.abort()
    conn.abort()
    if outcome is Outcome.ABORTED:
        if ex.cause and ex.cause != "client":  # the upstream failed after the head
            state.upstream_error(pool.name, ex.cause, req.error or "")
        if req.status != 499:
            out.abort()
        out.lost()
        return None
    # FAILED, or a second RETRY
    if outcome is Outcome.FAILED and ex.error_status == 502:
        pool.mark_failed(conn.server)
    if outcome is Outcome.RETRY:
        req.error = (
            f"reset: upstream closed a reused connection unanswered twice; server {conn.addr}"
        )
    if ex.cause != "client":
        state.upstream_error(pool.name, ex.cause or "reset", req.error or "")
    out.error(req, ex.error_status or 502)
    return None
