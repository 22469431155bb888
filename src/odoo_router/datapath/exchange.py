"""One request/response exchange with an upstream, written straight to the client.

The response parser (respparse.py: llhttp driven from C, or through httptools' callbacks)
hands over the events of each read (the whole head, body pieces, the end, where parsing
stopped); the Exchange walks them in order, head and body going to the client as they
arrive. The client transport's high-water mark is the read-ahead buffer: only when that
much waits for a slow client is the upstream paused. One Exchange (and its parser) lives as
long as its upstream connection, reset for each request (no per-request object beyond the
response head); its end is reported once, after the read's events, to the driver
(``Events.exchange_done``): no task, no future.

Failure edges (pingora's, see STYLE.md):
* nothing received from a *reused* connection before it closed: ``RETRY`` (the upstream
  closed an idle keep-alive connection while we sent; the request was never seen);
* connection lost or garbage before the response head: 502;
* no response head within the route's read timeout: 504;
* failure after the head went to the client: the client connection is aborted, never a
  second response;
* bytes after the end of the response (beyond its Content-Length or last chunk, after the
  head of a HEAD, 204 or 304 answer), in the same read or later: the response stands, the
  connection is closed and logged (``UpstreamConnection.unasked``), never reused: those
  bytes must never be read as the answer to the next request sent on it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Final

from ..http.headers import pairs
from ..http.response_headers import NO_LENGTH, response_head, status_line
from .cache import Key
from .downstream import Downstream
from .events import Events
from .headparse import join_pieces
from .pools import Receiver, UpstreamConnection
from .request import Request
from .respparse import (
    UNASKED,
    UPGRADE,
    ResponseEvent,
    ResponseHead,
    ResponseParser,
    new_response_parser,
)
from .spool import Spool


class Outcome(Enum):
    COMPLETE = "complete"  # response fully relayed; connection reusable if keep_alive
    UPGRADED = "upgraded"  # 101 relayed; the tunnel takes over both transports
    RETRY = "retry"  # failed before any byte came back on a reused connection
    FAILED = "failed"  # an error answer was (or could not be) sent; see .error_status
    ABORTED = "aborted"  # failed after the head was sent: the client connection is aborted


_NO_BODY_STATUS: Final = frozenset({204, 304})


class Exchange(Receiver):
    def __init__(self, conn: UpstreamConnection) -> None:
        self.conn = conn
        parser = new_response_parser()
        self.parser: ResponseParser | None = parser
        # parser.feed bound once: a method called by name costs about 90 instructions more.
        self.parse: Callable[[bytes], list[ResponseEvent]] = parser.feed
        self.parser_dirty = False  # the parser was bypassed mid-body: it starts over next time
        self.head_max = conn.pool.head_max  # server.proxy_header_max
        # Bytes read before the head was whole; back to 0 with each whole head. Set here, not
        # per request: an exchange that fails ends its connection, and this object with it.
        self.head_read = 0
        self.cause = ""  # why it failed: reset | timeout | bad_answer | client
        self.upgrade_rest = b""  # after a 101: the bytes past its head (Tunnel: where frames start)

    def begin(
        self,
        client: Downstream,
        req: Request,
        head_only: bool,
        upgrade: bool,
        owner: Events,
        now: float,
        cache_key: Key | None,
    ) -> None:
        """Reset for one request sent at ``now``; ``owner`` hears the end; the response is
        stored in the static cache under ``cache_key`` if it may be kept."""
        parser = self.parser
        if parser is not None:
            parser.begin(head_only, self.parser_dirty)
            self.parser_dirty = False
        conn = self.conn
        conn.attach(self, now)  # the read timeout runs from the send
        req.upstream_addr = conn.addr
        self.client = client
        self.req = req
        self.head_only = head_only
        self.upgrade = upgrade
        self.owner = owner
        self.notified = False
        self.outcome: Outcome | None = None
        self.feeding = False
        self.headers: list[bytes] = []  # name, value, name, ... (headers.Headers)
        self.reason = b""
        self.status = 0
        self.head_sent = False
        self.got_bytes = False
        self.chunked_out = False
        self.close_delimited = False
        self.keep_alive = False
        self.bytes_out = 0
        self.out: list[bytes] | None = None
        # Body bytes due under Content-Length once the head is parsed: past the parser.
        self.passthrough = 0
        self.body_length = -1
        self.capture: list[bytes] | None = [] if cache_key is not None and not head_only else None
        self.cache_key = cache_key
        self.spool: Spool | None = None
        self.error_status = 0

    def retire(self) -> None:
        parser = self.parser
        if parser is not None:  # never fed again
            parser.close()
            self.parser = None

    def ended(self) -> bool:  # a call: a narrowed attribute would miss a callback's change
        return self.outcome is not None

    # -- input from the upstream connection ---------------------------------------

    def upstream_data(self, data: bytes) -> None:
        self.got_bytes = True
        self.conn.heard()
        if self.ended():  # a later read after the end of the response
            self.keep_alive = False
            self.conn.unasked(f"{len(data)} bytes after the end of its response")
            return
        due = self.passthrough
        if due:
            self._pass_body(data, due)
            self._notify()
            return
        if not self.head_sent:
            self.head_read += len(data)
        # Everything one read produces (head, body, chunk end) goes out in one write.
        parser = self.parser
        if parser is None:
            return
        out: list[bytes] = []
        self.out = out
        self.feeding = True
        try:
            self._walk(parser, data, out)
        finally:
            self.feeding = False
            self.out = None
            if out:
                self._deliver(join_pieces(out))
        if not self.ended():
            if not self.head_sent and self.head_read > self.head_max:
                self._head_too_big(self.head_read, False)
                return
            if self.body_length > 0:
                self.passthrough = self.body_length - self.bytes_out
                self.parser_dirty = True  # the rest of this body never reaches the parser
        else:
            self._notify()

    def _pass_body(self, data: bytes, due: int) -> None:
        n = len(data)
        if n > due:  # more than the response announced: never reuse (nor relay) the rest
            self.keep_alive = False
            self.conn.unasked(f"{n - due} bytes after the end of its response")
            data, n = data[:due], due
        self.passthrough = due - n
        self.bytes_out += n
        if self.capture is not None:
            self._capture(data)
        self._deliver(data)
        if self.passthrough == 0:
            self._finish(Outcome.COMPLETE)

    def upstream_lost(self, exc: Exception | None) -> None:
        if self.ended():
            return
        if self.head_sent and self.close_delimited:
            self._end_body()
            self.keep_alive = False
            self._finish(Outcome.COMPLETE)
        elif not self.got_bytes and self.conn.reused:
            self._finish(Outcome.RETRY)
        else:
            why = f" ({exc.strerror or exc})" if isinstance(exc, OSError) else ""
            self.fail(502, f"upstream closed the connection prematurely{why}", "reset")
        self._notify()

    def timed_out(self) -> None:
        if self.conn.paused_writing:
            self.fail(504, "upstream took no request bytes within send_timeout", "timeout")
        else:
            self.fail(504, "upstream sent no response within read_timeout", "timeout")

    def client_gone(self) -> None:
        """The client closed mid-exchange: never reuse (nor linger on) the upstream."""
        if self.ended():
            return
        req = self.req
        req.status = req.status or 499
        req.error = req.error or "client closed the connection"
        self.conn.abort()
        self._finish(Outcome.ABORTED)
        self._notify()

    # -- the events of one read (respparse.py) -------------------------------------

    def _walk(self, parser: ResponseParser, data: bytes, out: list[bytes]) -> None:
        stopped = False
        for event in self.parse(data):
            if isinstance(event, tuple):
                self._head(event)
            elif isinstance(event, bytes):
                self._body(event)
            elif event is None:
                self._complete()
            elif event == UPGRADE:  # always the last event
                stopped = True
                if self.status == 101 and self.upgrade:
                    rest = self.upgrade_rest = data[parser.upgrade_at :]
                    self._finish(Outcome.UPGRADED)
                    if rest:
                        out.append(rest)
                else:
                    self.fail(502, "upstream sent an unexpected upgrade", "bad_answer")
            elif event == UNASKED or self.ended():  # always the last event
                # the response was whole: what follows it in this read was unasked
                stopped = True
                self.keep_alive = False
                self.conn.unasked(f"bytes after the end of its response (in a read of {len(data)})")
            else:  # llhttp's reason, always the last event
                stopped = True
                self.fail(502, f"upstream sent an invalid response: {event}", "bad_answer")
        if not stopped and self.status == 101 and not self.ended():
            if self.upgrade:
                self._finish(Outcome.UPGRADED)
            else:
                self.fail(502, "upstream sent an unexpected upgrade", "bad_answer")

    def _head(self, head: ResponseHead) -> None:
        if self.ended():
            return
        status, reason, headers, keep_alive = head
        self.reason = reason
        self.headers = headers
        if self.head_read:
            if self.head_read > self.head_max:
                # "HTTP/1.1 200 " reason CRLF, "name: value" CRLF each, CRLF (up to spacing)
                size = 17 + len(self.reason) + sum(len(h) + 2 for h in self.headers)
                if size > self.head_max:
                    self._head_too_big(size, True)
                    return
            self.head_read = 0
        if status == 101 and not self.upgrade:  # a switch nobody asked for: never relay it
            self.fail(502, "upstream switched protocols unasked", "bad_answer")
            return
        self.status = status
        self.keep_alive = keep_alive
        cache = self.client.state.cache
        if self.capture is not None and cache.ttl(status, pairs(self.headers)) is None:
            self.capture = None  # not storable: do not hold the body
        self._send_head()
        if self.head_only and not self.ended():
            self._finish(Outcome.COMPLETE)  # the parser ends it too, and calls more unasked

    def _body(self, body: bytes) -> None:
        if self.ended():
            return
        self.bytes_out += len(body)
        if self.capture is not None:
            self._capture(body)
        self._emit(b"%x\r\n%b\r\n" % (len(body), body) if self.chunked_out else body)

    def _complete(self) -> None:
        if self.ended() or self.status == 101:  # 101: the upgrade event follows
            return
        self._end_body()
        self._finish(Outcome.COMPLETE)

    # -- helpers ------------------------------------------------------------------

    def _send_head(self) -> None:
        client = self.client
        state = client.state
        status = self.status
        out = self.out  # inside a read: the head's pieces join the read's one write
        parts = out if out is not None else []
        parts.append(status_line(status, self.reason))
        parts.append(state.server_date)  # the router's Server and Date lines
        length = response_head(
            self.headers,
            state.secure_cookies,
            state.samesite,
            status == 101,
            parts,
            self.conn.pool.redirect,
            self,
        )
        no_body = self.head_only or status in _NO_BODY_STATUS or status < 200
        self.body_length = -1 if no_body else length  # passthrough only when > 0
        req = self.req
        if status == 101:
            parts.append(b"Connection: upgrade\r\n\r\n")
        else:
            if length < 0 and not no_body:  # chunked or close-delimited upstream
                if req.http11:
                    self.chunked_out = True
                    parts.append(b"Transfer-Encoding: chunked\r\n")
                else:
                    req.keep_alive = False
                if length == NO_LENGTH and not self.keep_alive:
                    self.close_delimited = True
            parts += (client.connection_line(req), b"\r\n")
        req.status = status
        self.head_sent = True
        if out is None:
            self._deliver(join_pieces(parts))

    def origin(self) -> bytes:
        """``http://host[:port]`` as nginx makes a redirect absolute (response_headers.py)."""
        return self.client.origin(self.req.host)

    def _head_too_big(self, size: int, whole: bool) -> None:
        """A response head over server.proxy_header_max (nginx: over proxy_buffer_size): 502,
        logged with the pool and the size (a lower bound while the head is not whole)."""
        conn, more = self.conn, "" if whole else " or more"
        self.client.state.log_error(
            f"upstream pool {conn.pool.name} ({conn.addr}) sent a response head of {size}{more}"
            f" bytes, over server.proxy_header_max ({self.head_max}): 502"
        )
        self.fail(502, f"upstream sent too big a response head ({size} bytes)", "bad_answer")

    def _capture(self, body: bytes) -> None:
        """Keep the body for the static cache while it fits an entry; past that, drop it."""
        if self.capture is not None and self.bytes_out <= self.client.state.cache.max_entry_bytes:
            self.capture.append(body)
        else:
            self.capture = None

    def _end_body(self) -> None:
        if self.chunked_out:
            self.chunked_out = False
            self._emit(b"0\r\n\r\n")

    def _emit(self, data: bytes) -> None:
        if self.out is not None:
            self.out.append(data)
        else:
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        """To the client; past its read-ahead buffer, to a spool file or (when the route does
        not buffer responses, or the spool is full) by pausing the upstream."""
        client = self.client
        spool = self.spool
        if spool is not None:
            spool.add(data)
            spool.pump()
        else:
            client.write(data)
        if not client.paused_writing or self.conn.transport is None:
            return
        req = self.req
        action = req.decision.proxy if req.decision is not None else None
        if spool is None and action is not None and action.response_buffering and not self.upgrade:
            self.spool = Spool(client, req, self.owner, client.state.settings.temp_dir)
        elif spool is None or spool.full:
            self.conn.pause_reading()

    def fail(self, status: int, reason: str, cause: str) -> None:
        if self.ended():
            return
        self.cause = cause
        self.req.error = (
            reason if cause == "client" else f"{cause}: {reason}; server {self.conn.addr}"
        )
        self.error_status = status
        self.conn.abort()  # unsent bytes must not keep a failed connection open
        self._finish(Outcome.ABORTED if self.head_sent else Outcome.FAILED)
        if not self.feeding:
            self._notify()

    def _finish(self, outcome: Outcome) -> None:
        if not self.ended():
            self.outcome = outcome

    def _notify(self) -> None:
        """Tell the driver, once and never from inside the parser."""
        if not self.notified and self.ended():
            self.notified = True
            self.owner.exchange_done()
