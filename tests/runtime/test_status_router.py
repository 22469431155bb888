"""/status and /status.json on a real router (two workers) under traffic: the schema in
docs/ holds, a server that refuses connections shows failed with its "until", reloads (one
accepted, one refused) appear with their outcome and config hash, and the page is HTML with
the same data."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from integration.upstreams import Farm
from odoo_router import __version__
from odoo_router.ops.metrics_tenants import FIXED
from runtime.status_router import (
    HALF_DEAD_POOL,
    hit_half_dead,
    start_status_router,
    status_json,
    wait_failed,
)
from runtime.support import Loop, children, fetch

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text()
)


def wait_for(metrics: int, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = status_json(metrics)
        if check(doc):
            return doc
        assert time.monotonic() < deadline, json.dumps(doc, indent=1)[:3000]
        time.sleep(0.1)


def test_status_json_under_traffic(farm: Farm) -> None:
    router, metrics, dead = start_status_router(farm)
    loops = [Loop(router.port, seconds=8, max_requests=3000) for _ in range(2)]
    try:
        for loop in loops:
            loop.start()
        hit_half_dead(router)
        doc = wait_failed(metrics, dead, router)
        jsonschema.validate(doc, SCHEMA)
        assert doc["router"]["version"] == __version__
        assert doc["router"]["workers"] == {"configured": 2, "running": 2}
        assert doc["router"]["build"] in ("compiled", "pure")
        assert doc["router"]["uptime_seconds"] > 0
        assert abs(doc["generated"] - time.time()) < 5
        pool = next(p for p in doc["pools"] if p["name"] == HALF_DEAD_POOL)
        by_server = {s["server"]: s for s in pool["servers"]}
        assert by_server[dead]["failed"] and by_server[dead]["failed_until"] > time.time() + 30
        assert by_server[dead]["workers_reporting"] == 2
        assert 1 <= by_server[dead]["workers_failed"] <= 2
        live = next(s for name, s in by_server.items() if name != dead)
        assert not live["failed"]
        digest = hashlib.sha256(router.config_path.read_bytes()).hexdigest()[:12]
        assert doc["config"]["hash"] == digest
        # The traffic's tenant: under _other until the master grants its slot (1-3 s).
        assert {r["db"] for r in doc["tenants"]["rows"]} <= {"ten_testodoo", *FIXED}
        assert sum(r["requests"] for r in doc["tenants"]["rows"]) > 0
        assert doc["reloads"]["recent"] == []
        time.sleep(2.1)  # a second sample for the rates
        again = wait_for(
            metrics,
            lambda d: any(r["db"] == "ten_testodoo" for r in d["tenants"]["rows"]),
        )
        jsonschema.validate(again, SCHEMA)
        assert again["tenants"]["rate_interval_seconds"] is not None
        row = next(r for r in again["tenants"]["rows"] if r["db"] == "ten_testodoo")
        assert row["requests"] > 0 and row["request_rate"] > 0 and row["errors"] == 0
    finally:
        for loop in loops:
            loop.join(timeout=15)
        router.stop()
    assert all(loop.ok > 0 and not loop.failures for loop in loops)


def test_reloads_show_outcome_and_hash(farm: Farm) -> None:
    router, metrics, _ = start_status_router(farm, workers=1)
    try:
        first = status_json(metrics)["config"]["hash"]
        router.config["server"]["keepalive_requests"] = 999  # static: "needs a restart"
        router.config_path.write_text(yaml.safe_dump(router.config, sort_keys=False))
        accepted = hashlib.sha256(router.config_path.read_bytes()).hexdigest()[:12]
        os.kill(router.proc.pid, signal.SIGHUP)
        wait_for(metrics, lambda d: len(d["reloads"]["recent"]) == 1)
        router.config_path.write_text("pools: [not, a, mapping\n")
        refused = hashlib.sha256(router.config_path.read_bytes()).hexdigest()[:12]
        os.kill(router.proc.pid, signal.SIGHUP)
        doc = wait_for(metrics, lambda d: len(d["reloads"]["recent"]) == 2)
        jsonschema.validate(doc, SCHEMA)
        newest, older = doc["reloads"]["recent"]
        assert (older["outcome"], older["config_hash"]) == ("ok", accepted)
        assert "server.keepalive_requests need a restart" in older["detail"]
        assert (newest["outcome"], newest["config_hash"]) == ("invalid", refused)
        assert "problem" in newest["detail"]
        assert newest["time"] >= older["time"]
        assert doc["config"]["hash"] == accepted != first  # the refused file does not run
        assert doc["reloads"]["counts"] == {"invalid": 1, "ok": 1}
    finally:
        router.stop()


def test_status_page_is_html_with_the_same_data(farm: Farm) -> None:
    router, metrics, dead = start_status_router(farm)
    try:
        hit_half_dead(router)
        wait_failed(metrics, dead, router)
        status, headers, body = fetch(metrics, "/status")
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        text = body.decode()
        assert '<meta http-equiv="refresh"' in text and "<script" not in text
        assert dead in text and "FAILED" in text
        status, headers, empty = fetch(metrics, "/status", "HEAD")
        assert status == 200 and empty == b"" and int(headers["content-length"]) > 1000
        assert fetch(metrics, "/status", "POST")[0] == 405
        status, headers, prom = fetch(metrics, "/metrics")
        assert headers["content-type"].startswith("text/plain") and b"odoo_router_" in prom
    finally:
        router.stop()


def test_a_dead_workers_health_goes_with_it(farm: Farm) -> None:
    """Health is a gauge: a replaced worker's marks leave with it, and its replacement starts
    with every server in rotation."""
    router, metrics, dead = start_status_router(farm, workers=1)
    try:
        hit_half_dead(router)
        wait_failed(metrics, dead, router)
        (pid,) = children(router.proc.pid)
        os.kill(pid, signal.SIGKILL)

        def replaced(doc: dict[str, Any]) -> bool:
            pools = {p["name"]: p for p in doc["pools"]}
            servers = pools.get(HALF_DEAD_POOL, {"servers": []})["servers"]
            return bool(servers) and not any(s["failed"] for s in servers)

        doc = wait_for(metrics, replaced, timeout=15)
        assert doc["router"]["workers"]["running"] == 1
        assert children(router.proc.pid) != [pid]
    finally:
        router.stop()
