"""Header rules through a real router: what the upstream sees, what the client gets back.

The echo upstream answers with the request headers as it received them (in order, with
duplicates), so each test reads the upstream's view from the response body.
"""

from __future__ import annotations

import json

import pytest

from .client import Response, build, connect, get, raw
from .router import TRUSTED_PROXY, UNTRUSTED_PEER, RouterProcess

TENANT = "acme.erp.seisei.tokyo"  # tenant_subdomain: dbfilter ten_acme
NAMED = "testodoo.seisei.tokyo"  # named_tenant: dbfilter ten_testodoo
ADMIN = "admin.erp.seisei.tokyo"  # no dbfilter
UNKNOWN = "unknown.example.com"  # no dbfilter (compat), 421 (production)

# Every spelling, count and trick a client could use to choose its own database filter.
SPOOFS: dict[str, list[tuple[str, str]]] = {
    "plain": [("X-Odoo-dbfilter", ".*")],
    "lower case": [("x-odoo-dbfilter", ".*")],
    "upper case": [("X-ODOO-DBFILTER", ".*")],
    "duplicates": [("X-Odoo-dbfilter", ".*"), ("X-Odoo-dbfilter", "ten_other")],
    "empty": [("X-Odoo-dbfilter", "")],
    "underscores": [("X_Odoo_dbfilter", ".*")],
    "mixed underscore": [("X-Odoo_dbfilter", ".*")],
    "underscore and dash": [("X_Odoo_dbfilter", ".*"), ("X-Odoo-dbfilter", ".*")],
    "connection names it": [("Connection", "X-Odoo-dbfilter"), ("X-Odoo-dbfilter", ".*")],
    "connection names it, lower": [("Connection", "keep-alive, x-odoo-dbfilter")],
}


def _dbfilter_seen(resp: Response) -> list[str]:
    """Every header the upstream got whose name reads as X-Odoo-dbfilter to Werkzeug."""
    return [
        v for k, v in resp.json()["headers"] if k.lower().replace("_", "-") == "x-odoo-dbfilter"
    ]


@pytest.mark.parametrize("spoof", list(SPOOFS), ids=list(SPOOFS))
@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        (TENANT, "/jsonrpc", ["ten_acme"]),
        (TENANT, "/websocket", ["ten_acme"]),
        (NAMED, "/web/login", ["ten_testodoo"]),
        (NAMED, "/odoo/action-1", ["ten_testodoo"]),
        (ADMIN, "/web/login", []),
        (ADMIN, "/web/database/manager", []),
        (ADMIN, "/qr/x", []),
        (UNKNOWN, "/jsonrpc", []),
    ],
)
async def test_dbfilter_cannot_be_spoofed_compat(
    compat: RouterProcess, spoof: str, host: str, path: str, expected: list[str]
) -> None:
    resp = await get(compat.port, host, path, SPOOFS[spoof])
    assert resp.status == 200
    assert _dbfilter_seen(resp) == expected


@pytest.mark.parametrize("spoof", list(SPOOFS), ids=list(SPOOFS))
@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        (TENANT, "/web/static/x.js", ["^ten_acme$"]),
        (NAMED, "/odoo/action-1", ["^ten_testodoo$"]),
        (ADMIN, "/web/login", []),
    ],
)
async def test_dbfilter_cannot_be_spoofed_production(
    prod: RouterProcess, spoof: str, host: str, path: str, expected: list[str]
) -> None:
    resp = await get(prod.port, host, path, SPOOFS[spoof])
    assert resp.status == 200
    assert _dbfilter_seen(resp) == expected


async def test_connection_cannot_remove_router_headers(compat: RouterProcess) -> None:
    extra = [
        ("Connection", "X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host, Host"),
        ("X-Forwarded-For", "1.2.3.4"),
    ]
    resp = await get(compat.port, NAMED, "/web/x", extra)
    assert resp.status == 200
    assert resp.seen("X-Forwarded-For") == ["1.2.3.4, 127.0.0.1"]
    assert resp.seen("X-Real-IP") == ["127.0.0.1"]
    assert resp.seen("X-Forwarded-Proto") == ["http"]
    assert resp.seen("X-Forwarded-Host") == [NAMED]
    assert resp.seen("Host") == [NAMED]
    assert resp.seen("X-Odoo-dbfilter") == ["ten_testodoo"]


