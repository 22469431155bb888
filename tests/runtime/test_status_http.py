"""Which requests to the metrics listener get the status page: every path form, and headers
a client controls that must not change the answer or appear in it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_router.ops.metrics import Stats, write_snapshot
from odoo_router.ops.metrics_http import MetricsServer, start_metrics_server
from odoo_router.ops.metrics_merge import reset_directory
from odoo_router.ops.status_model import MasterInfo

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
HTML = "text/html; charset=utf-8"
JSON = "application/json"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MetricsServer]:
    directory = str(tmp_path / "metrics")
    reset_directory(directory)
    stats = Stats()
    stats.request_done("h", "r", "tenant", 200, 0.01, 0.005, 1, 2)
    stats.set_pool("tenant", 1, 0)
    stats.set_health({"tenant": [("odoo:8069", 0.0)]}, 0.0, 0.0)
    write_snapshot(stats, directory, 1)
    srv = start_metrics_server("127.0.0.1", 0, directory, MasterInfo("compiled", "test"))
    try:
        yield srv
    finally:
        srv.stop()


def raw(srv: MetricsServer, head: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """Send ``head`` as it is; the status line, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    status, *lines = top.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def content_type(srv: MetricsServer, target: str, method: str = "GET") -> str:
    status, headers, _ = raw(srv, f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == b"HTTP/1.1 200 OK", status
    return headers["content-type"]


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("/status", HTML),
        ("/status?refresh=1", HTML),
        ("/status?", HTML),
        ("/status.json", JSON),
        ("/status.json?x=<script>", JSON),
        # Everything else stays the Prometheus text it always was (any path): no
        # normalisation, so a form that is not exactly the page's path is not the page.
        ("/status/", PROMETHEUS),
        ("/STATUS", PROMETHEUS),
        ("//status", PROMETHEUS),
        ("/./status", PROMETHEUS),
        ("/status%2Ejson", PROMETHEUS),
        ("/%73tatus", PROMETHEUS),
        ("/status.json/", PROMETHEUS),
        ("/status.jsonx", PROMETHEUS),
        ("/status#frag", PROMETHEUS),
        ("/status;x", PROMETHEUS),
        ("status", PROMETHEUS),
        ("http://127.0.0.1/status", PROMETHEUS),
        ("*", PROMETHEUS),
        ("/metrics", PROMETHEUS),
        ("/", PROMETHEUS),
    ],
)
def test_path_forms(server: MetricsServer, target: str, kind: str) -> None:
    assert content_type(server, target) == kind


def test_head_of_the_page_has_its_length(server: MetricsServer) -> None:
    _, got, body = raw(server, b"GET /status.json HTTP/1.1\r\nHost: x\r\n\r\n")
    _, head, empty = raw(server, b"HEAD /status.json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert empty == b""
    assert abs(int(head["content-length"]) - len(body)) < 50  # uptime's digits may differ
    assert int(got["content-length"]) == len(body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_are_405(server: MetricsServer, method: str) -> None:
    status, headers, _ = raw(server, f"{method} /status HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status.startswith(b"HTTP/1.1 405") and headers["allow"] == "GET, HEAD"


def test_a_request_line_without_a_target_is_refused(server: MetricsServer) -> None:
    status, _, _ = raw(server, b"GET\r\n\r\n")  # no method that the listener knows
    assert status.startswith(b"HTTP/1.1 405")
    status, headers, _ = raw(server, b"GET \r\n\r\n")  # an empty target: not the page
    assert status == b"HTTP/1.1 200 OK" and headers["content-type"] == PROMETHEUS


@pytest.mark.parametrize(
    "header",
    [
        "Host: <script>alert(1)</script>",
        "X-Forwarded-For: <img src=x onerror=alert(1)>",
        "X-Forwarded-Host: evil.example",
        "Referer: javascript:alert(1)",
        "Accept: application/json",
        "Cookie: session_id=<b>",
        'User-Agent: "><svg onload=alert(1)>',
    ],
)
def test_client_headers_change_nothing_and_are_not_echoed(
    server: MetricsServer, header: str
) -> None:
    for target, kind in (("/status", HTML), ("/status.json", JSON)):
        status, headers, body = raw(server, f"GET {target} HTTP/1.1\r\n{header}\r\n\r\n".encode())
        assert status == b"HTTP/1.1 200 OK" and headers["content-type"] == kind
        value = header.partition(": ")[2].encode()
        assert value not in body
    doc = json.loads(raw(server, f"GET /status.json HTTP/1.1\r\n{header}\r\n\r\n".encode())[2])
    assert doc["pools"][0]["servers"][0]["server"] == "odoo:8069"


def test_page_security_headers(server: MetricsServer) -> None:
    _, headers, _ = raw(server, b"GET /status HTTP/1.1\r\n\r\n")
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    _, headers, _ = raw(server, b"GET /status.json HTTP/1.1\r\n\r\n")
    assert headers["x-content-type-options"] == "nosniff"


def test_a_listener_without_master_info_still_serves_the_page(tmp_path: Path) -> None:
    srv = start_metrics_server("127.0.0.1", 0, str(tmp_path))
    try:
        _, _, body = raw(srv, b"GET /status.json HTTP/1.1\r\n\r\n")
        doc = json.loads(body)
        assert doc["router"]["build"] == "unknown" and doc["pools"] == []
    finally:
        srv.stop()
