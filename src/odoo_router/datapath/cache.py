"""An in-memory cache for Odoo module statics (``/<module>/static/...``). Pure: no I/O.

Rules / theory of operation
---------------------------
* Only module statics are cached. Anything else (``/web/assets``, ``/web/image``,
  ``/web/content``, pages, RPC) is per database and is never cached: ``cache_key`` returns
  None for it. The key is (host, path, query): a file of the addons path is the same for
  every tenant, but a path under ``/<module>/static/`` that names no file falls through, in
  Odoo, to the database's ``ir.attachment`` with that URL, which Odoo serves ``public`` when
  the attachment is public. Pass the normalised host (the proxy does); ``host=""`` shares
  one copy across hosts and is only safe where no tenant can publish attachments.
* The path must already be in normal form (no ``%``, ``//``, ``.`` or ``..`` segments): then
  the raw target Odoo sees and the normalised path the router matched are the same string,
  and no spelling can make a per-database URL look like a static one. Other spellings are
  simply forwarded uncached.
* Only what a shared cache may keep is stored: GET, status 200, ``Cache-Control`` that says
  ``public`` (Odoo's static files say ``public, max-age=604800``; per-database pages do not)
  and no ``no-store``, ``private`` or ``no-cache``; never a response with ``Set-Cookie``;
  ``Vary`` only on ``Accept-Encoding`` (other ``Vary`` or ``*``: not stored). Lifetime:
  ``s-maxage``, else ``max-age``, else ``Expires - Date`` (both needed), else ``default_ttl``
  (0 by default: not stored), minus the upstream's ``Age``. Requests with ``Authorization``
  or ``Range`` are not served from (or stored to) the cache.
* The request's own ``Cache-Control`` (a browser reload sends ``max-age=0``) is ignored, as
  nginx's proxy_cache does; stale entries are dropped and fetched again (no revalidation).
* ETag and Last-Modified are kept; ``If-None-Match`` (weak comparison, ``*``) or, without
  it, ``If-Modified-Since`` are answered 304 from the cache.
* Bounded: each entry at most ``max_entry_bytes`` of body, all entries at most ``max_bytes``
  (body plus headers plus a fixed overhead), least recently used evicted first.
* ``now`` is any clock in seconds that never goes back (the proxy passes its
  ``time.monotonic()`` tick); it is never compared with an HTTP date.
* One instance per worker process; no locking (one event loop).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

Headers = Iterable[tuple[bytes, bytes]]
_Slot = tuple[str, str, str, bytes | None]

_STATIC_PATH = re.compile(r"/[A-Za-z0-9_]+/static/[A-Za-z0-9_\-./~+@,=!]*")
_ENTRY_OVERHEAD = 256  # bookkeeping per entry, counted against max_bytes
# Hop-by-hop and per-response headers never replayed from the cache.
_NOT_STORED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"content-length",
        b"date",
        b"age",
    }
)
# Headers a 304 carries (RFC 9110 §15.4.5).
_NOT_MODIFIED_KEEP = frozenset(
    {b"etag", b"last-modified", b"cache-control", b"expires", b"vary", b"content-location"}
)


@dataclass(frozen=True, slots=True)
class Key:
    """What a request asks for: ``path``, ``query``, its Accept-Encoding (normalised), host."""

    path: str
    query: str
    accept_encoding: bytes
    head: bool = False
    host: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as the upstream sent them, minus _NOT_STORED
    body: bytes
    stored_at: float
    expires_at: float
    etag: bytes | None
    last_modified: float | None  # POSIX seconds
    size: int

    def fresh(self, now: float) -> bool:
        return now < self.expires_at


def _directives(value: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.decode("latin-1").split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = arg.strip().strip('"')
    return out


def _http_date(value: bytes) -> float | None:
    try:
        return parsedate_to_datetime(value.decode("latin-1")).timestamp()
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def _seconds(text: str) -> float | None:
    return float(text) if text.isdigit() else None


def _accept_encoding(value: bytes) -> bytes:
    """The set of codings a client accepts (q > 0), sorted: few variants per URL."""
    codings = set()
    for part in value.lower().split(b","):
        coding, _, params = part.partition(b";")
        q = params.strip()
        if q.startswith(b"q=") and q[2:].strip() in (b"0", b"0.", b"0.0", b"0.00", b"0.000"):
            continue
        if coding.strip():
            codings.add(coding.strip())
    return b",".join(sorted(codings))


def _etag_matches(etag: bytes, if_none_match: bytes) -> bool:
    if if_none_match.strip() == b"*":
        return True
    mine = etag.strip().removeprefix(b"W/")
    return any(t.strip().removeprefix(b"W/") == mine for t in if_none_match.split(b","))


def cache_key(method: str, path: str, query: str, headers: Headers, host: str = "") -> Key | None:
    """The key for a request, or None when the cache must not be used for it.

    ``path`` is the raw request path (before ``?``), ``query`` what follows the ``?``,
    ``host`` the normalised host (see the rules above).
    """
    if method not in ("GET", "HEAD") or not _STATIC_PATH.fullmatch(path):
        return None
    if "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        return None
    accept_encoding = b""
    for name, value in headers:
        lname = name.lower()
        if lname in (b"authorization", b"range"):
            return None
        if lname == b"accept-encoding":
            accept_encoding = _accept_encoding(value)
    return Key(path, query, accept_encoding, method == "HEAD", host)


class StaticCache:
    def __init__(self, max_bytes: int, max_entry_bytes: int, default_ttl: float = 0.0) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.default_ttl = default_ttl
        self.size = 0
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.evictions = 0
        # (host, path, query, variant): variant None for a response without Vary.
        self._entries: OrderedDict[_Slot, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: Key, now: float) -> Entry | None:
        """A fresh entry for ``key`` (marked most recently used), or None (a miss)."""
        base = (key.host, key.path, key.query)
        for slot in ((*base, None), (*base, key.accept_encoding)):
            entry = self._entries.get(slot)
            if entry is None:
                continue
            if not entry.fresh(now):
                self._drop(slot)
                continue
            self._entries.move_to_end(slot)
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def ttl(self, status: int, headers: Headers) -> float | None:
        """Seconds the response may be kept, or None if it must not be stored.

        Call it on the response head, before buffering the body for ``store``.
        """
        if status != 200:
            return None
        cc: dict[str, str] | None = None
        expires = date = None
        age = 0.0
        for name, value in headers:
            lname = name.lower()
            if lname == b"set-cookie":
                return None
            if lname == b"cache-control":
                cc = (cc or {}) | _directives(value)
            elif lname == b"vary":
                tokens = {t.strip().lower() for t in value.split(b",") if t.strip()}
                if not tokens <= {b"accept-encoding"}:
                    return None
            elif lname == b"expires":
                expires = _http_date(value) or 0.0  # an invalid date means "already expired"
            elif lname == b"date":
                date = _http_date(value)
            elif lname == b"age":
                age = _seconds(value.decode("latin-1").strip()) or 0.0
            elif lname == b"content-length" and not self._fits(value):
                return None
        if cc is None or "public" not in cc or {"no-store", "private", "no-cache"} & cc.keys():
            return None
        lifetime: float | None = None
        for directive in ("s-maxage", "max-age"):  # s-maxage wins for a shared cache
            if directive in cc:
                lifetime = _seconds(cc[directive]) or 0.0  # malformed: already stale
                break
        if lifetime is None and expires is not None and date is not None:
            lifetime = expires - date  # without Date there is no clock to read Expires with
        if lifetime is None:
            lifetime = self.default_ttl
        lifetime -= age
        return lifetime if lifetime > 0 else None

    def store(
        self, key: Key, status: int, headers: list[tuple[bytes, bytes]], body: bytes, now: float
    ) -> bool:
        """Keep a complete upstream response to a GET for ``key``; False if it may not be kept."""
        if key.head or len(body) > self.max_entry_bytes:
            return False
        ttl = self.ttl(status, headers)
        if ttl is None:
            return False
        kept: list[tuple[bytes, bytes]] = []
        variant: bytes | None = None
        etag: bytes | None = None
        last_modified: float | None = None
        for name, value in headers:
            lname = name.lower()
            if lname == b"content-length" and int(value) != len(body):
                return False  # truncated or padded: never replay it
            if lname in _NOT_STORED:
                continue
            if lname == b"vary":
                variant = key.accept_encoding
            elif lname == b"etag":
                etag = value.strip()
            elif lname == b"last-modified":
                last_modified = _http_date(value)
            kept.append((name, value))
        size = len(body) + sum(len(n) + len(v) + 4 for n, v in kept) + _ENTRY_OVERHEAD
        size += len(key.host) + len(key.path) + len(key.query)
        if size > self.max_bytes:
            return False
        slot = (key.host, key.path, key.query, variant)
        if slot in self._entries:
            self._drop(slot)
        if variant is None:  # the upstream stopped varying: drop the per-coding copies
            base = (key.host, key.path, key.query)
            for other in [s for s in self._entries if s[:3] == base]:
                self._drop(other)
        while self.size + size > self.max_bytes:
            self._drop(next(iter(self._entries)))
            self.evictions += 1
        entry = Entry(status, tuple(kept), body, now, now + ttl, etag, last_modified, size)
        self._entries[slot] = entry
        self.size += size
        self.stores += 1
        return True

    def answer(
        self, entry: Entry, request_headers: Headers, now: float, head: bool = False
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The response for a cache hit: 304 if the client's copy is current, else 200.

        The headers include ``Age`` and, on a 200, ``Content-Length``; the body is empty for
        a 304 and for HEAD. The caller adds Date/Server and its response filters.
        """
        if_none_match = if_modified_since = None
        for name, value in request_headers:
            lname = name.lower()
            if lname == b"if-none-match":
                if_none_match = value if if_none_match is None else if_none_match + b"," + value
            elif lname == b"if-modified-since":
                if_modified_since = value
        age = [(b"Age", str(max(0, int(now - entry.stored_at))).encode())]
        if if_none_match is not None:
            not_modified = entry.etag is not None and _etag_matches(entry.etag, if_none_match)
        else:
            ims = _http_date(if_modified_since) if if_modified_since is not None else None
            not_modified = (
                ims is not None and entry.last_modified is not None and entry.last_modified <= ims
            )
        if not_modified:
            kept = [(n, v) for n, v in entry.headers if n.lower() in _NOT_MODIFIED_KEEP]
            return 304, kept + age, b""
        length = [(b"Content-Length", str(len(entry.body)).encode())]
        return entry.status, [*entry.headers, *length, *age], b"" if head else entry.body

    def _fits(self, content_length: bytes) -> bool:
        text = content_length.strip()
        return text.isdigit() and int(text) <= self.max_entry_bytes

    def clear(self) -> None:
        self._entries.clear()
        self.size = 0

    def _drop(self, slot: _Slot) -> None:
        entry = self._entries.pop(slot)
        self.size -= entry.size
