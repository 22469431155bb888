"""The routing case table (tests/cases/routing_cases.yaml) against the pure decision.

Each row is normalised with odoo_router.uri (as the proxy does), its client address worked
out with headers.client_view (the forwarding rule), then decided with routing.decide: no
sockets, no event loop.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.config import Config, ProxyAction, load_config
from odoo_router.headers import client_view
from odoo_router.routing import Decision, Facts, RoutingTable, compile_table, decide
from odoo_router.uri import BadRequest, normalise_host, normalise_path, split_absolute

REPO = Path(__file__).resolve().parents[2]
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


def _run(row: dict[str, Any]) -> Decision | BadRequest:
    config = _config(row["config"])
    headers = {k.lower(): v for k, v in (row.get("headers") or {}).items()}
    target = row["path"].encode("latin-1")
    host: str = row["host"]
    try:
        if not target.startswith(b"/"):
            host, target = split_absolute(target)
        norm_host = normalise_host(host)
        norm_path, _ = normalise_path(target)
    except BadRequest as exc:
        return exc
    xff = [headers["x-forwarded-for"].encode("latin-1")] if "x-forwarded-for" in headers else []
    xfp = headers.get("x-forwarded-proto")
    view = client_view(
        config.server.forwarded,
        row.get("peer", "127.0.0.1"),
        "http",
        xff,
        xfp.encode("latin-1") if xfp else None,
    )
    facts = Facts(
        row.get("method", "GET"),
        norm_host,
        norm_path,
        view.client_ip,
        headers.get("authorization"),
        "upgrade" in headers,
    )
    return decide(_table(row["config"]), facts)


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


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['config']}:{r['desc']}" for r in ROWS])
def test_routing_case(row: dict[str, Any]) -> None:
    exp = row["expected"]
    got = _run(row)
    if exp["action"] == "error":
        assert isinstance(got, BadRequest), f"expected a {exp['status']} before routing, got {got}"
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
    from odoo_router.explain import explain

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
