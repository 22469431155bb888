"""nginx-compatible host and URI normalisation (pure).

Rules (nginx 1.22, checked against a real nginx by the conformance suite)
-----------------------------------------------------------------------
Host (``ngx_http_validate_host``): the port is cut at the first ':' outside an IPv6
literal, one trailing '.' is dropped, the rest is lower-cased. Refused (400): empty, two
dots in a row, '/', '\\', NUL, control characters, space, DEL. Bytes >= 0x80 pass.

Path (``ngx_http_parse_complex_uri``, merge_slashes on): a state machine over the raw
target up to '?' (query) or '#' (fragment). ``%XX`` is decoded and the decoded byte is
processed as if it had been sent plain, so ``%2e%2e`` is a dot segment and ``%2F``
a slash that merges -- except decoded '%', NUL and '?', which are written literally.
``//`` merges, ``/./`` drops, ``/../`` climbs; climbing above the root, a bad escape
or a dangling '%' or an encoded NUL is a 400. The upstream still receives the raw target unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from ..http.errors import CLIENT, RequestError


class BadRequest(RequestError):
    """A client error with the status nginx would answer (400 unless said otherwise)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason, status, CLIENT)


_HOST_BAD: Final = frozenset(b"/\\\x00\x7f") | frozenset(range(0x21))
_HEX: Final = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


@lru_cache(maxsize=4096)  # hosts repeat; bounded because clients choose them
def normalise_host(raw: str) -> str:
    """Validate and normalise a Host value (header or absolute-form target)."""
    data = raw.encode("latin-1", "surrogateescape")
    host_len = len(data)
    dot_pos = -2
    in_literal = False
    port_seen = False
    for i, ch in enumerate(data):
        if ch == 0x2E:  # '.'
            if dot_pos == i - 1:
                raise BadRequest("client sent invalid host header")
            dot_pos = i
        elif ch == 0x3A:  # ':'
            if not port_seen and not in_literal:
                host_len = i
                port_seen = True
        elif ch == 0x5B:  # '['
            if i == 0:
                in_literal = True
        elif ch == 0x5D:  # ']'
            if in_literal:
                host_len = i + 1
                in_literal = False
                port_seen = True
        elif ch in _HOST_BAD:
            raise BadRequest("client sent invalid host header")
    if dot_pos == host_len - 1:
        host_len -= 1
    if host_len <= 0:
        raise BadRequest("client sent invalid host header")
    return data[:host_len].lower().decode("latin-1")


# Parser states, named as in nginx.
_USUAL, _SLASH, _DOT, _DOT_DOT, _QUOTED, _QUOTED_SECOND = range(6)


_MATCH_PATHS: Final[dict[bytes, str]] = {}
_MATCH_PATHS_MAX: Final = 8192


def match_path(target: bytes) -> str:
    """normalise_path()'s path alone, remembered for targets seen before (most are)."""
    path = _MATCH_PATHS.get(target)
    if path is None:
        path = normalise_path(target)[0]
        if len(target) <= 512:  # targets are client-chosen: bounded in size and count
            if len(_MATCH_PATHS) >= _MATCH_PATHS_MAX:
                _MATCH_PATHS.clear()
            _MATCH_PATHS[target] = path
    return path


def normalise_path(target: bytes) -> tuple[str, bytes]:
    """Return (normalised path for matching, raw query) of an origin-form target.

    The path is returned as a latin-1 str so every byte survives (regexes then match on
    bytes the way PCRE does in nginx).
    """
    if not target.startswith(b"/"):
        raise BadRequest("client sent invalid request")
    # Fast path: nothing to decode or collapse (the common case).
    q = target.find(b"?")
    raw_path = target if q < 0 else target[:q]
    if (
        b"%" not in raw_path
        and b"/." not in raw_path
        and b"//" not in raw_path
        and b"#" not in raw_path
    ):
        return raw_path.decode("latin-1"), (b"" if q < 0 else target[q + 1 :])
    return _complex(target)


