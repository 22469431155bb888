"""Header rules, both directions (pure; bytes in, bytes out, on the hot path).

To the upstream
---------------
* Removed from the client's request: hop-by-hop headers (Connection, Keep-Alive,
  Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization,
  Proxy-Authenticate) and every header the client's Connection header names; Host,
  Content-Length and Expect (the router frames the body itself); every header the router
  sets (X-Real-IP, X-Forwarded-*, X-Request-ID, X-Odoo-dbfilter) in any case and count;
  names with '_' unless ``underscores_in_headers`` (nginx's default). Even with underscores
  allowed, a name that is one of ours once '_' reads as '-' is removed: Werkzeug maps
  ``X_Odoo_dbfilter`` to the same WSGI key as ``X-Odoo-dbfilter`` (tests/reference/README.md).
* Set by the router, after the filtering, so a client's Connection header cannot remove
  them: Host, X-Real-IP, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host,
  X-Odoo-dbfilter (only when the host rule has one), X-Request-ID (the trusted proxy's
  when it sent a well-formed one, else the router's own).

Forwarding modes
----------------
* ``append`` (nginx): X-Forwarded-For = client's values joined ", " + ", " + peer;
  X-Forwarded-Proto = "https" when the client's first value is https (any case), else the
  connection's scheme; X-Real-IP = peer.
* ``trusted``: client values count only when the peer is a trusted proxy; the client
  address is the right-most X-Forwarded-For entry that is not itself a trusted proxy, and
  Odoo receives that one address (ProxyFix x_for=1 takes the last entry).

From the upstream
-----------------
Hop-by-hop headers and those its Connection header names are removed; ``Secure`` is added
to each Set-Cookie that lacks it (nginx ``proxy_cookie_flags ~ secure``) and
``SameSite`` to the session cookie when configured.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from .config import Forwarded

Header = tuple[bytes, bytes]

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
ROUTER_SET: Final = frozenset(
    {
        b"host",
        b"content-length",
        b"expect",
        b"x-real-ip",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-odoo-dbfilter",
        b"x-request-id",
    }
)
_DROP_REQUEST: Final = HOP_BY_HOP | ROUTER_SET
_RESPONSE_DROP: Final = HOP_BY_HOP - {b"proxy-authenticate"}


@dataclass(slots=True)
class ClientView:
    """What the forwarding rule concluded about the client."""

    client_ip: str
    proto: str
    forwarded_for: str
    trusted_peer: bool = False  # the peer is one of trusted_proxies (trusted mode only)


def connection_tokens(values: Iterable[bytes]) -> frozenset[bytes]:
    """The header names a Connection header names, less those dropped anyway (hop-by-hop:
    ``Connection: keep-alive`` names nothing more to remove)."""
    tokens = _NO_TOKENS
    for value in values:
        tokens = add_connection_tokens(tokens, value)
    return tokens


def add_connection_tokens(tokens: frozenset[bytes], value: bytes) -> frozenset[bytes]:
    """``tokens`` and those one Connection value names; no new set when ``tokens`` is empty
    (the common case: one value, whose tokens are remembered)."""
    cached = _TOKENS.get(value)
    if cached is None:
        cached = frozenset(t.strip(b" \t") for t in value.lower().split(b","))
        cached -= HOP_BY_HOP | {b""}
        if len(_TOKENS) < 256:  # values come from peers: bounded
            _TOKENS[value] = cached
    return tokens | cached if tokens else cached


_TOKENS: Final[dict[bytes, frozenset[bytes]]] = {}
_NO_TOKENS: Final[frozenset[bytes]] = frozenset()


def _is_trusted(addr: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_view(
    forwarded: Forwarded,
    peer: str,
    scheme: str,
    xff: list[bytes],
    xfp: bytes | None,
) -> ClientView:
    """Apply the forwarding rule to the client's X-Forwarded-For / -Proto values."""
    if forwarded.mode == "append":
        proto = "https" if xfp is not None and xfp.lower() == b"https" else scheme
        if xff:
            joined = b", ".join(xff).decode("latin-1")
            return ClientView(peer, proto, f"{joined}, {peer}")
        return ClientView(peer, proto, peer)
    nets = forwarded.trusted_proxies
    if not _is_trusted(peer, nets):
        return ClientView(peer, scheme, peer)
    client = peer
    chain = [p.strip() for v in xff for p in v.decode("latin-1").split(",") if p.strip()]
    for hop in reversed(chain):
        client = hop
        if not _is_trusted(hop, nets):
            break
    try:
        client = str(ipaddress.ip_address(client))
    except ValueError:
        client = peer  # a garbage entry from a trusted proxy's client: fall back to the peer
    proto = scheme
    if xfp is not None:
        first = xfp.split(b",")[0].strip().lower()
        if first in (b"http", b"https"):
            proto = first.decode("ascii")
    return ClientView(client, proto, client, trusted_peer=True)


