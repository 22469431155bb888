"""One measurement: a load against one running target, with its CPU and RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import wrk
from bench.procs import Usage, total_rss
from bench.scenarios import Scenario
from bench.targets import REPO, Running, child_env


@dataclass
class Row:
    scenario: str
    workers: int
    target: str
    requests: int
    seconds: float
    p50_us: int
    p99_us: int
    p999_us: int
    cpu_s: float
    cpu_user_s: float
    peak_rss: int  # bytes, the largest process of the target
    errors: int
    payload_bytes: int = 0
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def mbps(self) -> float:
        return self.rps * self.payload_bytes / 1e6

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else 0.0


def run_wrk(target: Running, sc: Scenario, workers: int, seconds: float, workdir: Path) -> Row:
    assert sc.request is not None
    threads = 2 if sc.connections >= 64 else 1
    with Usage(target.pid) as usage:
        res = wrk.run(target.port, sc.request, sc.connections, seconds, workdir, threads)
    return Row(
        scenario=sc.key,
        workers=workers,
        target=target.name,
        requests=res.requests,
        seconds=res.seconds,
        p50_us=res.p50_us,
        p99_us=res.p99_us,
        p999_us=res.p999_us,
        cpu_s=usage.cpu,
        cpu_user_s=usage.cpu_user,
        peak_rss=usage.peak_rss,
        # A run that completed nothing (a stuck response) counts every connection as failed.
        errors=res.errors + res.non2xx + (sc.connections if res.requests == 0 else 0),
        payload_bytes=sc.payload_bytes,
    )


def run_ws(target: Running, sc: Scenario, workers: int, seconds: float) -> Row:
    before = total_rss(target.pid)
    argv = [
        sys.executable,
        "-m",
        "bench.ws_client",
        str(target.port),
        "--count",
        str(sc.connections),
        "--seconds",
        str(seconds),
    ]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=child_env()
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        opened_line = proc.stdout.readline().split()
        if not opened_line or opened_line[0] != "OPEN":
            raise RuntimeError(f"websocket client failed: {opened_line}")
        time.sleep(1.0)  # let the proxy settle before reading its RSS
        held = total_rss(target.pid)
        with Usage(target.pid) as usage:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not line.startswith("BENCHJSON "):
        raise RuntimeError(f"websocket client gave no result: {line!r}")
    d = json.loads(line[len("BENCHJSON ") :])
    opened = max(1, d["opened"])
    return Row(
        scenario=sc.key,
        workers=workers,
        target=target.name,
        requests=d["requests"],
        seconds=d["duration_us"] / 1e6,
        p50_us=d["p50"],
        p99_us=d["p99"],
        p999_us=d["p999"],
        cpu_s=usage.cpu,
        cpu_user_s=usage.cpu_user,
        peak_rss=usage.peak_rss,
        errors=d["errors"] + d["failed"] + (sc.connections - d["opened"] - d["failed"]),
        notes={"ws_open": d["opened"], "rss_per_ws_kib": (held - before) / opened / 1024},
    )


def run(target: Running, sc: Scenario, workers: int, seconds: float, workdir: Path) -> Row:
    target.proc.check()
    if sc.request is None:
        return run_ws(target, sc, workers, seconds)
    return run_wrk(target, sc, workers, seconds, workdir)
