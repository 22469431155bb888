"""Request framing: what the client sends, parsed by llhttp (headparse.py), heads and bodies
out.

Framing knows bytes and HTTP/1 message syntax, nothing of routes or upstreams: it hands each
head, body piece and message end to the driver (events.Events) and stops at the first
error, reporting its status.

Rules
-----
* The parser (``headparse.new_parser``: the compiled one where it was built, else llhttp
  through httptools) parses a whole read in one call and returns its events; framing walks
  them in order: a head goes through ``Events.head_complete`` (the filter, the dispatch)
  before the next event is looked at, so a request answered from there is answered before
  the rest of the read is handled. A refusal raised on the way (RequestError: the filter's,
  the body limit, a spill failure) ends the walk; the rest of the events is dropped and
  nothing more is parsed, as when ``stop()`` is called from an event.
* Parse-ahead is bounded: a read longer than ``FEED_SLICE`` is parsed a slice at a time, and
  once the driver says no more requests may wait (``Events.parse_more``) the rest is held
  unparsed until it calls ``feed_held``. Inside a body the rest of it goes in one piece (a
  body makes no requests; a spilled body is written per piece).
* Leniencies, as nginx: any HTTP/1.x minor version is 1.1 semantics (llhttp knows 1.0 and
  1.1); trailing blanks of a header value are dropped (RFC 9110 5.5; llhttp keeps them);
  bytes >= 0x80 in a request target pass (llhttp refuses them: such a line is fed
  %-escaped, one head at a time, and the raw target kept to forward unchanged); trailers of
  a chunked body count against the header limits and are dropped.
* Blank lines (CR and LF bytes, any number) before a request line are skipped, as nginx
  skips them; they start no head (its timer, its limits) and are not logged.
* Refused, as nginx: HTTP/0.9 and lines with no ``HTTP/`` version (400, by the parser before
  llhttp sees them), a version 0.x (400) or 2+ (505), a target over
  ``large_client_header_buffers`` (414), a header line over it or a head over four of them
  or with more than ``max_header_count`` headers (494), an unknown transfer coding (501),
  any other framing error (400).
* An upgrade request stops parsing after its head: what follows is handed over as it came
  (the tunnel's, if one is made).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..http.errors import CLIENT, RequestError
from ..routing.request_filter import RequestHead
from .events import Events
from .headparse import IN_HEAD, UPGRADE, Event, Head, HeadParser, new_parser

FEED_SLICE: Final = 16384
_NO_EVENTS: Final = Events()
# bytes.isascii as a Final: called directly where data.isascii() is looked up by name.
_isascii: Final[Callable[[bytes], bool]] = bytes.isascii


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
        parser = new_parser(header_limit, max_headers)
        self.parser: HeadParser | None = parser
        # parser.feed bound once: a call by name costs about 90 instructions more.
        self.parse: Callable[[bytes], list[Event]] = parser.feed
        self.header_limit = header_limit  # large_client_header_buffers
        self.raw_target: bytes | None = None  # the next head's target as sent, if escaped
        self.line_buf = b""  # the start of a request line with raw bytes, until its end comes
        self.held = b""  # read but not parsed yet: the driver had no room (parse_more)
        self.cur: RequestHead | None = None  # the message whose head was handed over last
        self.cur_done = True  # its last byte was parsed (or none began)
        self.in_body = False  # between its head and its end
        self.stopped = False  # nothing more is parsed (an error, a linger, a close)
        # When the head the parser is in the middle of began (the clock of that read), from
        # the IN_HEAD that ends a feed stopped inside a head; -1 when it is in none.
        self.head_start = -1.0
        self.now = 0.0  # the clock of the read being parsed

    # -- the driver's side ----------------------------------------------------------

    def feed(self, data: bytes, now: float) -> None:
        """A read from the client, at ``now``."""
        if self.stopped:
            return
        if self.line_buf:
            data = self.line_buf + data
            self.line_buf = b""
        if self.held:  # bytes read before this are parsed first
            data = self.held + data
            self.held = b""
        self.now = now
        # A request line starts here (the parser refuses one without " HTTP/").
        if self.cur_done and self.head_start < 0 and not _isascii(data):
            self._feed_raw_bytes(data)
            return
        self._feed_ahead(data)

    def feed_held(self) -> None:
        """What was held back, once the driver has room again."""
        data, self.held = self.held, b""
        if data and not self.stopped:
            self._feed_ahead(data)

    def partial_start(self) -> float:
        """When the message being parsed began (the clock of its first read), if one began
        and has not ended; else -1."""
        cur = self.cur
        if not self.cur_done and cur is not None:
            return cur.start
        return self.head_start

    def cut_short(self) -> RequestHead | None:
        """A head the client began and did not finish, made for the log (the connection
        ended); None when it is in none, or parsing stopped (its error was logged)."""
        parser = self.parser
        if self.stopped or not self.cur_done or parser is None or not parser.in_head:
            return None
        return self._partial()

    def stop(self) -> None:
        """Parse nothing more (what still comes is dropped)."""
        self.stopped = True

    def close(self) -> None:
        """The connection ended: the parser and the driver let go of each other (left to
        the cyclic GC, the pair and every request hanging off it would wait for a
        collection, whose pauses show at p99)."""
        self.stopped = True
        parser = self.parser
        if parser is not None:
            parser.close()
            self.parser = None
        self.events = _NO_EVENTS
        self.cur = None

    # -- feeding the parser -----------------------------------------------------------

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
        """Parse ``data`` and hand its events on, in order (``after`` is what the caller
        holds back to parse next); False when parsing stopped (a refusal, an upgrade, a
        stop from an event)."""
        parser = self.parser
        if parser is None:
            return False
        events = self.events
        status = 0  # a refusal: the parser's, or raised by an event
        source = CLIENT
        try:
            for event in self.parse(data):
                if self.stopped:
                    return False
                if event is None:  # the message ended
                    cur = self.cur
                    assert cur is not None
                    self.cur_done = True
                    self.in_body = False
                    events.message_complete(cur)
                elif isinstance(event, tuple):
                    self._head(event)
                elif isinstance(event, bytes):
                    cur = self.cur
                    assert cur is not None
                    events.body(cur, event)
                elif event == IN_HEAD:  # always the last event; the head goes on
                    if self.head_start < 0:
                        self.head_start = self.now
                elif event == UPGRADE:  # always the last event
                    self.stopped = True
                    events.upgraded(data[parser.upgrade_at :] + after)
                else:  # a refusal, always the last event
                    status = event
        except RequestError as exc:
            status, source = exc.status, exc.source
        except Exception:  # a fault in an event: refused (400), as under httptools
            status = 400
        if status:
            self._stop(status, source)
        return not self.stopped

    def _head(self, found: Head) -> None:
        method, target, version, headers, keep_alive, upgrade = found
        start = self.head_start
        if start < 0:
            start = self.now  # it began in this read
        else:
            self.head_start = -1.0
        head = self.cur = self.events.new_head(start)
        head.method = method
        head.url = target
        head.headers = headers
        if version != 11:
            head.http11 = version != 10  # 1.2 and up are 1.1 (the parser refused 0.x, 2+)
        head.keep_alive = keep_alive
        head.upgrade = upgrade
        raw_target = self.raw_target
        if raw_target is not None:
            head.raw_target = raw_target
            self.raw_target = None
        self.cur_done = False
        self.in_body = True
        self.events.head_complete(head)

    def _stop(self, status: int, source: str) -> None:
        self.stopped = True
        self.events.parse_error(self._partial(), status, source)

    def _partial(self) -> RequestHead | None:
        """The message parsing stopped in, if one began: the last head handed over while
        its body is read, else one made for the head the parser was in (its target as far
        as it came, for the log)."""
        if not self.cur_done:
            return self.cur
        parser = self.parser
        if parser is None or not parser.in_head:
            return None
        head = self.events.new_head(self.head_start if self.head_start >= 0 else self.now)
        head.url = parser.target
        return head

    def _feed_raw_bytes(self, data: bytes) -> None:
        """Bytes >= 0x80 somewhere from a message start on (rare): feed one head at a time so
        that every request line, pipelined ones included, can be escaped for llhttp; bodies
        with a Content-Length are fed as they are, anything else after a head as it is."""
        while data and not self.stopped:
            if not self.cur_done:
                self._feed(data)  # inside a message: a chunked body and what follows
                return
            if data[:1] in (b"\r", b"\n"):  # blank lines before a request line: skipped
                data = data.lstrip(b"\r\n")
                continue
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