# What the request filter does with a client header, by lower-cased name; a name not here
# is forwarded (``_forwardable`` has the underscore rule). Every name in _DROP_REQUEST is
# here, so a header the router sets or frames itself is never forwarded.
DROP: Final = 0
HOST: Final = 1
CONTENT_LENGTH: Final = 2
TRANSFER_ENCODING: Final = 3
XFF: Final = 4
XFP: Final = 5
EXPECT: Final = 6
CONNECTION: Final = 7
REQUEST_ID: Final = 8
AUTHORIZATION: Final = 9  # read by the router and forwarded
FORWARD: Final = 10  # any other name: forwarded as it is
REQUEST_HEADER_KIND: Final[dict[bytes, int]] = {name: DROP for name in _DROP_REQUEST} | {
    b"host": HOST,
    b"content-length": CONTENT_LENGTH,
    b"transfer-encoding": TRANSFER_ENCODING,
    b"x-forwarded-for": XFF,
    b"x-forwarded-proto": XFP,
    b"expect": EXPECT,
    b"connection": CONNECTION,
    b"x-request-id": REQUEST_ID,
    b"authorization": AUTHORIZATION,
}


def _forwardable(low: bytes, underscores: bool) -> bool:
    """For a name not in REQUEST_HEADER_KIND: names with '_' only when allowed, and never
    one that reads as one of ours once '_' is '-' (Werkzeug maps both the same)."""
    return b"_" not in low or (underscores and low.replace(b"_", b"-") not in _DROP_REQUEST)


# request_header_kind() remembered by the name as sent, one table per underscores setting;
# names come from clients, so the tables stop growing at a bound (then every name is
# classified afresh, which is only slower).
REQUEST_KINDS: Final[tuple[dict[bytes, int], dict[bytes, int]]] = ({}, {})
_REQUEST_KINDS_MAX: Final = 1024


def request_header_kind(name: bytes, underscores: bool) -> int:
    low = name.lower()
    kind = REQUEST_HEADER_KIND.get(low)
    if kind is None:
        kind = FORWARD if _forwardable(low, underscores) else DROP
    known = REQUEST_KINDS[underscores]
    if len(known) < _REQUEST_KINDS_MAX:
        known[name] = kind
    return kind


def upstream_head_prefix(host: str, view: ClientView) -> bytes:
    """The router-set lines that depend only on the host and the client (a connection
    reuses them), up to the X-Request-ID value."""
    host_b = host.encode("latin-1")
    return b"".join((
        b" HTTP/1.1\r\nHost: ", host_b,
        b"\r\nX-Real-IP: ", view.client_ip.encode("latin-1"),
        b"\r\nX-Forwarded-For: ", view.forwarded_for.encode("latin-1"),
        b"\r\nX-Forwarded-Proto: ", view.proto.encode("latin-1"),
        b"\r\nX-Forwarded-Host: ", host_b,
        b"\r\nX-Request-ID: ",
    ))  # fmt: skip


