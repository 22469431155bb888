"""The per-request context: facts, decision, body, timings, bytes and the error, carried
through every phase and handed to the logging phase whatever happened."""

from __future__ import annotations

import asyncio
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from . import headers as hdr
    from .pools import UpstreamConnection
    from .routing import Decision


NO_TOKENS: Final[frozenset[bytes]] = frozenset()
NO_LINES: Final[list[bytes]] = []  # shared and never mutated: the filter sets a request's own


class Request:
    """One request and everything known about it: the per-request context.

    Defaults live on the class (immutable values only), so a new request writes just the
    fields it has: this object is made once per request on the hot path.
    """

    method = "GET"
    http11 = True
    keep_alive = False
    upgrade = False
    host = "-"
    path = "-"
    target = b""
    content_length: int | None = None
    chunked = False
    expect_continue = False
    body_size = 0
    body_file: IO[bytes] | None = None
    complete = False
    streaming = False  # the route sends the body upstream as it arrives
    body_sent = False  # every body byte went to the upstream connection
    frame_chunked = False  # the upstream gets the body chunked (streamed, length unknown)
    body_unread = False  # refused before its declared body was read: the client may still send
    body_waiter: asyncio.Future[None] | None = None
    wake_on_body = False  # body_waiter is set by every piece of body, not only the last
    sink: UpstreamConnection | None = None
    decision: Decision | None = None
    view: hdr.ClientView | None = None
    client_ip = ""
    request_id = b""
    status = 0
    bytes_out = 0
    error: str | None = None
    error_status = 0
    upstream_addr = ""
    upstream_status = 0
    upstream_start = 0.0
    upstream_time: float | None = None

    def __init__(self, start: float) -> None:
        self.start = start
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.connection_named = NO_TOKENS  # tokens of Connection headers
        self.forward = NO_LINES  # the client headers that go upstream, set by the filter
