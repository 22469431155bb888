"""Request framing events from llhttp: heads handed over whole, in one call per read.

Rules (theory of operation):
- One parser per client connection: ``new_parser(header_limit, max_headers)``. Each read is
  given to ``parser.feed(data)``, which parses all of it and returns the events it found, in
  stream order:
  - a ``Head`` tuple ``(method, target, version, headers, keep_alive, upgrade)``: method as
    str ("GET"), the target bytes as sent, version as 10 * major + minor (11, 10, 12 ...),
    headers a flat list in order, name and value in turn (headers.Headers, the data path's
    shape), names as sent, values without trailing blanks; keep_alive and upgrade as llhttp
    reads the head;
  - ``bytes``: a piece of the body of the last head;
  - ``None``: the message of the last head is complete (for a request without a body, right
    after its head);
  - an ``int``, always last: ``IN_HEAD`` when the feed ended inside a head (a message
    began, the rest of its head is to come: the caller learns when a head began without
    asking after each feed); else a refusal, the status nginx answers it with (400, 414
    target over header_limit, 494 a header or all of them over the limits or more than
    max_headers, 501 a transfer coding llhttp refuses, 505 HTTP/2+), or ``UPGRADE``: the
    last message asked to switch protocols and ``parser.upgrade_at`` says where, in this
    read, the tunnel's bytes begin. After a refusal or an upgrade nothing more was parsed,
    and the parser must not be fed again.
  After a refusal, ``parser.in_head`` says whether a message had begun whose head was not
  handed over, and ``parser.target`` what came of its target (for the log).
- A feed that starts outside a message and whose first line (up to its LF) has no
  ``" HTTP/"`` is refused (400) before llhttp sees it: HTTP/0.9, which llhttp would take
  (waiting for a header line), and garbage; nginx answers both 400 (docs/deviations.md).
  CR and LF bytes before a request line (a new connection's, or between two keep-alive
  requests) are blank lines, skipped as nginx skips them: any number, in any order, none
  counted against a limit (nginx empties its header buffer of them). Other whitespace
  there is refused (400), as nginx refuses it.
- Two implementations give the same events: the compiled one (``_headparser``, llhttp driven
  from C, one Python call per read) and ``LlhttpParser``: llhttp through httptools, one
  Python callback per URL piece, header, head and message, the router's limits applied in
  those callbacks. The second is the fallback where the first was not built (no C
  compiler, a pure build, the llhttp package missing), or not verified with the installed
  httptools, or switched off: ``ODOO_ROUTER_HEAD_PARSER=httptools`` in the environment
  (read at import; the startup log says which runs). tests/unit/datapath/test_headparse.py and
  test_headparse_fuzz.py hold them to the same events, byte for byte, on the conformance
  suite's odd requests, the smuggling cases and random and mutated heads, cut into reads
  at random.
- Both use llhttp with one leniency, as the router always has: any HTTP/1.x minor version
  (nginx takes them as 1.1). Trailers of a chunked body count against the header limits
  and are dropped, as nginx drops them.
- What the caller does around it (framing.py): raw bytes >= 0x80 in a request line, which
  llhttp refuses and nginx takes, are %-escaped before feeding; long reads are fed in
  slices so that parsing stops while many requests wait; the events of a feed are walked
  in order, and a refusal found on the way (the filter's, the body limit) drops the rest
  and the parser is not fed again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, Protocol

import httptools

Head = tuple[str, bytes, int, list[bytes], bool, bool]
Event = Head | bytes | int | None

IN_HEAD: Final = 100  # the event that ends a feed which stopped inside a head
UPGRADE: Final = 101  # the event that ends a feed whose last request switches protocols
_BLANKS: Final = (b" ", b"\t")
_METHODS: Final = {
    m.encode(): m for m in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")
}


class HeadParser(Protocol):
    """What the framing module calls; both implementations below have this shape."""

    @property
    def upgrade_at(self) -> int: ...

    @property
    def in_head(self) -> bool: ...

    @property
    def target(self) -> bytes: ...

    def feed(self, data: bytes) -> list[Event]: ...

    def close(self) -> None: ...


def _first_line_unversioned(data: bytes) -> bool:
    first = data.find(b"\n")
    return first >= 0 and data.find(b" HTTP/", 0, first) < 0


def _unversioned(data: bytes) -> bool:
    """Whether the first request line of a feed, if its end is there, names no HTTP version.
    CR and LF bytes before it are blank lines, skipped as nginx skips them (any number, in
    any order; llhttp skips them too): looked past only when the first line fails."""
    if not _first_line_unversioned(data):
        return False
    rest = data.lstrip(b"\r\n")
    return len(rest) == len(data) or _first_line_unversioned(rest)


class _Refused(Exception):
    """Raised in a callback: llhttp stops, and the feed ends with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class LlhttpParser:
    """llhttp through httptools, the limits applied in its callbacks (the fallback)."""

    def __init__(self, header_limit: int, max_headers: int) -> None:
        if header_limit < 1 or max_headers < 0:
            raise ValueError("header_limit must be >= 1, max_headers >= 0")
        self.header_limit = header_limit
        self.max_headers = max_headers
        self.parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_version=True)
        self.events: list[Event] = []
        self.url = b""
        self.headers: list[bytes] = []
        self.header_bytes = 0
        self._in_head = False  # a message began and its head was not handed over
        self.in_message = False  # between a message's first byte and its end
        self._upgrade_at = -1

    @property
    def upgrade_at(self) -> int:
        return self._upgrade_at

    @property
    def in_head(self) -> bool:
        return self._in_head

    @property
    def target(self) -> bytes:
        return self.url

    def feed(self, data: bytes) -> list[Event]:
        parser = self.parser
        if parser is None:
            raise ValueError("feed() after close()")
        events = self.events = []
        if not self.in_message and _unversioned(data):
            events.append(400)  # HTTP/0.9 or garbage, refused before llhttp sees it
            return events
        try:
            parser.feed_data(data)
            if self._in_head:
                events.append(IN_HEAD)
        except httptools.HttpParserUpgrade as exc:
            self._upgrade_at = exc.args[0]
            events.append(UPGRADE)
        except httptools.HttpParserCallbackError as exc:
            ctx = exc.__context__
            if ctx is not None:  # the parser keeps it: its frames would hold this object
                ctx.__traceback__ = None
            if not isinstance(ctx, _Refused):
                raise  # a bug in a callback, not the request's fault
            events.append(ctx.status)
        except httptools.HttpParserError as exc:
            # nginx answers a transfer coding it does not know with 501, other errors 400.
            events.append(501 if "invalid `Transfer-Encoding`" in str(exc) else 400)
        return events

    def close(self) -> None:
        """The httptools parser holds this object's bound methods: break the cycle."""
        self.parser = None

    # -- httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_message = True
        self.url = b""
        self.headers = []
        self.header_bytes = 0
        self._in_head = True

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.header_limit:
            raise _Refused(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        if value[-1:] in _BLANKS:  # llhttp keeps trailing blanks; RFC 9110 5.5 drops them
            value = value.rstrip(b" \t")
        size = len(name) + len(value) + 4
        total = self.header_bytes = self.header_bytes + size
        if size > self.header_limit or total > 4 * self.header_limit:
            raise _Refused(494)
        if self._in_head:  # trailers are only counted
            headers = self.headers
            headers.append(name)
            headers.append(value)

    def on_headers_complete(self) -> None:
        if len(self.headers) > 2 * self.max_headers:
            raise _Refused(494)
        parser = self.parser
        assert parser is not None
        major, _, minor = parser.get_http_version().partition(".")
        if major != "1":
            raise _Refused(400 if major == "0" else 505)
        method = parser.get_method()
        head: Head = (
            _METHODS.get(method) or method.decode("ascii", "replace"),
            self.url,
            int(major) * 10 + int(minor),
            self.headers,
            parser.should_keep_alive(),
            parser.should_upgrade(),
        )
        self.events.append(head)
        self._in_head = False

    def on_body(self, body: bytes) -> None:
        self.events.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.events.append(None)


# The httptools releases whose llhttp the compiled parser was fuzzed against (it calls that
# very llhttp, _headparser.c): under any other, the fallback runs until the
# differential fuzz (tests/unit/datapath/test_headparse_fuzz.py, -m slow for the long run) passes
# there and the version is added here.
VERIFIED_HTTPTOOLS: Final = frozenset({"0.9.0"})


# The environment switch that forces the fallback where the compiled parser is built.
SWITCH: Final = "ODOO_ROUTER_HEAD_PARSER"


def _compiled() -> Callable[[int, int], HeadParser] | None:
    chosen = os.environ.get(SWITCH, "")
    if chosen not in ("", "compiled", "httptools"):
        raise ValueError(f"{SWITCH} must be 'compiled' or 'httptools', not {chosen!r}")
    if chosen == "httptools":
        return None
    if httptools.__version__ not in VERIFIED_HTTPTOOLS:
        return None
    try:
        from ._headparser import Parser
    except ImportError:  # not built (pure build, no compiler), or httptools hides llhttp
        return None
    return Parser


CompiledParser: Final = _compiled()
COMPILED: Final = CompiledParser is not None


def new_parser(header_limit: int, max_headers: int, compiled: bool = True) -> HeadParser:
    """The compiled parser where it was built (unless ``compiled`` is False), else the
    fallback; both give the same events."""
    if compiled and CompiledParser is not None:
        return CompiledParser(header_limit, max_headers)
    return LlhttpParser(header_limit, max_headers)


def _join() -> Callable[[list[bytes]], bytes]:
    """The compiled join of head pieces (_headparser_join.c) where the extension is built,
    else bytes.join: the same bytes either way. Not under an httptools the extension was
    not verified with: loading it binds that llhttp (whatever ODOO_ROUTER_HEAD_PARSER says)."""
    if httptools.__version__ not in VERIFIED_HTTPTOOLS:
        return b"".join
    try:
        from ._headparser import join
    except ImportError:
        return b"".join
    return join


# b"".join for the heads of every request and response (a list of short pieces).
join_pieces: Final = _join()


def describe() -> str:
    """One line for the startup log."""
    if COMPILED:
        return f"head parser: compiled, on httptools {httptools.__version__}'s llhttp"
    if os.environ.get(SWITCH, "") == "httptools":
        why = f"{SWITCH}=httptools"
    else:
        why = "the compiled one is not built, or not verified with this httptools"
    return f"head parser: llhttp through httptools {httptools.__version__} ({why})"
