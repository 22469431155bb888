"""The container health probe: exit 0 on HTTP 200 in time, 1 otherwise."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.processes import free_port
from odoo_router.ops.probe import main, probe


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/host":
            code = 200 if self.headers.get("Host") == "admin.erp.seisei.tokyo" else 421
        else:
            code = {"/nginx-health": 200, "/slow": 200, "/redirect": 302, "/boom": 500}.get(
                self.path, 404
            )
        body = b"OK"
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/nginx-health")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_200_is_healthy(base: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"{base}/nginx-health"]) == 0
    assert "200" in capsys.readouterr().out


@pytest.mark.parametrize("path", ["/redirect", "/boom", "/missing"])
def test_other_statuses_are_unhealthy(base: str, path: str) -> None:
    ok, message = probe(f"{base}{path}")
    assert not ok
    assert main([f"{base}{path}"]) == 1
    assert message.split(": ")[-1][:3] in ("302", "500", "404")


def test_timeout_is_unhealthy(base: str) -> None:
    t0 = time.monotonic()
    assert main(["--timeout", "0.3", f"{base}/slow"]) == 1
    assert time.monotonic() - t0 < 1.4


def test_refused_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"http://127.0.0.1:{free_port()}/nginx-health"]) == 1
    assert "Connection" in capsys.readouterr().err


def test_host_header(base: str) -> None:
    assert main([f"{base}/host"]) == 1
    assert main(["--host", "admin.erp.seisei.tokyo", f"{base}/host"]) == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "not a url", "http://127.0.0.1:99999/"])
def test_bad_urls(url: str) -> None:
    assert main([url]) == 1


def test_usage_error_exits_1_not_2() -> None:
    assert main(["--no-such-flag"]) == 1


def test_runs_as_module(base: str) -> None:
    for path, rc in (("/nginx-health", 0), ("/boom", 1)):
        done = subprocess.run(
            [sys.executable, "-m", "odoo_router.probe", f"{base}{path}"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == rc, done.stderr
