"""temp_dir on a small or read-only tmpfs: a request body that cannot spill is the router's
fault, answered 500 as nginx does (checked against nginx 1.22 with client_body_temp_path on a
full 1 MiB tmpfs: `500 Internal Server Error`, `Connection: close`, a pipelined request
behind it unanswered, `[crit] pwrite() ... failed (28: No space left on device)`); a
response spool that fails after the head went out cuts the client. Each is one log line
naming the directory and the errno, a `faults` counter, and the router keeps serving."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import free_port
from integration.client import new_tag
from integration.router import RouterProcess, compat_config, start_router
from integration.upstreams import Farm
from runtime.support import mounted_tmpfs

HOST = b"testodoo.seisei.tokyo"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "small", "size=1m,mode=1777") as path:
        yield path


@pytest.fixture
def readonly_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "readonly", "size=1m,ro") as path:
        yield path


def _router(farm: Farm, temp_dir: Path) -> tuple[RouterProcess, int]:
    port, mport = free_port(), free_port()
    config = compat_config(port, farm.ports)  # request_buffer_memory 64k: spills early
    config["server"]["temp_dir"] = str(temp_dir)
    config["metrics"] = {"listen": f"127.0.0.1:{mport}"}
    return start_router(config, port), mport


def _exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send everything (the router may answer before the body is in: it lingers, reading
    and dropping the rest), then read to the end (every request here ends the connection).
    No half-close: a client that shuts its side down is one that left (499, as nginx)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def _post(path: str, body: bytes, *extra: bytes) -> bytes:
    head = b"POST %b HTTP/1.1\r\nHost: %b\r\nContent-Length: %d\r\n" % (
        path.encode(),
        HOST,
        len(body),
    )
    return head + b"".join(extra) + b"\r\n" + body


def _get(path: str) -> bytes:
    return b"GET %b HTTP/1.1\r\nHost: %b\r\nConnection: close\r\n\r\n" % (path.encode(), HOST)


def _faults(mport: int, kind: str) -> float:
    time.sleep(1.5)  # workers write their snapshot every second
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    prefix = f'odoo_router_faults_total{{kind="{kind}"}} '
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_full_spill_directory_answers_500_and_keeps_serving(farm: Farm, small_tmpfs: Path) -> None:
    router, mport = _router(farm, small_tmpfs)
    tag = new_tag()
    try:
        body = b"u" * (3 * 1024 * 1024)  # three times what the tmpfs holds
        reply = _exchange(
            router.port,
            _post("/web/upload", body, b"X-Test-Tag: %b\r\n" % tag.encode()) + _get("/web/next"),
        )
        assert reply.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), reply[:200]
        head = reply[: reply.index(b"\r\n\r\n")]
        assert b"Connection: close" in head
        assert reply.count(b"HTTP/1.1 ") == 1, "the pipelined request is not answered (nginx)"
        assert farm.journal.by_tag(tag) == [], "nothing of the failed upload went upstream"

        lines = [ln for ln in router.log().splitlines() if "request body spill" in ln]
        assert len(lines) == 1, router.log()[-3000:]
        assert f"request body spill to {small_tmpfs} failed: " in lines[0]
        assert "No space left on device (ENOSPC)" in lines[0]
        assert "answered 500" in lines[0]
        assert _faults(mport, "request_spill") == 1

        # The failed upload's file is gone: a body that fits the tmpfs spills and passes,
        # and so does everything else.
        fits = _exchange(
            router.port, _post("/web/upload", b"f" * 600_000, b"Connection: close\r\n")
        )
        assert fits.startswith(b"HTTP/1.1 200 "), fits[:200]
        assert _exchange(router.port, _get("/web/x")).startswith(b"HTTP/1.1 200 ")
        small = _exchange(router.port, _post("/web/s", b"s" * 1000, b"Connection: close\r\n"))
        assert small.startswith(b"HTTP/1.1 200 ")
        assert router.alive()
        assert "Traceback" not in router.log() and "internal error" not in router.log()
    finally:
        router.stop()


def test_read_only_spill_directory_answers_500(farm: Farm, readonly_tmpfs: Path) -> None:
    router, mport = _router(farm, readonly_tmpfs)
    try:
        reply = _exchange(router.port, _post("/web/upload", b"r" * 200_000))
        assert reply.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), reply[:200]
        lines = [ln for ln in router.log().splitlines() if "request body spill" in ln]
        assert len(lines) == 1, router.log()[-3000:]
        assert f"request body spill to {readonly_tmpfs} failed: " in lines[0]
        assert "(EROFS)" in lines[0]
        assert _faults(mport, "request_spill") == 1
        # Bodies that stay in memory never touch the directory.
        small = _exchange(router.port, _post("/web/s", b"s" * 1000, b"Connection: close\r\n"))
        assert small.startswith(b"HTTP/1.1 200 ")
    finally:
        router.stop()


def test_full_response_spool_cuts_the_client_and_keeps_serving(
    farm: Farm, small_tmpfs: Path
) -> None:
    router, mport = _router(farm, small_tmpfs)
    size = 20_000_000
    try:
        with socket.create_connection(("127.0.0.1", router.port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(
                b"GET /web/big HTTP/1.1\r\nHost: %b\r\nX-Test-Behave: size:%d\r\n\r\n"
                % (HOST, size)
            )
            time.sleep(1.5)  # read nothing: the router's buffer fills, then the spool
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 "), data[:200]
        head_end = data.index(b"\r\n\r\n") + 4
        assert b"Content-Length: %d" % size in data[:head_end]
        assert len(data) - head_end < size, "the client can tell it was cut"
        lines = [ln for ln in router.log().splitlines() if "response spool" in ln]
        assert len(lines) == 1, router.log()[-3000:]
        assert f"response spool in {small_tmpfs} failed: " in lines[0]
        assert "No space left on device (ENOSPC)" in lines[0]
        assert "client connection of GET testodoo.seisei.tokyo cut" in lines[0]
        assert _faults(mport, "response_spool") == 1
        assert _exchange(router.port, _get("/web/after")).startswith(b"HTTP/1.1 200 ")
        assert router.alive()
        assert "Traceback" not in router.log() and "internal error" not in router.log()
    finally:
        router.stop()
