"""A real router for the status page's tests: two workers, the metrics listener on, and a
pool of two servers of which one refuses connections, so that passive health marks it
failed in the workers that try it (``HALF_DEAD``)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

from harness.processes import free_port
from integration.router import RouterProcess, closed_port, compat_config, start_router
from integration.upstreams import Farm
from runtime.support import fetch

HALF_DEAD = "halfdead.test"
HALF_DEAD_POOL = "halfdead"


def start_status_router(farm: Farm, workers: int = 2) -> tuple[RouterProcess, int, str]:
    """The router, its metrics port, and the ``host:port`` of the server that refuses."""
    port, metrics = free_port(), free_port()
    config = compat_config(port, farm.ports)
    config["server"]["workers"] = workers
    config["metrics"] = {"listen": f"127.0.0.1:{metrics}"}
    dead = f"127.0.0.1:{closed_port()}"
    config["pools"][HALF_DEAD_POOL] = {
        "servers": [f"127.0.0.1:{farm.ports['tenant']}", dead],
        "max_fails": 1,
        "fail_timeout": "60s",
        "keepalive": 0,  # every request connects: round robin reaches the dead server
        "connect_timeout": "2s",
    }
    hosts: list[dict[str, Any]] = config["hosts"]
    hosts.insert(
        0,
        {
            "name": "test_halfdead",
            "exact": [HALF_DEAD],
            "dbfilter": "ten_halfdead",
            "routes": [{"name": "all", "prefix": "/", "proxy": {"pool": HALF_DEAD_POOL}}],
        },
    )
    return start_router(config, port), metrics, dead


def status_json(metrics: int) -> dict[str, Any]:
    status, headers, body = fetch(metrics, "/status.json")
    assert status == 200 and headers["content-type"] == "application/json"
    doc: dict[str, Any] = json.loads(body)
    return doc


def hit_half_dead(router: RouterProcess, requests: int = 20) -> None:
    """Requests to the half-dead pool on new connections (each worker gets some)."""
    for n in range(requests):
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        try:
            conn.request("GET", f"/web/x/{n}", headers={"Host": HALF_DEAD})
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()


def wait_failed(
    metrics: int, dead: str, router: RouterProcess, timeout: float = 15.0
) -> dict[str, Any]:
    """/status.json once it shows ``dead`` failed (workers publish once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = status_json(metrics)
        pools = {p["name"]: p for p in doc["pools"]}
        servers = {s["server"]: s for s in pools.get(HALF_DEAD_POOL, {"servers": []})["servers"]}
        if servers.get(dead, {}).get("failed"):
            return doc
        assert time.monotonic() < deadline, f"{dead} never shown failed: {doc['pools']}"
        hit_half_dead(router, 4)
        time.sleep(0.3)
