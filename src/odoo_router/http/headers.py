"""Header rules to the upstream (pure; bytes in, bytes out, on the hot path). The rules for
what comes back are in response_headers.py.

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
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ..configuration.model import Forwarded

Header = tuple[bytes, bytes]
# Headers on the hot path are flat lists, name and value in turn: [name, value, name, ...]
# (one list, no tuple per header).
Headers = list[bytes]

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
    tokens = NO_TOKENS
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
NO_TOKENS: Final[frozenset[bytes]] = frozenset()


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


def pairs(headers: Headers) -> list[Header]:
    """(name, value) pairs of a flat header list, for the paths off the hot one."""
    return list(zip(headers[::2], headers[1::2], strict=True))


def find(headers: Headers, low: bytes) -> bytes | None:
    """The first value of the header named ``low`` (lower case), in any case."""
    for i in range(0, len(headers), 2):
        if headers[i].lower() == low:
            return headers[i + 1]
    return None


def add_line(out: list[bytes], name: bytes, value: bytes) -> None:
    """A header line as the run (name, b": ", value, b"\r\n") that heads are joined from
    (four appends: cheaper than a tuple concatenated onto the list)."""
    out.append(name)
    out.append(b": ")
    out.append(value)
    out.append(b"\r\n")


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


def upstream_request_parts(
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
) -> list[bytes]:
    """The pieces of the request head sent upstream (HTTP/1.1, keep-alive unless upgrading),
    for the data path's join.

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
    return parts
