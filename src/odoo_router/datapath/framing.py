"""Request framing: what the client sends, fed to llhttp (httptools), heads and bodies out.

Framing knows bytes and HTTP/1 message syntax, nothing of routes or upstreams: it hands each
head, body piece and message end to the driver (events.Events) and stops at the first
error, reporting its status.

Rules
-----
* Parse-ahead is bounded: a read longer than ``FEED_SLICE`` is parsed a slice at a time, and
  once the driver says no more requests may wait (``Events.parse_more``) the rest is held
  unparsed until it calls ``feed_held``. Inside a body the rest of it goes in one piece (a
  body makes no requests; a spilled body is written per piece).
* Leniencies, as nginx: any HTTP/1.x minor version is 1.1 semantics (llhttp knows 1.0 and
  1.1); trailing blanks of a header value are dropped (RFC 9110 5.5; llhttp keeps them);
  bytes >= 0x80 in a request target pass (llhttp refuses them: such a line is fed
  %-escaped, one head at a time, and the raw target kept to forward unchanged).
* Refused here, as nginx: HTTP/0.9 and lines with no ``HTTP/`` version (400), a version
  0.x (400) or 2+ (505), a target over ``large_client_header_buffers`` (414), a header line
  over it or a head over four of them or with more than ``max_header_count`` headers (494),
  an unknown transfer coding (501), any other framing error (400).
* An upgrade request stops the parser after its head: what follows is handed over as it
  came (the tunnel's, if one is made).
* "GET|POST|HEAD <target> HTTP/1.1" at the start of a read is read from the bytes (what
  llhttp would read, tests/unit/datapath/test_line_hint.py): no parser call for method or version.
"""

from __future__ import annotations

from typing import Final

import httptools

from ..http.errors import CLIENT, RequestError
from ..routing.request_filter import RequestHead
from ..routing.uri import BadRequest
from .events import Events

FEED_SLICE: Final = 16384
# What feed_data raises when parsing stops (HttpParserUpgrade is not an HttpParserError).
_PARSER_STOPS: Final = (httptools.HttpParserError, httptools.HttpParserUpgrade)
_METHODS: Final = {
    m.encode(): m for m in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")
}
_NO_EVENTS: Final = Events()


def line_hint(data: bytes, first: int) -> str:
    """The method of the request line data[:first] if it is "GET|POST|HEAD ... HTTP/1.1",
    else "". llhttp takes the last token of a line as the version and errs on any other
    shape, so it parses the same method and version (tests/unit/datapath/test_line_hint.py)."""
    if first < 10 or data[first - 10 : first + 1] != b" HTTP/1.1\r\n":
        return ""
    if data.startswith(b"GET "):
        return "GET"
    if data.startswith(b"POST "):
        return "POST"
    if data.startswith(b"HEAD "):
        return "HEAD"
    return ""


def chunked_length(data: bytes) -> int | None:
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


