"""Out of file descriptors: uvloop (libuv) accepts the connections it cannot keep and closes
them at once without telling Python; the worker finds it in its once-a-second sample and
logs it, rate-limited, with the limit, counts it, and serves again once descriptors free."""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from harness.processes import end_process, free_port, health_ok
from integration.router import compat_config, router_command
from integration.upstreams import Farm
from runtime.support import children

LIMIT = 48  # a worker needs about 16 descriptors before its first client


def _metric(mport: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    lines = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET /web/x HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\nConnection: close\r\n\r\n"
        )
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_running_out_of_file_descriptors_is_logged_with_the_limit(farm: Farm) -> None:
    port, mport = free_port(), free_port()
    config = compat_config(port, farm.ports)
    config["metrics"] = {"listen": f"127.0.0.1:{mport}"}
    tmp = Path(tempfile.mkdtemp(prefix="fd-limit-"))
    path = tmp / "router.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # ulimit -n in a shell that then becomes the router: RLIMIT_NOFILE for the whole process.
    command = f"ulimit -n {LIMIT} && exec {shlex.join(router_command(path))}"
    with (tmp / "router.out").open("wb") as out:
        proc = subprocess.Popen(["sh", "-c", command], stdout=out, stderr=subprocess.STDOUT)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 20
        while not health_ok(port) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        (worker,) = children(proc.pid)
        assert Path(f"/proc/{worker}/limits").read_text().count(f" {LIMIT} ") >= 1
        dropped = 0
        for _ in range(LIMIT + 20):  # more connections than the worker may hold
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            held.append(sock)
        time.sleep(0.3)
        for sock in held[-10:]:  # the last ones were accepted and closed at once
            sock.settimeout(2)
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /web/x HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\n\r\n")
                if sock.recv(100) == b"":
                    dropped += 1
        assert dropped >= 1, "no connection was dropped: the limit was not reached"

        text = f"file descriptors exhausted: all {LIMIT} allowed (RLIMIT_NOFILE) are open"
        deadline = time.monotonic() + 5  # sampled once a second
        log = (tmp / "router.out").read_text()
        while text not in log and time.monotonic() < deadline:
            time.sleep(0.1)
            log = (tmp / "router.out").read_text()
        assert text in log, log[-3000:]
        time.sleep(2.5)  # still at the limit: the line is rate-limited (10 s), not repeated
        log = (tmp / "router.out").read_text()
        assert log.count(text) == 1, log[-3000:]
        assert "Traceback" not in log

        for sock in held:
            sock.close()
        held.clear()
        time.sleep(1.2)  # the worker's snapshot, written once a second
        assert _metric(mport, 'odoo_router_faults_total{kind="fd_exhausted"}') >= 1
        assert _get(port).startswith(b"HTTP/1.1 200 "), "serving again once descriptors free"
        assert proc.poll() is None
    finally:
        for sock in held:
            sock.close()
        end_process(proc)
        with contextlib.suppress(OSError):
            for leftover in os.listdir(tmp):
                os.unlink(tmp / leftover)
            os.rmdir(tmp)
