"""What one implementation did with one case, as named, comparable fields.

Fields seen by the client: status, Location, Content-Type (every copy), Set-Cookie, the body
(normalised: the server's own name and version), the websocket echo. Fields seen by the
upstream: which upstream answered, the method, the raw target, Host, every X-Odoo-dbfilter
copy, X-Forwarded-For/-Proto/-Host, X-Real-IP, Upgrade, headers with `_` in their name, the
headers the client's Connection header named, Proxy-Connection and the other hop-by-hop
headers nginx forwards, the body framing headers,
X-Request-ID, every other header (sorted), the body's length and hash, the upstream HTTP
version and its Connection header.
"""

from __future__ import annotations

import re

from .case import Case
from .client import Answer
from .upstreams import Received

Fields = dict[str, object]

_SERVER_TOKEN = re.compile(rb"(nginx|odoo-router)(/[0-9][0-9A-Za-z.]*)?")
# Response headers each server sets for itself, or that follow from framing.
_OWN_RESPONSE = frozenset(
    {"server", "date", "content-length", "transfer-encoding", "connection", "keep-alive"}
)
_COMPARED_RESPONSE = frozenset({"location", "content-type", "set-cookie"})
# Hop-by-hop in the router's list (RFC 9110 7.6.1 and RFC 2616's list) that nginx forwards.
_HOP_BY_HOP_EXTRA = frozenset(
    {"proxy-connection", "proxy-authorization", "proxy-authenticate", "trailer"}
)
# Upstream request headers compared in a field of their own (not in "other_headers").
_OWN_FIELDS = _HOP_BY_HOP_EXTRA | frozenset(
    {
        "host",
        "x-odoo-dbfilter",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-real-ip",
        "upgrade",
        "connection",
        "content-length",
        "transfer-encoding",
        "x-request-id",
    }
)


def normalise_body(body: bytes) -> bytes:
    """Error pages name their server (`nginx/1.22.1`, `odoo-router`): compare without it."""
    return _SERVER_TOKEN.sub(b"SERVER", body)


def _values(headers: tuple[tuple[str, str], ...], name: str) -> tuple[str, ...]:
    return tuple(v for k, v in headers if k.lower() == name)


def observe(case: Case, answer: Answer, received: list[Received]) -> Fields:
    fields: Fields = {
        "error": answer.error,
        "status": answer.status,
        "reason": answer.reason,
        "location": answer.values("Location"),
        "content_type": answer.values("Content-Type"),
        "set_cookie": answer.values("Set-Cookie"),
        "body": normalise_body(answer.body),
        "ws_echo": answer.ws_echo,
        "response_headers": tuple(
            sorted(
                (k.lower(), v)
                for k, v in answer.headers
                if k.lower() not in _OWN_RESPONSE | _COMPARED_RESPONSE
            )
        ),
        "upstream": ",".join(r.pool for r in received) or None,
    }
    if len(received) != 1:
        return fields
    got = received[0]
    headers = got.headers
    named = case.connection_tokens - _OWN_FIELDS
    fields.update(
        {
            "upstream_method": got.method,
            "target": got.target,
            "host": _values(headers, "host"),
            "x_odoo_dbfilter": _values(headers, "x-odoo-dbfilter"),
            "x_forwarded_for": _values(headers, "x-forwarded-for"),
            "x_forwarded_proto": _values(headers, "x-forwarded-proto"),
            "x_forwarded_host": _values(headers, "x-forwarded-host"),
            "x_real_ip": _values(headers, "x-real-ip"),
            "upgrade": _values(headers, "upgrade"),
            "underscore_headers": tuple((k, v) for k, v in headers if "_" in k),
            "connection_named": tuple((k, v) for k, v in headers if k.lower() in named),
            "hop_by_hop": tuple((k, v) for k, v in headers if k.lower() in _HOP_BY_HOP_EXTRA),
            "other_headers": tuple(
                sorted(
                    (k.lower(), v)
                    for k, v in headers
                    if "_" not in k and k.lower() not in _OWN_FIELDS | named
                )
            ),
            "content_length": _values(headers, "content-length"),
            "transfer_encoding": _values(headers, "transfer-encoding"),
            "x_request_id": _values(headers, "x-request-id"),
            "body_received": (got.body_length, got.body_sha256[:16]),
            "websocket_upstream": got.websocket,
            "upstream_version": got.version,
            "upstream_connection": _values(headers, "connection"),
        }
    )
    return fields


def observe_pipeline(case: Case, answers: list[Answer], received: list[Received]) -> Fields:
    """Pipelined requests: every answer in order, and every upstream request in order."""
    return {
        "answers": tuple(
            (
                a.status,
                a.reason,
                a.values("Location"),
                a.values("Content-Type"),
                a.values("Set-Cookie"),
                normalise_body(a.body),
                a.error,
            )
            for a in answers
        ),
        "upstream_requests": tuple(
            (
                r.pool,
                r.method,
                r.target,
                _values(r.headers, "host"),
                _values(r.headers, "x-odoo-dbfilter"),
                _values(r.headers, "x-forwarded-for"),
                r.body_length,
                r.body_sha256[:16],
            )
            for r in received
        ),
    }
