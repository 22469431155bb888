"""Host and path normalisation at the HTTP level (the table in tests/cases covers the
routing side of each form; these are the forms a routing table cannot express)."""

from __future__ import annotations

import pytest

from .client import build, connect, exchange, get
from .router import RouterProcess

NAMED = "testodoo.seisei.tokyo"


async def test_http10_without_host_goes_to_the_default_host(compat: RouterProcess) -> None:
    resp = await exchange(compat.port, "GET", "/web/x", [], version="HTTP/1.0")
    assert resp.status == 200
    assert resp.upstream() == "tenant"
    assert resp.seen("X-Odoo-dbfilter") == []


async def test_http10_without_host_is_refused_in_production(prod: RouterProcess) -> None:
    resp = await exchange(prod.port, "GET", "/web/x", [], version="HTTP/1.0")
    assert resp.status == 421


async def test_http10_health_without_host(compat: RouterProcess) -> None:
    resp = await exchange(compat.port, "GET", "/nginx-health", [], version="HTTP/1.0")
    assert resp.status == 200
    assert resp.body == b"OK"


async def test_http11_without_host_is_400(compat: RouterProcess) -> None:
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/web/x", []))
        resp = await conn.response()
        assert resp.status == 400
        assert await conn.at_eof()
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "hosts",
    [
        [NAMED, NAMED],
        [NAMED, "acme.erp.seisei.tokyo"],
        [""],
        ["a..b"],
        ["bad/host"],
        ["bad\\host"],
        ["."],
        [":8080"],
    ],
    ids=["duplicate", "two hosts", "empty", "double dot", "slash", "backslash", "dot", "port only"],
)
async def test_bad_host_is_400_and_closes(compat: RouterProcess, hosts: list[str]) -> None:
    conn = await connect(compat.port)
    try:
        await conn.send(build("GET", "/web/x", [("Host", h) for h in hosts]))
        resp = await conn.response()
        assert resp.status == 400
        assert resp.upstream() is None
        assert await conn.at_eof()
    finally:
        await conn.close()


async def test_absolute_form_host_wins_over_host_header(compat: RouterProcess) -> None:
    resp = await get(
        compat.port, "admin.erp.seisei.tokyo", "http://acme.erp.seisei.tokyo/jsonrpc?x=1"
    )
    assert resp.status == 200
    assert resp.seen("Host") == ["acme.erp.seisei.tokyo"]
    assert resp.seen("X-Odoo-dbfilter") == ["ten_acme"]
    assert resp.json()["target"] == "/jsonrpc?x=1", "origin-form goes upstream"


async def test_absolute_form_without_host_header(compat: RouterProcess) -> None:
    target = "http://testodoo.seisei.tokyo/web/x"
    resp = await exchange(compat.port, "GET", target, [], version="HTTP/1.0")
    assert resp.status == 200
    assert resp.seen("Host") == [NAMED]
    # nginx wants the Host header itself on HTTP/1.1, whatever the request line says.
    resp = await exchange(compat.port, "GET", target, [])
    assert resp.status == 400


@pytest.mark.parametrize(
    "target",
    [
        "/web/%64atabase/manager",
        "/web//database/manager",
        "/x/../web/database/manager",
        "/./web/database/manager",
        "/x/%2e%2e/web/database/manager",
        "/web/database%2fmanager",
        "/%77eb/database/manager",
    ],
)
async def test_database_spellings_denied_on_tenant_hosts(
    compat: RouterProcess, target: str
) -> None:
    for host in (NAMED, "acme.erp.seisei.tokyo", "unknown.example.com"):
        resp = await get(compat.port, host, target)
        assert resp.status == 403, (host, target)
        assert resp.body == b"Database management disabled"


@pytest.mark.parametrize(
    "target",
    ["/web/%64atabase/manager?x=%2e%2e", "/a//b/./c/../d?q=1#frag", "/web/x?db=other&a=%20"],
)
async def test_raw_target_forwarded_unchanged(compat: RouterProcess, target: str) -> None:
    resp = await get(compat.port, "admin.erp.seisei.tokyo", target)
    assert resp.status == 200
    assert resp.json()["target"] == target  # fragment included: the request line as sent


@pytest.mark.parametrize("target", ["/../x", "/%2e%2e/x", "/x/../../y", "/web/%zz", "/web/%2"])
async def test_bad_path_is_400(compat: RouterProcess, target: str) -> None:
    resp = await get(compat.port, NAMED, target)
    assert resp.status == 400
    assert resp.upstream() is None
