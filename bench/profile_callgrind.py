"""Where the worker's instructions go per request under load: ``python -m bench.profile
--callgrind``.

The router (one worker) runs under valgrind's callgrind, which counts only inside uvloop's
loop (``--toggle-collect``): the worker serving, not the imports and start-up before it,
nor the master (which runs no uvloop). One wrk run loads it, then the router is stopped and
the worker's counts are read; the instructions per request are their total over the
requests wrk completed (the readiness probe's few and the drain at the end are in the
total, and negligible). That is the worker's whole user-space work per request at that
row's concurrency: the compiled data path, libpython, uvloop and libuv, llhttp, libc. Not
the kernel's (a syscall's own work is not counted), and not time: an instruction count does
not move with the machine's load. Under callgrind the worker runs some 50x slower, so wrk
gets what it gets; with 8 connections there are still 8 requests in flight, as in the
bench's row. (``callgrind_control`` cannot reach a forked worker here, hence the toggle.)

Needs valgrind (``apt install valgrind``).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import defaultdict
from pathlib import Path

from bench import baseline, wrk
from bench.nginx_conf import Upstreams
from bench.procs import descendants
from bench.scenarios import Scenario
from bench.targets import COMPAT, ROUTER_BIN, start_router

LOOP_RUN = "__pyx_f_6uvloop_4loop_4Loop__run"  # uvloop's Loop._run: the worker serving
# The parsers' entry points: the compiled head parser's two feeds (requests, responses),
# httptools' (the fallback's).
PARSERS = frozenset(
    {"Parser_feed", "RParser_feed", "__pyx_pw_9httptools_6parser_6parser_10HttpParser_13feed_data"}
)
_LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[(.+)\])?$")
_TOTAL = re.compile(r"^\s*([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found (Debian: apt install valgrind)")
    return found


def short_object(path: str) -> str:
    """A shared object as the tables name it."""
    for part, short in (
        ("odoo_router_native__mypyc", "odoo_router (mypyc)"),
        ("_headparser", "_headparser"),
        ("libpython", "libpython"),
        ("httptools", "httptools (llhttp)"),
        ("uvloop", "uvloop (libuv)"),
        ("libc.so", "libc"),
        ("ld-linux", "ld.so"),
    ):
        if part in path:
            return short
    return Path(path).name or "?"


def costs(dump: Path, inclusive: bool) -> tuple[int, dict[str, int], dict[str, str]]:
    """(total, instructions per function, each function's object) from one dump: its own, or
    with everything it calls. A function callgrind splits by source file (code inlined from
    a header) is summed into one; inclusive counts of a recursion (name'2) are left out."""
    mode = "--inclusive=yes" if inclusive else "--inclusive=no"
    done = subprocess.run(
        [_tool("callgrind_annotate"), mode, "--threshold=100", "--auto=no", str(dump)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    total = 0
    cost: dict[str, int] = defaultdict(int)
    where: dict[str, str] = {}
    for line in done.stdout.splitlines():
        found = _TOTAL.match(line)
        if found:
            total = int(found.group(1).replace(",", ""))
            continue
        found = _LINE.match(line)
        if not found or "PROGRAM TOTALS" in line:
            continue
        n, place, obj = found.groups()
        function = place.rsplit(":", 1)[-1]
        if inclusive and ("'" in function or function in cost):
            continue  # a recursion's inner level, or the same code seen from a header
        cost[function] += int(n.replace(",", ""))
        if obj:
            where.setdefault(function, short_object(obj))
    return total, cost, where


def profile(
    sc: Scenario,
    seconds: int,
    top: int,
    workdir: Path,
    upstreams: Upstreams,
    base: baseline.Baseline | None = None,
) -> None:
    """The profile of this checkout's router, or of ``base`` (another commit's build)."""
    request = sc.request
    assert request is not None
    wrap = (
        _tool("valgrind"),
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={LOOP_RUN}",
        f"--callgrind-out-file={workdir}/callgrind.%p",
    )
    router_bin, compat = (ROUTER_BIN, COMPAT) if base is None else (base.router_bin, base.compat)
    router = start_router(
        workdir, upstreams, 1, router_bin=router_bin, compat=compat, wrap=wrap, ready_within=300
    )
    try:
        worker = descendants(router.pid)[-1]
        result = wrk.run(router.port, request, sc.connections, seconds, workdir)
        router.proc.proc.send_signal(signal.SIGTERM)  # a graceful stop writes the counts
        router.proc.proc.wait(300)
    finally:
        router.stop()
    dump = workdir / f"callgrind.{worker}"
    if not dump.exists() or not result.requests:
        raise SystemExit(f"no counts ({dump}) or no requests ({result})")
    total, cost, where = costs(dump, inclusive=False)
    _, under, _ = costs(dump, inclusive=True)
    per = total / result.requests
    print(f"== {'odoo-router (this checkout)' if base is None else base.label}")
    print(
        f"{sc.title}: {result.requests:,} requests in {result.seconds:.1f} s under callgrind "
        f"({result.errors} errors); the worker's user-space instructions per request: {per:,.0f}"
    )
    by_object: dict[str, int] = defaultdict(int)
    for function, n in cost.items():
        by_object[where.get(function, "?")] += n
    print("\nby shared object (instructions per request, share)")
    for obj, n in sorted(by_object.items(), key=lambda kv: -kv[1]):
        if n / total >= 0.001:
            print(f"{n / result.requests:9,.0f}  {n / total:6.1%}  {obj}")
    print(f"\ntop {top} functions by their own instructions (per request, share, object)")
    for function, n in sorted(cost.items(), key=lambda kv: -kv[1])[:top]:
        obj = where.get(function, "?")
        print(f"{n / result.requests:9,.0f}  {n / total:6.1%}  {function}  [{obj}]")
    print(f"\ntop {top} of the data path's functions with what they call (per request, share)")
    ours = [(f, n) for f, n in under.items() if f.startswith("CPyDef_") or f in PARSERS]
    for function, n in sorted(ours, key=lambda kv: -kv[1])[:top]:
        print(f"{n / result.requests:9,.0f}  {n / total:6.1%}  {function}")