async def test_connection_named_client_headers_are_removed(compat: RouterProcess) -> None:
    extra = [
        ("Connection", "X-Secret, x-other"),
        ("X-Secret", "1"),
        ("X-Other", "2"),
        ("X-Kept", "3"),
    ]
    resp = await get(compat.port, NAMED, "/web/x", extra)
    names = [n.lower() for n in resp.seen_names()]
    assert "x-secret" not in names
    assert "x-other" not in names
    assert resp.seen("X-Kept") == ["3"]


async def test_hop_by_hop_request_headers_are_removed(compat: RouterProcess) -> None:
    extra = [
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("X-Kept", "yes"),
    ]
    resp = await get(compat.port, NAMED, "/qr/x", extra)  # /qr/ does not allow websockets
    names = {n.lower() for n in resp.seen_names()}
    for hop in (
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
    ):
        assert hop not in names, hop
    assert resp.seen("Connection") == ["keep-alive"], "only the router's own Connection"
    assert resp.seen("X-Kept") == ["yes"]


async def test_underscore_headers_are_dropped(compat: RouterProcess) -> None:
    extra = [("X_Custom", "1"), ("X-Custom", "2"), ("_x", "3"), ("Session_Id", "4")]
    resp = await get(compat.port, NAMED, "/web/x", extra)
    names = resp.seen_names()
    assert not [n for n in names if "_" in n]
    assert resp.seen("X-Custom") == ["2"]


async def test_other_headers_keep_order_and_duplicates(compat: RouterProcess) -> None:
    extra = [("X-A", "1"), ("X-B", "2"), ("X-A", "3"), ("Cookie", "a=1"), ("Cookie", "b=2")]
    resp = await get(compat.port, NAMED, "/web/x", extra)
    mine = [(k, v) for k, v in resp.json()["headers"] if k in ("X-A", "X-B", "Cookie")]
    assert mine == extra


async def test_host_goes_upstream_normalised(compat: RouterProcess) -> None:
    resp = await get(compat.port, "TestOdoo.Seisei.Tokyo.:8080", "/web/x")
    assert resp.seen("Host") == [NAMED]
    assert resp.seen("X-Forwarded-Host") == [NAMED]
    assert resp.seen("X-Odoo-dbfilter") == ["ten_testodoo"]


async def test_one_request_id_goes_upstream(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x")
    ids = resp.seen("X-Request-ID")
    assert len(ids) == 1 and ids[0]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ([], "127.0.0.1"),
        ([("X-Forwarded-For", "1.2.3.4")], "1.2.3.4, 127.0.0.1"),
        ([("X-Forwarded-For", "1.2.3.4, 5.6.7.8")], "1.2.3.4, 5.6.7.8, 127.0.0.1"),
        (
            [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "9.9.9.9")],
            "1.2.3.4, 9.9.9.9, 127.0.0.1",
        ),
        ([("x-forwarded-for", "garbage")], "garbage, 127.0.0.1"),
    ],
)
async def test_x_forwarded_for_appends_in_compat(
    compat: RouterProcess, sent: list[tuple[str, str]], expected: str
) -> None:
    resp = await get(compat.port, NAMED, "/web/x", [*sent, ("X-Real-IP", "6.6.6.6")])
    assert resp.seen("X-Forwarded-For") == [expected]
    assert resp.seen("X-Real-IP") == ["127.0.0.1"], "a client's X-Real-IP never passes"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [(None, "http"), ("https", "https"), ("HTTPS", "https"), ("http", "http"), ("ftp", "http")],
)
async def test_x_forwarded_proto_as_real_scheme_in_compat(
    compat: RouterProcess, sent: str | None, expected: str
) -> None:
    extra = [("X-Forwarded-Proto", sent)] if sent else []
    resp = await get(compat.port, NAMED, "/web/x", extra)
    assert resp.seen("X-Forwarded-Proto") == [expected]


async def test_untrusted_peer_cannot_forward_in_production(prod: RouterProcess) -> None:
    extra = [
        ("X-Forwarded-For", "1.2.3.4"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "1.2.3.4"),
    ]
    resp = await get(prod.port, NAMED, "/web/x", extra, source=UNTRUSTED_PEER)
    assert resp.status == 200
    assert resp.seen("X-Forwarded-For") == [UNTRUSTED_PEER]
    assert resp.seen("X-Real-IP") == [UNTRUSTED_PEER]
    assert resp.seen("X-Forwarded-Proto") == ["http"]


