"""Soak: the production profile under mixed load for minutes, with reloads and an upstream
restarting, and what the router's processes look like over time.

    .venv/bin/python -m bench.soak                 # 10 minutes
    .venv/bin/python -m bench.soak --minutes 2 --out /tmp/soak.md

Loopback only, every loop bounded by the deadline. The router runs `config/router.yaml`
(the production profile, metrics on, `access_log: null`) with its pools on fake upstreams:
`odoo_router.ops.demo` for the HTTP pools, `bench/ws_sink.py` for the websocket pool. The load
(bench/soak_load.py): keep-alive GETs, JSON-RPC calls through the RPC firewall, 20 MiB
uploads (spilled to temp files), 500 websockets held open with a round trip each 10 s. A
SIGHUP every 30 s; the tenant upstream killed and started again every minute (the restart
window runs from the kill until the new one accepts).

The report: RSS of the master and of each worker and open descriptors over time, the
restart windows, every answer that was not the expected one (200, or 101 for a websocket),
and four checks (exit 1 when one fails): 502s only in restart windows, no other unexpected
answer, the last RSS sample within 5 MiB of the first after the warm-up, open descriptors
back to their idle count once the load is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.procs import Spawned, descendants, free_port, rss_bytes, wait_http, wait_tcp
from bench.soak_load import HOST, RPC_BODY, Event, Tally, http_loop, websocket_loop

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
RSS_SLACK = 5 * MIB
POOLS = ("tenant", "tenant_lp", "admin", "admin_lp")


@dataclass
class Sample:
    t: float
    master: int
    workers: dict[int, int]  # pid -> RSS
    fds: int


@dataclass
class Soak:
    args: argparse.Namespace
    work: Path
    ports: dict[str, int] = field(default_factory=lambda: {p: free_port() for p in POOLS})
    upstreams: dict[str, Spawned] = field(default_factory=dict)
    router: Spawned | None = None
    port: int = field(default_factory=free_port)
    samples: list[Sample] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    hups: int = 0
    idle_fds: int = 0
    idle_kinds: Counter[str] = field(default_factory=Counter)
    end_kinds: Counter[str] = field(default_factory=Counter)
    fds_after: list[tuple[float, int]] = field(default_factory=list)
    metrics_port: int = field(default_factory=free_port)
    pool_idle_end: int = 0

    # -- processes ------------------------------------------------------------------

    def start_upstream(self, pool: str) -> None:
        port = self.ports[pool]
        if pool == "tenant_lp":
            argv = [sys.executable, "-m", "bench.ws_sink", str(port)]
        else:
            argv = [
                sys.executable,
                "-m",
                "odoo_router.ops.demo",
                "--listen",
                f"127.0.0.1:{port}={pool}",
            ]
        self.upstreams[pool] = Spawned(pool, argv, self.work / f"{pool}.log")
        wait_tcp(port, 30)

    def restart_tenant(self) -> None:
        self.upstreams["tenant"].proc.kill()  # as a crashed container: no goodbye
        self.upstreams["tenant"].stop()
        self.start_upstream("tenant")

    def start_router(self) -> None:
        config: dict[str, Any] = yaml.safe_load((REPO / "config" / "router.yaml").read_text())
        config["server"]["listen"] = [f"127.0.0.1:{self.port}"]
        config["server"]["workers"] = self.args.workers
        config["metrics"] = {"listen": f"127.0.0.1:{self.metrics_port}"}
        config["logging"] = {"access_log": None}
        for name, pool in config["pools"].items():
            pool["servers"] = [f"127.0.0.1:{self.ports[name]}"]
        path = self.work / "router.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        router = Path(sys.executable).parent / "odoo-router"
        self.router = Spawned(
            "router", [str(router), "--config", str(path)], self.work / "router.log"
        )
        wait_http(self.port, "/nginx-health", 30, host=HOST)

    def processes(self) -> tuple[int, list[int]]:
        assert self.router is not None
        master = self.router.pid
        return master, [p for p in descendants(master) if p != master]

    def fds(self) -> int:
        master, workers = self.processes()
        total = 0
        for pid in [master, *workers]:
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/fd"))
        return total

    def fd_kinds(self) -> Counter[str]:
        """What the router's descriptors are: files, pipes, and sockets by their peer (a
        pool's upstream, a client, the listener)."""
        names = {port: pool for pool, port in self.ports.items()}
        peers: dict[str, str] = {}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as fh:
                for line in fh.readlines()[1:]:
                    f = line.split()
                    local, remote, inode = (
                        int(f[1].split(":")[1], 16),
                        int(f[2].split(":")[1], 16),
                        f[9],
                    )
                    if remote == 0:
                        peers[inode] = "listening socket"
                    elif remote in names:
                        peers[inode] = f"socket to {names[remote]}"
                    elif local == self.port:
                        peers[inode] = "client socket"
                    else:
                        peers[inode] = "other socket"
        kinds: Counter[str] = Counter()
        master, workers = self.processes()
        for pid in [master, *workers]:
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        if target.startswith("socket:["):
                            target = peers.get(target[8:-1], "unix or other socket")
                        elif target.startswith(("pipe:", "anon_inode:")):
                            target = target.split(":")[0]
                        kinds[target] += 1
        return kinds

    def sample(self, t: float) -> None:
        master, workers = self.processes()
        self.samples.append(
            Sample(t, rss_bytes(master), {w: rss_bytes(w) for w in workers}, self.fds())
        )

    # -- the run ----------------------------------------------------------------------

    async def run(self) -> Tally:
        loop = asyncio.get_running_loop()
        tally = Tally()
        seconds = self.args.minutes * 60
        deadline = time.monotonic() + seconds
        upload = os.urandom(1024) * (self.args.upload_mib * 1024)
        tasks = [
            *(
                http_loop(tally, self.port, "get", deadline, self.args.get_pause)
                for _ in range(self.args.get_conns)
            ),
            http_loop(
                tally, self.port, "rpc", deadline, 0.02, "POST", RPC_BODY, "application/json"
            ),
            http_loop(tally, self.port, "upload", deadline, self.args.upload_pause, "POST", upload),
            *(
                websocket_loop(tally, self.port, deadline, 10.0, 10.0 * i / self.args.ws)
                for i in range(self.args.ws)
            ),
        ]
        load = asyncio.gather(*tasks)

        async def every(period: float, action: Any) -> None:
            next_at = time.monotonic() + period
            while next_at < deadline:
                await asyncio.sleep(next_at - time.monotonic())
                await action()
                next_at += period

        async def hup() -> None:
            assert self.router is not None
            self.router.proc.send_signal(signal.SIGHUP)
            self.hups += 1

        async def restart() -> None:
            down = tally.now()
            await loop.run_in_executor(None, self.restart_tenant)
            self.windows.append((down, tally.now()))

        async def sample() -> None:
            self.sample(tally.now())

        self.sample(0.0)
        await asyncio.gather(
            load,
            every(self.args.hup_every, hup),
            every(self.args.restart_every, restart),
            every(self.args.sample_every, sample),
        )
        self.sample(tally.now())
        return tally

    def pool_idle(self) -> int:
        """Idle keep-alive upstream connections, as the router's metrics count them."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        prefix = "odoo_router_pool_idle_connections{"
        return sum(
            int(float(ln.rsplit(" ", 1)[1])) for ln in text.splitlines() if ln.startswith(prefix)
        )

    def leftovers(self) -> tuple[Counter[str], int]:
        """Descriptors beyond the idle ones, and how many of them are sockets to a pool."""
        extra = self.fd_kinds() - self.idle_kinds
        return extra, sum(n for k, n in extra.items() if k.startswith("socket to "))

    def settle(self) -> None:
        """Wait (bounded) until every descriptor the load opened is closed again, except the
        idle keep-alive upstream connections the pools keep by design (up to ``keepalive``
        per pool and worker, until the upstream closes them: the fake Odoo's aiohttp keeps
        an idle connection for an hour)."""
        start = time.monotonic()
        while True:
            time.sleep(2.0)  # the pools' idle counts reach the metrics once a second
            extra, to_pools = self.leftovers()
            self.pool_idle_end = self.pool_idle()
            self.fds_after.append((time.monotonic() - start, self.fds()))
            done = sum(extra.values()) == to_pools and to_pools <= self.pool_idle_end
            if done or time.monotonic() - start > self.args.settle:
                self.end_kinds = extra
                return

    def stop(self) -> None:
        if self.router is not None:
            self.router.stop()
        for up in self.upstreams.values():
            up.stop()


# --------------------------------------------------------------------------- report


def _mib(n: int) -> str:
    return f"{n / MIB:.1f}"


def _in_window(ev: Event, windows: list[tuple[float, float]]) -> bool:
    return any(ev.start <= up and ev.end >= down for down, up in windows)


def report(soak: Soak, tally: Tally) -> tuple[str, bool]:
    args = soak.args
    out: list[str] = []
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    out.append(
        f"Soak of {args.minutes:g} min at {commit or '?'}, {args.workers} workers, "
        f"{args.ws} websockets, {args.upload_mib} MiB uploads; {args.note}"
    )
    counts = ", ".join(f"{k} {n:,}" for k, n in sorted(tally.ok.items()))
    out.append(f"Expected answers: {counts}. SIGHUPs: {soak.hups}.")
    out.append("")
    worker_pids = sorted({p for s in soak.samples for p in s.workers})
    out.append(
        "| t (min) | master RSS (MiB) | "
        + " | ".join(f"worker {i} RSS (MiB)" for i in range(len(worker_pids)))
        + " | open fds |"
    )
    out.append("|---" * (3 + len(worker_pids)) + "|")
    step = max(1, int(60 / args.sample_every))
    shown = soak.samples[::step] + ([soak.samples[-1]] if (len(soak.samples) - 1) % step else [])
    for s in shown:
        workers = " | ".join(_mib(s.workers[p]) if p in s.workers else "-" for p in worker_pids)
        out.append(f"| {s.t / 60:.1f} | {_mib(s.master)} | {workers} | {s.fds} |")
    out.append("")
    lengths = ", ".join(f"{up - down:.2f}" for down, up in soak.windows)
    out.append(f"Upstream restart windows (s): {lengths or 'none'}")
    in_window = [e for e in tally.events if _in_window(e, soak.windows)]
    outside = [e for e in tally.events if not _in_window(e, soak.windows)]
    out.append("")
    out.append("| unexpected answer | in a restart window | outside |")
    out.append("|---|---|---|")
    for kind_what in sorted({(e.kind, e.what) for e in tally.events}):
        n_in = sum((e.kind, e.what) == kind_what for e in in_window)
        n_out = sum((e.kind, e.what) == kind_what for e in outside)
        out.append(f"| {kind_what[0]} {kind_what[1]} | {n_in} | {n_out} |")
    if not tally.events:
        out.append("| none | 0 | 0 |")
    for e in outside[:20]:
        out.append(f"- outside a window: {e.kind} {e.what} at {e.start:.1f}-{e.end:.1f} s")
    # Checks.
    warm = next((s for s in soak.samples if s.t >= args.warmup), soak.samples[0])
    last = soak.samples[-1]
    drift = [(last.master - warm.master, "master")]
    drift += [
        (last.workers[p] - warm.workers[p], f"worker {worker_pids.index(p)}")
        for p in warm.workers
        if p in last.workers
    ]
    fds_end = soak.fds_after[-1][1] if soak.fds_after else last.fds
    extra = soak.end_kinds
    to_pools = sum(n for k, n in extra.items() if k.startswith("socket to "))
    settled = soak.fds_after[-1][0] if soak.fds_after else 0.0
    checks = [
        ("502s only in restart windows", not any(e.what == "502" for e in outside)),
        (
            "no other unexpected answer",
            not any(e.what != "502" for e in tally.events) and not outside,
        ),
        (
            f"last RSS within 5 MiB of the first after warm-up ({args.warmup:g} s): "
            + ", ".join(f"{name} {d / MIB:+.1f} MiB" for d, name in drift),
            all(abs(d) <= RSS_SLACK for d, _ in drift),
        ),
        (
            f"open fds back to idle: {soak.idle_fds} before the load, {last.fds} at its end, "
            f"{fds_end} {settled:.0f} s later, of which {to_pools} idle keep-alive upstream "
            f"connections (the pools report {soak.pool_idle_end} idle)",
            sum(extra.values()) == to_pools and to_pools <= soak.pool_idle_end,
        ),
    ]
    if extra:
        out.append("")
        out.append(
            "Descriptors beyond the idle ones at the end: "
            + ", ".join(f"{n} {k}" for k, n in sorted(extra.items()))
        )
    out.append("")
    for text, ok in checks:
        out.append(f"- [{'x' if ok else ' '}] {text}")
    return "\n".join(out) + "\n", all(ok for _, ok in checks)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ws", type=int, default=500, help="websockets held open")
    p.add_argument("--get-conns", type=int, default=4)
    p.add_argument("--get-pause", type=float, default=0.005, help="seconds between two GETs")
    p.add_argument("--upload-mib", type=int, default=20)
    p.add_argument("--upload-pause", type=float, default=2.0)
    p.add_argument("--hup-every", type=float, default=30.0)
    p.add_argument("--restart-every", type=float, default=60.0)
    p.add_argument("--sample-every", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=120.0, help="max wait for fds to come back")
    p.add_argument("--note", default="the machine was shared with other work during the run")
    p.add_argument("--out", type=Path, help="also write the report here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="odoo-router-soak-"))
    soak = Soak(args, work)
    try:
        for pool in POOLS:
            soak.start_upstream(pool)
        soak.start_router()
        time.sleep(2.0)
        soak.idle_fds = soak.fds()
        soak.idle_kinds = soak.fd_kinds()
        import uvloop

        tally = uvloop.run(soak.run())
        soak.settle()
        text, ok = report(soak, tally)
    finally:
        soak.stop()
        if args.keep:
            print(f"work directory: {work}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
