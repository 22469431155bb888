"""The request filter (phase 1), pure: a parsed head in; the filtered request or a refusal out.

``request_filter(head, peer, settings, table)`` does no I/O and reads no clock: the data path
calls it once a request head is whole, ``odoo-router explain`` calls it on the request given
on its command line, and tests/unit/routing/test_routing_cases.py on every row of the case table,
so the table tests the production filter.

Rules (nginx 1.22's where nginx is the contract)
------------------------------------------------
* Framing headers: ``Content-Length`` as llhttp checked it; ``Transfer-Encoding`` only in
  HTTP/1.1 (else 400) and only ``chunked``, once (anything else 501: a body must never go
  upstream in a coding the upstream would not hear of); a declared length over
  ``client_max_body_size`` is a 413.
* Host: a second Host header is a 400; an absolute-form target's host wins over the
  header; HTTP/1.1 without Host is a 400, HTTP/1.0 without it gets ``server_name``; the
  host is normalised by uri.normalise_host (400 when invalid).
* TRACE: 405, once the host is known good.
* Path: uri.match_path of the target (what llhttp saw, raw bytes >= 0x80 %-escaped); the
  upstream receives the target as the client sent it.
* Client headers (headers.REQUEST_HEADER_KIND): hop-by-hop, framing and router-set headers
  are never forwarded; the rest go upstream in order as ``(name, ": ", value, CRLF)`` runs.
* The forwarding rule (headers.client_view) gives the client address routing sees.
* ``X-Request-ID``: kept only from a trusted proxy and only well-formed; otherwise the
  filtered request carries none and the data path makes its own.
* Routing: ``routing.decide`` over the table, or the worker's memo of it.

A refusal is the status nginx would answer and the reason; nothing of the request is
forwarded after one (the data path answers it and ends the connection).
"""

from __future__ import annotations

import re
from typing import Final

from ..configuration.model import Forwarded, ServerSettings
from ..http import headers as hdr
from ..http.headers import ClientView
from .memo import RouteMemo
from .table import Decision, Facts, RoutingTable, decide
from .uri import BadRequest, match_path, normalise_host, split_absolute

_REQUEST_ID: Final = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_NO_TOKENS: Final[frozenset[bytes]] = frozenset()


class RequestHead:
    """A request head as framing hands it over: method, version, target and headers as
    sent (header values without trailing blanks; a flat list, name and value in turn:
    headers.Headers), the connection semantics llhttp read."""

    method = "GET"
    http11 = True
    keep_alive = False
    upgrade = False
    raw_target: bytes | None = None  # the target as sent, when framing escaped it for llhttp

    def __init__(self, start: float) -> None:
        self.start = start  # the clock read when its first byte came in
        self.url = b""  # the target as llhttp saw it
        self.headers: hdr.Headers = []


class FilterSettings:
    """The static settings the filter reads, taken once from server settings (a compiled
    object: the filter reads them on every request)."""

    def __init__(self, server: ServerSettings) -> None:
        self.server_name = server.server_name
        self.client_max_body_size = server.client_max_body_size
        self.underscores = server.underscores_in_headers
        self.forwarded: Forwarded = server.forwarded


class Peer:
    """The connection a request came on. The filter also keeps here what it concluded for
    the connection's last request, reused while the next one agrees (a keep-alive client
    sends the same Host and no X-Forwarded-* each time)."""

    def __init__(self, addr: str, scheme: str = "http") -> None:
        self.addr = addr
        self.scheme = scheme
        self.host_value: bytes | None = None  # the last Host value, normalised in .host
        self.host = ""
        self.bare_view: ClientView | None = None  # the view when no X-Forwarded-* came


class Filtered:
    """What phase 1 concluded: everything the later phases need of the client's head."""

    def __init__(
        self,
        host: str,
        path: str,
        target: bytes,
        view: ClientView,
        forward: list[bytes],
        connection_named: frozenset[bytes],
        content_length: int | None,
        chunked: bool,
        expect_continue: bool,
        authorization: str | None,
        request_id: bytes | None,
        decision: Decision,
    ) -> None:
        self.host = host  # normalised
        self.path = path  # normalised, for matching
        self.target = target  # forwarded unchanged
        self.view = view
        self.forward = forward  # (name, b": ", value, b"\r\n") runs for the upstream
        self.connection_named = connection_named  # tokens of the client's Connection headers
        self.content_length = content_length
        self.chunked = chunked
        self.expect_continue = expect_continue  # Expect: 100-continue
        self.authorization = authorization
        self.request_id = request_id  # a trusted proxy's X-Request-ID, else None
        self.decision = decision


class Refusal:
    """A request refused before routing: the status nginx answers, and why; with the host
    when it was known good (for the log) and the body framing read before the refusal
    (whether a body may follow that nobody will read)."""

    def __init__(
        self,
        status: int,
        reason: str,
        host: str = "-",
        content_length: int | None = None,
        chunked: bool = False,
    ) -> None:
        self.status = status
        self.reason = reason
        self.host = host
        self.content_length = content_length
        self.chunked = chunked


