"""Response framing events from llhttp: an upstream's answer handed over whole, one call per
read.

Rules (theory of operation):
- One parser per upstream connection (``new_response_parser()``), made ready for the answer
  to each request with ``parser.begin(head_only, fresh)`` (``head_only``: the request was
  HEAD; ``fresh``: the last answer was not all parsed, llhttp starts over). Each read is
  given to ``parser.feed(data)``, which returns the events it found, in stream order:
  - a ``ResponseHead`` ``(status, reason, headers, keep_alive)``: the final answer's head,
    headers a flat list, name and value in turn (headers.Headers), names and values as
    sent, keep_alive as llhttp reads the head. An interim answer (1xx other than 101) gives
    no event: it is dropped, and the answer is still to come;
  - ``bytes``: a piece of the body, unframed (chunk sizes and trailers are gone);
  - ``None``: the answer is complete (to a HEAD: right after its head, whatever it
    declared; llhttp itself ends 1xx, 204 and 304 answers with their head);
  - last, where parsing stopped: ``UNASKED`` (bytes that no request asked for: a message
    begun after the end of the answer, a body after the head of a HEAD answer, or any
    framing error past the end: the connection must never be reused), ``UPGRADE`` (the
    answer switched protocols and ``parser.upgrade_at`` says where, in this read, the
    tunnel's bytes begin), or a ``str``: llhttp's reason for a framing error (the answer
    is bad: 502). After any of them the parser is not fed again.
- Two implementations give the same events: the compiled one (``_headparser``'s
  ``ResponseParser``, _headparser_response.c, llhttp driven from C) and
  ``LlhttpResponseParser``: llhttp through httptools, one Python callback per status piece,
  header, head, body piece and message. The compiled one runs where the request side's
  does (headparse.COMPILED: the same build, the same verified httptools, the same switch,
  ``ODOO_ROUTER_HEAD_PARSER=httptools``). tests/unit/datapath/test_respparse.py and
  test_respparse_fuzz.py hold the two to the same events, feed by feed.
- No limits here: the exchange counts the bytes read before a whole head
  (server.proxy_header_max) and stops feeding past them.
"""

from __future__ import annotations

from typing import Final, Protocol

import httptools

from .headparse import COMPILED

ResponseHead = tuple[int, bytes, list[bytes], bool]
ResponseEvent = ResponseHead | bytes | int | str | None

UNASKED: Final = 1  # the event that ends a feed with bytes after the end of the answer
UPGRADE: Final = 101  # the event that ends a feed whose answer switches protocols


class ResponseParser(Protocol):
    """What the exchange calls; both implementations below have this shape."""

    @property
    def upgrade_at(self) -> int: ...

    def begin(self, head_only: bool, fresh: bool) -> None: ...

    def feed(self, data: bytes) -> list[ResponseEvent]: ...

    def close(self) -> None: ...


class _Unasked(Exception):
    """Raised in a callback: bytes after the end of the answer; llhttp stops."""


class LlhttpResponseParser:
    """llhttp through httptools, the events made in its callbacks (the fallback)."""

    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.events: list[ResponseEvent] = []
        self.reason = b""
        self.headers: list[bytes] = []
        self.in_head = False
        self.interim = False
        self.head_only = False
        self.done = False
        self._upgrade_at = -1

    @property
    def upgrade_at(self) -> int:
        return self._upgrade_at

    def begin(self, head_only: bool, fresh: bool) -> None:
        if fresh:
            self.parser = httptools.HttpResponseParser(self)
        self.head_only = head_only
        self.done = self.interim = self.in_head = False

    def feed(self, data: bytes) -> list[ResponseEvent]:
        parser = self.parser
        if parser is None:
            raise ValueError("feed() after close()")
        events = self.events = []
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgrade_at = exc.args[0]
            events.append(UPGRADE)
        except httptools.HttpParserCallbackError as exc:
            ctx = exc.__context__
            if ctx is not None:  # the parser keeps it: its frames would hold this object
                ctx.__traceback__ = None
            if isinstance(ctx, _Unasked) or self.done:
                events.append(UNASKED)
            elif isinstance(ctx, httptools.HttpParserError):  # httptools' own check
                events.append(str(exc))
            else:
                raise  # a bug in a callback, not the upstream's fault
        except httptools.HttpParserError as exc:
            events.append(UNASKED if self.done else str(exc))
        return events

    def close(self) -> None:
        """The httptools parser holds this object's bound methods: break the cycle."""
        self.parser = None

    # -- httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.done:
            raise _Unasked
        self.reason = b""
        self.headers = []
        self.in_head = True
        self.interim = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason  # one call per piece: a reason can span reads

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_head:  # trailers are dropped
            headers = self.headers
            headers.append(name)
            headers.append(value)

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        assert parser is not None
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.interim = True  # dropped: the answer is still to come
            return
        head: ResponseHead = (status, self.reason, self.headers, parser.should_keep_alive())
        self.events.append(head)
        if self.head_only:  # the answer to a HEAD ends here, whatever it declared
            self.done = True
            self.events.append(None)

    def on_body(self, body: bytes) -> None:
        if self.done:
            raise _Unasked  # a body after the head of a HEAD answer
        self.events.append(body)

    def on_chunk_header(self) -> None:
        if self.done:
            raise _Unasked

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
        elif not self.done:
            self.done = True
            self.events.append(None)


def _compiled() -> type[ResponseParser] | None:
    if not COMPILED:  # not built, not verified, or switched off (headparse.py)
        return None
    try:
        from ._headparser import ResponseParser as Compiled
    except ImportError:  # built before the response side was
        return None
    return Compiled


CompiledResponseParser: Final = _compiled()


def new_response_parser(compiled: bool = True) -> ResponseParser:
    """The compiled parser where the request side's runs (unless ``compiled`` is False),
    else the fallback; both give the same events."""
    if compiled and CompiledResponseParser is not None:
        return CompiledResponseParser()
    return LlhttpResponseParser()
