"""The per-request context: facts, decision, body, timings, bytes and the error, carried
through every phase and handed to the logging phase whatever happened."""

from __future__ import annotations

import asyncio
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from . import headers as hdr
    from .pools import UpstreamConnection
    from .routing import Decision


class Request:
    """One request and everything known about it: the per-request context."""

    __slots__ = (
        "body",
        "body_file",
        "body_sent",
        "body_size",
        "body_waiter",
        "bytes_out",
        "chunked",
        "client_ip",
        "complete",
        "connection_named",
        "content_length",
        "decision",
        "error",
        "error_status",
        "expect_continue",
        "frame_chunked",
        "headers",
        "host",
        "http11",
        "keep_alive",
        "method",
        "path",
        "request_id",
        "sink",
        "start",
        "status",
        "streaming",
        "target",
        "upgrade",
        "upstream_addr",
        "upstream_start",
        "upstream_status",
        "upstream_time",
        "url",
        "view",
    )

    def __init__(self, start: float) -> None:
        self.start = start
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.method = "GET"
        self.http11 = True
        self.keep_alive = False
        self.upgrade = False
        self.host = "-"
        self.path = "-"
        self.target = b""
        self.content_length: int | None = None
        self.chunked = False
        self.expect_continue = False
        self.body: list[bytes] = []
        self.body_size = 0
        self.body_file: IO[bytes] | None = None
        self.complete = False
        self.connection_named: frozenset[bytes] = frozenset()  # tokens of Connection headers
        self.streaming = False  # the route sends the body upstream as it arrives
        self.body_sent = False  # every body byte went to the upstream connection
        self.frame_chunked = False  # the upstream gets the body chunked (streamed, length unknown)
        self.body_waiter: asyncio.Future[None] | None = None
        self.sink: UpstreamConnection | None = None
        self.decision: Decision | None = None
        self.view: hdr.ClientView | None = None
        self.client_ip = ""
        self.request_id = ""
        self.status = 0
        self.bytes_out = 0
        self.error: str | None = None
        self.error_status = 0
        self.upstream_addr = ""
        self.upstream_status = 0
        self.upstream_start = 0.0
        self.upstream_time: float | None = None
