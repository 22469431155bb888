"""The client side of the data path: one asyncio Protocol per client connection.

Phases of a request (pingora's, see STYLE.md), each a method below or, where it waits, a
function of waiting.py:
1. request filter  -- ``on_headers_complete``: framing and limits (400/413/414/494), host
   and path normalisation, the forwarding rule, then ``routing.decide`` (pure);
2. local answers   -- redirect / respond / refusals are written without an upstream;
3. request body    -- buffered whole (memory, then a temp file) before any upstream is
   contacted, unless the route streams; the RPC firewall reads it here;
4. upstream peer   -- an idle keep-alive connection of the pool, or a new one;
5. upstream request headers -- ``headers.upstream_request_head``;
6. response        -- exchange.Exchange relays head and body as they arrive;
7. logging         -- ``WorkerState.finish`` runs for every request, whatever happened.

httptools parses requests in order as bytes arrive; requests queue here and are answered
one at a time, in order, so pipelined requests are answered in order. A request that needs
nothing but an idle keep-alive upstream connection (the common case) runs from the parser
and transport callbacks alone (``_fast``); one that must wait for something (its body
while streaming, a connect, a password check, a tunnel) gets a task (``_slow``, running
``waiting.handle``).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from time import monotonic
from typing import TYPE_CHECKING, Final

import httptools

from . import headers as hdr
from . import waiting
from .cache import Key, cache_key
from .exchange import Exchange, OnDone, Outcome
from .pages import error_page, status_line
from .pools import UpstreamConnection, UpstreamPool
from .request import Request
from .routing import Decision, Facts, LocalAnswer, decide
from .rpc_guard import check_request
from .rpc_guard import inline as inline_rpc
from .spool import Spool, spill
from .uri import BadRequest, match_path, normalise_host, split_absolute

if TYPE_CHECKING:
    from .state import WorkerState
    from .tunnel import Tunnel

_MAX_QUEUED: Final = 16
# A read longer than this is parsed a slice at a time, so that parsing stops once
# _MAX_QUEUED requests wait (a 256 KiB read of tiny pipelined requests is 3,000 of them).
_FEED_SLICE: Final = 16384
# nginx's lingering_time and lingering_timeout (defaults): how long a connection that
# answered before reading the client's body goes on reading and dropping it.
LINGERING_TIME: Final = 30.0
LINGERING_TIMEOUT: Final = 5.0
_REQUEST_ID: Final = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_BLANKS: Final = (b" ", b"\t")
# What feed_data raises when parsing stops (HttpParserUpgrade is not an HttpParserError).
_PARSER_STOPS: Final = (httptools.HttpParserError, httptools.HttpParserUpgrade)
_METHODS: Final = {
    m.encode(): m for m in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")
}
_METHOD_BYTES: Final = {m: b for b, m in _METHODS.items()}


def line_hint(data: bytes, first: int) -> str:
    """The method of the request line data[:first] if it is "GET|POST|HEAD ... HTTP/1.1",
    else "". llhttp takes the last token of a line as the version and errs on any other
    shape, so it parses the same method and version (tests/unit/test_line_hint.py)."""
    if first < 10 or data[first - 10 : first + 1] != b" HTTP/1.1\r\n":
        return ""
    if data.startswith(b"GET "):
        return "GET"
    if data.startswith(b"POST "):
        return "POST"
    if data.startswith(b"HEAD "):
        return "HEAD"
    return ""


def _chunked_length(data: bytes) -> int | None:
    """Where a chunked body starting at data[0] ends, if it ends within data. Only says
    where to cut the feed: llhttp still checks the framing of what it is fed."""
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(data[pos:eol].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return None
        if size == 0:  # last chunk, then trailers up to an empty line
            end = data.find(b"\r\n\r\n", eol)
            return None if end < 0 else end + 4
        pos = eol + 2 + size + 2
        if pos > len(data):
            return None


class ClientConnection(asyncio.Protocol):
    def __init__(self, state: WorkerState) -> None:
        self.state = state
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        # nginx takes any HTTP/1.x minor version as 1.1 semantics; llhttp only 1.0 and 1.1.
        self.parser.set_dangerous_leniencies(lenient_version=True)
        # The method of a request line "GET|POST|HEAD ... HTTP/1.1" seen at the start of a
        # read, for that message's on_headers_complete; "" when none was.
        self.line_hint = ""
        self.raw_target: bytes | None = None  # the target as sent, when llhttp saw it escaped
        self.line_buf = b""  # the start of a request line with raw bytes, until its end comes
        self.unparsed = b""  # read but not parsed yet: the queue was full (_feed_ahead)
        self.peer = "127.0.0.1"
        self.scheme = "http"
        self.queue: deque[Request] = deque()
        self.cur: Request | None = None  # the request being parsed
        self.cur_done = False
        self.busy = False  # the request at the queue's head is being answered
        self.exchange: Exchange | None = None
        self.spool: Spool | None = None  # the response being fed from a temp file
        self.tunnel: Tunnel | None = None
        self.upgrade_rest = b""
        self.paused_writing = False
        self.write_progress = 0.0  # while paused: when the client last took a byte
        self.write_backlog = 0  # while paused: the write buffer's size then
        self.paused_reading = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.parse_failed = False
        self.header_bytes = 0
        self.headers: list[tuple[bytes, bytes]] = []  # those of the request being parsed
        settings = state.settings
        self.header_limit = settings.large_client_header_buffers
        self.max_headers = settings.max_header_count
        self.keepalive_requests = settings.keepalive_requests
        self.underscores = settings.underscores_in_headers
        self.bare_view: hdr.ClientView | None = None  # the view when no X-Forwarded-* came
        self.host_value: bytes | None = None  # the last Host header value, normalised in .host
        self.host = ""
        self.up_prefix = b""  # upstream_head_prefix() for up_host and up_view, reused
        self.up_host = ""
        self.up_view: hdr.ClientView | None = None
        self.served = 0
        self.last_activity = monotonic()
        self.idle_since = self.last_activity  # the end of the last answer
        self.linger_until = 0.0  # lingering (see linger()) until then
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop

    # -- transport events -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Head and body may leave in two writes: Nagle must never hold the second one. Both
        # uvloop and asyncio set TCP_NODELAY on every TCP transport (tests/unit/test_nodelay.py).
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = peer[0]
        elif peer:
            self.peer = "unix"
        transport.set_write_buffer_limits(high=self.state.settings.response_buffer)  # type: ignore[attr-defined]
        state = self.state
        state.connection_opened(self)
        loop = state.loop  # asyncio.get_running_loop() costs a getpid() syscall: once a worker
        if loop is None:
            loop = state.loop = asyncio.get_running_loop()
        self.loop = loop

    def data_received(self, data: bytes) -> None:
        self.last_activity = monotonic()
        if self.tunnel is not None:
            self.tunnel.from_client(data)
            return
        if self.parse_failed:
            return
        if self.line_buf:
            data = self.line_buf + data
            self.line_buf = b""
        if self.unparsed:  # bytes read before this are parsed first
            data = self.unparsed + data
            self.unparsed = b""
        if self.cur_done or self.cur is None:  # a request line starts here
            if not data.isascii():
                self._feed_raw_bytes(data)
                return
            first = data.find(b"\n")
            hint = line_hint(data, first)
            if hint:
                self.line_hint = hint
            elif first >= 0 and data.find(b" HTTP/", 0, first) < 0:
                self._parse_error(400)  # HTTP/0.9 or garbage: never forwarded (deviations.md)
                return
        self._feed_ahead(data)

    def _feed_ahead(self, data: bytes) -> None:
        """Parse a read, but never far ahead of the answers: once more than _MAX_QUEUED
        requests wait, the rest stays unparsed (reading paused) until they are answered
        (_after). nginx parses one request at a time; parsing a whole read at once held a
        Request for each of thousands of pipelined requests."""
        while True:
            if len(self.queue) > _MAX_QUEUED:
                self.unparsed = data
                self.pause_reading()
                return
            size = _FEED_SLICE
            req = self.cur
            if req is not None and not self.cur_done and req.decision is not None:
                # Inside a body: the rest of it in one piece (a body makes no requests, and
                # a spilled body is written to its file per piece); a chunked one whole.
                length = req.content_length
                size = max(size, length - req.body_size if length is not None else len(data))
            if len(data) <= size:
                self._feed(data)
                return
            piece, data = data[:size], data[size:]
            if not self._feed(piece, data):
                return

    def _feed_unparsed(self) -> None:
        """What _feed_ahead kept back, once the queue has room again (from the loop)."""
        data, self.unparsed = self.unparsed, b""
        if not data or self.closed or self.parse_failed:
            return
        self._feed_ahead(data)
        self._read_on()

    def _read_on(self) -> None:
        """Reading goes on once the queue has room (and no tunnel waits for the rest): what
        was kept unparsed first, from the loop as this may run inside a parser callback,
        then the socket."""
        if not self.paused_reading or len(self.queue) > _MAX_QUEUED or self.upgrade_rest:
            return
        if self.unparsed:
            self.loop.call_soon(self._feed_unparsed)
        else:
            self.resume_reading()

    def _feed(self, data: bytes, after: bytes = b"") -> bool:
        """Parse ``data`` (``after`` is what the caller holds back to parse next); False when
        parsing stopped (an error answered, or an upgrade)."""
        try:
            self.parser.feed_data(data)
        except _PARSER_STOPS as exc:
            self._feed_error(exc, data, after)
            return False
        return True

    def _feed_error(self, exc: Exception, data: bytes, after: bytes) -> None:
        """The parser stopped: an upgrade (the rest of ``data``, then ``after``, is the
        tunnel's) or an error (nothing more is parsed)."""
        if isinstance(exc, httptools.HttpParserUpgrade):
            self.upgrade_rest = data[exc.args[0] :] + after
            self.pause_reading()  # the rest belongs to the tunnel, if one is made
        elif isinstance(exc, httptools.HttpParserCallbackError):
            ctx = exc.__context__
            if ctx is not None:  # the parser keeps it: its frames would hold this connection
                ctx.__traceback__ = None
            self._parse_error(ctx.status if isinstance(ctx, BadRequest) else 400)
        else:
            # nginx answers a transfer coding it does not know with 501, other framing errors 400.
            self._parse_error(501 if "invalid `Transfer-Encoding`" in str(exc) else 400)

    def _feed_raw_bytes(self, data: bytes) -> None:
        """Bytes >= 0x80 somewhere from a message start on (rare): feed one head at a time so
        that every request line, pipelined ones included, can be escaped for llhttp; bodies
        with a Content-Length are fed as they are, anything else after a head as it is."""
        while data and not self.parse_failed:
            if not (self.cur_done or self.cur is None):
                self._feed(data)  # inside a message: a chunked body and what follows
                return
            first = data.find(b"\n")
            if first < 0:  # a request line cut across reads: wait for its end (bounded)
                if len(data) > self.state.settings.large_client_header_buffers:
                    self._parse_error(414)
                else:
                    self.line_buf = data
                return
            line = data[:first]
            if b" HTTP/" not in line:
                self._parse_error(400)
                return
            if not line.isascii():
                data = self._escape_request_line(line) + data[first:]
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._feed(data)  # the head goes on in a later read
                return
            head, data = data[: end + 4], data[end + 4 :]
            if not self._feed(head, data):
                return
            req = self.cur
            if req is None or self.cur_done:
                continue
            size = req.content_length if not req.chunked else _chunked_length(data)
            if size is None:
                self._feed(data)  # the body goes on in a later read
                return
            body, data = data[:size], data[size:]
            if not self._feed(body, data):
                return

    def _escape_request_line(self, line: bytes) -> bytes:
        """nginx accepts raw bytes >= 0x80 in the target, llhttp does not: let llhttp see them
        %-escaped (the normalised path is the same either way) and keep the raw target to
        forward unchanged."""
        parts = line.split(b" ")
        if len(parts) >= 3:
            self.raw_target = b" ".join(parts[1:-1])
        return b"".join(b"%%%02X" % c if c >= 0x80 else bytes((c,)) for c in line)

    def eof_received(self) -> bool:
        if self.tunnel is not None:
            self.tunnel.client_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        # The parser holds this protocol's bound methods: without this the pair (and every
        # request hanging off it) would wait for the cyclic GC, whose pauses show at p99.
        self.parser = None  # type: ignore[assignment]  # nothing is fed after this
        self.state.connection_closed(self)
        if self.tunnel is not None:
            self.tunnel.close()
        if self.spool is not None:
            self.spool.abort()
        ex = self.exchange
        if ex is not None:
            ex.client_gone()
        for req in self.queue:
            if req.body_waiter is not None and not req.body_waiter.done():
                req.body_waiter.set_result(None)
        if not self.busy and self.queue:  # it was waiting for its body: log it as cut
            req = self.queue[0]
            req.status = req.status or 499
            self._after(req)
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self.paused_writing = True
        self.write_progress = monotonic()
        self.write_backlog = self.transport.get_write_buffer_size() if self.transport else 0

    def send_stalled(self, now: float, limit: float) -> bool:
        """nginx's send_timeout, while the client's buffer is full: True, and the connection
        aborted, once the client has taken no byte for ``limit`` seconds (closing would wait
        for a buffer it never reads)."""
        transport = self.transport
        if transport is None or self.closed:
            return False
        backlog = transport.get_write_buffer_size()
        if backlog < self.write_backlog:  # it took some: the timer starts again
            self.write_backlog = backlog
            self.write_progress = now
            return False
        if now - self.write_progress <= limit:
            return False
        if self.queue:
            self.queue[0].error = "client took nothing within client_send_timeout"
        self.closed = True
        transport.abort()
        return True

    def resume_writing(self) -> None:
        self.paused_writing = False
        if self.spool is not None:
            self.spool.pump()
        ex = self.exchange
        if ex is not None:
            ex.conn.resume_reading()
        if self.tunnel is not None:
            self.tunnel.client_drained()
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def pause_reading(self) -> None:
        if not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.paused_reading and self.transport is not None and not self.closed:
            self.paused_reading = False
            self.transport.resume_reading()

    def write_raw(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        if self.paused_writing and not self.closed:
            self.drain_waiter = self.loop.create_future()
            await self.drain_waiter

    # -- parser callbacks: phase 1, the request filter -------------------------------

    def on_message_begin(self) -> None:
        self.cur = req = Request(self.last_activity)  # the clock read for this read event
        self.headers = req.headers
        self.cur_done = False
        self.header_bytes = 0

    def on_url(self, url: bytes) -> None:
        req = self.cur
        assert req is not None
        req.url += url
        if len(req.url) > self.header_limit:
            raise BadRequest("request URI too long", 414)

    def on_header(self, name: bytes, value: bytes) -> None:
        if value[-1:] in _BLANKS:  # llhttp keeps trailing blanks; RFC 9110 5.5 drops them
            value = value.rstrip(b" \t")
        size = len(name) + len(value) + 4
        total = self.header_bytes = self.header_bytes + size
        if size > self.header_limit or total > 4 * self.header_limit:
            raise BadRequest("request header or cookie too large", 494)
        self.headers.append((name, value))  # the count is checked at the end of the head

    def on_headers_complete(self) -> None:
        req = self.cur
        assert req is not None
        if len(self.headers) > self.max_headers:
            raise BadRequest("too many request headers", 494)
        parser = self.parser
        hint = self.line_hint
        if hint:  # the request line began a read, as "GET ... HTTP/1.1" (llhttp read the same)
            self.line_hint = ""
            req.method = hint
        else:  # each call allocates; get_http_version() formats a string (0.18 us)
            method = parser.get_method()
            req.method = _METHODS.get(method) or method.decode("ascii", "replace")
            version = parser.get_http_version()
            if version != "1.1":
                if version[0] != "1":
                    raise BadRequest("unsupported HTTP version", 400 if version[0] == "0" else 505)
                req.http11 = version != "1.0"
        req.keep_alive = parser.should_keep_alive()
        req.upgrade = parser.should_upgrade()
        self._filter(req)
        self.queue.append(req)
        if len(self.queue) > _MAX_QUEUED:
            self.pause_reading()
        if not self.busy:
            self._dispatch()

    def on_body(self, body: bytes) -> None:
        req = self.cur
        assert req is not None
        req.body_size += len(body)
        if req.error_status or req.status or (req.decision and req.decision.local is not None):
            # Answered already (or will be without it): read and dropped, as nginx does;
            # past the body limit the connection just ends (never a second response).
            if req.body_size > self.state.settings.client_max_body_size:
                self.parse_failed = True
                self.close()
            return
        if req.body_size > self.state.settings.client_max_body_size:
            raise BadRequest("request body too large", 413)
        sink = req.sink
        if sink is not None:
            if not sink.closed and sink.transport is not None:
                sink.transport.write(
                    b"%x\r\n%b\r\n" % (len(body), body) if req.frame_chunked else body
                )
            return
        if req.streaming:  # not connected yet: hold it in memory, framed later by _send_and_wait
            req.body.append(body)
            if req.body_size > self.state.settings.request_buffer_memory:
                self.pause_reading()
            return
        if req.body_file is not None or req.body_size > self.state.settings.request_buffer_memory:
            spill(self.state, req, body)  # a failure raises BadRequest(..., 500)
        else:
            req.body.append(body)
        if req.wake_on_body:  # the RPC firewall inspects the body as it arrives
            w = req.body_waiter
            if w is not None and not w.done():
                w.set_result(None)

    def on_message_complete(self) -> None:
        req = self.cur
        assert req is not None
        req.complete = True
        self.cur_done = True
        if req.sink is not None:
            if req.frame_chunked and not req.sink.closed and req.sink.transport:
                req.sink.transport.write(b"0\r\n\r\n")
            req.body_sent = True
        w = req.body_waiter
        if w is not None and not w.done():
            w.set_result(None)
        if not self.busy and self.queue:
            self._dispatch()

    def _filter(self, req: Request) -> None:
        """Framing, limits, normalisation, forwarding rule and the routing decision."""
        settings = self.state.settings
        host_value: bytes | None = None
        xff: list[bytes] | None = None
        xfp: bytes | None = None
        authorization: str | None = None
        client_request_id: bytes | None = None
        connection: list[bytes] | None = None
        forward: list[bytes] = []  # (name, b": ", value, b"\r\n") runs for the upstream
        underscores = self.underscores
        kinds = hdr.REQUEST_KINDS[underscores]
        for name, value in req.headers:
            kind = kinds.get(name)
            if kind is None:
                kind = hdr.request_header_kind(name, underscores)
            if kind == hdr.FORWARD:
                forward += (name, b": ", value, b"\r\n")
            elif kind == hdr.HOST:
                if host_value is not None:
                    raise BadRequest("client sent duplicate host header")
                host_value = value
            elif kind == hdr.CONTENT_LENGTH:
                req.content_length = int(value)  # llhttp has validated the digits
            elif kind == hdr.TRANSFER_ENCODING:
                if not req.http11:
                    raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
                # nginx 1.22 knows exactly one coding, once: anything else is a 501, never a
                # body forwarded without a coding the upstream would not hear of.
                if req.chunked or value.strip().lower() != b"chunked":
                    raise BadRequest("unknown transfer coding", 501)
                req.chunked = True
            elif kind == hdr.XFF:
                if xff is None:
                    xff = []
                xff.append(value)
            elif kind == hdr.XFP:
                if xfp is None:
                    xfp = value
            elif kind == hdr.EXPECT:
                req.expect_continue = value.lower() == b"100-continue"
            elif kind == hdr.CONNECTION:
                if connection is None:
                    connection = []
                connection.append(value)
            elif kind == hdr.AUTHORIZATION:
                authorization = value.decode("latin-1")
                forward += (name, b": ", value, b"\r\n")
            elif kind == hdr.REQUEST_ID and _REQUEST_ID.fullmatch(value):
                client_request_id = value
        req.forward = forward
        if connection is not None:
            req.connection_named = hdr.connection_tokens(connection)
        target = req.url
        raw_target, self.raw_target = self.raw_target, None
        host: str | None
        if target[:1] == b"/":
            if host_value is None:
                host = None
            elif host_value == self.host_value:  # as the last request on this connection
                host = self.host
            else:
                host = normalise_host(host_value.decode("latin-1"))
                self.host_value, self.host = host_value, host
        elif target[:1].isalpha():
            host_raw, target = split_absolute(target)
            host = normalise_host(host_raw)
        else:
            raise BadRequest("client sent invalid request")
        if host_value is None and req.http11:
            raise BadRequest('client sent HTTP/1.1 request without "Host" header')
        if host is None:
            host = settings.server_name
        req.host = host
        if req.method == "TRACE":  # nginx refuses TRACE once the host is known good
            raise BadRequest("TRACE method", 405)
        path = req.path = match_path(target)
        if raw_target is not None:  # forwarded as sent: raw bytes >= 0x80 included
            target = split_absolute(raw_target)[1] if raw_target[:1] != b"/" else raw_target
        req.target = target
        if req.content_length is not None and req.content_length > settings.client_max_body_size:
            raise BadRequest("request body too large", 413)
        if xff is not None or xfp is not None:
            view = hdr.client_view(settings.forwarded, self.peer, self.scheme, xff or [], xfp)
        elif self.bare_view is not None:  # the same for every request of this connection
            view = self.bare_view
        else:
            view = self.bare_view = hdr.client_view(
                settings.forwarded, self.peer, self.scheme, [], None
            )
        req.view = view
        req.client_ip = view.client_ip
        if client_request_id is not None and view.trusted_peer:
            req.request_id = client_request_id  # Traefik's id, for correlation
        else:  # anyone else's id could be chosen to confuse the logs: use our own
            req.request_id = self.state.new_request_id()
        table = self.state.table
        decision = table.decisions.get((host, path))  # decide()'s cache, without a call
        if decision is None:
            facts = Facts(req.method, host, path, view.client_ip, authorization, req.upgrade)
            decision = decide(table, facts)
        req.decision = decision
        if req.content_length is None and not req.chunked:
            req.complete = True
        action = decision.proxy
        req.streaming = action is not None and not action.request_buffering

    def _parse_error(self, status: int) -> None:
        """A request that cannot be parsed or is refused before routing ends the connection."""
        self.parse_failed = True
        req = self.cur
        if req is None or self.cur_done:  # the error is in a message not yet begun
            req = Request(monotonic())
        ex = self.exchange
        if ex is not None and ex.req is req and not ex.ended():
            # The body went wrong while streaming upstream: that connection is unusable; the
            # exchange answers the error, or aborts the client if the head went out already.
            req.sink = None
            ex.fail(status, "request body error while streaming", "client")
            self.pause_reading()
            return
        if req.status:  # answered already: there is nothing left to say, only to close
            self.close()
            return
        req.error_status = status
        req.keep_alive = False
        req.body_unread = not req.complete and (bool(req.content_length) or req.chunked)
        req.complete = True
        if not self.queue or self.queue[-1] is not req:
            self.queue.append(req)
        w = req.body_waiter
        if w is not None and not w.done():
            w.set_result(None)
        self.pause_reading()
        if not self.busy:
            self._dispatch()

    def body_timed_out(self, req: Request) -> None:
        """client_body_timeout passed while the body was awaited: the connection is closed
        with no answer, as nginx does, and the request logged as 408."""
        req.error_status = 408
        req.complete = True
        self.parse_failed = True
        w = req.body_waiter
        if w is not None and not w.done():
            w.set_result(None)
        elif not self.busy:
            self._dispatch()

    # -- phases 2..7: the fast path from callbacks, else a task ------------------------

    def _dispatch(self) -> None:
        """Answer the request at the queue's head unless one is being answered already."""
        queue = self.queue
        while queue and not self.busy and not self.closed:
            req = queue[0]
            if not req.complete and not req.error_status and self._waits_for_body(req):
                return  # on_message_complete (or the body timeout) dispatches again
            if self.served + 1 >= self.keepalive_requests:
                req.keep_alive = False  # the last one on this connection says so (as nginx)
            self.busy = True
            try:
                started = self._fast(req)
            except Exception as exc:  # a bug must cost one connection, never the worker
                self._internal_error(exc)
                return
            if started is None:
                self.task = self.loop.create_task(self._slow(req))  # held: loops keep tasks weakly
                return
            if started or not self._after(req):
                return

    @staticmethod
    def _waits_for_body(req: Request) -> bool:
        """A buffered proxy request is started once its body is in; others start at once."""
        d = req.decision
        if d is None or d.proxy is None or d.local is not None or d.pending_auth is not None:
            return False
        return d.proxy.request_buffering and not req.upgrade and not req.expect_continue

    def _fast(self, req: Request) -> bool | None:
        """Answer from callbacks: False when answered here, True when an exchange on an idle
        upstream connection is under way (``_fast_done`` ends it), None to use a task."""
        if req.error_status:
            self.error(req, req.error_status)
            return False
        decision = req.decision
        assert decision is not None
        if self.local(req, decision):
            return False
        action = decision.proxy
        if action is None or req.upgrade or not req.complete or req.body_file is not None:
            return None
        answered, key = self.cache_lookup(req) if action.cache else (False, None)
        if answered:
            return False
        pool = self.state.pools.by_name[action.pool]
        if not pool.idle:
            return None
        if action.rpc_firewall:
            if not inline_rpc(req):
                return None  # inspected on a task, a slice at a time
            if self.rpc_refused(req, decision):
                return False
        conn = pool.take_idle()
        if conn is None:
            return None
        head = self.upstream_head(req, decision, False)
        # Not the read event's clock: a pipelined request is started after an earlier answer.
        now = monotonic()
        self.begin_exchange(req, conn, key, self._fast_done, False, now)
        req.upstream_start = now
        conn.transport.write(head + b"".join(req.body) if req.body else head)  # type: ignore[union-attr]
        req.body_sent = True
        return True

    def _fast_done(self, ex: Exchange) -> None:
        """The end of a fast-path exchange, from the upstream's callbacks."""
        req = ex.req
        try:
            if ex.outcome is Outcome.RETRY:  # a stale keep-alive connection: retry once, in a task
                self.exchange = None
                ex.conn.close()
                self.task = self.loop.create_task(self._slow(req, retry=True))
                return
            spool = self.settle(req, ex, ex.conn.pool)
            if spool is not None:  # the upstream is free; the client still reads the file
                spool.done.add_done_callback(lambda _: self._next(req))
                return
            self._next(req)
        except Exception as exc:
            self._internal_error(exc)

    def _next(self, req: Request) -> None:
        """The request is answered: log it, then the next one, if the connection goes on."""
        if self._after(req) and self.queue:
            self._dispatch()

    async def _slow(self, req: Request, retry: bool = False) -> None:
        try:
            try:
                if retry:
                    decision = req.decision
                    assert decision is not None
                    await waiting.proxy(self, req, decision, websocket=False, stale_retry=False)
                else:
                    await waiting.handle(self, req)
            finally:
                going_on = self._after(req)
            if self.tunnel is not None:
                await self.tunnel.closed
                self.close()
                return
        except Exception as exc:
            self._internal_error(exc)
            return
        if going_on:
            self._dispatch()

    def _after(self, req: Request) -> bool:
        """Phase 7 and the keep-alive rule; False when the connection ends here."""
        self.queue.popleft()
        self.busy = False
        if req.body_file is not None:
            req.body_file.close()
        state = self.state
        if state.observers:
            state.finish(self, req)
        if self.tunnel is not None:
            return False
        self.served += 1
        if not req.keep_alive or self.served >= self.keepalive_requests:
            if req.complete and not req.body_unread:
                self.close()
            else:
                self.linger()
            return False
        if state.draining and not self.queue:
            self.close()
            return False
        self._read_on()
        self.idle_since = monotonic()  # keepalive_timeout runs from here, never earlier
        return True

    def linger(self) -> None:
        """nginx's lingering close, for an answer sent before the client's body was read:
        our side is shut after the answer, and what the client still sends is read and
        dropped (data_received drops it once parse_failed is set) for at most
        LINGERING_TIME, LINGERING_TIMEOUT between reads, so that the client reads the
        answer instead of a reset."""
        transport = self.transport
        if transport is None or self.closed:
            return
        self.parse_failed = True
        self.linger_until = monotonic() + LINGERING_TIME
        self.resume_reading()
        transport.write_eof()

    def check_linger(self, now: float) -> None:
        if now > self.linger_until or now - self.last_activity > LINGERING_TIMEOUT:
            self.close()

    def _internal_error(self, exc: Exception) -> None:
        self.state.log_error(f"internal error on connection from {self.peer}: {exc!r}")
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def connection_line(self, req: Request) -> bytes:
        """The response's Connection header; a draining worker ends every connection."""
        if self.state.draining:
            req.keep_alive = False
        return b"Connection: keep-alive\r\n" if req.keep_alive else b"Connection: close\r\n"

    def answer(self, req: Request, answer: LocalAnswer) -> None:
        """Write a response the router makes itself (phase 2)."""
        state = self.state
        req.status = answer.status
        body = b"" if req.method == "HEAD" else answer.body
        first, *rest = answer.headers or (("Content-Type", "text/html"),)
        parts = [
            status_line(answer.status),
            state.server_date,
            b"%b: %b\r\nContent-Length: %d\r\n"
            % (first[0].encode("latin-1"), first[1].encode("latin-1"), len(answer.body)),
            self.connection_line(req),
        ]
        for name, value in rest:
            parts.append(b"%b: %b\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        parts.append(b"\r\n")
        parts.append(body)
        req.bytes_out = len(body)
        self.write_raw(b"".join(parts))

    def error(self, req: Request, status: int) -> None:
        if status == 408:  # a client timeout: nginx closes without an answer (logs 408)
            req.status = 408
            req.keep_alive = False
            self.close()
            return
        if status in (400, 413, 414, 494, 501) or not req.complete:
            req.keep_alive = False  # framing is in doubt, or the body was never read
        self.answer(req, LocalAnswer(status, (("Content-Type", "text/html"),), error_page(status)))

    def rpc_refused(self, req: Request, decision: Decision) -> bool:
        """The RPC firewall on a whole body: True when it refused (the answer is written)."""
        action = decision.proxy
        if action is None or decision.tenant_db is None:
            return False
        limit = action.rpc_body_limit
        if limit is None:
            limit = self.state.settings.client_max_body_size
        refusal = check_request(req, decision.tenant_db, limit)
        if refusal is None:
            return False
        self.answer(req, refusal)
        return True

    def local(self, req: Request, decision: Decision) -> bool:
        """Phase 2: a local answer (redirect, refusal, health) written here."""
        if decision.local is None:
            return False
        if not req.complete and (req.upgrade or req.expect_continue):
            # Expect: 100-continue, answered without 100: the client may send its body or
            # not, so where a next request would start is in doubt; close after the answer
            # (lingering: what it still sends is dropped). docs/deviations.md
            req.keep_alive = False
        self.answer(req, decision.local)
        if self.upgrade_rest or req.upgrade:
            req.keep_alive = False  # the parser is in upgrade mode: no further requests
        return True

    def upstream_head(self, req: Request, decision: Decision, websocket: bool) -> bytes:
        """Phase 5: the request head for the upstream."""
        view = req.view
        assert view is not None
        if req.host is not self.up_host or view is not self.up_view:
            self.up_prefix = hdr.upstream_head_prefix(req.host, view)
            self.up_host = req.host
            self.up_view = view
        complete = req.complete
        chunked = req.frame_chunked = req.chunked and not complete  # decided with the head
        return hdr.upstream_request_head(
            _METHOD_BYTES.get(req.method) or req.method.encode("ascii"),
            req.target,
            self.up_prefix,
            req.request_id,
            decision.dbfilter_line,
            req.forward,
            req.body_size if complete else req.content_length,
            chunked,
            self._upgrade_value(req) if websocket else None,
            req.connection_named,
        )

    def begin_exchange(
        self,
        req: Request,
        conn: UpstreamConnection,
        cache_key: Key | None,
        on_done: OnDone | None,
        websocket: bool,
        now: float,
    ) -> Exchange:
        """Phase 6 starts: the connection's Exchange, reset for this request."""
        ex = conn.ex
        if ex is None:
            ex = conn.ex = Exchange(conn)
        ex.begin(self, req, req.method == "HEAD", websocket, on_done, now)
        if cache_key is not None:
            ex.cache_key = cache_key
            if req.method == "GET":
                ex.capture = []
        return ex

    def end_exchange(self, req: Request, ex: Exchange) -> None:
        """The exchange is over, however it ended: what the logging phase reports of it."""
        self.exchange = None
        req.upstream_status = ex.status
        # A complete response ended at the upstream's last read (the clock upstream_data
        # read); a failed one ends now.
        end = ex.conn.last_read if ex.outcome is Outcome.COMPLETE else monotonic()
        req.upstream_time = end - req.upstream_start
        req.bytes_out = ex.bytes_out

    def settle(self, req: Request, ex: Exchange, pool: UpstreamPool) -> Spool | None:
        """After the exchange: the upstream connection kept or closed, the outcome recorded;
        returns the spool still feeding the client, if any."""
        self.end_exchange(req, ex)
        conn = ex.conn
        state = self.state
        outcome = ex.outcome
        spool = ex.spool
        if outcome is Outcome.COMPLETE:
            pool.mark_ok(conn.server)
            if ex.capture is not None and ex.cache_key is not None:
                state.cache.store(
                    ex.cache_key, ex.status, ex.headers, b"".join(ex.capture), state.now
                )
            # An early answer leaves the upstream owing body bytes: never reuse that.
            reusable = ex.keep_alive and not ex.close_delimited and not ex.head_only
            reusable = reusable and req.body_sent
            if not req.body_sent:
                req.sink = None
                if not req.complete:
                    req.keep_alive = False  # the client's unread body ends the connection
            conn.exchange = None
            pool.release(conn, reusable and not conn.closed, state.now)
            if ex.head_only:
                conn.close()
            if spool is not None:
                spool.finish()
                if not spool.done.done():
                    self.spool = spool
                    spool.done.add_done_callback(self._spool_done)
                    return spool
            return None
        if spool is not None:
            spool.abort()
        conn.abort()
        if outcome is Outcome.ABORTED:
            if ex.cause and ex.cause != "client":  # the upstream failed after the head
                state.upstream_error(pool.name, ex.cause, req.error or "")
            if req.status != 499 and self.transport is not None:
                self.transport.abort()
            self.closed = True
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
        self.error(req, ex.error_status or 502)
        return None

    def _spool_done(self, _: object) -> None:
        self.spool = None

    def cache_lookup(self, req: Request) -> tuple[bool, Key | None]:
        """(answered from the static cache, the key to store the response under if not)."""
        raw_path, _, query = req.target.decode("latin-1").partition("?")
        # Per host: an unknown /<word>/static/... falls back to the tenant's own attachments
        # in Odoo, so one tenant's content must never be served on another tenant's host.
        key = cache_key(req.method, raw_path, query, req.headers, host=req.host)
        if key is None:
            return False, None
        state = self.state
        entry = state.cache.lookup(key, state.now)
        if entry is None:
            return False, key
        status, headers, body = state.cache.answer(entry, req.headers, state.now, key.head)
        req.status = status
        req.bytes_out = len(body)
        parts = [
            status_line(status),
            state.server_date,
        ]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (self.connection_line(req), b"\r\n", body)
        self.write_raw(b"".join(parts))
        return True, None

    @staticmethod
    def _upgrade_value(req: Request) -> bytes:
        for name, value in req.headers:
            if name.lower() == b"upgrade":
                return value
        return b"websocket"