class RequestFraming:
    def __init__(self, events: Events, header_limit: int, max_headers: int) -> None:
        self.events = events
        parser = httptools.HttpRequestParser(self)
        parser.set_dangerous_leniencies(lenient_version=True)
        self.parser: httptools.HttpRequestParser | None = parser
        self.header_limit = header_limit  # large_client_header_buffers
        self.max_headers = max_headers
        # The method of a request line "GET|POST|HEAD ... HTTP/1.1" seen at the start of a
        # read, for that message's on_headers_complete; "" when none was.
        self.line_hint = ""
        self.raw_target: bytes | None = None  # the next head's target as sent, if escaped
        self.line_buf = b""  # the start of a request line with raw bytes, until its end comes
        self.held = b""  # read but not parsed yet: the driver had no room (parse_more)
        self.cur: RequestHead | None = None  # the message being parsed
        self.cur_done = True  # its last byte was parsed (or none began)
        self.in_body = False  # between its head and its end
        self.stopped = False  # nothing more is parsed (an error, a linger, a close)
        self.header_bytes = 0
        self.headers: list[bytes] = []  # those of the head being parsed (name, value, ...)
        self.now = 0.0  # the clock of the read being parsed

    # -- the driver's side ----------------------------------------------------------

    def feed(self, data: bytes, now: float) -> None:
        """A read from the client, at ``now``."""
        if self.stopped:
            return
        self.now = now
        if self.line_buf:
            data = self.line_buf + data
            self.line_buf = b""
        if self.held:  # bytes read before this are parsed first
            data = self.held + data
            self.held = b""
        if self.cur_done:  # a request line starts here
            if not data.isascii():
                self._feed_raw_bytes(data)
                return
            first = data.find(b"\n")
            hint = line_hint(data, first)
            if hint:
                self.line_hint = hint
            elif first >= 0 and data.find(b" HTTP/", 0, first) < 0:
                self._stop(400, CLIENT)  # HTTP/0.9 or garbage: never forwarded (deviations.md)
                return
        self._feed_ahead(data)

    def feed_held(self) -> None:
        """What was held back, once the driver has room again."""
        data, self.held = self.held, b""
        if data and not self.stopped:
            self._feed_ahead(data)

    def partial(self) -> RequestHead | None:
        """The message being parsed, if one began and has not ended."""
        return None if self.cur_done else self.cur

    def stop(self) -> None:
        """Parse nothing more (what still comes is dropped)."""
        self.stopped = True

    def close(self) -> None:
        """The connection ended: the parser and the driver let go of each other (the parser
        holds this object's bound methods; left to the cyclic GC, the pair and every request
        hanging off it would wait for a collection, whose pauses show at p99)."""
        self.stopped = True
        self.parser = None
        self.events = _NO_EVENTS
        self.cur = None

    # -- feeding llhttp -------------------------------------------------------------

    def _feed_ahead(self, data: bytes) -> None:
        while True:
            if not self.events.parse_more():
                self.held = data
                return
            size = FEED_SLICE
            cur = self.cur
            if self.in_body and cur is not None:
                due = self.events.body_due(cur)
                size = max(size, due if due >= 0 else len(data))
            if len(data) <= size:
                self._feed(data)
                return
            piece, data = data[:size], data[size:]
            if not self._feed(piece, data):
                return

    def _feed(self, data: bytes, after: bytes = b"") -> bool:
        """Parse ``data`` (``after`` is what the caller holds back to parse next); False when
        parsing stopped (an error, or an upgrade)."""
        parser = self.parser
        if parser is None:
            return False
        try:
            parser.feed_data(data)
        except _PARSER_STOPS as exc:
            self._feed_error(exc, data, after)
            return False
        return True

    def _feed_error(self, exc: Exception, data: bytes, after: bytes) -> None:
        if isinstance(exc, httptools.HttpParserUpgrade):
            self.stopped = True
            self.events.upgraded(data[exc.args[0] :] + after)
        elif isinstance(exc, httptools.HttpParserCallbackError):
            ctx = exc.__context__
            if ctx is not None:  # the parser keeps it: its frames would hold this connection
                ctx.__traceback__ = None
            if isinstance(ctx, RequestError):
                self._stop(ctx.status, ctx.source)
            else:
                self._stop(400, CLIENT)
        else:
            # nginx answers a transfer coding it does not know with 501, other framing errors 400.
            self._stop(501 if "invalid `Transfer-Encoding`" in str(exc) else 400, CLIENT)

    def _stop(self, status: int, source: str) -> None:
        self.stopped = True
        self.events.parse_error(self.partial(), status, source)

    def _feed_raw_bytes(self, data: bytes) -> None:
        """Bytes >= 0x80 somewhere from a message start on (rare): feed one head at a time so
        that every request line, pipelined ones included, can be escaped for llhttp; bodies
        with a Content-Length are fed as they are, anything else after a head as it is."""
        while data and not self.stopped:
            if not self.cur_done:
                self._feed(data)  # inside a message: a chunked body and what follows
                return
            first = data.find(b"\n")
            if first < 0:  # a request line cut across reads: wait for its end (bounded)
                if len(data) > self.header_limit:
                    self._stop(414, CLIENT)
                else:
                    self.line_buf = data
                return
            line = data[:first]
            if b" HTTP/" not in line:
                self._stop(400, CLIENT)
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
            cur = self.cur
            if cur is None or self.cur_done:
                continue
            due = self.events.body_due(cur)
            size = due if due >= 0 else chunked_length(data)
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

    # -- parser callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        self.cur = head = self.events.new_head(self.now)  # the clock read for this read event
        if self.raw_target is not None:
            head.raw_target = self.raw_target
            self.raw_target = None
        self.headers = head.headers
        self.cur_done = False
        self.header_bytes = 0

    def on_url(self, url: bytes) -> None:
        head = self.cur
        assert head is not None
        head.url += url
        if len(head.url) > self.header_limit:
            raise BadRequest("request URI too long", 414)

    def on_header(self, name: bytes, value: bytes) -> None:
        last = len(value) - 1
        if last >= 0 and (value[last] == 32 or value[last] == 9):
            value = value.rstrip(b" \t")  # llhttp keeps trailing blanks; RFC 9110 5.5 drops them
        size = len(name) + len(value) + 4
        total = self.header_bytes = self.header_bytes + size
        if size > self.header_limit or total > 4 * self.header_limit:
            raise BadRequest("request header or cookie too large", 494)
        headers = self.headers  # the count is checked at the end of the head
        headers.append(name)
        headers.append(value)

    def on_headers_complete(self) -> None:
        head = self.cur
        parser = self.parser
        assert head is not None and parser is not None
        if len(self.headers) > 2 * self.max_headers:
            raise BadRequest("too many request headers", 494)
        hint = self.line_hint
        if hint:  # the request line began a read, as "GET ... HTTP/1.1" (llhttp read the same)
            self.line_hint = ""
            head.method = hint
        else:  # each call allocates; get_http_version() formats a string (0.18 us)
            method = parser.get_method()
            head.method = _METHODS.get(method) or method.decode("ascii", "replace")
            version = parser.get_http_version()
            if version != "1.1":
                if version[0] != "1":
                    raise BadRequest("unsupported HTTP version", 400 if version[0] == "0" else 505)
                head.http11 = version != "1.0"
        head.keep_alive = parser.should_keep_alive()
        head.upgrade = parser.should_upgrade()
        self.in_body = True
        self.events.head_complete(head)

    def on_body(self, body: bytes) -> None:
        head = self.cur
        assert head is not None
        self.events.body(head, body)

    def on_message_complete(self) -> None:
        head = self.cur
        assert head is not None
        self.cur_done = True
        self.in_body = False
        self.events.message_complete(head)