async def test_trusted_proxy_forwards_one_client_address_in_production(
    prod: RouterProcess,
) -> None:
    extra = [
        ("X-Forwarded-For", "6.6.6.6, 1.2.3.4"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "9.9.9.9"),
    ]
    resp = await get(prod.port, NAMED, "/web/x", extra, source=TRUSTED_PROXY)
    assert resp.status == 200
    assert resp.seen("X-Forwarded-For") == ["1.2.3.4"], "Odoo trusts one hop: one address"
    assert resp.seen("X-Real-IP") == ["1.2.3.4"]
    assert resp.seen("X-Forwarded-Proto") == ["https"]


async def test_response_hop_by_hop_removed(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x")
    assert resp.status == 200
    assert resp.values("Keep-Alive") == []
    assert resp.values("X-Hop-Named") == [], "named by the upstream's Connection header"
    assert resp.values("Connection") == ["keep-alive"], "the router's own, once"


def _cookies(resp: Response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in resp.values("Set-Cookie")}


async def test_secure_added_to_cookies_compat(compat: RouterProcess) -> None:
    cookies = _cookies(await get(compat.port, NAMED, "/web/login"))
    assert cookies["session_id"] == "session_id=s3cr3t; Path=/; HttpOnly; Secure"
    assert cookies["tz"] == "tz=Asia/Tokyo; Path=/; Secure", "already Secure: not added twice"


async def test_samesite_on_session_cookie_production(prod: RouterProcess) -> None:
    cookies = _cookies(await get(prod.port, NAMED, "/web/login"))
    session = cookies["session_id"]
    assert "; Secure" in session
    assert session.count("SameSite=") == 1 and "SameSite=Lax" in session
    assert "SameSite" not in cookies["tz"], "only the session cookie gets SameSite"
    assert cookies["tz"].count("Secure") == 1


@pytest.mark.parametrize(
    "line",
    [
        b"X-Odoo-dbfilter : .*",
        b"X-Odoo-dbfilter\t: .*",
        b" X-Odoo-dbfilter: .*",
        b"X-Odoo-dbfilter:.*",
        b"X-Odoo-dbfilter:\t.*\t",
        b"X-Odoo-Dbfilter: .*",
        b"X-Odoo-dbfilter: ten_acme\r\nX-Odoo-dbfilter: .*",
    ],
)
async def test_dbfilter_odd_syntax_never_passes(compat: RouterProcess, line: bytes) -> None:
    """Odd spellings are refused (400) or stripped; never forwarded beside the router's."""
    request = (
        b"GET /jsonrpc HTTP/1.1\r\nHost: acme.erp.seisei.tokyo\r\n" + line + b"\r\n"
        b"Connection: close\r\n\r\n"
    )
    got = await raw(compat.port, request)
    body = got.partition(b"\r\n\r\n")[2]
    if got.startswith(b"HTTP/1.1 400 "):
        return
    assert got.startswith(b"HTTP/1.1 200 "), got[:200]
    seen = json.loads(body)["headers"]
    filters = [v for k, v in seen if k.strip().lower().replace("_", "-") == "x-odoo-dbfilter"]
    assert filters == ["ten_acme"]


COOKIES_COMPAT = [
    ("a=1", "a=1; Secure"),
    ("a=1; Secure", "a=1; Secure"),
    ("a=1; secure", "a=1; secure"),
    ("a=1;Secure", "a=1;Secure"),
    ("a=1; Path=/secure", "a=1; Path=/secure; Secure"),
    ("secure=1", "secure=1; Secure"),
    ("a=secure; HttpOnly", "a=secure; HttpOnly; Secure"),
    ("session_id=x; Path=/", "session_id=x; Path=/; Secure"),
]
COOKIES_PROD = [
    ("session_id=x; Path=/", "session_id=x; Path=/; Secure; SameSite=Lax"),
    ("session_id=x; SameSite=None; Secure", "session_id=x; SameSite=None; Secure"),
    ("session_id=x; samesite=strict", "session_id=x; samesite=strict; Secure"),
    ("session_idx=1", "session_idx=1; Secure"),
    ("a=session_id", "a=session_id; Secure"),
]


@pytest.mark.parametrize(("sent", "expected"), COOKIES_COMPAT)
async def test_cookie_flags_compat(compat: RouterProcess, sent: str, expected: str) -> None:
    resp = await get(compat.port, NAMED, "/web/x", [("X-Test-Set-Cookie", sent)])
    assert resp.values("Set-Cookie") == [expected]


@pytest.mark.parametrize(("sent", "expected"), COOKIES_PROD)
async def test_cookie_flags_production(prod: RouterProcess, sent: str, expected: str) -> None:
    resp = await get(prod.port, NAMED, "/web/x", [("X-Test-Set-Cookie", sent)])
    assert resp.values("Set-Cookie") == [expected]


async def test_every_set_cookie_is_rewritten(compat: RouterProcess) -> None:
    sent = [("X-Test-Set-Cookie", f"c{i}={i}") for i in range(5)]
    resp = await get(compat.port, NAMED, "/web/x", sent)
    assert resp.values("Set-Cookie") == [f"c{i}={i}; Secure" for i in range(5)]


async def test_cookies_on_redirects_and_websockets_are_not_invented(compat: RouterProcess) -> None:
    resp = await get(compat.port, TENANT, "/")
    assert resp.status == 302
    assert resp.values("Set-Cookie") == []


async def test_response_headers_nginx_hides(compat: RouterProcess) -> None:
    extra = [
        ("X-Test-Header", "X-Accel-Redirect: /internal/secret"),
        ("X-Test-Header", "X-Accel-Buffering: no"),
        ("X-Test-Header", "X-Accel-Expires: 0"),
        ("X-Test-Header", "X-Pad: avoid browser bug"),
        ("X-Test-Header", "X-Kept: yes"),
        ("X-Test-Header", "Proxy-Authenticate: Basic"),
    ]
    resp = await get(compat.port, NAMED, "/web/x", extra)
    names = {n.lower() for n, _ in resp.headers}
    for hidden in ("x-accel-redirect", "x-accel-buffering", "x-accel-expires", "x-pad"):
        assert hidden not in names, hidden
    assert resp.values("X-Kept") == ["yes"]
    assert resp.values("Server") == ["odoo-router"]


async def test_response_header_order_and_duplicates_kept(compat: RouterProcess) -> None:
    extra = [
        ("X-Test-Header", "Link: <a>; rel=preload"),
        ("X-Test-Header", "Vary: Accept-Encoding"),
        ("X-Test-Header", "Link: <b>; rel=preload"),
    ]
    resp = await get(compat.port, NAMED, "/web/x", extra)
    assert resp.values("Link") == ["<a>; rel=preload", "<b>; rel=preload"]
    assert resp.values("Vary") == ["Accept-Encoding"]


@pytest.mark.parametrize(
    ("profile", "source", "sent", "kept"),
    [
        ("compat", None, "abc-123", False),
        ("prod", UNTRUSTED_PEER, "abc-123", False),
        ("prod", TRUSTED_PROXY, "abc-123", True),
        ("prod", TRUSTED_PROXY, "bad value with spaces", False),
        ("prod", TRUSTED_PROXY, "x" * 300, False),
    ],
)
async def test_request_id(
    request: pytest.FixtureRequest, profile: str, source: str | None, sent: str, kept: bool
) -> None:
    router: RouterProcess = request.getfixturevalue(profile)
    extra = [("X-Request-ID", sent), ("X-Request-ID", "second")]
    resp = await get(router.port, NAMED, "/web/x", extra[:1], source=source)
    ids = resp.seen("X-Request-ID")
    assert len(ids) == 1 and ids[0]
    assert (ids[0] == sent) is kept
    resp = await get(router.port, NAMED, "/web/x", extra, source=source)
    assert len(resp.seen("X-Request-ID")) == 1, "never two request ids upstream"


async def test_hosts_and_forwarding_change_between_requests_on_one_connection(
    compat: RouterProcess,
) -> None:
    """The router remembers the last Host, client view and head prefix per connection: a
    connection whose requests change host (Traefik multiplexes clients) or start sending
    X-Forwarded-For must get each request's own values, and back again."""
    sequence = [
        (TENANT, [], "ten_acme", TENANT),
        (NAMED, [], "ten_testodoo", NAMED),
        (TENANT.upper() + ".", [], "ten_acme", TENANT),  # the same host, spelled otherwise
        (ADMIN, [], None, ADMIN),
        (TENANT, [("X-Forwarded-For", "203.0.113.9")], "ten_acme", TENANT),
        (TENANT, [], "ten_acme", TENANT),
    ]
    conn = await connect(compat.port)
    try:
        for host, extra, dbfilter, forwarded_host in sequence:
            await conn.send(build("GET", "/web/static/x", [("Host", host), *extra]))
            resp = await conn.response()
            assert resp.status == 200, host
            assert resp.seen("X-Odoo-dbfilter") == ([dbfilter] if dbfilter else []), host
            assert resp.seen("X-Forwarded-Host") == [forwarded_host], host
            xff = resp.seen("X-Forwarded-For")
            assert xff == (["203.0.113.9, 127.0.0.1"] if extra else ["127.0.0.1"]), host
    finally:
        await conn.close()
