"""CPU per request of the per-tenant metrics: ``python -m bench.tenant_cost``.

Two routers over the same sink, both with the metrics listener on (workers count and
write their snapshots, the master merges them and tends the tenant label slots): one with
``metrics.tenant_labels_max: 0``, the switch that turns the per-tenant series off, one
with the default (500), where every request of the bench's host (testodoo.seisei.tokyo,
database ten_testodoo) is also counted under its tenant once the master granted it a slot.
The get64 row runs against each in turn, 5 interleaved rounds by default (a round of each,
then the next round), and the CPU microseconds per request of the router's processes
(workers and master) are compared: the median round of each, and their ratio.

A relative measure inside one run: both routers see the same load on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

from bench import measure
from bench.procs import free_port
from bench.scenarios import DOWNLOAD_BYTES, SCENARIOS
from bench.targets import Running, start_router, start_sink

VARIANTS = {"tenants off": 0, "tenants on": 500}


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text: str = resp.read().decode()
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sc = next(s for s in SCENARIOS if s.key == "get64")
    workdir = Path(tempfile.mkdtemp(prefix="odoo-router-tenant-cost-"))
    sink = start_sink(workdir, DOWNLOAD_BYTES)
    routers: dict[str, tuple[Running, int]] = {}
    try:
        for name, cap in VARIANTS.items():
            port = free_port()
            section = {"listen": f"127.0.0.1:{port}", "tenant_labels_max": cap}
            running = start_router(
                workdir, sink.upstreams, args.workers, name=name.replace(" ", "-"), metrics=section
            )
            routers[name] = (running, port)
        for running, _ in routers.values():  # warm-up; the tenant gets its slot meanwhile
            measure.run(running, sc, args.workers, 1.0, workdir)
        time.sleep(3)
        cpu: dict[str, list[float]] = {name: [] for name in routers}
        for n in range(args.rounds):
            for name, (running, _) in routers.items():
                row = measure.run(running, sc, args.workers, args.duration, workdir)
                cpu[name].append(row.cpu_us)
                print(f"round {n + 1} {name}: {row.cpu_us:.2f} CPU us/req, {row.rps:,.0f} req/s")
        labelled = 'odoo_router_tenant_requests_total{db="ten_testodoo"'
        on = _metrics(routers["tenants on"][1])
        off = _metrics(routers["tenants off"][1])
        assert labelled in on and labelled not in off, "the switch did not switch"
        m_off, m_on = median(cpu["tenants off"]), median(cpu["tenants on"])
        print(
            f"get64, w{args.workers}, median of {args.rounds} rounds: tenants off "
            f"{m_off:.2f} CPU us/req, tenants on {m_on:.2f} ({(m_on / m_off - 1) * 100:+.1f}%)"
        )
    finally:
        for running, _ in routers.values():
            running.stop()
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
