"""The static cache: what may be keyed, stored, served, evicted and answered 304."""

from __future__ import annotations

import pytest

from odoo_router.datapath.cache import Key, StaticCache, cache_key

NOW = 1_700_000_000.0
LM = b"Tue, 14 Nov 2023 22:00:00 GMT"  # NOW - 13 min 20 s
ODOO_HEADERS = [
    (b"Content-Type", b"text/javascript; charset=utf-8"),
    (b"Content-Length", b"5"),
    (b"Cache-Control", b"public, max-age=604800"),
    (b"ETag", b'"abc-123"'),
    (b"Last-Modified", LM),
    (b"Date", b"Tue, 14 Nov 2023 22:13:20 GMT"),
    (b"Connection", b"keep-alive"),
]


def key(path: str = "/web/static/src/app.js", query: str = "", **kw: bytes) -> Key:
    found = cache_key(
        "GET", path, query, [(k.replace("_", "-").encode(), v) for k, v in kw.items()]
    )
    assert found is not None
    return found


def stored(cache: StaticCache, k: Key | None = None, body: bytes = b"hello") -> Key:
    k = k or key()
    headers = [
        (n, str(len(body)).encode() if n == b"Content-Length" else v) for n, v in ODOO_HEADERS
    ]
    assert cache.store(k, 200, headers, body, NOW)
    return k


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "path",
    [
        "/web/static/src/app.js",
        "/point_of_sale/static/src/img/logo.png",
        "/website/static/lib/font-awesome/fonts/fa.woff2",
        "/base/static/description/icon.png",
    ],
)
def test_module_statics_get_a_key(path: str) -> None:
    assert cache_key("GET", path, "v=1", []) == Key(path, "v=1", b"")


@pytest.mark.parametrize(
    "path",
    [
        "/web/assets/1/web.assets_frontend.min.js",
        "/web/image/res.partner/1/avatar_128",
        "/web/content/42",
        "/web/login",
        "/",
        "/jsonrpc",
        "/static/x.js",  # no module segment
        "/web/static",  # the directory itself
        "/en/web/static/x.js",  # lang-prefixed: Odoo reroutes it per database
        "/web/static/../image/1",
        "/web/static/./x.js",
        "/web/static/x/..",
        "/web//static/x.js",
        "/web/static//x.js",
        "/web/static/%2e%2e/image/1",
        "/web/%73tatic/x.js",
        "/web/static/x.js?q",  # the caller splits the query off
        "/web/static/x y.js",
        "/web/static/\u00e9.js",
    ],
)
def test_everything_else_is_never_keyed(path: str) -> None:
    assert cache_key("GET", path, "", []) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "get"])
def test_only_get_and_head(method: str) -> None:
    assert cache_key(method, "/web/static/x.js", "", []) is None


def test_head_is_keyed_but_flagged() -> None:
    k = cache_key("HEAD", "/web/static/x.js", "", [])
    assert k is not None and k.head


@pytest.mark.parametrize("name", [b"Authorization", b"range", b"RANGE"])
def test_authorization_and_range_bypass(name: bytes) -> None:
    assert cache_key("GET", "/web/static/x.js", "", [(name, b"x")]) is None


def test_key_ignores_the_host_header_and_normalises_accept_encoding() -> None:
    """The key's host is the normalised host the proxy passes (test_host_is_part_of_the_key),
    never a Host header read again from the list."""
    a = cache_key(
        "GET", "/web/static/x.js", "", [(b"Host", b"a.example"), (b"Accept-Encoding", b"gzip, br")]
    )
    b = cache_key(
        "GET", "/web/static/x.js", "", [(b"Host", b"b.example"), (b"accept-encoding", b"BR,gzip")]
    )
    c = cache_key("GET", "/web/static/x.js", "", [(b"Accept-Encoding", b"gzip, br;q=0, x;q=0.5")])
    assert a == b
    assert a is not None and a.accept_encoding == b"br,gzip"
    assert c is not None and c.accept_encoding == b"gzip,x"


# --------------------------------------------------------------------------- store / lookup


def test_store_then_hit() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    stored(cache)
    entry = cache.lookup(key(), NOW + 1)
    assert entry is not None and entry.body == b"hello"
    assert (cache.hits, cache.misses, cache.stores) == (1, 0, 1)


def test_host_is_part_of_the_key() -> None:
    """A missing static file falls back to the tenant's public attachments in Odoo."""
    cache = StaticCache(1 << 20, 1 << 16)
    a = cache_key("GET", "/web/static/x.js", "", [], host="a.example")
    b = cache_key("GET", "/web/static/x.js", "", [], host="b.example")
    assert a is not None and b is not None and a != b
    stored(cache, a)
    assert cache.lookup(b, NOW) is None
    assert cache.lookup(a, NOW) is not None
    assert (cache.hits, cache.misses) == (1, 1)


def test_empty_host_shares_one_copy() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    stored(cache)
    other = cache_key("GET", "/web/static/src/app.js", "", [(b"Host", b"other.example")])
    assert other is not None and cache.lookup(other, NOW) is not None


def test_query_is_part_of_the_key() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    stored(cache, key(query="v=1"))
    assert cache.lookup(key(query="v=2"), NOW) is None
    assert cache.lookup(key(query="v=1"), NOW) is not None


def test_max_age_expiry() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    k = stored(cache)
    assert cache.lookup(k, NOW + 604799) is not None
    assert cache.lookup(k, NOW + 604800) is None
    assert len(cache) == 0 and cache.size == 0


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [
        (b"public, max-age=60", 60.0),
        (b"public, max-age=60, s-maxage=10", 10.0),
        (b"public, s-maxage=0, max-age=60", None),
        (b'public, max-age="120"', 120.0),
        (b"PUBLIC, MAX-AGE=30", 30.0),
        (b"public, max-age=0", None),
        (b"public, max-age=abc", None),
        (b"public, max-age=60, no-store", None),
        (b"public, max-age=60, no-cache", None),
        (b"public, max-age=60, private", None),
        (b"private, max-age=60", None),
        (b"max-age=60", None),  # nothing says a shared cache may keep it
        (b"no-cache", None),
        (b"public", None),  # no lifetime and default_ttl 0
    ],
)
def test_cache_control(cache_control: bytes, ttl: float | None) -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    assert cache.ttl(200, [(b"Cache-Control", cache_control)]) == ttl


def test_cache_control_split_over_lines() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    headers = [(b"Cache-Control", b"public"), (b"cache-control", b"max-age=5")]
    assert cache.ttl(200, headers) == 5.0
    headers.append((b"Cache-Control", b"no-store"))
    assert cache.ttl(200, headers) is None


def test_no_cache_control_is_not_stored() -> None:
    cache = StaticCache(1 << 20, 1 << 16, default_ttl=3600)
    assert cache.ttl(200, [(b"Content-Type", b"text/css")]) is None


def test_default_ttl_when_public_without_lifetime() -> None:
    cache = StaticCache(1 << 20, 1 << 16, default_ttl=3600)
    assert cache.ttl(200, [(b"Cache-Control", b"public")]) == 3600


def test_expires_minus_date_and_age() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    headers = [
        (b"Cache-Control", b"public"),
        (b"Date", b"Tue, 14 Nov 2023 22:13:20 GMT"),
        (b"Expires", b"Tue, 14 Nov 2023 23:13:20 GMT"),
    ]
    assert cache.ttl(200, headers) == 3600
    assert cache.ttl(200, [*headers, (b"Age", b"600")]) == 3000
    assert cache.ttl(200, [*headers[:2], (b"Expires", b"0")]) is None
    # Without Date, Expires cannot be read against any clock: default_ttl (0) applies.
    assert cache.ttl(200, [headers[0], headers[2]]) is None
    assert cache.ttl(200, [(b"Cache-Control", b"public, max-age=100"), (b"Age", b"100")]) is None


@pytest.mark.parametrize("status", [201, 203, 204, 206, 301, 302, 304, 404, 500])
def test_only_200_is_stored(status: int) -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    assert not cache.store(key(), status, [(b"Cache-Control", b"public, max-age=60")], b"", NOW)
    assert len(cache) == 0


def test_set_cookie_is_never_stored() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    headers = [*ODOO_HEADERS, (b"Set-Cookie", b"session_id=abc; Path=/")]
    assert not cache.store(key(), 200, headers, b"hello", NOW)
    assert cache.lookup(key(), NOW) is None


@pytest.mark.parametrize("vary", [b"*", b"Cookie", b"Accept-Encoding, Cookie", b"Host"])
def test_vary_other_than_accept_encoding_is_not_stored(vary: bytes) -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    assert not cache.store(key(), 200, [*ODOO_HEADERS, (b"Vary", vary)], b"hello", NOW)


def test_vary_accept_encoding_keeps_one_copy_per_coding_set() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    gz = key(accept_encoding=b"gzip")
    plain = key()
    headers = [*ODOO_HEADERS, (b"Vary", b"Accept-Encoding"), (b"Content-Encoding", b"gzip")]
    assert cache.store(gz, 200, headers, b"GZGZG", NOW)
    assert cache.lookup(plain, NOW) is None
    assert cache.lookup(key(accept_encoding=b"deflate"), NOW) is None
    entry = cache.lookup(key(accept_encoding=b"gzip;q=1"), NOW)
    assert entry is not None and entry.body == b"GZGZG"
    plain_headers = [*ODOO_HEADERS, (b"Vary", b"accept-encoding")]
    assert cache.store(plain, 200, plain_headers, b"plain", NOW)
    assert len(cache) == 2
    # The upstream stops varying: one copy for everyone replaces the per-coding ones.
    assert cache.store(gz, 200, ODOO_HEADERS, b"hello", NOW)
    assert len(cache) == 1
    found = cache.lookup(plain, NOW)
    assert found is not None and found.body == b"hello"


def test_head_request_is_answered_but_never_stores() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    head = cache_key("HEAD", "/web/static/src/app.js", "", [])
    assert head is not None
    assert not cache.store(head, 200, ODOO_HEADERS, b"", NOW)
    stored(cache)
    entry = cache.lookup(head, NOW)
    assert entry is not None
    status, headers, body = cache.answer(entry, [], NOW, head=True)
    assert (status, body) == (200, b"")
    assert (b"Content-Length", b"5") in headers


def test_body_not_matching_content_length_is_not_stored() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    assert not cache.store(key(), 200, ODOO_HEADERS, b"hell", NOW)
    assert not cache.store(key(), 200, ODOO_HEADERS, b"hello!", NOW)


def test_hop_by_hop_date_and_length_are_not_stored() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    k = stored(cache)
    entry = cache.lookup(k, NOW)
    assert entry is not None
    names = {n.lower() for n, _ in entry.headers}
    assert names == {b"content-type", b"cache-control", b"etag", b"last-modified"}


# --------------------------------------------------------------------------- bounds


def test_per_entry_limit() -> None:
    cache = StaticCache(1 << 20, 4)
    assert not cache.store(key(), 200, ODOO_HEADERS, b"hello", NOW)
    assert cache.ttl(200, ODOO_HEADERS) is None  # refused from the head alone
    assert cache.ttl(200, [*ODOO_HEADERS[:1], *ODOO_HEADERS[2:]]) is not None


def test_bad_content_length_is_refused() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    headers = [(b"Cache-Control", b"public, max-age=60"), (b"Content-Length", b"-1")]
    assert cache.ttl(200, headers) is None


