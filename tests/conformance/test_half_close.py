"""A client that half-closes (shutdown(SHUT_WR)) after its request, beside nginx.

nginx with the reference's proxy settings (proxy_ignore_client_abort off) watches a client
connection while its request is proxied: on Linux an EPOLLRDHUP event says the client sent
its FIN (ngx_http_upstream_check_broken_connection), and nginx closes the upstream
connection and the client's, answers nothing and logs 499. A request nginx answers itself
is answered. nginx sees the FIN only as an event of its own: one that comes in the same
read event as the request is missed (edge-triggered epoll) and the answer goes out. The
cases here therefore shut the write side once the request is surely read (after ``PAUSE``),
where nginx's behaviour is defined, with an upstream that takes a second to answer.

Each case runs against nginx and the router, each with an access log, and compares what
the client gets (an answer's status line, or none), how soon the connection ends, and the
status logged.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from .nginx_ref import NginxProcess, start_nginx
from .procs import free_port
from .router_proc import RouterProcess, start_router
from .upstreams import Upstreams

PAUSE = 0.3  # the proxy has read the request and waits on the upstream (answers in 1 s)
TENANT = "testodoo.seisei.tokyo"
WS = (
    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: Y29uZm9ybWFuY2Uta2V5IQ==\r\nOrigin: https://testodoo.seisei.tokyo\r\n"
)


def _request(target: str, method: str = "GET", body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: {TENANT}\r\n{extra}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


@dataclass(frozen=True)
class Seen:
    status_line: str | None  # the first line of an answer, or None: none came
    quick: bool  # the connection ended well before the slow upstream's answer (1 s)
    logged: tuple[str, ...]  # statuses the access log wrote for it


def _half_close(port: int, data: bytes, pause: float) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        time.sleep(pause)
        sock.shutdown(socket.SHUT_WR)
        shut = time.monotonic()
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received, time.monotonic() - shut


class _Logged:
    """The statuses an access log writes for the next exchange."""

    def __init__(self, read: Callable[[], str], json_lines: bool) -> None:
        self.read = read
        self.json_lines = json_lines
        self.seen = 0

    def new(self) -> tuple[str, ...]:
        deadline = time.monotonic() + 1.5
        lines: list[str] = []
        while time.monotonic() < deadline:  # the router writes its lines in batches
            lines = self.read().splitlines()[self.seen :]
            if lines:
                time.sleep(0.15)  # anything else of this exchange
                lines = self.read().splitlines()[self.seen :]
                break
            time.sleep(0.05)
        self.seen += len(lines)
        if self.json_lines:
            return tuple(str(json.loads(line)["status"]) for line in lines)
        return tuple(line.split(" ", 1)[0] for line in lines)


@dataclass
class _Proxy:
    port: int
    logged: _Logged

    def see(self, data: bytes, pause: float) -> Seen:
        self.logged.new()  # nothing left over
        received, took = _half_close(self.port, data, pause)
        line = received.split(b"\r\n", 1)[0].decode("latin-1") if received else None
        return Seen(line, took < 0.7, self.logged.new())


@pytest.fixture(scope="module")
def proxies(upstreams: Upstreams) -> Iterator[tuple[_Proxy, _Proxy]]:
    nginx: NginxProcess = start_nginx(free_port(), upstreams.ports, access_log=True)
    router: RouterProcess | None = None
    try:
        router = start_router(free_port(), upstreams.ports, access_log=True)
        yield (
            _Proxy(nginx.port, _Logged(nginx.access_log, json_lines=False)),
            _Proxy(router.port, _Logged(router.access_log, json_lines=True)),
        )
    finally:
        nginx.stop()
        if router is not None:
            router.stop()


CASES = {
    # proxied, the upstream slow: nginx closes both ends and logs 499
    "get": (_request("/odoo?echo=slow"), PAUSE),
    "get-http10-location": (_request("/jsonrpc?echo=slow"), PAUSE),
    "post-whole-body": (_request("/odoo?echo=slow", "POST", b"{}" * 500), PAUSE),
    "post-chunked-whole-body": (
        _request("/jsonrpc?echo=slow", "POST", extra="Transfer-Encoding: chunked\r\n")
        + b"2\r\n{}\r\n0\r\n\r\n",
        PAUSE,
    ),
    # a websocket: the FIN comes once the tunnel is up, and ends it
    "websocket": (_request("/websocket", extra=WS), PAUSE),
    # answered by the proxy itself: the answer goes out, then the connection ends
    "local-403": (_request("/web/database/manager"), PAUSE),
    "local-health": (_request("/nginx-health"), 0.0),
    # an incomplete request: nothing to answer
    "partial-head": (b"GET /odoo HTTP/1.1\r\nHost: " + TENANT.encode(), PAUSE),
    "partial-body": (_request("/jsonrpc", "POST", b"{}" * 10)[:-5], PAUSE),
}


@pytest.mark.nginx
@pytest.mark.parametrize("name", list(CASES))
def test_a_half_closed_client(name: str, proxies: tuple[_Proxy, _Proxy]) -> None:
    data, pause = CASES[name]
    nginx, router = proxies
    want = nginx.see(data, pause)
    got = router.see(data, pause)
    assert got == want
