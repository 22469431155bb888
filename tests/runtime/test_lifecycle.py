"""Runtime behaviour of a real odoo-router process: reload, graceful stop, workers, pools,
metrics and the access log (issue 5). Upstreams are the integration suite's recording farm.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from harness.processes import free_port
from integration.router import RouterProcess, closed_port, compat_config, start_router
from integration.upstreams import Farm
from runtime.support import Loop, children, read_request

HOST = "testodoo.seisei.tokyo"


def _start(farm: Farm, tweak: Any = None) -> RouterProcess:
    port = free_port()
    config = compat_config(port, farm.ports)
    if tweak is not None:
        tweak(config)
    return start_router(config, port)


def wait_for_log(router: RouterProcess, text: str, count: int = 1, timeout: float = 5) -> str:
    """The router's log once ``text`` is in it ``count`` times (the master logs after a
    signal arrives, asynchronously), or as it is when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    log = router.log()
    while log.count(text) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        log = router.log()
    return log


def get(port: int, path: str = "/web/x", host: str = HOST, **headers: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, **headers})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def rewrite(router: RouterProcess, change: Any) -> None:
    change(router.config)
    router.config_path.write_text(yaml.safe_dump(router.config, sort_keys=False))


class RawUpstream(threading.Thread):
    """A blocking one-connection-at-a-time upstream that timestamps what happens."""

    def __init__(self, response_size: int = 10) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.response_size = response_size
        self.accepted: list[float] = []
        self.sent: list[float] = []
        self.stop_at = time.monotonic() + 20  # bounded: stops by itself

    def run(self) -> None:
        while time.monotonic() < self.stop_at:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(time.monotonic())
            with conn:
                read_request(conn)
                payload = b"y" * self.response_size
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b"
                    % (len(payload), payload)
                )
                self.sent.append(time.monotonic())
        self.sock.close()


def test_reload_under_load_loses_no_request(farm: Farm) -> None:
    router = _start(farm, lambda c: c["server"].update(workers=2))
    try:
        # Time-bound (not count-bound) so that every reload lands while requests run.
        loop = Loop(router.port, seconds=3.0, max_requests=50_000)
        loop.start()
        for i in range(4):
            time.sleep(0.5)
            rewrite(router, lambda c, i=i: c["pools"]["tenant"].update(keepalive=4 + i))
            router.proc.send_signal(signal.SIGHUP)
        loop.join(timeout=20)
        assert loop.failures == []
        assert loop.ok > 100
        assert wait_for_log(router, "reloaded", 4).count("reloaded") == 4
    finally:
        router.stop()


def test_invalid_reload_keeps_serving_and_says_why(farm: Farm) -> None:
    router = _start(farm)
    try:
        good = router.config_path.read_text()
        bad = good.replace("pool: tenant_lp", "pool: tenant_lpp", 1)
        router.config_path.write_text(bad)
        router.proc.send_signal(signal.SIGHUP)
        log = wait_for_log(router, "router.yaml:")
        assert get(router.port)[0] == 200
        assert "reload refused" in log
        assert "proxy.pool: unknown pool 'tenant_lpp'" in log
        assert "router.yaml:" in log
        # A valid change then takes effect: the named tenant's default route now answers 418.
        router.config_path.write_text(good)
        rewrite(
            router,
            lambda c: next(h for h in c["hosts"] if h["name"] == "named_tenant")["routes"].insert(
                0, {"name": "teapot", "exact": "/tea", "respond": {"status": 418, "body": "tea"}}
            ),
        )
        router.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while get(router.port, "/tea")[0] != 418 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert get(router.port, "/tea") == (418, b"tea")
        changed = router.config_path.read_text().replace(
            f"127.0.0.1:{router.port}", f"127.0.0.1:{free_port()}"
        )
        router.config_path.write_text(changed)
        router.proc.send_signal(signal.SIGHUP)
        text = "server.listen changed and need a restart"
        assert text in wait_for_log(router, text)
        assert get(router.port)[0] == 200
    finally:
        router.stop()


def test_sigterm_during_slow_upload_completes_it(farm: Farm) -> None:
    router = _start(farm)
    body = os.urandom(256 * 1024)
    try:
        sock = socket.create_connection(("127.0.0.1", router.port), timeout=10)
        sock.sendall(
            b"POST /jsonrpc HTTP/1.1\r\nHost: %b\r\nContent-Length: %d\r\n"
            b"X-Test-Tag: slow-term\r\n\r\n" % (HOST.encode(), len(body))
        )
        for i in range(8):
            sock.sendall(body[i * 32768 : (i + 1) * 32768])
            if i == 2:
                router.proc.send_signal(signal.SIGTERM)
            time.sleep(0.15)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert b"Connection: close" in reply
        sock.close()
        assert router.proc.wait(timeout=10) == 0
        rec = [r for r in farm.journal.records if r.tag() == "slow-term"]
        assert rec and rec[0].body_length == len(body)
    finally:
        router.stop()


def test_slow_uploader_never_reaches_upstream_before_its_body_is_complete(farm: Farm) -> None:
    upstream = RawUpstream()
    upstream.start()
    router = _start(
        farm, lambda c: c["pools"]["tenant"].update(servers=[f"127.0.0.1:{upstream.port}"])
    )
    try:
        sock = socket.create_connection(("127.0.0.1", router.port), timeout=10)
        sock.sendall(
            b"POST /web/upload HTTP/1.1\r\nHost: %b\r\nContent-Length: 30000\r\n\r\n"
            % HOST.encode()
        )
        for _ in range(5):
            sock.sendall(b"x" * 5000)
            time.sleep(0.2)
            assert upstream.accepted == [], (
                "the upstream was contacted before the body was complete"
            )
        done = time.monotonic()
        sock.sendall(b"x" * 5000)
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        assert upstream.accepted and upstream.accepted[0] >= done
        sock.close()
    finally:
        router.stop()


