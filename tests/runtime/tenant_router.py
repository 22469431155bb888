"""A router with two workers and the metrics listener over the recording upstreams, and
the readings of its per-tenant series that the tenant-metrics tests share
(test_tenant_metrics.py, test_tenant_confirm.py)."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable

from harness.processes import free_port
from integration.router import RouterProcess, compat_config, start_router
from integration.upstreams import Farm
from runtime.support import Samples, scrape_metrics

FIXED = {"_admin", "_unknown", "_other"}
REQ = "odoo_router_tenant_requests_total"
WS = "odoo_router_tenant_websockets"
FOLDED = "odoo_router_tenant_labels_folded_total"
ADMIN_HOST = "admin.erp.seisei.tokyo"


def tenant_host(name: str) -> str:
    return f"{name}.erp.seisei.tokyo"  # compat: database ten_<name>, /report/ proxied


class Tenants:
    """A router with two workers and the metrics listener on loopback."""

    def __init__(self, farm: Farm, cap: int | None) -> None:
        port = free_port()
        config = compat_config(port, farm.ports)
        config["server"]["workers"] = 2
        self.metrics_port = free_port()
        config["metrics"] = {"listen": f"127.0.0.1:{self.metrics_port}"}
        if cap is not None:
            config["metrics"]["tenant_labels_max"] = cap
        self.router: RouterProcess = start_router(config, port)
        self.port = port

    def scrape(self) -> Samples:
        return scrape_metrics(self.metrics_port)

    def wait_for(self, check: Callable[[Samples], bool], timeout: float = 20.0) -> Samples:
        """Scrape until ``check`` holds: slots are granted within about 1-3 s."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.scrape()
            if check(samples) or time.monotonic() > deadline:
                return samples
            time.sleep(0.2)

    def load(self, hosts: list[str], per_host: int, path: str = "/report/x", **headers: str) -> int:
        """``per_host`` keep-alive GETs on each host (bounded); the number answered."""
        return self._send(hosts, per_host, "GET", path, None, headers)

    def rpc(self, hosts: list[str], per_host: int) -> int:
        """``per_host`` JSON-RPC ``common.version`` calls on each host: a call that needs no
        database, which Odoo answers 200 on any host (the recording upstream does too)."""
        body = b'{"jsonrpc":"2.0","method":"call","params":{"service":"common",'
        body += b'"method":"version","args":[]},"id":1}'
        kind = {"Content-Type": "application/json"}
        return self._send(hosts, per_host, "POST", "/jsonrpc", body, kind)

    def _send(
        self,
        hosts: list[str],
        per_host: int,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> int:
        done = 0
        for host in hosts:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                for _ in range(per_host):
                    conn.request(method, path, body=body, headers={"Host": host, **headers})
                    conn.getresponse().read()
                    done += 1
            finally:
                conn.close()
        return done


def dbs(samples: Samples) -> dict[str, float]:
    """Requests per db label, all status classes summed."""
    out: dict[str, float] = {}
    for (name, labels), v in samples.items():
        if name == REQ:
            db = dict(labels)["db"]
            out[db] = out.get(db, 0) + v
    return out


def granted(samples: Samples) -> set[str]:
    """The databases holding a slot: each has its series from the grant on."""
    return {dict(labels)["db"] for name, labels in samples if name == WS} - FIXED


def workers_took_the_grant() -> None:
    """The scrape shows a grant as soon as the master wrote tenants.json; each worker reads
    it once a second (housekeeping): until then it still counts the tenant as _other."""
    time.sleep(2.0)


def all_requests(samples: Samples) -> float:
    """Every request, as the per-route family counts them."""
    return sum(v for (name, _), v in samples.items() if name == "odoo_router_requests_total")


def sockets(samples: Samples) -> dict[str, float]:
    return {dict(labels)["db"]: v for (name, labels), v in samples.items() if name == WS and v}


def open_websocket(port: int, host: str) -> socket.socket:
    """A websocket opened on ``host``: the 101 read, the socket left open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"GET /websocket HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        % host.encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "closed before the 101"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock
