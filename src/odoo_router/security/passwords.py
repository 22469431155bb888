"""Password hashes for basic auth in front of admin routes, and the basic-auth check.

Hashes read ``pbkdf2_sha256$<iterations>$<salt_hex>$<hash_hex>`` (16-byte random salt, 32-byte
PBKDF2-HMAC-SHA256), the format the config validator accepts under a route's ``auth.users`` and
``odoo-router hash-password`` prints. Clear-text passwords never appear in the config.

600,000 iterations cost a good fraction of a second, too much per request: a successful check
is remembered in a small LRU keyed by (user, stored hash, keyed digest of the credentials).
Keying on the stored hash too means a reload that changes a password drops the old entry; the
digest is an HMAC under a per-process random key, so the cache is no fast password oracle.
Failures are never cached. ``hashlib.pbkdf2_hmac`` releases the GIL: run checks that miss the
cache in a thread pool rather than on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict

SCHEME = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000
MAX_ITERATIONS = 50_000_000  # a typo'd hash should not pin a CPU for minutes
_HASH_RE = re.compile(r"pbkdf2_sha256\$([0-9]{1,9})\$((?:[0-9a-f]{2})+)\$([0-9a-f]{64})")
_MAX_HEADER = 4096  # longer Authorization values are refused unread

_CACHE_SIZE = 128
_cache: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()
_cache_lock = threading.Lock()
_cache_key_secret = secrets.token_bytes(32)


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS) -> str:
    """A new salted hash of ``password`` in the ``pbkdf2_sha256$...`` format."""
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")
    if "\x00" in password:
        raise ValueError("a password cannot contain NUL")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches ``hashed``; False for a malformed hash. Constant-time."""
    m = _HASH_RE.fullmatch(hashed)
    if m is None or not 1 <= int(m.group(1)) <= MAX_ITERATIONS:
        return False
    # HMAC pads short keys with NULs: "pw" and "pw\x00" would give the same digest.
    refuse = "\x00" in password
    expected = bytes.fromhex(m.group(3))
    digest = hashlib.pbkdf2_hmac(
        "sha256",
        password.encode("utf-8"),
        bytes.fromhex(m.group(2)),
        int(m.group(1)),
        len(expected),
    )
    return hmac.compare_digest(digest, expected) and not refuse


def check_basic_auth(header_value: str | None, users: tuple[tuple[str, str], ...]) -> str | None:
    """The user name when ``header_value`` is ``Basic base64(user:password)`` for one of
    ``users`` ((name, hash) pairs), else None. Runs PBKDF2 unless the success is cached."""
    found = _find(header_value, users)
    if found is None:
        return None
    user, password, stored, key = found
    if stored is None:
        verify_password(password, users[0][1])  # same cost as a real check: no user oracle
        return None
    if _cache_hit(key):
        return user
    if not verify_password(password, stored):
        return None
    with _cache_lock:
        _cache[key] = None
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return user


def cached_basic_auth(header_value: str | None, users: tuple[tuple[str, str], ...]) -> str | None:
    """The user name when this exact success is cached; never runs PBKDF2. For callers that
    answer cache hits inline and send misses to ``check_basic_auth`` in a thread."""
    found = _find(header_value, users)
    if found is None or found[2] is None:
        return None
    return found[0] if _cache_hit(found[3]) else None


def _find(
    header_value: str | None, users: tuple[tuple[str, str], ...]
) -> tuple[str, str, str | None, tuple[str, str, bytes]] | None:
    """(user, password, stored hash or None, cache key) for a Basic header, None if no Basic."""
    credentials = _parse_basic(header_value)
    if credentials is None or not users:
        return None
    raw, user, password = credentials
    stored = None
    for name, hashed in users:  # no early exit: the scan takes as long for every name
        if hmac.compare_digest(name.encode("utf-8"), user.encode("utf-8")):
            stored = hashed
    key = (user, stored or "", hmac.new(_cache_key_secret, raw, hashlib.sha256).digest())
    return user, password, stored, key


def _cache_hit(key: tuple[str, str, bytes]) -> bool:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return True
    return False


def clear_auth_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _parse_basic(header_value: str | None) -> tuple[bytes, str, str] | None:
    """(raw credentials, user, password) from an Authorization value, None if not Basic."""
    if not header_value or len(header_value) > _MAX_HEADER:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "basic" or not token:
        return None
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")  # RFC 7617 charset="UTF-8"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # what older browsers send
    user, colon, password = text.partition(":")
    if not colon:
        return None
    return raw, user, password