def dbfilter_line(dbfilter: str | None) -> bytes:
    return b"X-Odoo-dbfilter: " + dbfilter.encode("latin-1") + b"\r\n" if dbfilter else b""


def upstream_request_head(
    method: bytes,
    target: bytes,
    prefix: bytes,
    request_id: bytes,
    dbfilter: bytes,
    forward: list[bytes],
    body_length: int | None,
    chunked: bool = False,
    upgrade: bytes | None = None,
    named: frozenset[bytes] = frozenset(),
) -> bytes:
    """The request head sent upstream (HTTP/1.1, keep-alive unless upgrading).

    ``prefix`` is upstream_head_prefix(), ``dbfilter`` dbfilter_line(); ``forward`` the
    client's forwardable headers as (name, b": ", value, b"\r\n") runs; ``named`` the
    tokens of the client's Connection headers (those headers are not forwarded)."""
    parts = [method, b" ", target, prefix, request_id, b"\r\n", dbfilter]
    if upgrade is not None:
        parts += (b"Connection: upgrade\r\nUpgrade: ", upgrade, b"\r\n")
    else:
        parts.append(b"Connection: keep-alive\r\n")
    if chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif body_length is not None:
        parts += (b"Content-Length: ", b"%d" % body_length, b"\r\n")
    if named:  # rare: the client named headers as hop-by-hop
        for i in range(0, len(forward), 4):
            if forward[i].lower() not in named:
                parts += forward[i : i + 4]
    else:
        parts += forward
    parts.append(b"\r\n")
    return b"".join(parts)


def _has_attr(cookie: bytes, attr: bytes) -> bool:
    return any(part.split(b"=", 1)[0].strip().lower() == attr for part in cookie.split(b";")[1:])


def rewrite_set_cookie(value: bytes, secure: bool, samesite: bytes | None) -> bytes:
    if secure and not _has_attr(value, b"secure"):
        value += b"; Secure"
    if (
        samesite is not None
        and value.lstrip().startswith(b"session_id=")
        and not _has_attr(value, b"samesite")
    ):
        value += b"; SameSite=" + samesite
    return value


# nginx's proxy_hide_header defaults (Date and Server are replaced by the router's own).
_HIDDEN: Final = frozenset({b"server", b"date", b"x-pad"})

NO_LENGTH: Final = -1  # response_head framing: neither Content-Length nor chunked
CHUNKED: Final = -2

# What response_head does with an upstream header, by its name as sent (any case); names
# are remembered (upstreams use a handful), up to a bound since they come from outside.
_FORWARD: Final = 0
_DROP: Final = 1
_LENGTH: Final = 2
_COOKIE: Final = 3
_CONNECTION: Final = 4
_TRANSFER_ENCODING: Final = 5
_UPGRADE: Final = 6
_REDIRECT: Final = 7  # Location, Refresh: rewritten by the pool's RedirectRule, if any
_RESPONSE_KINDS: Final[dict[bytes, int]] = {}
_RESPONSE_KINDS_MAX: Final = 1024


def _response_kind(name: bytes) -> int:
    low = name.lower()
    if low == b"content-length":
        kind = _LENGTH
    elif low == b"set-cookie":
        kind = _COOKIE
    elif low == b"connection":
        kind = _CONNECTION
    elif low == b"transfer-encoding":
        kind = _TRANSFER_ENCODING
    elif low == b"upgrade":
        kind = _UPGRADE  # kept on a 101 only
    elif low == b"location" or low == b"refresh":
        kind = _REDIRECT
    elif low in _RESPONSE_DROP or low in _HIDDEN or low.startswith(b"x-accel-"):
        kind = _DROP
    else:
        kind = _FORWARD
    if len(_RESPONSE_KINDS) < _RESPONSE_KINDS_MAX:
        _RESPONSE_KINDS[name] = kind
    return kind


class Origin(Protocol):
    def origin(self) -> bytes:
        """``scheme://host[:port]`` as nginx writes an absolute redirect for this request."""
        ...


