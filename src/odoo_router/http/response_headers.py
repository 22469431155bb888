"""Header rules from the upstream (pure; bytes in, bytes out, on the hot path).

* Hop-by-hop headers and those the upstream's Connection header names are removed, and
  nginx's ``proxy_hide_header`` defaults (Server, Date, X-Pad, X-Accel-*): the router
  writes its own Server and Date.
* ``Secure`` is added to each Set-Cookie that lacks it (nginx ``proxy_cookie_flags ~
  secure``) and ``SameSite`` to Odoo's session cookie when configured.
* A Location or Refresh naming the upstream (the pool's ``redirect_prefix``) is rewritten
  by the pool's RedirectRule.
* Framing: Transfer-Encoding chunked wins over Content-Length (RFC 9112 6.3); the router
  frames the body to the client itself.
"""

from __future__ import annotations

from typing import Final, Protocol

from .headers import HOP_BY_HOP, NO_TOKENS, Headers, add_connection_tokens, add_line

_RESPONSE_DROP: Final = HOP_BY_HOP - {b"proxy-authenticate"}
_STATUS_LINES: Final[dict[tuple[int, bytes], bytes]] = {}
_OK: Final = b"HTTP/1.1 200 OK\r\n"


def status_line(status: int, reason: bytes) -> bytes:
    """The status line relayed to the client, with the upstream's reason phrase."""
    if status == 200 and reason == b"OK":  # most responses: no tuple, no hash of the reason
        return _OK
    line = _STATUS_LINES.get((status, reason))
    if line is None:
        line = b"HTTP/1.1 %d %b\r\n" % (status, reason)
        if len(_STATUS_LINES) < 256:  # reasons come from upstreams: bounded
            _STATUS_LINES[(status, reason)] = line
    return line


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


def _length(value: bytes) -> int:
    """int(value) for a Content-Length llhttp let through (digits only), in a loop the
    compiled build runs natively (int() on bytes costs about 400 instructions); anything
    else goes to int(), which answers it as before."""
    if not value or len(value) > 18:
        return int(value)
    n = 0
    for c in value:
        if c < 48 or c > 57:
            return int(value)
        n = n * 10 + c - 48
    return n


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
    headers: Headers,
    secure: bool,
    samesite: bytes | None,
    keep_upgrade: bool,
    out: list[bytes],
    redirect: RedirectRule | None = None,
    origin: Origin | None = None,
) -> int:
    """One pass over the upstream's headers (a flat list, name and value in turn: the hot
    path): hop-by-hop, hidden and
    Connection-named headers dropped, cookies rewritten, Location and Refresh rewritten by
    the pool's ``redirect`` rule. Appends (name, b": ", value,
    b"\r\n") runs to ``out``; returns the framing: the Content-Length (llhttp has checked
    it), NO_LENGTH or CHUNKED."""
    start = len(out)
    named = NO_TOKENS
    length = NO_LENGTH
    chunked = False
    kinds = _RESPONSE_KINDS
    for i in range(0, len(headers), 2):
        name = headers[i]
        value = headers[i + 1]
        kind = kinds.get(name)
        if kind is None:
            kind = _response_kind(name)
        if kind == _FORWARD:
            add_line(out, name, value)
        elif kind == _LENGTH:
            length = _length(value)
            add_line(out, name, value)
        elif kind == _COOKIE:
            if secure or samesite is not None:
                value = rewrite_set_cookie(value, secure, samesite)
            add_line(out, name, value)
        elif kind == _CONNECTION:
            named = add_connection_tokens(named, value)
        elif kind == _TRANSFER_ENCODING:
            chunked = b"chunked" in value.lower()
        elif kind == _UPGRADE and keep_upgrade:
            add_line(out, name, value)
        elif kind == _REDIRECT:
            if redirect is not None and origin is not None:
                if len(name) == 8:  # Location (Refresh has 7 letters)
                    value = redirect.location(value, origin)
                else:
                    value = redirect.refresh(value)
            add_line(out, name, value)
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
