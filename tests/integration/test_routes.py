"""Every row of tests/cases/routing_cases.yaml replayed through a real router.

The pure test (tests/unit/routing/test_routing_cases.py) checks the decision; this one checks what
the client and the upstream actually get: the status, the pool that answered, the Location,
the X-Odoo-dbfilter the upstream saw (none at all where the row says null), the Host it
saw and the raw request target forwarded unchanged. Rows with a non-loopback ``peer`` are
left to the pure test (test_security.py covers access control over loopback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.routing.uri import normalise_host, split_absolute

from .client import exchange, new_tag
from .router import RouterProcess

CASES = Path(__file__).resolve().parents[1] / "cases" / "routing_cases.yaml"
ROWS: list[dict[str, Any]] = [
    r
    for r in yaml.safe_load(CASES.read_text(encoding="utf-8"))
    if r.get("peer", "127.0.0.1") == "127.0.0.1"
]


@pytest.fixture
def router(request: pytest.FixtureRequest, row: dict[str, Any]) -> RouterProcess:
    name = "compat" if row["config"] == "compat" else "prod"
    fixture: RouterProcess = request.getfixturevalue(name)
    return fixture


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['config']}:{r['desc']}" for r in ROWS])
async def test_route_through_the_proxy(row: dict[str, Any], router: RouterProcess) -> None:
    exp = row["expected"]
    method = row.get("method", "GET")
    tag = new_tag()
    headers = [("Host", row["host"]), ("X-Test-Tag", tag)]
    headers += list((row.get("headers") or {}).items())
    body = b""
    if "body" in row:
        body = row["body"].encode()
        headers.append(("Content-Type", row["content_type"]))
    resp = await exchange(router.port, method, row["path"], headers, body)
    assert resp.status == exp["status"], (resp.status, resp.body[:300])
    if exp["action"] == "redirect":
        assert resp.header("Location") == exp["location"]
    if exp["action"] != "proxy":
        assert resp.upstream() is None, "a local answer never reaches an upstream"
        return
    assert resp.upstream() == exp["pool"]
    if method == "HEAD":
        assert resp.body == b""
        return
    seen = resp.json()
    assert seen["upstream"] == exp["pool"]
    assert resp.seen("X-Odoo-dbfilter") == ([exp["dbfilter"]] if exp["dbfilter"] else [])
    target = row["path"].encode("latin-1")
    host = row["host"]
    if not target.startswith(b"/"):
        host, target = split_absolute(target)
    assert seen["target"] == target.decode("latin-1"), "the raw target goes upstream unchanged"
    assert resp.seen("Host") == [normalise_host(host)]
    assert resp.seen("X-Forwarded-Host") == [normalise_host(host)]
    assert seen["body_length"] == len(body)