def test_lru_eviction_by_total_size() -> None:
    body = b"x" * 1000
    probe = StaticCache(1 << 20, 1 << 16)
    stored(probe, key("/web/static/0.js"), body)
    one = probe.size
    cache = StaticCache(one * 3, 1 << 16)
    keys = [stored(cache, key(f"/web/static/{i}.js"), body) for i in range(3)]
    assert len(cache) == 3 and cache.size == 3 * one
    assert cache.lookup(keys[0], NOW) is not None  # 0 is now the most recently used
    stored(cache, key("/web/static/3.js"), body)
    assert cache.lookup(keys[1], NOW) is None  # the least recently used went first
    assert cache.lookup(keys[0], NOW) is not None
    assert cache.evictions == 1 and cache.size <= cache.max_bytes


def test_entry_larger_than_the_whole_cache() -> None:
    cache = StaticCache(300, 1 << 16)
    assert not cache.store(
        key(),
        200,
        [(n, b"100") if n == b"Content-Length" else (n, v) for n, v in ODOO_HEADERS],
        b"x" * 100,
        NOW,
    )
    assert cache.size == 0


def test_replacing_an_entry_keeps_size_right() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    k = stored(cache)
    first = cache.size
    stored(cache, k)
    assert len(cache) == 1 and cache.size == first
    cache.clear()
    assert len(cache) == 0 and cache.size == 0


# --------------------------------------------------------------------------- answers


def test_answer_200_with_length_and_age() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    entry = cache.lookup(stored(cache), NOW)
    assert entry is not None
    status, headers, body = cache.answer(entry, [], NOW + 42.7)
    assert (status, body) == (200, b"hello")
    assert headers[-2:] == [(b"Content-Length", b"5"), (b"Age", b"42")]
    assert (b"ETag", b'"abc-123"') in headers


@pytest.mark.parametrize(
    "if_none_match",
    [b'"abc-123"', b'W/"abc-123"', b'"zzz", "abc-123"', b"*", b' "abc-123" '],
)
def test_if_none_match_gives_304(if_none_match: bytes) -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    entry = cache.lookup(stored(cache), NOW)
    assert entry is not None
    status, headers, body = cache.answer(entry, [(b"If-None-Match", if_none_match)], NOW)
    assert (status, body) == (304, b"")
    names = {n.lower() for n, _ in headers}
    assert names == {b"etag", b"last-modified", b"cache-control", b"age"}


def test_if_none_match_mismatch_gives_200_even_with_if_modified_since() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    entry = cache.lookup(stored(cache), NOW)
    assert entry is not None
    request = [(b"If-None-Match", b'"old"'), (b"If-Modified-Since", LM)]
    assert cache.answer(entry, request, NOW)[0] == 200


def test_if_none_match_over_several_lines() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    entry = cache.lookup(stored(cache), NOW)
    assert entry is not None
    request = [(b"If-None-Match", b'"a"'), (b"if-none-match", b'"abc-123"')]
    assert cache.answer(entry, request, NOW)[0] == 304


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (LM, 304),
        (b"Tue, 14 Nov 2023 23:00:00 GMT", 304),
        (b"Tue, 14 Nov 2023 21:59:59 GMT", 200),
        (b"garbage", 200),
    ],
)
def test_if_modified_since(since: bytes, status: int) -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    entry = cache.lookup(stored(cache), NOW)
    assert entry is not None
    assert cache.answer(entry, [(b"If-Modified-Since", since)], NOW)[0] == status


def test_no_validators_means_no_304() -> None:
    cache = StaticCache(1 << 20, 1 << 16)
    headers = [(b"Cache-Control", b"public, max-age=60")]
    assert cache.store(key(), 200, headers, b"x", NOW)
    entry = cache.lookup(key(), NOW)
    assert entry is not None
    request = [(b"If-None-Match", b'"x"'), (b"If-Modified-Since", LM)]
    assert cache.answer(entry, request, NOW)[0] == 200
    assert cache.answer(entry, [(b"If-Modified-Since", LM)], NOW)[0] == 200
