from __future__ import annotations

from .client import get
from .router import RouterProcess


async def test_health(compat: RouterProcess, prod: RouterProcess) -> None:
    for router in (compat, prod):
        resp = await get(router.port, "whatever.example", "/nginx-health")
        assert resp.status == 200
        assert resp.body == b"OK"


async def test_echo(compat: RouterProcess) -> None:
    resp = await get(compat.port, "acme.erp.seisei.tokyo", "/jsonrpc", method="POST", body=b"{}")
    assert resp.status == 200, resp
    assert resp.upstream() == "tenant"
    assert resp.seen("X-Odoo-dbfilter") == ["ten_acme"]
