"""The production profile's security switches through a real router (issue 4), with the
compat profile as the control that keeps none of them.

The test production config trusts only 127.0.0.2 as a proxy and allows 127.0.0.1/32 and
10.0.0.0/8 on the admin host (tests/integration/router.py); 127.0.0.3 is an outsider.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import xmlrpc.client
from typing import Any

import aiohttp
import pytest

from .client import Response, exchange, get, websocket_handshake
from .router import TRUSTED_PROXY, UNTRUSTED_PEER, RouterProcess

TENANT = "acme.erp.seisei.tokyo"
NAMED = "testodoo.seisei.tokyo"
ADMIN = "admin.erp.seisei.tokyo"
UNKNOWN = "unknown.example.com"


# --------------------------------------------------------------------------- dbfilter, 421


async def test_anchored_dbfilter(prod: RouterProcess) -> None:
    resp = await get(prod.port, TENANT, "/web/static/x.js")
    assert resp.seen("X-Odoo-dbfilter") == ["^ten_acme$"]
    resp = await get(prod.port, NAMED, "/odoo")
    assert resp.seen("X-Odoo-dbfilter") == ["^ten_testodoo$"]


async def test_compat_sends_the_bare_prefix_filter(compat: RouterProcess) -> None:
    resp = await get(compat.port, TENANT, "/web/static/x.js")
    assert resp.seen("X-Odoo-dbfilter") == ["ten_acme"]


@pytest.mark.parametrize("path", ["/", "/web/login", "/jsonrpc", "/websocket", "/web/database/x"])
async def test_unknown_host_is_421(prod: RouterProcess, path: str) -> None:
    resp = await get(prod.port, UNKNOWN, path)
    assert resp.status == 421
    assert resp.body == b"Unknown host"
    assert resp.upstream() is None


async def test_unknown_host_health_still_answers(prod: RouterProcess) -> None:
    resp = await get(prod.port, UNKNOWN, "/nginx-health")
    assert resp.status == 200


# --------------------------------------------------------------------------- admin allowlist


@pytest.mark.parametrize(
    ("source", "xff", "allowed"),
    [
        ("127.0.0.1", None, True),
        (UNTRUSTED_PEER, None, False),
        (UNTRUSTED_PEER, "10.1.2.3", False),  # spoofed X-Forwarded-For from an outsider
        (TRUSTED_PROXY, "10.1.2.3", True),
        (TRUSTED_PROXY, "8.8.8.8", False),
        (TRUSTED_PROXY, "10.1.2.3, 8.8.8.8", False),
        (TRUSTED_PROXY, None, False),  # the proxy itself is not in the allowlist
    ],
)
@pytest.mark.parametrize("path", ["/web/login", "/web/database/manager", "/jsonrpc", "/qr/x"])
async def test_admin_allowlist(
    prod: RouterProcess, source: str, xff: str | None, allowed: bool, path: str
) -> None:
    extra = [("X-Forwarded-For", xff)] if xff else []
    resp = await get(prod.port, ADMIN, path, extra, source=source)
    if allowed:
        assert resp.status == 200
        assert resp.upstream() == ("tenant" if path.startswith("/qr/") else "admin")
    else:
        assert resp.status == 403
        assert resp.upstream() is None


async def test_admin_websocket_refused_outside_the_allowlist(prod: RouterProcess) -> None:
    headers = websocket_handshake(ADMIN)
    resp = await exchange(prod.port, "GET", "/websocket", headers, source=UNTRUSTED_PEER)
    assert resp.status == 403


async def test_compat_admin_is_public(compat: RouterProcess) -> None:
    resp = await get(compat.port, ADMIN, "/web/database/manager", source=UNTRUSTED_PEER)
    assert resp.status == 200
    assert resp.upstream() == "admin"


# --------------------------------------------------------------------------- lang prefix


LANG_PATHS = [
    "/en/web/database/manager",
    "/fr_BE/web/database/selector",
    "/zh_CN/web/database/backup",
    "/sr@latin/web/database/drop",
    "/sr%40latin/web/database/drop",
    "/%65n/web/database/manager",
    "/en//web/database/manager",
    "/en/./web/database/manager",
    "/en/web/%64atabase/list",
]


@pytest.mark.parametrize("path", LANG_PATHS)
@pytest.mark.parametrize("host", [TENANT, NAMED])
async def test_lang_prefixed_database_denied(prod: RouterProcess, host: str, path: str) -> None:
    for method in ("GET", "POST"):
        resp = await get(
            prod.port, host, path, method=method, body=b"x=1" if method == "POST" else b""
        )
        assert resp.status == 403, (host, path, method)
        assert resp.upstream() is None


@pytest.mark.parametrize("path", LANG_PATHS[:3])
async def test_lang_prefixed_database_on_admin_is_proxied(prod: RouterProcess, path: str) -> None:
    resp = await get(prod.port, ADMIN, path)
    assert resp.status == 200
    assert resp.upstream() == "admin"


async def test_compat_forwards_lang_prefixed_database(compat: RouterProcess) -> None:
    resp = await get(compat.port, NAMED, "/en/web/database/manager")
    assert resp.status == 200, "nginx's ^/web/database/ rule misses it (the hole issue 4 closes)"
    assert resp.upstream() == "tenant"


async def test_module_static_on_tenant_subdomain_goes_to_the_tenant(prod: RouterProcess) -> None:
    resp = await get(prod.port, TENANT, "/website_sale/static/src/img/x.png")
    assert resp.status == 200
    assert resp.upstream() == "tenant"
    assert resp.seen("X-Odoo-dbfilter") == ["^ten_acme$"]


# --------------------------------------------------------------------------- RPC firewall


def _jsonrpc(service: str, method: str, args: list[object]) -> bytes:
    call = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 7,
        "params": {"service": service, "method": method, "args": args},
    }
    return json.dumps(call).encode()


def _xmlrpc(method: str, params: tuple[Any, ...]) -> bytes:
    return xmlrpc.client.dumps(params, methodname=method).encode()


async def _post(
    port: int,
    host: str,
    path: str,
    body: bytes,
    ctype: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> Response:
    headers = [("Host", host), ("Content-Type", ctype), *extra]
    return await exchange(port, "POST", path, headers, body)


def _json_refusal(resp: Response) -> str:
    assert resp.status == 403, (resp.status, resp.body[:300])
    assert resp.upstream() is None
    doc = resp.json()
    assert doc["jsonrpc"] == "2.0" and doc["id"] == 7
    message: str = doc["error"]["data"]["message"]
    return message


def _xml_refusal(resp: Response) -> None:
    assert resp.status == 403, (resp.status, resp.body[:300])
    assert resp.upstream() is None
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(resp.body.decode())
    assert fault.value.faultCode == 403


OTHER_DBS = ["ten_other", "ten_acmex", "ten_acm", "TEN_ACME", "ten_acme ", "ten_testodoo"]


@pytest.mark.parametrize("db", OTHER_DBS)
async def test_jsonrpc_other_tenant_db_refused(prod: RouterProcess, db: str) -> None:
    body = _jsonrpc("object", "execute_kw", [db, 2, "pw", "res.partner", "search", [[]]])
    _json_refusal(await _post(prod.port, TENANT, "/jsonrpc", body, "application/json"))


@pytest.mark.parametrize("db", OTHER_DBS)
async def test_xmlrpc_other_tenant_db_refused(prod: RouterProcess, db: str) -> None:
    body = _xmlrpc("execute_kw", (db, 2, "pw", "res.partner", "search", [[]]))
    _xml_refusal(await _post(prod.port, TENANT, "/xmlrpc/2/object", body, "text/xml"))


async def test_jsonrpc_own_db_forwarded_unchanged(prod: RouterProcess) -> None:
    body = _jsonrpc("object", "execute_kw", ["ten_acme", 2, "pw", "res.partner", "search", [[]]])
    resp = await _post(prod.port, TENANT, "/jsonrpc", body, "application/json")
    assert resp.status == 200
    assert resp.upstream() == "tenant"
    assert resp.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_xmlrpc_own_db_forwarded_unchanged(prod: RouterProcess) -> None:
    body = _xmlrpc("execute_kw", ("ten_testodoo", 2, "pw", "res.partner", "search", [[]]))
    resp = await _post(prod.port, NAMED, "/xmlrpc/2/object", body, "text/xml")
    assert resp.status == 200
    assert resp.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("path", "method", "params"),
    [
        ("/xmlrpc/2/common", "login", ("ten_other", "admin", "pw")),
        ("/xmlrpc/common", "authenticate", ("ten_other", "admin", "pw", {})),
        ("/xmlrpc/2/db", "list", ()),
        ("/xmlrpc/2/db", "drop", ("admin", "ten_acme")),
        ("/xmlrpc/2/db", "dump", ("admin", "ten_acme", "zip")),
    ],
)
async def test_xmlrpc_services_refused(
    prod: RouterProcess, path: str, method: str, params: tuple[object, ...]
) -> None:
    _xml_refusal(await _post(prod.port, TENANT, path, _xmlrpc(method, params), "text/xml"))


async def test_db_server_version_allowed(prod: RouterProcess) -> None:
    resp = await _post(
        prod.port, TENANT, "/jsonrpc", _jsonrpc("db", "server_version", []), "application/json"
    )
    assert resp.status == 200
    assert resp.upstream() == "tenant"


async def test_jsonrpc_db_list_refused(prod: RouterProcess) -> None:
    body = _jsonrpc("db", "list", [])
    _json_refusal(await _post(prod.port, NAMED, "/jsonrpc", body, "application/json"))


async def test_authenticate_other_db_refused(prod: RouterProcess) -> None:
    call = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 7,
        "params": {"db": "ten_other", "login": "a", "password": "b"},
    }
    body = json.dumps(call).encode()
    _json_refusal(
        await _post(prod.port, TENANT, "/web/session/authenticate", body, "application/json")
    )


async def test_gzip_body_naming_another_db_refused(prod: RouterProcess) -> None:
    body = gzip.compress(
        _jsonrpc("object", "execute", ["ten_other", 2, "pw", "res.partner", "read", [1]])
    )
    resp = await _post(
        prod.port, TENANT, "/jsonrpc", body, "application/json", (("Content-Encoding", "gzip"),)
    )
    assert resp.status == 403
    assert resp.upstream() is None


@pytest.mark.parametrize(
    ("body", "ctype", "statuses"),
    [
        (b"[" + _jsonrpc("common", "version", []) + b"]", "application/json", (400,)),
        (b"{not json", "application/json", (400,)),
        (_jsonrpc("common", "version", []), "text/plain", (415,)),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "ten_acme">]>'
            b"<methodCall><methodName>login</methodName><params><param><value>&e;</value>"
            b"</param></params></methodCall>",
            "text/xml",
            (400,),
        ),
    ],
    ids=["batch", "malformed", "content type", "xml entity"],
)
async def test_rpc_bad_bodies(
    prod: RouterProcess, body: bytes, ctype: str, statuses: tuple[int, ...]
) -> None:
    path = "/xmlrpc/2/common" if ctype == "text/xml" else "/jsonrpc"
    resp = await _post(prod.port, TENANT, path, body, ctype)
    assert resp.status in statuses, (resp.status, resp.body[:200])
    assert resp.upstream() is None


async def test_rpc_body_over_one_mib_is_inspected(prod: RouterProcess) -> None:
    """The old 1 MiB cap is gone (issue 14): up to client_max_body_size, the body is read as
    it arrives and the database still decides (test_rpc_bodies.py has the large calls)."""
    pad = "x" * (1024 * 1024)
    body = _jsonrpc("object", "execute_kw", ["ten_acme", 2, pad, "res.partner", "search", [[]]])
    resp = await _post(prod.port, TENANT, "/jsonrpc", body, "application/json")
    assert resp.status == 200 and resp.upstream() == "tenant"
    body = _jsonrpc("object", "execute_kw", ["ten_other", 2, pad, "res.partner", "search", [[]]])
    _json_refusal(await _post(prod.port, TENANT, "/jsonrpc", body, "application/json"))


async def test_rpc_firewall_with_aiohttp_client(prod: RouterProcess) -> None:
    body = _jsonrpc("object", "execute_kw", ["ten_other", 2, "pw", "res.partner", "search", [[]]])
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{prod.port}/jsonrpc",
            data=body,
            headers={"Host": TENANT, "Content-Type": "application/json"},
        ) as resp,
    ):
        assert resp.status == 403
        doc = await resp.json()
        assert "error" in doc


async def test_compat_has_no_rpc_firewall(compat: RouterProcess) -> None:
    body = _jsonrpc("object", "execute_kw", ["ten_other", 2, "pw", "res.partner", "search", [[]]])
    resp = await _post(compat.port, TENANT, "/jsonrpc", body, "application/json")
    assert resp.status == 200, "nginx forwards any db: the hole issue 4 closes"
    assert resp.upstream() == "tenant"


async def test_admin_rpc_is_not_pinned(prod: RouterProcess) -> None:
    body = _jsonrpc("object", "execute_kw", ["ten_other", 2, "pw", "res.partner", "search", [[]]])
    resp = await _post(prod.port, ADMIN, "/jsonrpc", body, "application/json")
    assert resp.status == 200
    assert resp.upstream() == "admin"


@pytest.mark.parametrize(
    "path", ["/en/jsonrpc", "/fr_BE/jsonrpc", "/jsonrpc/", "/%65n/jsonrpc", "/en//jsonrpc"]
)
@pytest.mark.parametrize("host", [TENANT, NAMED])
async def test_rpc_spellings_odoo_serves_are_pinned_too(
    prod: RouterProcess, host: str, path: str
) -> None:
    body = _jsonrpc("object", "execute_kw", ["ten_other", 2, "pw", "res.partner", "search", [[]]])
    _json_refusal(await _post(prod.port, host, path, body, "application/json"))


@pytest.mark.parametrize(
    "path",
    [
        "/web/session/authenticate/",
        "/en/web/session/authenticate",
        "/fr_BE/web/session/authenticate/",
    ],
)
async def test_authenticate_spellings_are_pinned_too(prod: RouterProcess, path: str) -> None:
    params = {"db": "ten_other", "login": "a", "password": "b"}
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 7, "params": params}).encode()
    _json_refusal(await _post(prod.port, NAMED, path, body, "application/json"))


@pytest.mark.parametrize("path", ["/en/xmlrpc/2/object", "/xmlrpc/2/object/", "/de/xmlrpc/object"])
async def test_xmlrpc_spellings_are_pinned_too(prod: RouterProcess, path: str) -> None:
    body = _xmlrpc("execute_kw", ("ten_other", 2, "pw", "res.partner", "search", [[]]))
    _xml_refusal(await _post(prod.port, TENANT, path, body, "text/xml"))


async def test_no_traceback_in_the_production_router_log(prod: RouterProcess) -> None:
    log = prod.log()
    assert "Traceback" not in log
    assert "internal error" not in log
    assert prod.alive()
