"""The metrics listener over loopback (metrics_http.py): GET and HEAD on any path, 405 for
the rest, a stalled scraper that cannot hold it, a bounded number of clients, an IPv6
address, and a stop that does not wait for clients."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_router.ops.metrics import Stats, write_snapshot
from odoo_router.ops.metrics_http import MAX_CLIENTS, MetricsServer, start_metrics_server
from odoo_router.ops.metrics_merge import reset_directory
from runtime.support import fetch


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MetricsServer]:
    directory = str(tmp_path / "metrics")
    reset_directory(directory)
    stats = Stats()
    stats.request_done("h", "r", "p", 200, 0.01, 0.005, 1, 2)
    write_snapshot(stats, directory, 1)
    srv = start_metrics_server("127.0.0.1", 0, directory)
    try:
        yield srv
    finally:
        srv.stop()


def request(
    srv: MetricsServer, method: str, path: str = "/metrics"
) -> tuple[int, dict[str, str], bytes]:
    return fetch(srv.port, path, method, timeout=5)


def closed_unanswered(sock: socket.socket) -> bool:
    """The listener closed ``sock`` without a byte of answer (a reset when it left our
    request unread)."""
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def test_get_any_path(server: MetricsServer) -> None:
    for path in ("/metrics", "/", "/anything?x=1"):
        status, headers, body = request(server, "GET", path)
        assert status == 200
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert int(headers["content-length"]) == len(body)
        assert (
            b'odoo_router_requests_total{host_rule="h",pool="p",route="r",status_class="2xx"} 1.0'
            in body
        )


def test_head_has_the_length_and_no_body(server: MetricsServer) -> None:
    _, _, body = request(server, "GET")
    status, headers, empty = request(server, "HEAD")
    assert status == 200 and empty == b""
    assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_405(server: MetricsServer, method: str) -> None:
    status, headers, _ = request(server, method)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_a_stalled_scraper_does_not_hold_the_listener(server: MetricsServer) -> None:
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the end of its head
    try:
        started = time.monotonic()
        assert request(server, "GET")[0] == 200
        assert time.monotonic() - started < 2
    finally:
        stalled.close()


def test_clients_beyond_the_bound_are_closed_unanswered(server: MetricsServer) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(MAX_CLIENTS)]
    try:
        time.sleep(0.2)  # each has its thread, waiting for a head
        extra = socket.create_connection(("127.0.0.1", server.port))
        extra.settimeout(5)
        extra.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert closed_unanswered(extra)
        extra.close()
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while True:  # the slots come back as those clients go
        try:
            if request(server, "GET")[0] == 200:
                break
        except (OSError, http.client.HTTPException):
            pass
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_an_oversized_head_is_closed(server: MetricsServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000)
        assert closed_unanswered(sock)


def test_stop_does_not_wait_for_a_stalled_client(tmp_path: Path) -> None:
    srv = start_metrics_server("127.0.0.1", 0, str(tmp_path))
    stalled = socket.create_connection(("127.0.0.1", srv.port))
    try:
        time.sleep(0.1)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=1)
    finally:
        stalled.close()


def test_ipv6_loopback(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        srv = start_metrics_server("::1", 0, str(tmp_path))
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1: {exc}")
    try:
        conn = http.client.HTTPConnection("::1", srv.port, timeout=5)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        srv.stop()


def test_a_port_in_use_raises(server: MetricsServer, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        start_metrics_server("127.0.0.1", server.port, str(tmp_path))
