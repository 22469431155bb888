"""A real router for the status page's tests: two workers, the metrics listener on, and a
pool of two servers of which one refuses connections, so that passive health marks it
failed in the workers that try it (``HALF_DEAD``)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

from harness.processes import free_port
from integration.router import RouterProcess, closed_port, compat_config, start_router
from integration.upstreams import Farm
from runtime.support import NAMED_TENANT

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


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


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


class Traffic(threading.Thread):
    """Keep-alive GETs on a tenant host until ``stop()`` (or ``seconds``, or ``limit``
    requests): the load the page is looked at under."""

    def __init__(self, port: int, seconds: float = 120.0, limit: int = 50_000) -> None:
        super().__init__(daemon=True)
        self.port, self.seconds, self.limit = port, seconds, limit
        self.ok = 0
        self.failures: list[str] = []
        self._stop_now = threading.Event()

    def stop(self) -> None:
        self._stop_now.set()
        self.join(timeout=15)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self._stop_now.is_set() and time.monotonic() < deadline and n < self.limit:
            n += 1
            try:
                conn.request("GET", f"/web/traffic/{n}", headers={"Host": NAMED_TENANT})
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"status {resp.status}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()
