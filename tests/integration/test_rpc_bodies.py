"""RPC calls that carry files, through the real router (issue 14): an ``ir.attachment`` create
with megabytes of base64 reaches Odoo (the recording upstream) whole, the same call naming
another tenant's database is refused in the protocol's own shape, and nothing of a refused
or unfinished call reaches the upstream: the router reads and inspects the whole body before
it forwards (rpc_guard.py says why), however slowly the body comes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import xmlrpc.client

import pytest

from .client import Response, build, connect, exchange, new_tag
from .router import RouterProcess
from .upstreams import Journal

TENANT = "acme.erp.seisei.tokyo"  # ten_acme in the production profile
MIB = 1024 * 1024


def _datas(size: int) -> str:
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


def _json_create(db: str, datas: str) -> bytes:
    call = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 41,
        "params": {
            "service": "object",
            "method": "execute_kw",
            "args": [db, 2, "pw", "ir.attachment", "create", [{"name": "a.pdf", "datas": datas}]],
        },
    }
    return json.dumps(call).encode()


def _xml_create(db: str, datas: str) -> bytes:
    params = (db, 2, "pw", "ir.attachment", "create", [{"name": "a.pdf", "datas": datas}])
    return xmlrpc.client.dumps(params, "execute_kw").encode()


async def _post(port: int, path: str, body: bytes, ctype: str, tag: str) -> Response:
    headers = [("Host", TENANT), ("Content-Type", ctype), ("X-Test-Tag", tag)]
    return await exchange(port, "POST", path, headers, body, timeout=60.0)


def _forwarded(resp: Response, body: bytes) -> None:
    assert resp.status == 200, (resp.status, resp.body[:300])
    assert resp.upstream() == "tenant"
    assert resp.json()["body_length"] == len(body)
    assert resp.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def _never_upstream(journal: Journal, tag: str) -> None:
    assert tag not in journal.heads and not journal.by_tag(tag)


@pytest.mark.parametrize("size", [2 * MIB, 45 * MIB], ids=["2MiB", "45MiB"])
async def test_jsonrpc_attachment_reaches_odoo(
    prod: RouterProcess, journal: Journal, size: int
) -> None:
    body = _json_create("ten_acme", _datas(size))
    _forwarded(await _post(prod.port, "/jsonrpc", body, "application/json", new_tag()), body)


@pytest.mark.parametrize("size", [2 * MIB, 45 * MIB], ids=["2MiB", "45MiB"])
async def test_jsonrpc_attachment_for_another_tenant_is_refused(
    prod: RouterProcess, journal: Journal, size: int
) -> None:
    tag = new_tag()
    body = _json_create("ten_other", _datas(size))
    resp = await _post(prod.port, "/jsonrpc", body, "application/json", tag)
    assert resp.status == 403, (resp.status, resp.body[:300])
    doc = resp.json()
    assert doc["jsonrpc"] == "2.0" and doc["id"] == 41
    assert doc["error"]["code"] == 403
    assert "one database only" in doc["error"]["data"]["message"]
    _never_upstream(journal, tag)


@pytest.mark.parametrize("size", [2 * MIB, 45 * MIB], ids=["2MiB", "45MiB"])
async def test_xmlrpc_attachment_reaches_odoo(
    prod: RouterProcess, journal: Journal, size: int
) -> None:
    body = _xml_create("ten_acme", _datas(size))
    _forwarded(await _post(prod.port, "/xmlrpc/2/object", body, "text/xml", new_tag()), body)


@pytest.mark.parametrize("size", [2 * MIB, 45 * MIB], ids=["2MiB", "45MiB"])
async def test_xmlrpc_attachment_for_another_tenant_is_refused(
    prod: RouterProcess, journal: Journal, size: int
) -> None:
    tag = new_tag()
    body = _xml_create("ten_other", _datas(size))
    resp = await _post(prod.port, "/xmlrpc/2/object", body, "text/xml", tag)
    assert resp.status == 403, (resp.status, resp.body[:300])
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(resp.body.decode())
    assert fault.value.faultCode == 403
    _never_upstream(journal, tag)


def _head(path: str, ctype: str, length: int, tag: str) -> bytes:
    headers = [
        ("Host", TENANT),
        ("Content-Type", ctype),
        ("Content-Length", str(length)),
        ("X-Test-Tag", tag),
    ]
    return build("POST", path, headers, b"", length=False)


async def _trickle(port: int, head: bytes, body: bytes, pieces: int, pause: float) -> Response:
    """The head, then the body in ``pieces`` writes ``pause`` seconds apart."""
    conn = await connect(port)
    try:
        await conn.send(head)
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            await asyncio.sleep(pause)
            await conn.send(body[start : start + step])
        return await conn.response("POST", 30.0)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("path", "ctype", "make"),
    [("/jsonrpc", "application/json", _json_create), ("/xmlrpc/2/object", "text/xml", _xml_create)],
    ids=["jsonrpc", "xmlrpc"],
)
async def test_slow_body_is_inspected_then_forwarded_whole(
    prod: RouterProcess, journal: Journal, path: str, ctype: str, make: object
) -> None:
    assert callable(make)
    body: bytes = make("ten_acme", _datas(3 * MIB))
    tag = new_tag()
    resp = await _trickle(prod.port, _head(path, ctype, len(body), tag), body, 12, 0.05)
    _forwarded(resp, body)
    assert len(journal.by_tag(tag)) == 1


@pytest.mark.parametrize(
    ("path", "ctype", "make"),
    [("/jsonrpc", "application/json", _json_create), ("/xmlrpc/2/object", "text/xml", _xml_create)],
    ids=["jsonrpc", "xmlrpc"],
)
async def test_slow_refused_body_never_reaches_the_upstream(
    prod: RouterProcess, journal: Journal, path: str, ctype: str, make: object
) -> None:
    """The database (refused) is in the first piece; the router still reads to the end, as
    the verdict may hang on the last byte, and the upstream never sees a byte of it."""
    assert callable(make)
    body: bytes = make("ten_other", _datas(3 * MIB))
    tag = new_tag()
    resp = await _trickle(prod.port, _head(path, ctype, len(body), tag), body, 12, 0.05)
    assert resp.status == 403
    await asyncio.sleep(0.2)
    _never_upstream(journal, tag)


async def test_unfinished_body_never_reaches_the_upstream(
    prod: RouterProcess, journal: Journal
) -> None:
    """The client stops half way and goes: the upstream is never contacted."""
    body = _json_create("ten_acme", _datas(2 * MIB))
    tag = new_tag()
    conn = await connect(prod.port)
    await conn.send(_head("/jsonrpc", "application/json", len(body), tag))
    await conn.send(body[: len(body) // 2])
    await asyncio.sleep(0.3)
    await conn.close()
    await asyncio.sleep(0.3)
    _never_upstream(journal, tag)


async def test_body_over_client_max_body_size_is_413_before_the_upstream(
    prod: RouterProcess, journal: Journal
) -> None:
    tag = new_tag()
    conn = await connect(prod.port)
    try:
        await conn.send(_head("/jsonrpc", "application/json", 51 * MIB, tag))
        resp = await conn.response("POST")
    finally:
        await conn.close()
    assert resp.status == 413
    _never_upstream(journal, tag)


async def test_gzip_bomb_is_413_and_never_forwarded(prod: RouterProcess, journal: Journal) -> None:
    import gzip

    bomb = gzip.compress(b'{"params": {"x": "' + b"a" * (60 * MIB) + b'"}}', 9)
    tag = new_tag()
    headers = [
        ("Host", TENANT),
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
        ("X-Test-Tag", tag),
    ]
    resp = await exchange(prod.port, "POST", "/jsonrpc", headers, bomb, timeout=30.0)
    assert resp.status == 413
    assert resp.json()["error"]["code"] == 413
    _never_upstream(journal, tag)
