"""Intended differences from nginx, per field and per case class (docs/deviations.md).

A deviation never skips a case: for some fields on one class of cases it replaces "equal to
nginx" by a check of what we intend instead, computed from the case, nginx's observation and
ours. Every other field of those cases is still compared with nginx.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .case import Case
from .observe import Fields, normalise_body
from .upstreams import UPSTREAM_COOKIES

# (case, nginx's fields, our fields, the field) -> does our value match what we intend?
Check = Callable[[Case, Fields, Fields, str], bool]
_REQUEST_ID = re.compile(r"[0-9a-f]{16,64}")


@dataclass(frozen=True)
class Deviation:
    anchor: str  # heading in docs/deviations.md
    fields: tuple[str, ...]
    case_class: str  # one of Case.classes, or "*" for every case
    intended: str  # what we do instead, shown when the check fails
    check: Check

    def applies(self, case: Case, field: str) -> bool:
        return field in self.fields and (self.case_class == "*" or self.case_class in case.classes)


def _nothing(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    return ours[field] == ()


def _keep_alive(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    if field == "upstream_version":
        return ours[field] == "1.1"
    return ours[field] == (("upgrade",) if ours["upgrade"] else ("keep-alive",))


def _stated_length(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    received = ours["body_received"]
    assert isinstance(received, tuple)
    return ours[field] == (str(received[0]),) and ours["transfer_encoding"] == ()


def _own_request_id(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    value = ours[field]
    if not (isinstance(value, tuple) and len(value) == 1 and _REQUEST_ID.fullmatch(value[0])):
        return False
    head = case.raw.split(b"\r\n\r\n", 1)[0].lower()
    return f"x-request-id: {value[0]}".encode() not in head  # never the client's


def _secured(cookie: str) -> str:
    return cookie if "secure" in cookie.lower() else f"{cookie}; Secure"


def _plain_answer(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    """What the same upstream answers to a plain (not upgraded) request."""
    if ref["upstream"] is None:  # answered by the proxy itself: no upgrade involved
        return ours[field] == ref[field]
    plain: Fields = {
        "status": 200,
        "reason": "OK",
        "content_type": ("text/plain; charset=utf-8",),
        "set_cookie": tuple(_secured(c) for c in UPSTREAM_COOKIES),
        "body": normalise_body(f"upstream={ref['upstream']}\n".encode()),
        "upgrade": (),
        "websocket_upstream": False,
        "upstream_connection": ("keep-alive",),
    }
    return ours[field] == plain[field]


def _cookie_attributes(cookie: str) -> list[str]:
    return [part.strip() for part in cookie.split(";")]


def _same_cookies(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    want, got = ref[field], ours[field]
    assert isinstance(want, tuple) and isinstance(got, tuple)
    return [_cookie_attributes(c) for c in want] == [_cookie_attributes(c) for c in got]


_UPSTREAM_HOP_BY_HOP = {"proxy-connection", "x-secret"}  # answers.py: Connection: X-Secret


def _response_hop_by_hop_dropped(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    want = ref[field]
    assert isinstance(want, tuple)
    return ours[field] == tuple(h for h in want if h[0] not in _UPSTREAM_HOP_BY_HOP)


def _refused(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    """A 400 page of the router's own, nothing forwarded."""
    refused: Fields = {
        "error": None,
        "status": 400,
        "reason": "Bad Request",
        "content_type": ("text/html",),
        "upstream": None,
        "reached_upstream": False,
        "set_cookie": (),
    }
    if field == "body":
        body = ours[field]
        return isinstance(body, bytes) and b"<title>400 Bad Request</title>" in body
    return ours[field] == refused[field]


