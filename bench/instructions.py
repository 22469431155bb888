"""Instructions per request, counted by callgrind: ``python -m bench.instructions``.

Wall-clock numbers swing with the load of a shared machine; an instruction count does not.
Each kind of request runs in a loop through the router's own Python (bench.micro's
transports that only count bytes: no sockets) under ``valgrind --tool=callgrind`` twice,
with N and with M requests, and prints (instructions(M) - instructions(N)) / (M - N):
start-up, imports and the config load cancel out, what is left is the cost of one
request. Runs agree to about 0.1%.

* ``get``: bench.micro's keep-alive GET, proxied (request parsed, filtered, head written
  upstream; response parsed, relayed, connection released);
* ``local``: ``GET /nginx-health``, answered by the router itself;
* ``jsonrpc``: a 2 KiB JSON-RPC ``execute_kw`` POST on a tenant host, as the bench's jsonrpc
  row sends it (config/nginx-compat.yaml: buffered, forwarded, the answer relayed);
* ``firewall``: the same call on config/router.yaml, where the RPC firewall inspects it;
* ``get-metrics``, ``get-tenants``: ``get`` counted by the metrics, with the per-tenant
  series off (``metrics.tenant_labels_max: 0``) and on (the tenant holding its slot): their
  difference is what the per-tenant metrics cost a request.

``--maintenance DB,...`` puts those databases (others than the requests') in maintenance
in the worker (``local``, ``jsonrpc``, ``firewall``): the cost of maintenance mode for the
tenants it does not concern.

Needs valgrind (``apt install valgrind``); each run takes 10-30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.micro import CountingTransport
    from odoo_router.datapath.state import WorkerState

REPO = Path(__file__).resolve().parent.parent
KINDS = ("get", "local", "jsonrpc", "firewall", "get-metrics", "get-tenants")
ROUTER = REPO / "config" / "router.yaml"
_COLLECTED = re.compile(r"Collected : (\d+)")
_HOST = b"testodoo.seisei.tokyo"


def _jsonrpc(host: bytes = _HOST, db: bytes = b"ten_testodoo") -> bytes:
    from bench.wrk import json_rpc_lua

    body = json_rpc_lua(2048)[1:-1].encode().replace(b"ten_testodoo", db)
    return (
        b"POST /jsonrpc HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (host, len(body), body)
    )


def _production_state() -> WorkerState:
    import yaml

    from odoo_router.configuration.validate import build_config
    from odoo_router.datapath.state import WorkerState

    data = yaml.safe_load(ROUTER.read_text(encoding="utf-8"))
    data["metrics"] = {"listen": None}
    data["logging"] = {"access_log": None}
    data["server"]["keepalive_requests"] = 1 << 30
    data["server"]["forwarded"]["trusted_proxies"] = []
    for pool in data["pools"].values():
        pool["servers"] = ["127.0.0.1:9"]  # never connected to: the pool has an idle one
        pool["keepalive_requests"] = 1 << 30  # and keeps it for every round
    return WorkerState(build_config(yaml.safe_dump(data)))


async def _turns(out: CountingTransport, before: int) -> None:
    """Loop turns until ``out`` is written to: a version that answers from tasks gets the
    turns it needs (and pays for them), so that any two versions can be compared; one that
    answers from its callbacks never comes here."""
    for _ in range(100):
        await asyncio.sleep(0)
        if out.written > before:
            return
    raise RuntimeError("nothing written: the request was refused or is stuck")


def _child(kind: str, requests: int) -> None:
    import uvloop

    from bench.micro import RESPONSE, CountingTransport, _state, measure
    from odoo_router.datapath.pools import UpstreamConnection
    from odoo_router.datapath.proxy import ClientConnection

    if kind.startswith("get"):
        uvloop.run(measure(requests, 1, metrics=kind != "get", tenants=kind == "get-tenants"))
        return
    if kind == "local":
        request = b"GET /nginx-health HTTP/1.1\r\nHost: %s\r\n\r\n" % _HOST
    elif kind == "firewall":
        request = _jsonrpc(b"acme.erp.seisei.tokyo", b"ten_acme")
    else:
        request = _jsonrpc()

    async def loop() -> None:
        state = _production_state() if kind == "firewall" else _state()
        out_of_service = os.environ.get("BENCH_MAINTENANCE")
        if out_of_service:
            state.maintenance = dict.fromkeys(out_of_service.split(","), 0.0)
        client = ClientConnection(state)
        client_out = CountingTransport()
        client.connection_made(client_out)  # type: ignore[arg-type]
        pool = state.pools["tenant"]
        upstream = UpstreamConnection(pool, 0)
        upstream_out = CountingTransport()
        upstream.connection_made(upstream_out)  # type: ignore[arg-type]
        pool.idle.append(upstream)
        first = client_out if kind == "local" else upstream_out  # what the request makes
        for _ in range(requests):
            before = first.written
            client.data_received(request)
            if first.written == before:
                await _turns(first, before)
            if kind != "local":
                before = client_out.written
                upstream.data_received(RESPONSE)
                if client_out.written == before:
                    await _turns(client_out, before)
        assert not client.closed

    uvloop.run(loop())


def count(kind: str, requests: int) -> int:
    """Instructions of one process that serves ``requests`` requests (start-up included)."""
    path = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    env = dict(os.environ, PYTHONPATH=path)
    command = [sys.executable, "-m", "bench.instructions", "--child", kind, str(requests)]
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    found = _COLLECTED.search(out.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind summary in:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="requests of the short run")
    parser.add_argument("--m", type=int, default=12_000, help="requests of the long run")
    parser.add_argument(
        "kinds", nargs="*", metavar="KIND", help=f"{', '.join(KINDS)} (default: get)"
    )
    parser.add_argument("--maintenance", metavar="DB,...", help="databases in maintenance")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.maintenance:
        if "get" in args.kinds or not args.kinds:
            parser.error("--maintenance goes with local, jsonrpc or firewall")
        os.environ["BENCH_MAINTENANCE"] = args.maintenance  # the children's
    if args.child is not None:
        _child(args.child[0], int(args.child[1]))
        return
    if args.m <= args.n:
        parser.error("--m must be larger than --n")
    for kind in args.kinds:
        if kind not in KINDS:
            parser.error(f"unknown kind {kind!r}: {', '.join(KINDS)}")
    for kind in args.kinds or ["get"]:
        short, long = count(kind, args.n), count(kind, args.m)
        print(f"instructions per request, {kind}: {(long - short) / (args.m - args.n):,.0f}")


if __name__ == "__main__":
    main()
