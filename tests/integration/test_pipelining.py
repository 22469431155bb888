"""Pipelined requests: answered in order however many come in one read, and never parsed
far ahead of their answers. nginx parses one request at a time; the router parses a read
a slice at a time and stops once 16 requests wait, keeping the rest unparsed. Parsing a
whole 256 KiB read of tiny requests at once held a Request for each of 3,000 of them."""

from __future__ import annotations

import json
import socket
import time

from runtime.support import children

from .client import build, connect
from .router import RouterProcess

NAMED = "testodoo.seisei.tokyo"


async def test_a_long_burst_in_one_read_is_answered_in_order(compat: RouterProcess) -> None:
    count = 990  # under keepalive_requests (1000), which then ends the connection
    conn = await connect(compat.port)
    try:
        head = [("Host", NAMED), ("X-Pad", "p" * 40)]
        burst = b"".join(build("GET", f"/web/p{i}", head) for i in range(count))
        assert len(burst) > 4 * 16384  # several slices
        await conn.send(burst)
        targets = []
        for _ in range(count):
            resp = await conn.response(timeout=10)
            assert resp.status == 200
            targets.append(json.loads(resp.body)["target"])
    finally:
        await conn.close()
    assert targets == [f"/web/p{i}" for i in range(count)]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))


def test_a_flood_waiting_on_a_slow_upstream_holds_little_memory(compat: RouterProcess) -> None:
    (worker,) = children(compat.proc.pid)
    request = build("GET", "/web/x", [("Host", NAMED), ("X-Test-Behave", "delay:3")])
    burst = request * (256 * 1024 // len(request))  # about 3,000 requests, one read each
    before = _rss_kib(worker)
    socks = [socket.create_connection(("127.0.0.1", compat.port)) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(burst)
        time.sleep(1.5)  # every first request waits upstream; the router has read the rest
        grown = _rss_kib(worker) - before
    finally:
        for sock in socks:
            sock.close()
    # Parsing each whole read grew the worker by about 31 MiB here (1.5 MiB a connection).
    assert grown < 10 * 1024, f"worker grew {grown} KiB"