def _trailer_dropped(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    want = ref[field]
    assert isinstance(want, tuple)
    return ours[field] == tuple(h for h in want if h[0] != "trailer")


def _bad_gateway(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    """A 502 page of the router's own."""
    if field == "body":
        body = ours[field]
        return isinstance(body, bytes) and b"<title>502 Bad Gateway</title>" in body
    want: Fields = {
        "status": 502,
        "reason": "Bad Gateway",
        "content_type": ("text/html",),
        "set_cookie": (),
    }
    return ours[field] == want[field]


def _big_head_relayed(case: Case, ref: Fields, ours: Fields, field: str) -> bool:
    """Up to server.proxy_header_max (128k in compat) the answer is relayed whole."""
    size = 6000 if "raw=head-6k" in case.id else 100_000
    relayed: Fields = {
        "status": 200,
        "reason": "OK",
        "content_type": ("text/plain",),
        "set_cookie": ("big=" + "c" * size + "; Path=/; Secure",),
        "body": b"big head\n",
    }
    return ours[field] == relayed[field]


_ANSWER_FIELDS = ("status", "reason", "content_type", "set_cookie", "body")

DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "upstream-http11-keep-alive",
        ("upstream_version", "upstream_connection"),
        "*",
        "HTTP/1.1 to every pool; Connection: keep-alive, or upgrade on an upgrade",
        _keep_alive,
    ),
    Deviation(
        "upstream-content-length",
        ("content_length",),
        "*",
        "Content-Length upstream states the body length, 0 included",
        _stated_length,
    ),
    Deviation(
        "x-request-id",
        ("x_request_id",),
        "*",
        "one X-Request-ID of the router's own; a client's only from a trusted proxy (none here)",
        _own_request_id,
    ),
    Deviation(
        "connection-named-headers-dropped",
        ("connection_named",),
        "connection-tokens",
        "no header named by the client's Connection header reaches the upstream",
        _nothing,
    ),
    Deviation(
        "hop-by-hop-headers-dropped",
        ("hop_by_hop",),
        "*",
        "no Proxy-Connection, Proxy-Authorization, Proxy-Authenticate or Trailer upstream",
        _nothing,
    ),
    Deviation(
        "upgrade-needs-connection-upgrade",
        (
            "status",
            "reason",
            "content_type",
            "set_cookie",
            "body",
            "upgrade",
            "websocket_upstream",
            "upstream_connection",
        ),
        "upgrade-without-connection",
        "an Upgrade header without Connection: upgrade is dropped; the request stays plain",
        _plain_answer,
    ),
    Deviation(
        "set-cookie-kept-as-sent",
        ("set_cookie",),
        "answer:cookies",
        "Set-Cookie as the upstream wrote it plus '; Secure'; nginx re-spaces attributes",
        _same_cookies,
    ),
    Deviation(
        "hop-by-hop-headers-dropped",
        ("response_headers",),
        "answer:hop-by-hop",
        "no header the upstream's Connection names, no Proxy-Connection, reaches the client",
        _response_hop_by_hop_dropped,
    ),
    Deviation(
        "no-http09",
        ("error", "status", "reason", "content_type", "body", "upstream", "reached_upstream"),
        "http09",
        "an HTTP/0.9 request line gets 400 at once and is never forwarded",
        _refused,
    ),
    Deviation(
        "strict-request-head",
        (
            "error",
            "status",
            "reason",
            "content_type",
            "set_cookie",
            "body",
            "upstream",
            "reached_upstream",
        ),
        "strict-head",
        "a head llhttp refuses (no colon, bare LF, unregistered method) gets 400, not forwarded",
        _refused,
    ),
    Deviation(
        "hop-by-hop-headers-dropped",
        ("response_headers",),
        "raw:trailers",
        "the upstream's Trailer header does not reach the client (nginx drops the trailers)",
        _trailer_dropped,
    ),
    Deviation(
        "upstream-content-length-and-chunked",
        _ANSWER_FIELDS,
        "raw:cl-and-te",
        "an answer with both Content-Length and Transfer-Encoding gets 502",
        _bad_gateway,
    ),
    Deviation(
        "upstream-header-max",
        _ANSWER_FIELDS,
        "raw:head-6k",
        "a response head up to server.proxy_header_max is relayed (nginx: proxy_buffer_size)",
        _big_head_relayed,
    ),
    Deviation(
        "upstream-header-max",
        _ANSWER_FIELDS,
        "raw:head-100k",
        "a response head up to server.proxy_header_max is relayed (nginx: proxy_buffer_size)",
        _big_head_relayed,
    ),
)


def deviation_for(case: Case, field: str) -> Deviation | None:
    return next((d for d in DEVIATIONS if d.applies(case, field)), None)


def compare(case: Case, ref: Fields, ours: Fields, *, deviations: bool = True) -> list[str]:
    """Every field that differs after the deviations, as readable lines."""
    problems = []
    if ref.keys() != ours.keys():  # one side reached an upstream, the other did not
        deviation = deviation_for(case, "reached_upstream") if deviations else None
        reached = {**ours, "reached_upstream": "target" in ours}
        if deviation is None or not deviation.check(case, ref, reached, "reached_upstream"):
            problems.append(
                f"reached an upstream: nginx {'target' in ref}, ours {'target' in ours}"
                " (fields seen upstream not compared)"
            )
    for field in [f for f in ref if f in ours]:
        want = ref[field]
        got = ours[field]
        deviation = deviation_for(case, field) if deviations else None
        if deviation is not None:
            if not deviation.check(case, ref, ours, field):
                problems.append(
                    f"{field} [deviation {deviation.anchor}: {deviation.intended}]: "
                    f"nginx {want!r}, ours {got!r}"
                )
        elif want != got:
            problems.append(f"{field}: nginx {want!r} != ours {got!r}")
    return problems
