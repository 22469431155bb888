"""The request state machine: the states a request moves through, the transitions allowed
between them, and the per-request context every phase fills (Pingora's CTX).

States (one field, ``Request.state``; docs/architecture.md draws them)
------------------------------------------------------------------------
* ``HEAD``: framing is filling the head.
* ``FILTERED``: phase 1 ran (request_filter): a decision, or a refusal kept as a failure to
  answer. The request waits here for its turn (pipelined requests are answered in order)
  and, on an auth route, for its credentials to be checked.
* ``BODY``: a proxied request whose body is read (buffered, or inspected by the RPC
  firewall) before any upstream is contacted.
* ``UPSTREAM``: the static cache looked up, an upstream connection taken or being opened,
  the request head and body being sent.
* ``RELAYING``: the exchange relays the response (head, then body; a slow client's rest from
  a spool file).
* ``TUNNEL``: a 101 was relayed; bytes cross both ways until either side closes.
* ``DONE``: answered (a local answer, the cache, or the upstream's response).
* ``FAILED``: answered with an error, or the connection cut; the failure says where it
  arose (errors.py).

The logging phase runs exactly once, on entering ``DONE`` or ``FAILED``. Body bytes keep
arriving whatever the state (``complete`` says when the message ended): the state is the
driver's progress, not the parser's.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Final

from ..http.errors import RequestError
from ..routing.request_filter import Filtered, Refusal, RequestHead

if TYPE_CHECKING:
    from ..http import headers as hdr
    from ..routing.table import Decision
    from .pools import UpstreamConnection

# One bit each, so that a set of states is one small int (the transition check is an AND).
HEAD: Final = 1
FILTERED: Final = 2
BODY: Final = 4
UPSTREAM: Final = 8
RELAYING: Final = 16
TUNNEL: Final = 32
DONE: Final = 64
FAILED: Final = 128
NAMES: Final = {
    HEAD: "head",
    FILTERED: "filtered",
    BODY: "body",
    UPSTREAM: "upstream",
    RELAYING: "relaying",
    TUNNEL: "tunnel",
    DONE: "done",
    FAILED: "failed",
}

# The transitions, as h11 lists its own: from each state, the states it may enter.
TRANSITIONS: Final[dict[int, tuple[int, ...]]] = {
    HEAD: (FILTERED, FAILED),
    FILTERED: (BODY, DONE, FAILED),  # local answers and refusals end here
    BODY: (UPSTREAM, DONE, FAILED),  # the RPC firewall's refusals are answers (DONE)
    UPSTREAM: (RELAYING, DONE, FAILED),  # a cache hit is DONE; a connect failure FAILED
    RELAYING: (DONE, FAILED, TUNNEL, UPSTREAM),  # UPSTREAM: a stale keep-alive connection, once
    TUNNEL: (DONE,),
    DONE: (),
    FAILED: (),
}
# The same as a table for enter(): _ALLOWED[state] has the bits of the states it may enter
# (a bytes index and an AND in the compiled module).
_ALLOWED: Final[bytes] = bytes(sum(TRANSITIONS.get(s, ())) for s in range(FAILED + 1))

NO_TOKENS: Final[frozenset[bytes]] = frozenset()
NO_LINES: Final[list[bytes]] = []  # shared and never mutated: the filter sets a request's own


class Request(RequestHead):
    """One request and everything known about it: a record the phases fill. Its state
    changes only through ``enter``, a failure is recorded through ``fail``.

    Defaults live on the class (immutable values only), so a new request writes just the
    fields it has: this object is made once per request on the hot path.
    """

    state = HEAD
    host = "-"
    path = "-"
    target = b""
    content_length: int | None = None
    chunked = False
    expect_continue = False
    authorization: str | None = None
    body_size = 0
    body_file: IO[bytes] | None = None
    complete = False  # the message ended (framing saw its last byte)
    streaming = False  # the route sends the body upstream as it arrives
    body_sent = False  # every body byte went to the upstream connection
    frame_chunked = False  # the upstream gets the body chunked (streamed, length unknown)
    body_unread = False  # refused before its declared body was read: the client may still send
    continue_sent = False  # "100 Continue" went out
    sink: UpstreamConnection | None = None  # where streamed body bytes go, once connected
    up_head = b""  # the request head for the upstream, kept for a retry
    connect_retries = 0  # connects left to try on other servers (idempotent methods)
    stale_retry = False  # may be sent again once if a reused connection closes unanswered
    decision: Decision | None = None
    view: hdr.ClientView | None = None
    client_ip = ""
    request_id = b""
    status = 0
    bytes_out = 0
    error: str | None = None  # the access log's text
    error_status = 0  # a failure to answer with this status (0: none)
    error_source = ""  # errors.CLIENT | UPSTREAM | LOCAL
    upstream_addr = ""
    upstream_status = 0
    upstream_start = 0.0
    upstream_time: float | None = None

    def __init__(self, start: float) -> None:
        super().__init__(start)
        # The body pieces held in memory: the shared empty list until the first piece
        # (add_piece), as most requests have none.
        self.body = NO_LINES
        self.connection_named = NO_TOKENS  # tokens of Connection headers
        self.forward = NO_LINES  # the client headers that go upstream, set by the filter

    def add_piece(self, data: bytes) -> None:
        """A piece of the body, held in memory."""
        if self.body is NO_LINES:
            self.body = [data]
        else:
            self.body.append(data)

    def enter(self, state: int) -> None:
        """Move to ``state``; a transition the table does not allow is a bug."""
        if not _ALLOWED[self.state] & state:
            raise RequestError(
                f"request state {NAMES[self.state]} -> {NAMES[state]} is not allowed", 500, "local"
            )
        self.state = state

    def filtered(self, f: Filtered, request_id: bytes) -> None:
        """Phase 1's conclusions; ``request_id`` the trusted proxy's or the router's own."""
        self.host = f.host
        self.path = f.path
        self.target = f.target
        self.view = f.view
        self.client_ip = f.view.client_ip
        self.forward = f.forward
        self.connection_named = f.connection_named
        length = self.content_length = f.content_length
        chunked = self.chunked = f.chunked
        self.expect_continue = f.expect_continue
        self.authorization = f.authorization
        self.request_id = request_id
        decision = self.decision = f.decision
        if length is None and not chunked:
            self.complete = True  # no body
        self.streaming = decision.proxy is not None and not decision.buffered

    def refused(self, refusal: Refusal) -> None:
        """What phase 1 knew when it refused: the host for the log, the body framing for
        whether a body may still follow."""
        self.host = refusal.host
        self.content_length = refusal.content_length
        self.chunked = refusal.chunked

    def fail(self, source: str, status: int, error: str | None = None) -> None:
        """Record a failure: where it arose, the status to answer (0: none, the connection
        is cut), the log's text (kept if one was recorded before)."""
        self.error_source = source
        self.error_status = status
        if error is not None:
            self.error = error

    def redecided(self, decision: Decision) -> None:
        """The decision after the credentials were checked."""
        self.decision = decision
        self.streaming = decision.proxy is not None and not decision.buffered