class RedirectRule:
    """nginx's ``proxy_redirect default`` for one pool: a Location or Refresh URL that
    starts with ``prefix`` (the upstream as it names itself, ``http://odoo_tenant/``) is
    rewritten to the path after it.

    * ``nginx`` (config/nginx-compat.yaml): exactly nginx 1.22: the prefix is matched
      byte for byte (case included), a rewritten Location is made absolute with the
      router's scheme, the request's host and the port it was received on (none for 80),
      a rewritten Refresh ``url=`` keeps the bare path; anything else is left as sent.
    * ``relative`` (config/router.yaml): the prefix is matched ignoring case (scheme and
      host are case-insensitive) and both headers keep the bare path, which the browser
      resolves against the URL it asked for: the scheme and host Traefik served, where
      nginx's absolute form says ``http://`` behind a TLS proxy.
    """

    __slots__ = ("low_prefix", "nginx", "prefix")

    def __init__(self, prefix: str, nginx: bool) -> None:
        self.prefix = prefix.encode("ascii")
        self.low_prefix = self.prefix.lower()
        self.nginx = nginx

    def _matches(self, url: bytes) -> bool:
        if self.nginx:
            return url.startswith(self.prefix)
        return url[: len(self.prefix)].lower() == self.low_prefix

    def location(self, value: bytes, origin: Origin) -> bytes:
        if not self._matches(value):
            return value
        path = value[len(self.prefix) - 1 :]  # from the prefix's closing '/'
        return origin.origin() + path if self.nginx else path

    def refresh(self, value: bytes) -> bytes:
        at = value.lower().find(b"url=")
        if at < 0 or not self._matches(value[at + 4 :]):
            return value
        return value[: at + 4] + value[at + 4 + len(self.prefix) - 1 :]


def response_head(
    headers: list[Header],
    secure: bool,
    samesite: bytes | None,
    keep_upgrade: bool,
    out: list[bytes],
    redirect: RedirectRule | None = None,
    origin: Origin | None = None,
) -> int:
    """One pass over the upstream's headers (the hot path): hop-by-hop, hidden and
    Connection-named headers dropped, cookies rewritten, Location and Refresh rewritten by
    the pool's ``redirect`` rule. Appends (name, b": ", value,
    b"\r\n") runs to ``out``; returns the framing: the Content-Length (llhttp has checked
    it), NO_LENGTH or CHUNKED."""
    start = len(out)
    named = _NO_TOKENS
    length = NO_LENGTH
    chunked = False
    kinds = _RESPONSE_KINDS
    for name, value in headers:
        kind = kinds.get(name)
        if kind is None:
            kind = _response_kind(name)
        if kind == _FORWARD:
            out += (name, b": ", value, b"\r\n")
        elif kind == _LENGTH:
            length = int(value)
            out += (name, b": ", value, b"\r\n")
        elif kind == _COOKIE:
            if secure or samesite is not None:
                value = rewrite_set_cookie(value, secure, samesite)
            out += (name, b": ", value, b"\r\n")
        elif kind == _CONNECTION:
            named = add_connection_tokens(named, value)
        elif kind == _TRANSFER_ENCODING:
            chunked = b"chunked" in value.lower()
        elif kind == _UPGRADE and keep_upgrade:
            out += (name, b": ", value, b"\r\n")
        elif kind == _REDIRECT:
            if redirect is not None and origin is not None:
                if len(name) == 8:  # Location (Refresh has 7 letters)
                    value = redirect.location(value, origin)
                else:
                    value = redirect.refresh(value)
            out += (name, b": ", value, b"\r\n")
    if named or chunked:  # rare: filter what was written
        runs = out[start:]
        del out[start:]
        for i in range(0, len(runs), 4):
            low = runs[i].lower()
            if low in named and not (keep_upgrade and low == b"upgrade"):
                continue
            if chunked and low == b"content-length":
                continue  # Transfer-Encoding wins over Content-Length (RFC 9112 6.3)
            out += runs[i : i + 4]
    if chunked:
        return CHUNKED
    return length
