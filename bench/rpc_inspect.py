"""RPC firewall throughput on large bodies: ``python -m bench.rpc_inspect``.

Builds an ``ir.attachment`` ``create`` carrying SIZE bytes of base64 (JSON-RPC, XML-RPC, and
the JSON-RPC one gzip-coded), and inspects each as the router does: the body handed over in
256 KiB pieces (what one read of a fast client brings), each worked off in
``RpcInspector.work`` slices. Prints MB/s (body bytes per second of inspection), the longest
single ``work`` call (the longest the event loop is held) and the build (compiled or pure),
with the load average, since the machine may be shared: each is given in wall time and in
this thread's CPU time (which a busy machine's preemptions do not inflate). In-process: no
sockets, no upstream.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import xmlrpc.client
from time import perf_counter, thread_time

from odoo_router.ops import native
from odoo_router.security.rpc_firewall import Allow
from odoo_router.security.rpc_inspect import RpcInspector

PIECE = 256 * 1024
MIB = 1024 * 1024


def bodies(size: int) -> list[tuple[str, str, str, str | None, bytes]]:
    datas = base64.b64encode(os.urandom(size * 3 // 4)).decode()
    args = ["ten_a", 2, "pw", "ir.attachment", "create", [{"name": "a.pdf", "datas": datas}]]
    call = {"jsonrpc": "2.0", "id": 1, "params": {"service": "object", "method": "execute_kw"}}
    call["params"]["args"] = args  # type: ignore[index]
    as_json = json.dumps(call).encode()
    as_xml = xmlrpc.client.dumps(tuple(args), "execute_kw").encode()
    return [
        ("jsonrpc", "/jsonrpc", "application/json", None, as_json),
        ("xmlrpc", "/xmlrpc/2/object", "text/xml", None, as_xml),
        ("jsonrpc gzip", "/jsonrpc", "application/json", "gzip", gzip.compress(as_json, 1)),
    ]


def inspect(path: str, ctype: str, coding: str | None, body: bytes) -> list[float]:
    """[wall seconds, CPU seconds, longest work() wall, longest work() CPU] for one body,
    fed as the router feeds it."""
    inspector = RpcInspector(path, ctype, coding, "ten_a", 64 * MIB)
    out = [0.0, 0.0, 0.0, 0.0]
    for start in range(0, len(body), PIECE + 1):
        inspector.feed(body[start : start + PIECE + 1])
        more = True
        while more:
            w0, c0 = perf_counter(), thread_time()
            more = inspector.work()
            wall, cpu = perf_counter() - w0, thread_time() - c0
            out = [out[0] + wall, out[1] + cpu, max(out[2], wall), max(out[3], cpu)]
    w0, c0 = perf_counter(), thread_time()
    verdict = inspector.verdict()
    out[0] += perf_counter() - w0
    out[1] += thread_time() - c0
    assert isinstance(verdict, Allow), verdict
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.rpc_inspect", description=__doc__)
    p.add_argument("--size", type=int, default=50, help="MiB of base64 in the call (default 50)")
    p.add_argument("--rounds", type=int, default=3, help="best of N (default 3)")
    args = p.parse_args(argv)
    print(f"build: {native.describe()}; load average {os.getloadavg()[0]:.2f}")
    for name, path, ctype, coding, body in bodies(args.size * MIB):
        decoded = len(gzip.decompress(body)) if coding else len(body)
        runs = [inspect(path, ctype, coding, body) for _ in range(args.rounds)]
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        print(
            f"{name:13} {decoded / MIB:5.1f} MiB  {decoded / wall / 1e6:6.1f} MB/s wall"
            f" {decoded / cpu / 1e6:6.1f} MB/s CPU;  longest work()"
            f" {min(r[2] for r in runs) * 1000:5.2f} ms wall {min(r[3] for r in runs) * 1000:5.2f}"
            f" ms CPU  (best of {args.rounds})"
        )


if __name__ == "__main__":
    main()
