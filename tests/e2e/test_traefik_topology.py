"""The production topology end to end: real Traefik 3 -> odoo-router on config/router.yaml ->
fake Odoo, every request sent over TLS to Traefik's entry point from a loopback address
(topology.py says which address each allowlist lets in).

What each layer saw is read from its own record: Traefik's access log (the client address,
whether it reached a service), the router's access log (``client_ip``, the route), and the
fake Odoo's journal (the headers and body that arrived).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from integration.client import Response, build, new_tag, websocket_handshake
from integration.upstreams import Record

from .conftest import Edge
from .topology import (
    ALLOWED,
    OUTSIDER,
    PRODUCTION,
    ROUTER_REFUSES,
    TRAEFIK_REFUSES,
    edge_connect,
)
from .wsclient import BINARY, CLOSE, TEXT, client_frame, read_frame

pytestmark = pytest.mark.traefik

TENANT = "acme.erp.seisei.tokyo"
NAMED = "testodoo.seisei.tokyo"
NAMED_OTHER = "demo.nagashiro.top"
ADMIN = "admin.erp.seisei.tokyo"
BIZNEXUS = "https://biznexus.seisei.tokyo"
# A client claiming to be the allowed address (and Traefik's own hop), every way it can.
SPOOF = [
    ("X-Forwarded-For", f"{ALLOWED}, 127.0.0.1"),
    ("X-Real-IP", ALLOWED),
    ("Forwarded", f"for={ALLOWED}"),
]


async def _logged_once(
    read: Callable[[], list[dict[str, Any]]], key: str, target: str, who: str
) -> dict[str, Any]:
    """The one entry of a log whose ``key`` is ``target`` (unique per request); logs are
    written a moment after the answer (the router flushes every 100 ms)."""
    deadline = time.monotonic() + 5
    while True:
        found = [e for e in read() if e.get(key) == target]
        if found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert len(found) == 1, f"{who} logged {len(found)} requests for {target}"
    return found[0]


async def _traefik_entry(edge: Edge, target: str) -> dict[str, Any]:
    return await _logged_once(edge.traefik.access_entries, "RequestPath", target, "Traefik")


async def _router_entry(edge: Edge, target: str) -> dict[str, Any]:
    def read() -> list[dict[str, Any]]:
        return [json.loads(x) for x in edge.router.log().splitlines() if x.startswith("{")]

    return await _logged_once(read, "path", target, "the router")


def _peer(traefik_entry: dict[str, Any]) -> str:
    """The address the client connected to Traefik from."""
    return str(traefik_entry["ClientAddr"]).rsplit(":", 1)[0]


async def _send(
    edge: Edge,
    host: str,
    path: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    body: bytes = b"",
    source: str = ALLOWED,
    entry_point: str = "websecure",
) -> tuple[str, str, Response]:
    """One request through Traefik on a fresh TLS connection: (tag, the unique target sent,
    response); the tag rides in X-Test-Tag (for Odoo's journal) and the query (for logs)."""
    tag = new_tag()
    target = f"{path}?t={tag}"
    conn = await edge_connect(edge.traefik.ports[entry_point], host, source)
    try:
        head = [("Host", host), ("X-Test-Tag", tag), *(headers or [])]
        await conn.send(build(method, target, head, body))
        return tag, target, await conn.response(method, timeout=10)
    finally:
        await conn.close()


def _odoo_saw(edge: Edge, tag: str) -> list[Record]:
    return edge.farm.journal.by_tag(tag)


# -- the client address -----------------------------------------------------------------


@pytest.mark.parametrize("entry_point", ["websecure", "passthrough"])
@pytest.mark.parametrize("spoof", [False, True], ids=["plain", "spoofed"])
async def test_client_address_is_the_one_traefik_saw(
    edge: Edge, entry_point: str, spoof: bool
) -> None:
    """Traefik's hop is the router's only source of the client address, and Odoo gets that
    one address, whatever the client claimed; ``passthrough`` is a Traefik that passes the
    client's X-Forwarded-For on and appends (the router still takes only Traefik's hop)."""
    _, target, resp = await _send(
        edge,
        TENANT,
        "/web/static/x",
        SPOOF if spoof else [],
        source=OUTSIDER,
        entry_point=entry_point,
    )
    assert resp.status == 200 and resp.upstream() == "tenant"
    traefik = await _traefik_entry(edge, target)
    assert _peer(traefik) == OUTSIDER
    # The passthrough Traefik believes the claim itself (its log shows it): the router not.
    believed = f"{ALLOWED}, 127.0.0.1" if spoof and entry_point == "passthrough" else OUTSIDER
    assert traefik["ClientHost"] == believed
    assert (await _router_entry(edge, target))["client_ip"] == OUTSIDER
    assert resp.seen("X-Forwarded-For") == [OUTSIDER]
    assert resp.seen("X-Real-IP") == [OUTSIDER]
    assert resp.seen("X-Forwarded-Proto") == ["https"]  # TLS ended at Traefik
    assert resp.seen("X-Forwarded-Host") == [TENANT]
    # Neither proxy touches Forwarded (RFC 7239) and Odoo 18 does not read it (Werkzeug's
    # ProxyFix reads X-Forwarded-* only): it arrives as the client sent it, and decides nothing.
    assert resp.seen("Forwarded") == ([f"for={ALLOWED}"] if spoof else [])


# -- the admin allowlists -----------------------------------------------------------------

# source -> who answers: "odoo" (let in by both), "traefik" or "router" (refused there)
ADMIN_CASES = [
    (ALLOWED, "odoo"),
    (TRAEFIK_REFUSES, "traefik"),
    (ROUTER_REFUSES, "router"),
    (OUTSIDER, "traefik"),
]


@pytest.mark.parametrize("entry_point", ["websecure", "passthrough"])
@pytest.mark.parametrize("spoof", [False, True], ids=["plain", "spoofed"])
@pytest.mark.parametrize(("source", "answers"), ADMIN_CASES)
async def test_admin_allowlists(
    edge: Edge, source: str, answers: str, spoof: bool, entry_point: str
) -> None:
    """Traefik's ipAllowList and the router's ``allow`` each refuse on their own, on the
    address the client connected from; claiming an allowed address changes nothing."""
    tag, target, resp = await _send(
        edge, ADMIN, "/web", SPOOF if spoof else [], source=source, entry_point=entry_point
    )
    traefik = await _traefik_entry(edge, target)
    assert _peer(traefik) == source
    reached = _odoo_saw(edge, tag)
    if answers == "odoo":
        assert resp.status == 200 and resp.upstream() == "admin"
        assert [r.values("X-Forwarded-For") for r in reached] == [[ALLOWED]]
        return
    assert resp.status == 403 and reached == []
    if answers == "traefik":
        assert traefik["OriginStatus"] == 0, "Traefik refused it before any service"
        assert resp.header("Server") != "odoo-router"
    else:
        assert resp.header("Server") == "odoo-router"
        line = await _router_entry(edge, target)
        assert (line["client_ip"], line["status"], line["host_rule"]) == (source, 403, "admin")


# -- the dbfilter ----------------------------------------------------------------------

# Every client spelling of the header; Werkzeug reads X_Odoo_dbfilter as X-Odoo-dbfilter.
FORGED_DBFILTER = [
    ("X-Odoo-dbfilter", "^ten_other$"),
    ("x-odoo-DBFILTER", ".*"),
    ("X_Odoo_dbfilter", ".*"),
]


RPC_CALL = {
    "jsonrpc": "2.0",
    "method": "call",
    "params": {
        "service": "object",
        "method": "execute_kw",
        "args": ["ten_acme", 2, "secret", "res.partner", "search", [[]]],
    },
}


@pytest.mark.parametrize(
    ("host", "method", "path", "dbfilter"),
    [
        (TENANT, "GET", "/web/static/x", "^ten_acme$"),
        (TENANT, "POST", "/jsonrpc", "^ten_acme$"),  # through the RPC firewall
        (NAMED, "GET", "/web", "^ten_testodoo$"),
        (NAMED_OTHER, "GET", "/web", "^ten_testodoo$"),
        (ADMIN, "GET", "/web", None),
    ],
)
async def test_dbfilter_is_the_routers_only(
    edge: Edge, host: str, method: str, path: str, dbfilter: str | None
) -> None:
    body = json.dumps(RPC_CALL).encode() if method == "POST" else b""
    headers = [*FORGED_DBFILTER, ("Content-Type", "application/json")]
    tag, _, resp = await _send(edge, host, path, headers, method=method, body=body)
    assert resp.status == 200, resp.body[:300]
    [record] = _odoo_saw(edge, tag)
    spelled = [v for k, v in record.headers if k.lower().replace("_", "-") == "x-odoo-dbfilter"]
    assert spelled == ([dbfilter] if dbfilter else [])


# -- a websocket -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "pool", "dbfilter"),
    [(TENANT, "tenant_lp", "^ten_acme$"), (ADMIN, "admin_lp", None)],
)
async def test_websocket_through_both_proxies(
    edge: Edge, host: str, pool: str, dbfilter: str | None
) -> None:
    tag = new_tag()
    conn = await edge_connect(edge.port, host, ALLOWED)
    try:
        headers = [*websocket_handshake(host), ("X-Test-Tag", tag), ("Origin", f"https://{host}")]
        await conn.send(build("GET", "/websocket?version=18.0-3", headers))
        resp = await conn.response()
        assert resp.status == 101 and resp.header("Upgrade") == "websocket"
        await conn.send(client_frame(TEXT, b"hello"))  # client -> Odoo, and Odoo's answer back
        assert await read_frame(conn) == (TEXT, f"{pool}:hello".encode())
        await conn.send(client_frame(BINARY, b"\x00\xff" * 5000))
        assert await read_frame(conn) == (BINARY, b"\x00\xff" * 5000)
        await conn.send(client_frame(CLOSE, struct.pack("!H", 1000)))
        assert await read_frame(conn) == (CLOSE, struct.pack("!H", 1000))
        assert await conn.at_eof(), "both proxies close the connection after the close frames"
    finally:
        await conn.close()
    record = await edge.farm.journal.record(tag)
    assert record.websocket and record.pool == pool
    assert record.values("X-Odoo-dbfilter") == ([dbfilter] if dbfilter else [])
    assert record.values("X-Forwarded-For") == [ALLOWED]
    # The close went through: Odoo's side of the connection ends too.
    assert await edge.farm.journal.wait_for(lambda: edge.farm.journal.is_closed(record.conn_id))


