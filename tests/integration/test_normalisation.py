"""Host and path normalisation at the HTTP level (the table in tests/cases covers the
routing side of each form; these are the forms a routing table cannot express)."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from .client import build, connect, exchange, get, raw
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


async def test_raw_utf8_bytes_in_the_target(compat: RouterProcess) -> None:
    """nginx takes bytes >= 0x80 in the target as they are: forwarded unchanged, and the
    path rules still apply to them."""
    target = "/web/ページ?q=日本".encode()
    request = (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: "
        + NAMED.encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    got = await raw(compat.port, request)
    assert got.startswith(b"HTTP/1.1 200 ")
    seen = json.loads(got.partition(b"\r\n\r\n")[2])["target"]
    assert seen.encode("latin-1") == target
    denied = (
        b"GET /web/database/\xe6\x97\xa5 HTTP/1.1\r\nHost: "
        + NAMED.encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    assert (await raw(compat.port, denied)).startswith(b"HTTP/1.1 403 ")


async def test_trace_is_405(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/web/x", method="TRACE")
    assert resp.status == 405
    assert resp.upstream() is None


UTF8_TARGET = "/web/ページ".encode()
UTF8_HEAD = b" HTTP/1.1\r\nHost: " + NAMED.encode() + b"\r\n\r\n"


async def test_raw_utf8_target_second_in_a_pipeline(compat: RouterProcess) -> None:
    """The raw-byte target is accepted wherever the request line falls (BUGS.md #13 a)."""
    conn = await connect(compat.port)
    try:
        await conn.send(b"GET /web/a" + UTF8_HEAD + b"GET " + UTF8_TARGET + UTF8_HEAD)
        first, second = await conn.response(), await conn.response()
        assert first.status == 200
        assert second.status == 200, "second in a pipeline"
        assert second.json()["target"].encode("latin-1") == UTF8_TARGET
    finally:
        await conn.close()


async def test_raw_utf8_target_cut_across_reads(compat: RouterProcess) -> None:
    """(BUGS.md #13 b)"""
    conn = await connect(compat.port)
    try:
        await conn.send(b"GET " + UTF8_TARGET[:7])  # cut inside the multi-byte character
        await asyncio.sleep(0.1)
        await conn.send(UTF8_TARGET[7:] + UTF8_HEAD)
        resp = await conn.response()
        assert resp.status == 200, "request line cut across two reads"
        assert resp.json()["target"].encode("latin-1") == UTF8_TARGET
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("version", "status"),
    [("HTTP/1.2", 200), ("HTTP/1.9", 200), ("HTTP/0.9", 400), ("HTTP/3.0", 505)],
)
async def test_request_line_versions(compat: RouterProcess, version: str, status: int) -> None:
    resp = await exchange(compat.port, "GET", "/web/x", [("Host", NAMED)], version=version)
    assert resp.status == status
    if status == 200:
        assert resp.json()["version"] == "1.1", "forwarded as HTTP/1.1"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_raw_bytes_in_bodies_are_never_escaped(compat: RouterProcess, chunked: bool) -> None:
    """Bodies full of bytes >= 0x80 and lines that look like request lines, pipelined with
    raw-byte targets: every body arrives byte for byte and every request is answered."""
    body = ("GET /日本 HTTP/1.1\r\nX: ü\r\n\r\n" * 50).encode() + bytes(range(256)) * 20
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n\r\n"
        framed = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    else:
        framing = b"Content-Length: %d\r\n\r\n" % len(body)
        framed = body
    first = "POST /web/ü HTTP/1.1\r\n".encode() + b"Host: " + NAMED.encode() + b"\r\n" + framing
    data = first + framed + b"GET " + UTF8_TARGET + UTF8_HEAD
    conn = await connect(compat.port)
    try:
        await conn.send(data)
        one, two = await conn.response(), await conn.response()
    finally:
        await conn.close()
    assert one.status == 200, one.body[:200]
    assert one.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert one.json()["target"].encode("latin-1") == "/web/ü".encode()
    assert two.status == 200, two.body[:200]
    assert two.json()["target"].encode("latin-1") == UTF8_TARGET
