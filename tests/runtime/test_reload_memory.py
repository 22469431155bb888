"""Reloads do not grow the master: after 1,000 reloads (``slow``; the default run does 100
with the bound scaled down) its RSS is within 1 MiB of where it was after the first 10.
Each reload parsed the file into cyclic garbage (yamlmarks.py: a recursive closure holding
the YAML constructor, whose memo held every node and mark): 200 reloads grew the master by
3 MiB before the cyclic collector caught up."""

from __future__ import annotations

import signal
import time

import pytest

from harness.processes import free_port
from integration.router import RouterProcess, production_config, start_router
from integration.upstreams import Farm

MIB = 1024 * 1024
BOUND_PER_1000 = 1 * MIB


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def reload(router: RouterProcess, count: int) -> None:
    """SIGHUP, then wait for the master's "reloaded" line before the next: one reload
    each (signals sent during a reload would coalesce)."""
    done = router.log().count("reloaded")
    for i in range(count):
        router.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while router.log().count("reloaded") <= done + i:
            assert time.monotonic() < deadline, router.log()[-2000:]
            time.sleep(0.002)


@pytest.mark.parametrize(
    "reloads",
    [100, pytest.param(1000, marks=[pytest.mark.slow, pytest.mark.timeout(900)])],
)
def test_reloads_do_not_grow_the_master(farm: Farm, reloads: int) -> None:
    port = free_port()
    config = production_config(port, farm.ports)  # the production profile, metrics on
    config["server"]["workers"] = 2
    config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    router = start_router(config, port)
    try:
        reload(router, 10)
        before = rss(router.proc.pid)
        reload(router, reloads)
        grown = rss(router.proc.pid) - before
        bound = BOUND_PER_1000 * reloads // 1000
        assert grown <= bound, f"{reloads} reloads grew the master by {grown / 1024:.0f} KiB"
        assert router.alive()
    finally:
        router.stop()
