"""Idle memory of a 1-worker router: the master's and the worker's PSS (smaps_rollup) summed
stay under 40 MiB, on the production profile with its metrics listener and access log on.

PSS shares each page among the processes that map it, so the sum counts a page the master
and its worker share once. A page they share with other processes (libpython, libc and
libcrypto under a busy test run) counts less than where the router runs alone, so where
/proc/PID/pagemap shows physical pages (root) the same bound holds for the router alone:
every page either process has resident, counted once (docs/performance.md).
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from harness.processes import free_port
from integration.router import production_config, start_router
from integration.upstreams import Farm
from runtime.support import children

MIB = 1024 * 1024
BOUND = 40 * MIB
PAGE = os.sysconf("SC_PAGE_SIZE")


def pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes, from /proc/PID/smaps_rollup."""
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no Pss line for {pid}")


def resident_pages(pid: int) -> set[int] | None:
    """The physical page numbers ``pid`` has resident; None when pagemap hides them (the
    kernel shows them to root only, as zeros to others)."""
    pages: set[int] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            if line.rstrip().endswith("[vsyscall]"):
                continue
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            pagemap.seek(low // PAGE * 8)
            for (entry,) in struct.iter_unpack("<Q", pagemap.read((high - low) // PAGE * 8)):
                if entry >> 63:  # present
                    pages.add(entry & ((1 << 55) - 1))
    return pages if pages and pages != {0} else None


@pytest.mark.skipif(
    not os.path.exists("/proc/self/smaps_rollup"),
    reason="no /proc/PID/smaps_rollup here (Linux 4.14+ with procfs): PSS cannot be read",
)
def test_idle_one_worker_router_under_40_mib(farm: Farm, tmp_path: Path) -> None:
    port = free_port()
    config = production_config(port, farm.ports)
    config["server"]["workers"] = 1
    config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    config["logging"] = {"access_log": str(tmp_path / "access.log")}
    router = start_router(config, port)
    try:
        deadline = time.monotonic() + 10
        while not (workers := children(router.proc.pid)):
            assert time.monotonic() < deadline, router.log()
            time.sleep(0.05)
        time.sleep(1.5)  # idle: the worker has written its first metrics snapshot
        master, worker = pss(router.proc.pid), pss(workers[0])
        total = master + worker
        assert total < BOUND, (
            f"idle PSS {total / MIB:.1f} MiB (master {master / MIB:.1f}, "
            f"worker {worker / MIB:.1f}): over {BOUND // MIB} MiB"
        )
        found = [resident_pages(pid) for pid in (router.proc.pid, workers[0])]
        if found[0] is not None and found[1] is not None:
            alone = len(found[0] | found[1]) * PAGE
            assert alone < BOUND, (
                f"idle memory {alone / MIB:.1f} MiB as the router alone would have it "
                f"(PSS here {total / MIB:.1f} MiB): over {BOUND // MIB} MiB"
            )
    finally:
        router.stop()