def request_filter(
    head: RequestHead,
    peer: Peer,
    settings: FilterSettings,
    table: RoutingTable,
    memo: RouteMemo | None = None,
) -> Filtered | Refusal:
    """Phase 1 (see the module's rules). ``memo``, the worker's memo of ``table``'s
    decisions, only saves work: the decision is the same with or without it."""
    host_value: bytes | None = None
    xff: list[bytes] | None = None
    xfp: bytes | None = None
    authorization: str | None = None
    client_request_id: bytes | None = None
    connection: list[bytes] | None = None
    content_length: int | None = None
    chunked = False
    expect_continue = False
    forward: list[bytes] = []
    http11 = head.http11
    underscores = settings.underscores
    kinds = hdr.REQUEST_KINDS[underscores]
    headers = head.headers
    for i in range(0, len(headers), 2):
        name = headers[i]
        value = headers[i + 1]
        kind = kinds.get(name)
        if kind is None:
            kind = hdr.request_header_kind(name, underscores)
        if kind == hdr.FORWARD:
            hdr.add_line(forward, name, value)
        elif kind == hdr.HOST:
            if host_value is not None:
                return Refusal(400, "client sent duplicate host header", "-", content_length)
            host_value = value
        elif kind == hdr.CONTENT_LENGTH:
            if not value.isdigit():  # llhttp refuses these first; explain's input may have one
                return Refusal(400, "client sent invalid Content-Length", "-")
            content_length = int(value)
        elif kind == hdr.TRANSFER_ENCODING:
            if not http11:
                return Refusal(400, "Transfer-Encoding in an HTTP/1.0 request", "-", content_length)
            if chunked or value.strip().lower() != b"chunked":
                return Refusal(501, "unknown transfer coding", "-", content_length, chunked)
            chunked = True
        elif kind == hdr.XFF:
            if xff is None:
                xff = []
            xff.append(value)
        elif kind == hdr.XFP:
            if xfp is None:
                xfp = value
        elif kind == hdr.EXPECT:
            expect_continue = value.lower() == b"100-continue"
        elif kind == hdr.CONNECTION:
            if connection is None:
                connection = []
            connection.append(value)
        elif kind == hdr.AUTHORIZATION:
            authorization = value.decode("latin-1")
            hdr.add_line(forward, name, value)
        elif kind == hdr.REQUEST_ID and _REQUEST_ID.fullmatch(value):
            client_request_id = value
    named = hdr.connection_tokens(connection) if connection is not None else _NO_TOKENS
    target = head.url
    host: str | None
    try:
        if target[:1] == b"/":
            if host_value is None:
                host = None
            elif host_value == peer.host_value:  # as the last request on this connection
                host = peer.host
            else:
                host = normalise_host(host_value.decode("latin-1"))
                peer.host_value = host_value
                peer.host = host
        elif target[:1].isalpha():
            host_raw, target = split_absolute(target)
            host = normalise_host(host_raw)
        else:
            raise BadRequest("client sent invalid request")
    except BadRequest as exc:
        return Refusal(exc.status, exc.reason, "-", content_length, chunked)
    if host_value is None and http11:
        reason = 'client sent HTTP/1.1 request without "Host" header'
        return Refusal(400, reason, "-", content_length, chunked)
    if host is None:
        host = settings.server_name
    method = head.method
    if method == "TRACE":  # nginx refuses TRACE once the host is known good
        return Refusal(405, "TRACE method", host, content_length, chunked)
    try:
        path = match_path(target)
        raw_target = head.raw_target
        if raw_target is not None:  # forwarded as sent: raw bytes >= 0x80 included
            target = split_absolute(raw_target)[1] if raw_target[:1] != b"/" else raw_target
    except BadRequest as exc:
        return Refusal(exc.status, exc.reason, host, content_length, chunked)
    if content_length is not None and content_length > settings.client_max_body_size:
        return Refusal(413, "request body too large", host, content_length, chunked)
    if xff is not None or xfp is not None:
        view = hdr.client_view(settings.forwarded, peer.addr, peer.scheme, xff or [], xfp)
    else:
        bare = peer.bare_view  # the same for every request of this connection
        if bare is None:
            bare = peer.bare_view = hdr.client_view(
                settings.forwarded, peer.addr, peer.scheme, [], None
            )
        view = bare
    if client_request_id is not None and not view.trusted_peer:
        client_request_id = None  # anyone else's id could be chosen to confuse the logs
    decision: Decision | None = None
    if memo is not None:
        decision = memo.decisions.get((host, path))  # the memo's common case, without Facts
    if decision is None:
        facts = Facts(method, host, path, view.client_ip, authorization, head.upgrade)
        decision = memo.decide(facts) if memo is not None else decide(table, facts)
    return Filtered(
        host,
        path,
        target,
        view,
        forward,
        named,
        content_length,
        chunked,
        expect_continue,
        authorization,
        client_request_id,
        decision,
    )
