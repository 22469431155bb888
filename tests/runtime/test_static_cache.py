"""The static cache through a real router process: module statics are answered from memory
after the first fetch, per host, with 304s for conditional requests; per-database paths
always reach Odoo (issue 7)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from harness.processes import free_port
from integration.router import RouterProcess, production_config, start_router


class _Static(BaseHTTPRequestHandler):
    hits: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        self.hits.append((self.headers.get("Host", ""), self.path))
        body = f"asset {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=604800")
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def router() -> Iterator[tuple[RouterProcess, list[tuple[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Static)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    ports = {
        name: server.server_address[1] for name in ("tenant", "tenant_lp", "admin", "admin_lp")
    }
    proc = start_router(production_config(port, ports), port)
    try:
        yield proc, _Static.hits
    finally:
        proc.stop()
        server.shutdown()
        server.server_close()


def fetch(port: int, host: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, **headers})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_module_static_is_fetched_once_then_served_from_memory(
    router: tuple[RouterProcess, list[tuple[str, str]]],
) -> None:
    proc, hits = router
    path = "/point_of_sale/static/src/app.css"
    for _ in range(5):
        status, headers, body = fetch(proc.port, "acme.erp.seisei.tokyo", path)
        assert status == 200 and body == f"asset {path}".encode()
    assert hits.count(("acme.erp.seisei.tokyo", path)) == 1
    assert headers["ETag"] == '"v1"' and "Age" in headers


def test_conditional_request_is_answered_304_from_the_cache(
    router: tuple[RouterProcess, list[tuple[str, str]]],
) -> None:
    proc, hits = router
    path = "/web_tour/static/tour.js"
    assert fetch(proc.port, "acme.erp.seisei.tokyo", path)[0] == 200
    status, _, body = fetch(proc.port, "acme.erp.seisei.tokyo", path, **{"If-None-Match": '"v1"'})
    assert (status, body) == (304, b"")
    assert hits.count(("acme.erp.seisei.tokyo", path)) == 1


def test_cache_is_per_host_and_never_for_per_database_paths(
    router: tuple[RouterProcess, list[tuple[str, str]]],
) -> None:
    proc, hits = router
    path = "/mymodule/static/x.js"
    fetch(proc.port, "acme.erp.seisei.tokyo", path)
    fetch(proc.port, "beta.erp.seisei.tokyo", path)
    fetch(proc.port, "beta.erp.seisei.tokyo", path)
    # Odoo serves an unknown /<word>/static/ from the tenant's own attachments: one copy each.
    assert hits.count(("acme.erp.seisei.tokyo", path)) == 1
    assert hits.count(("beta.erp.seisei.tokyo", path)) == 1
    for _ in range(3):
        fetch(proc.port, "acme.erp.seisei.tokyo", "/web/assets/1/web.assets_frontend.min.css")
    assert hits.count(("acme.erp.seisei.tokyo", "/web/assets/1/web.assets_frontend.min.css")) == 3
