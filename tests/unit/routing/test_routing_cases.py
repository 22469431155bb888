"""The routing case table (tests/cases/routing_cases.yaml) against the production filter.

Each row becomes the request head framing would hand over (its Host, target, method and
headers) and goes through request_filter.request_filter, the data path's own phase 1:
normalisation, the forwarding rule, refusals before routing and routing.decide. No
sockets, no event loop. The worker's memo of decisions must agree with the table.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.configuration.validate import Config, ProxyAction, load_config
from odoo_router.routing.memo import RouteMemo
from odoo_router.routing.request_filter import (
    FilterSettings,
    Peer,
    Refusal,
    RequestHead,
    request_filter,
)
from odoo_router.routing.table import Decision, RoutingTable, compile_table

REPO = Path(__file__).resolve().parents[3]
CASES = REPO / "tests" / "cases" / "routing_cases.yaml"
CONFIGS = {
    "compat": REPO / "config" / "nginx-compat.yaml",
    "production": REPO / "config" / "router.yaml",
}
ACTIONS = {"proxy", "redirect", "respond", "refuse", "error"}


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    return rows


@cache
def _config(name: str) -> Config:
    return load_config(str(CONFIGS[name]))


@cache
def _table(name: str) -> RoutingTable:
    return compile_table(_config(name))


@cache
def _memo(name: str) -> RouteMemo:
    return RouteMemo(_table(name))


def _head(row: dict[str, Any]) -> RequestHead:
    head = RequestHead(0.0)
    head.method = row.get("method", "GET")
    head.url = row["path"].encode("latin-1")
    head.headers = [b"Host", row["host"].encode("latin-1")]
    for name, value in (row.get("headers") or {}).items():
        head.headers += (name.encode("latin-1"), value.encode("latin-1"))
    head.keep_alive = True
    return head


def _run(row: dict[str, Any], memo: bool = False) -> Decision | Refusal:
    name = row["config"]
    result = request_filter(
        _head(row),
        Peer(row.get("peer", "127.0.0.1")),
        FilterSettings(_config(name).server),
        _table(name),
        _memo(name) if memo else None,
    )
    return result if isinstance(result, Refusal) else result.decision


ROWS = _rows()


def test_table_is_well_formed() -> None:
    assert len(ROWS) >= 150
    descs = [(r["config"], r["desc"]) for r in ROWS]
    assert len(descs) == len(set(descs)), "each desc is unique within its config"
    for row in ROWS:
        assert row["config"] in CONFIGS, row
        assert row["expected"]["action"] in ACTIONS, row


def test_every_route_on_every_host_class_is_covered() -> None:
    for name in CONFIGS:
        rows = [r["expected"] for r in ROWS if r["config"] == name]
        seen = {(e["host_rule"], e["route"]) for e in rows}
        for rule in _config(name).hosts:
            for route in rule.routes:
                assert (rule.name, route.name) in seen, f"{name}: {rule.name}/{route.name}"


@pytest.mark.parametrize("memo", [False, True], ids=["table", "memo"])
@pytest.mark.parametrize("row", ROWS, ids=[f"{r['config']}:{r['desc']}" for r in ROWS])
def test_routing_case(row: dict[str, Any], memo: bool) -> None:
    exp = row["expected"]
    got = _run(row, memo)
    if exp["action"] == "error":
        assert isinstance(got, Refusal), f"expected a {exp['status']} before routing, got {got}"
        assert got.status == exp["status"]
        return
    assert isinstance(got, Decision), f"refused before routing: {got}"
    assert got.host_rule == exp["host_rule"]
    assert got.route == exp["route"]
    assert got.dbfilter == exp.get("dbfilter")
    if exp["action"] == "proxy":
        assert got.local is None
        assert isinstance(got.proxy, ProxyAction)
        assert got.proxy.pool == exp["pool"]
        return
    assert got.local is not None, f"expected a local answer, got a proxy to {got.proxy}"
    assert got.local.status == exp["status"]
    location = dict(got.local.headers).get("Location")
    assert location == exp.get("location")


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['config']}:{r['desc']}" for r in ROWS])
def test_explain_agrees_with_the_table(row: dict[str, Any]) -> None:
    """``odoo-router explain`` prints the same decision the table expects."""
    from odoo_router.routing.explain import explain

    exp = row["expected"]
    headers = [f"{k}: {v}" for k, v in (row.get("headers") or {}).items()]
    out = explain(
        _config(row["config"]),
        row["host"],
        row["path"],
        row.get("method", "GET"),
        headers,
        row.get("peer", "127.0.0.1"),
    )
    if exp["action"] == "error":
        assert out.startswith(f"answer: {exp['status']}"), out
        return
    assert f"(rule {exp['host_rule']}," in out, out
    assert f"route:       {exp['route']}" in out, out
    if exp["action"] == "proxy":
        assert f"action:      proxy to pool {exp['pool']} (" in out, out
    else:
        assert f"action:      answer {exp['status']}" in out, out
    if exp.get("location"):
        assert f"Location: {exp['location']}" in out, out
    if exp["dbfilter"]:
        assert f"X-Odoo-dbfilter: {exp['dbfilter']}" in out, out
    else:
        assert "X-Odoo-dbfilter: (none sent" in out, out
