"""deploy/grafana/odoo-router.json: a valid Grafana dashboard JSON model (variables, unique
panel ids, a grid without overlaps), every panel issue 16 asks for, and every metric name
and label its PromQL reads present in a real router's ``/metrics`` under traffic."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.processes import free_port
from integration.router import RouterProcess, compat_config, start_router
from integration.upstreams import Farm
from runtime.promql import Parsed, parse, tokens

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "odoo-router.json"
# Grafana's variables, as a query would be sent: the rate interval and "All" tenants.
VARIABLES = {"$__rate_interval": "1m", "$db": ".*"}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    out = []
    for panel in panels():
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            out.append(expr)
    return out


# --------------------------------------------------------------------------- the model


def test_the_model_has_the_dashboard_fields() -> None:
    d = dashboard()
    assert d["uid"] == "odoo-router" and d["title"] == "odoo-router"
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 41
    assert d["id"] is None  # an import gets an id of its own
    assert d["time"] == {"from": "now-3h", "to": "now"}
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert set(variables) == {"datasource", "db"}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    db = variables["db"]
    assert db["type"] == "query" and db["multi"] and db["includeAll"]
    assert db["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert db["definition"] == db["query"]["query"]


def test_panel_ids_are_unique_and_the_grid_has_no_overlap() -> None:
    every = dashboard()["panels"]
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: set[tuple[int, int]] = set()
    for p in every:
        g = p["gridPos"]
        assert set(g) == {"h", "w", "x", "y"} and all(isinstance(v, int) for v in g.values())
        assert g["h"] > 0 and g["w"] > 0 and g["x"] >= 0 and g["y"] >= 0
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_every_query_panel_reads_the_chosen_datasource() -> None:
    for p in panels():
        assert p["type"] == "timeseries" and p["title"] and p["description"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)) and refs, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"]


# title -> (a metric one of its queries reads, the labels that query groups by)
WANTED = {
    "Request rate by route": ("odoo_router_requests_total", {"host_rule", "route"}),
    "4xx / 5xx by route": ("odoo_router_requests_total", {"route", "status_class"}),
    "Request rate by tenant": ("odoo_router_tenant_requests_total", {"db"}),
    "4xx / 5xx by tenant": ("odoo_router_tenant_requests_total", {"db", "status_class"}),
    "Latency by route (p50 / p95 / p99)": (
        "odoo_router_request_duration_seconds_bucket",
        {"le", "route"},
    ),
    "Latency by tenant (p50 / p95 / p99)": (
        "odoo_router_tenant_request_duration_seconds_bucket",
        {"le", "db"},
    ),
    "Upstream errors by pool and cause": ("odoo_router_upstream_errors_total", {"pool", "kind"}),
    "Open connections": ("odoo_router_open_connections", set()),
    "Websockets per tenant": ("odoo_router_tenant_websockets", {"db"}),
    "Reloads": ("odoo_router_reloads_total", {"outcome"}),
}


@pytest.mark.parametrize("title", list(WANTED))
def test_every_panel_asked_for_is_there(title: str) -> None:
    (panel,) = [p for p in panels() if p["title"] == title]
    metric, grouping = WANTED[title]
    reads = [parse(t["expr"].replace("$__rate_interval", "1m")) for t in panel["targets"]]
    assert any(
        metric in {s.metric for s in q.selectors} and grouping <= q.grouping for q in reads
    ), title


def test_the_latency_panels_show_three_quantiles() -> None:
    for title in ("Latency by route (p50 / p95 / p99)", "Latency by tenant (p50 / p95 / p99)"):
        (panel,) = [p for p in panels() if p["title"] == title]
        quantiles = [
            re.match(r"histogram_quantile\(([0-9.]+),", t["expr"]) for t in panel["targets"]
        ]
        assert [float(q.group(1)) for q in quantiles if q] == [0.5, 0.95, 0.99]


def test_tenant_panels_follow_the_db_variable() -> None:
    for p in panels():
        for t in p["targets"]:
            if "odoo_router_tenant_" in t["expr"] and "slots" not in p["title"]:
                assert 'db=~"$db"' in t["expr"], p["title"]


# --------------------------------------------------------------------------- the parser


def test_the_parser_finds_selectors_matchers_and_grouping() -> None:
    q = parse(
        'histogram_quantile(0.95, sum by (le, pool) (rate(a_bucket{x="1", y=~"a|b"}[5m:30s]))) '
        '/ on (pool) group_left (z) b offset 5m + count without (q) ({__name__="c"}) > bool 1'
    )
    assert [(s.metric, s.labels) for s in q.selectors] == [
        ("a_bucket", {"x", "y"}),
        ("b", set()),
        ("c", set()),
    ]
    assert q.grouping == {"le", "pool", "z", "q"}
    assert tokens('x{a="}{,\\""}') == [
        ("ident", "x"),
        ("op", "{"),
        ("ident", "a"),
        ("op", "="),
        ("string", '"}{,\\""'),
        ("op", "}"),
    ]
    assert [s.metric for s in parse("sum(rate(m[1h]))").selectors] == ["m"]  # "h" is none
    assert [s.metric for s in parse("m offset 1h30m").selectors] == ["m"]


# --------------------------------------------------------------------------- a real router


@pytest.fixture
def router(farm: Farm) -> Iterator[RouterProcess]:
    port = free_port()
    config = compat_config(port, farm.ports)
    config["server"]["workers"] = 2
    config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    handle = start_router(config, port)
    try:
        yield handle
    finally:
        handle.stop()


def _traffic(port: int) -> None:
    """Something in every family: tenants, the admin host, an unknown host, a dead pool."""
    for host, n in (
        ("acme.erp.seisei.tokyo", 3),
        ("admin.erp.seisei.tokyo", 2),
        ("nobody.example", 2),
        ("dead.test", 1),
    ):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(n):
                path = "/report/x" if host.endswith("erp.seisei.tokyo") else "/web/x"
                conn.request("GET", path, headers={"Host": host})
                conn.getresponse().read()
        finally:
            conn.close()


def _labels_by_metric(metrics_port: int) -> dict[str, set[str]]:
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def test_every_metric_and_label_the_dashboard_reads_is_served(router: RouterProcess) -> None:
    metrics_port = int(router.config["metrics"]["listen"].rsplit(":", 1)[1])
    deadline = time.monotonic() + 20
    while True:  # until the acme tenant holds its slot and every family has its samples
        _traffic(router.port)
        served = _labels_by_metric(metrics_port)
        if "db" in served.get("odoo_router_tenant_websockets", set()) and {"kind"} <= served.get(
            "odoo_router_upstream_errors_total", set()
        ):
            acme = '{db="ten_acme"}'
            body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=5).read()
            if f"odoo_router_tenant_websockets{acme}".encode() in body:
                break
        assert time.monotonic() < deadline, "the router never served every family"
        time.sleep(0.5)
    os.kill(router.proc.pid, signal.SIGHUP)  # a reload, for odoo_router_reloads_total
    deadline = time.monotonic() + 10
    while "outcome" not in _labels_by_metric(metrics_port).get("odoo_router_reloads_total", set()):
        assert time.monotonic() < deadline, "no reload counted"
        time.sleep(0.2)
    served = _labels_by_metric(metrics_port)

    checked: list[Parsed] = []
    for expr in expressions():
        q = parse(expr)
        assert q.selectors, expr
        reachable: set[str] = set()
        for sel in q.selectors:
            assert sel.metric in served, f"{sel.metric} (in {expr}) is not served"
            assert sel.labels <= served[sel.metric], f"{sel.labels} not on {sel.metric}"
            reachable |= served[sel.metric]
        assert q.grouping <= reachable, f"grouping {q.grouping - reachable} in {expr}"
        checked.append(q)
    variable = next(v for v in dashboard()["templating"]["list"] if v["name"] == "db")
    m = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["definition"])
    assert m is not None and m.group(2) in served[m.group(1)]
    assert len(checked) >= len(WANTED)
