"""Python time per keep-alive request, without sockets: ``python -m bench.micro``.

The wrk rows measure the whole worker, syscalls and uvloop included, and move with the
machine's load. This measures only the router's own Python for one 1 KiB GET through the
fast path (request parsed and filtered, head written upstream; response parsed, relayed,
connection released), split into the request side and the response side: one
ClientConnection and one UpstreamConnection on transports that only count bytes, fed in
turn, in one process. It is the number to watch when changing the hot path; the best of
several rounds is printed, as the minimum is the least disturbed by the machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from time import perf_counter_ns

import uvloop
import yaml

from odoo_router.configuration.validate import build_config
from odoo_router.datapath.pools import UpstreamConnection
from odoo_router.datapath.proxy import ClientConnection
from odoo_router.datapath.state import WorkerState
from odoo_router.ops.accesslog import AccessLog
from odoo_router.ops.metrics import Stats
from odoo_router.ops.observe import attach

COMPAT = Path(__file__).resolve().parent.parent / "config" / "nginx-compat.yaml"
REQUEST = (
    b"GET /web/x HTTP/1.1\r\nHost: testodoo.seisei.tokyo\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 27 Nov 2026 07:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 1024\r\nConnection: keep-alive\r\n\r\n"
) + b"x" * 1024


class CountingTransport:
    """The part of a uvloop transport the data path uses; writes are only counted."""

    def __init__(self) -> None:
        self.written = 0

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _state() -> WorkerState:
    data = yaml.safe_load(COMPAT.read_text(encoding="utf-8"))
    data["metrics"] = {"listen": None}
    data["logging"] = {"access_log": None}
    data["server"]["keepalive_requests"] = 1 << 30  # one client connection for every round
    for pool in data["pools"].values():
        pool["servers"] = ["127.0.0.1:9"]  # never connected to: the pool has an idle one
        pool["keepalive_requests"] = 1 << 30  # and keeps it for every round
    return WorkerState(build_config(yaml.safe_dump(data)))


async def measure(
    requests: int,
    rounds: int,
    access_log: str | None = None,
    metrics: bool = False,
    tenants: bool = False,
) -> tuple[float, float]:
    """(request side, response side) in microseconds per request, best round; with
    ``access_log`` (a file) the logging phase writes each request's line there, with
    ``metrics`` it counts each request as the metrics do (the response side's last step),
    with ``tenants`` also under its tenant (ten_testodoo, granted its slot; else the
    per-tenant series are off, as with ``metrics.tenant_labels_max: 0``)."""
    state = _state()
    log = AccessLog(access_log) if access_log else None
    stats = Stats() if metrics or tenants else None
    if stats is not None:
        granted = frozenset({"ten_testodoo"}) if tenants else frozenset()
        stats.tenants.apply(500 if tenants else 0, granted)
    if log is not None or stats is not None:
        attach(state, stats, log)
    client = ClientConnection(state)
    client_out = CountingTransport()
    client.connection_made(client_out)  # type: ignore[arg-type]
    pool = state.pools["tenant"]
    upstream = UpstreamConnection(pool, 0)
    upstream.connection_made(CountingTransport())  # type: ignore[arg-type]
    pool.idle.append(upstream)
    best: tuple[int, int] | None = None
    for _ in range(rounds):
        request_ns = response_ns = 0
        for _ in range(requests):
            t0 = perf_counter_ns()
            client.data_received(REQUEST)
            t1 = perf_counter_ns()
            upstream.data_received(RESPONSE)
            t2 = perf_counter_ns()
            request_ns += t1 - t0
            response_ns += t2 - t1
        if best is None or request_ns + response_ns < sum(best):
            best = (request_ns, response_ns)
    assert best is not None and client_out.written > 0 and not client.closed
    if log is not None:
        log.close()
    return best[0] / requests / 1000, best[1] / requests / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--access-log",
        metavar="FILE",
        help="also log each request to FILE (/dev/null: the formatting and buffering alone)",
    )
    parser.add_argument("--metrics", action="store_true", help="also count it in the metrics")
    parser.add_argument("--tenants", action="store_true", help="and under its tenant database")
    args = parser.parse_args()
    request_us, response_us = uvloop.run(
        measure(args.requests, args.rounds, args.access_log, args.metrics, args.tenants)
    )
    logged = f", access log to {args.access_log}" if args.access_log else ""
    logged += ", metrics" if args.metrics or args.tenants else ""
    logged += " with tenants" if args.tenants else ""
    print(
        f"Python per keep-alive GET{logged}: request side {request_us:.2f} us, "
        f"response side {response_us:.2f} us, total {request_us + response_us:.2f} us"
    )


if __name__ == "__main__":
    main()