def test_slow_reader_releases_the_upstream_once_the_response_is_buffered(farm: Farm) -> None:
    upstream = RawUpstream(response_size=20_000_000)
    upstream.start()
    router = _start(
        farm, lambda c: c["pools"]["tenant"].update(servers=[f"127.0.0.1:{upstream.port}"])
    )
    try:
        sock = socket.create_connection(("127.0.0.1", router.port), timeout=10)
        sock.sendall(b"GET /web/big HTTP/1.1\r\nHost: %b\r\n\r\n" % HOST.encode())
        # The router takes the whole 20 MB response (more than the kernel's socket buffers
        # and the 1 MiB read-ahead: the rest is spooled to a temporary file) while the
        # client reads nothing: the upstream finishes at once.
        deadline = time.monotonic() + 3
        while not upstream.sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.sent, "the upstream was held by the slow reader"
        received = 0
        while received < 20_000_000:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
        assert received > 20_000_000
        sock.close()
    finally:
        router.stop()


def test_a_killed_worker_is_replaced_while_the_other_serves(farm: Farm) -> None:
    router = _start(farm, lambda c: c["server"].update(workers=2))
    try:
        workers = set(children(router.proc.pid))
        assert len(workers) == 2
        victim = sorted(workers)[0]
        loop = Loop(router.port, seconds=2.0)
        loop.start()
        time.sleep(0.3)
        os.kill(victim, signal.SIGKILL)
        loop.join(timeout=20)
        # Only requests in flight on the killed worker may fail.
        assert len(loop.failures) <= 2, loop.failures
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(set(children(router.proc.pid)) - {victim}) < 2:
            time.sleep(0.1)
        now = set(children(router.proc.pid))
        assert victim not in now and len(now) == 2
        assert "exited unexpectedly (signal SIGKILL); replacing it" in router.log()
        assert get(router.port)[0] == 200
    finally:
        router.stop()


def test_pool_with_a_dead_and_a_live_server_answers_every_idempotent_request(farm: Farm) -> None:
    live = farm.ports["tenant"]
    router = _start(
        farm,
        lambda c: c["pools"]["tenant"].update(
            servers=[f"127.0.0.1:{closed_port()}", f"127.0.0.1:{live}"], keepalive=0
        ),
    )
    try:
        statuses = [get(router.port, f"/web/p{i}")[0] for i in range(20)]
        assert statuses == [200] * 20
    finally:
        router.stop()


def test_metrics_scrape_matches_the_requests_made(farm: Farm) -> None:
    mport = free_port()
    router = _start(farm, lambda c: c.update(metrics={"listen": f"127.0.0.1:{mport}"}))
    try:
        for i in range(7):
            assert get(router.port, f"/web/m{i}")[0] == 200
        for _ in range(3):
            assert get(router.port, "/nginx-health")[0] == 200
        assert get(router.port, "/web/database/x")[0] == 403
        time.sleep(1.5)  # workers write their snapshot every second
        text = get(mport, "/metrics", host="localhost")[1].decode()

        def value(prefix: str) -> float:
            lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
            assert lines, f"{prefix} missing in:\n{text}"
            return float(lines[0].rsplit(" ", 1)[1])

        assert (
            value(
                'odoo_router_requests_total{host_rule="named_tenant",pool="tenant",route="default",status_class="2xx"}'
            )
            == 7
        )
        assert (
            value(
                'odoo_router_requests_total{host_rule="named_tenant",pool="",route="health",status_class="2xx"}'
            )
            == 3
        )
        assert (
            value(
                'odoo_router_requests_total{host_rule="named_tenant",pool="",route="database",status_class="4xx"}'
            )
            == 1
        )
        assert "testodoo.seisei.tokyo" not in text  # never a raw host in a label
    finally:
        router.stop()


def test_access_log_lines_parse_and_carry_the_decision(farm: Farm, tmp_path: Path) -> None:
    log_path = tmp_path / "access.log"
    router = _start(farm, lambda c: c.update(logging={"access_log": str(log_path)}))
    try:
        assert get(router.port, "/jsonrpc?x=1", host="acme.erp.seisei.tokyo")[0] == 200
        assert get(router.port, "/web/login", host="acme.erp.seisei.tokyo")[0] == 302
        assert get(router.port, "/x", host='evil".example')[0] == 200
        time.sleep(0.5)
    finally:
        router.stop()
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    rpc = next(e for e in lines if e["path"] == "/jsonrpc?x=1")
    assert rpc["status"] == 200 and rpc["route"] == "rpc" and rpc["host_rule"] == "tenant_subdomain"
    assert rpc["dbfilter"] == "ten_acme" and rpc["upstream_status"] == 200
    assert rpc["upstream_addr"] == f"127.0.0.1:{farm.ports['tenant']}"
    assert len(rpc["request_id"]) >= 16
    login = next(e for e in lines if e["path"] == "/web/login")
    assert login["status"] == 302 and login["upstream_addr"] is None
    unknown = next(e for e in lines if e["path"] == "/x")
    assert unknown["host"] == 'evil".example' and unknown["host_rule"] == "default"