def _climb(out: bytearray) -> None:
    """Drop the last segment written before a '/..' (which is already cut from ``out``)."""
    # ``out`` ends just before the "/.." of the dot-dot; remove back to and keeping a '/'.
    i = len(out) - 1
    while True:
        if i < 0:
            raise BadRequest("client sent invalid request")
        if out[i] == 0x2F:
            del out[i + 1 :]
            return
        i -= 1


def _complex(target: bytes) -> tuple[str, bytes]:
    out = bytearray()
    state = _USUAL
    quoted_state = _USUAL
    decoded = 0
    query = b""
    i = 0
    n = len(target)
    reprocess: int | None = None
    while True:
        if reprocess is not None:
            ch = reprocess
            reprocess = None
        else:
            if i >= n:
                break
            ch = target[i]
            i += 1
        if state == _QUOTED:
            if ch not in _HEX:
                raise BadRequest("client sent invalid request")
            decoded = _HEX[ch]
            state = _QUOTED_SECOND
            continue
        if state == _QUOTED_SECOND:
            if ch not in _HEX:
                raise BadRequest("client sent invalid request")
            ch = (decoded << 4) + _HEX[ch]
            if ch == 0x00:  # nginx >= 1.21.1 refuses a decoded NUL
                raise BadRequest("client sent invalid request")
            if ch in (0x25, 0x3F):  # decoded '%' and '?': literal, never re-parsed
                out.append(ch)
                state = _USUAL
                continue
            state = quoted_state
            reprocess = ch
            continue
        if ch == 0x25:  # '%'
            quoted_state = state
            state = _QUOTED
            continue
        if ch == 0x3F or ch == 0x23:  # '?' query, '#' fragment: the path ends here
            if state == _DOT:
                out.pop()
            elif state == _DOT_DOT:
                del out[-3:]
                _climb(out)
            if ch == 0x3F:
                hash_pos = target.find(b"#", i)
                query = target[i:] if hash_pos < 0 else target[i:hash_pos]
            return out.decode("latin-1"), query
        if state == _USUAL:
            out.append(ch)
            if ch == 0x2F:
                state = _SLASH
        elif state == _SLASH:
            if ch == 0x2F:
                continue  # merge_slashes
            out.append(ch)
            state = _DOT if ch == 0x2E else _USUAL
        elif state == _DOT:
            if ch == 0x2F:
                out.pop()  # "/./" -> "/"
                state = _SLASH
            elif ch == 0x2E:
                out.append(ch)
                state = _DOT_DOT
            else:
                out.append(ch)
                state = _USUAL
        else:  # _DOT_DOT
            if ch == 0x2F:
                del out[-3:]  # cut "/.."
                _climb(out)
                state = _SLASH
            else:
                out.append(ch)
                state = _USUAL
    if state in (_QUOTED, _QUOTED_SECOND):
        raise BadRequest("client sent invalid request")
    if state == _DOT:
        out.pop()
    elif state == _DOT_DOT:
        del out[-3:]
        _climb(out)
    return out.decode("latin-1"), query


def split_absolute(target: bytes) -> tuple[str, bytes]:
    """Split an absolute-form target ``http://host[:port]/path`` into (host, origin-form).

    nginx accepts any alphabetic scheme here (the host decides, not the scheme) and
    letters, digits, '.', '-' (and a port) in the host; anything else is a 400. An empty
    path becomes "/".
    """
    sep = target.find(b"://")
    if sep <= 0 or not target[:sep].isalpha():
        raise BadRequest("client sent invalid request")
    rest = target[sep + 3 :]
    end = len(rest)
    for j, ch in enumerate(rest):
        if ch in b"/?":
            end = j
            break
    host = rest[:end]
    if not host:
        raise BadRequest("client sent invalid request")
    for ch in host:
        if not (0x30 <= ch <= 0x39 or 0x41 <= ch <= 0x5A or 0x61 <= ch <= 0x7A or ch in b".-:[]"):
            raise BadRequest("client sent invalid request")
    path = rest[end:]
    if not path.startswith(b"/"):
        path = b"/" + path
    return host.decode("latin-1"), path