# -- a 20 MiB upload ---------------------------------------------------------------------


async def test_20_mib_upload_reaches_odoo_whole(edge: Edge) -> None:
    block = hashlib.sha256(b"e2e").digest() * 2048  # 64 KiB, not all one byte
    body = block * 320
    assert len(body) == 20 * 1024 * 1024
    tag, _, resp = await _send(
        edge,
        NAMED,
        "/web/binary/upload_attachment",
        [("Content-Type", "application/octet-stream")],
        method="POST",
        body=body,
    )
    assert resp.status == 200, resp.body[:300]
    [record] = _odoo_saw(edge, tag)
    assert record.body_length == len(body)
    assert record.body_sha256 == hashlib.sha256(body).hexdigest()


# -- cookies -----------------------------------------------------------------------------


def test_the_production_profile_sets_the_cookie_flags() -> None:
    server = yaml.safe_load(PRODUCTION.read_text(encoding="utf-8"))["server"]
    assert (server["secure_cookies"], server["session_cookie_samesite"]) == (True, "Lax")


@pytest.mark.parametrize(
    ("host", "path", "odoo_sets", "client_gets"),
    [
        (
            TENANT,
            "/web/static/x",
            "session_id=abc; Path=/; HttpOnly",
            "session_id=abc; Path=/; HttpOnly; Secure; SameSite=Lax",
        ),
        (
            NAMED,
            "/web",
            "session_id=abc; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Max-Age=604800; Path=/",
            "session_id=abc; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Max-Age=604800; Path=/;"
            " Secure; SameSite=Lax",
        ),
        (
            ADMIN,
            "/web",
            "session_id=abc; Path=/; SameSite=Strict",
            "session_id=abc; Path=/; SameSite=Strict; Secure",
        ),
        (NAMED, "/web", "frontend_lang=en_US; Path=/", "frontend_lang=en_US; Path=/; Secure"),
    ],
)
async def test_cookie_flags(
    edge: Edge, host: str, path: str, odoo_sets: str, client_gets: str
) -> None:
    _, _, resp = await _send(edge, host, path, [("X-Test-Set-Cookie", odoo_sets)])
    assert resp.status == 200
    assert resp.values("Set-Cookie") == [client_gets]


# -- what the router answers itself -------------------------------------------------------


@pytest.mark.parametrize("host", [TENANT, NAMED])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/web/database/manager"),
        ("POST", "/web/database/backup"),
        ("GET", "/fr/web/database/selector"),
        ("GET", "/web//database/manager"),
        ("GET", "/web/%64atabase/manager"),
    ],
)
async def test_database_manager_refused_on_tenant_hosts(
    edge: Edge, host: str, method: str, path: str
) -> None:
    body = b"name=ten_acme" if method == "POST" else b""
    tag, _, resp = await _send(edge, host, path, method=method, body=body)
    assert (resp.status, resp.body) == (403, b"Database management disabled")
    assert _odoo_saw(edge, tag) == []


async def test_database_manager_reaches_the_admin_odoo(edge: Edge) -> None:
    tag, _, resp = await _send(edge, ADMIN, "/web/database/manager")
    assert resp.status == 200 and resp.upstream() == "admin"
    assert len(_odoo_saw(edge, tag)) == 1


@pytest.mark.parametrize(
    ("host", "path", "location"),
    [
        (TENANT, "/web/login", f"{BIZNEXUS}/login"),
        (TENANT, "/", BIZNEXUS),
        (TENANT, "/odoo/action-1", BIZNEXUS),
        (NAMED, "/web/login", None),  # an exact tenant host serves its own login page
    ],
)
async def test_biznexus_redirects(edge: Edge, host: str, path: str, location: str | None) -> None:
    tag, _, resp = await _send(edge, host, path)
    if location is None:
        assert resp.status == 200 and resp.upstream() == "tenant"
        return
    assert (resp.status, resp.header("Location")) == (302, location)
    assert _odoo_saw(edge, tag) == []
