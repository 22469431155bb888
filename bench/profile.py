"""A profile of odoo-router's hot path under load: ``python -m bench.profile``.

Starts the sink and odoo-router (one worker), runs wrk against it and, meanwhile,
``py-spy record --format raw`` on the worker process; prints the frames where the worker
spends its own time (self) and the frames it spends the most time under (total).
py-spy is not a project dependency: ``.venv/bin/pip install py-spy``.

The data path is compiled (mypyc), and compiled functions make no Python frames: py-spy
then sees little below the protocol callbacks. ``--perf`` samples with Linux ``perf``
instead (Debian: linux-perf) and prints the worker's time by shared object (kernel,
libpython, the compiled modules, httptools, uvloop, libc) and its top symbols.
``--callgrind`` counts the worker's instructions per request instead, by function
(bench/profile_callgrind.py: load-independent, user space only).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench import baseline, profile_callgrind, wrk
from bench.procs import descendants
from bench.scenarios import DOWNLOAD_BYTES, SCENARIOS
from bench.targets import start_router, start_sink


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
    return found


def perf() -> str:
    found = shutil.which("perf")
    if found is None:
        raise SystemExit("perf not found (Debian: apt install linux-perf)")
    return found


def perf_report(data: Path, sort: str, count: int) -> str:
    """The top ``count`` lines of ``perf report --sort SORT`` (share, then the key)."""
    done = subprocess.run(
        [perf(), "report", "-i", str(data), "--sort", sort, "--stdio", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [" ".join(line.split()) for line in done.stdout.splitlines() if line.strip()]
    rows = [re.sub(r"( -)+$", "", row) for row in rows]  # empty trailing columns
    return "\n".join(rows[:count])


def _function(frame: str) -> str:
    """ "f (path/x.py:12)" -> "f (path/x.py)": lines of one function counted together."""
    return re.sub(r":\d+\)$", ")", frame)


def top_frames(
    raw: Path, count: int, by_function: bool = False
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(self, total) shares of samples per frame, from py-spy's collapsed-stack output."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack or not n_text.isdigit():
            continue
        n = int(n_text)
        frames = stack.split(";")
        if by_function:
            frames = [_function(f) for f in frames]
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            under[frame] += n
    if not samples:
        return [], []
    return (
        [(f, n / samples) for f, n in own.most_common(count)],
        [(f, n / samples) for f, n in under.most_common(count)],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--row", default="get64", help="a wrk row of the bench (default get64)")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--native", action="store_true", help="include C frames (uvloop, syscalls)")
    p.add_argument("--out", type=Path, help="keep the collapsed stacks here (for a flame graph)")
    p.add_argument("--perf", action="store_true", help="sample with Linux perf (C symbols)")
    p.add_argument("--access-log", action="store_true", help="the router logs to a file")
    p.add_argument(
        "--callgrind", action="store_true", help="instructions per request by function (valgrind)"
    )
    p.add_argument("--baseline", metavar="REF", help="with --callgrind: that commit's build too")
    args = p.parse_args(argv)
    sc = next(s for s in SCENARIOS if s.key == args.row and s.request is not None)
    request = sc.request
    assert request is not None
    workdir = Path(tempfile.mkdtemp(prefix="odoo-router-profile-"))
    raw = args.out or workdir / "stacks.txt"
    sink = start_sink(workdir, DOWNLOAD_BYTES)
    if args.callgrind:
        try:
            if args.baseline:
                base = baseline.build(args.baseline, print)
                profile_callgrind.profile(sc, args.seconds, args.top, workdir, sink.upstreams, base)
                print()
            profile_callgrind.profile(sc, args.seconds, args.top, workdir, sink.upstreams)
        finally:
            sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    try:
        log = workdir / "access.log" if args.access_log else None
        router = start_router(workdir, sink.upstreams, 1, access_log=log)
        try:
            pids = descendants(router.pid)
            worker = pids[-1]  # the single worker (or the server itself if it does not fork)
            if args.perf:
                spy = [perf(), "record", "-q", "-F", str(args.rate), "-p", str(worker)]
                spy += ["-o", str(raw), "--", "sleep", str(args.seconds)]
            else:
                spy = [py_spy(), "record", "--pid", str(worker), "--rate", str(args.rate)]
                spy += ["--duration", str(args.seconds), "--format", "raw"]
                if not args.native:  # native unwinding needs the process paused at each sample
                    spy.append("--nonblocking")
                spy += ["--output", str(raw)] + (["--native"] if args.native else [])
            result: list[wrk.WrkResult] = []
            load = threading.Thread(
                target=lambda: result.append(
                    wrk.run(router.port, request, sc.connections, args.seconds + 1, workdir, 2)
                )
            )
            load.start()
            done = subprocess.run(spy, capture_output=True, text=True, timeout=args.seconds + 60)
            if done.returncode != 0:
                raise SystemExit(f"{spy[0]} failed: {done.stderr.strip()[-800:]}")
            load.join()
        finally:
            router.stop()
    finally:
        sink.stop()
    if args.perf:
        if result:
            print(f"{sc.title}: {result[0].rps:,.0f} req/s while sampled (worker pid {worker})")
        for sort in ("dso", "dso,symbol"):
            print(f"\nworker samples by {sort}")
            print(perf_report(raw, sort, args.top))
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    own, under = top_frames(raw, args.top)
    own_fn, _ = top_frames(raw, args.top, by_function=True)
    if result:
        print(f"{sc.title}: {result[0].rps:,.0f} req/s while sampled (worker pid {worker})")
    print("\nself time (frame: share of samples)")
    for frame, share in own:
        print(f"{share:6.1%}  {frame}")
    print("\nself time by function (all its lines)")
    for frame, share in own_fn:
        print(f"{share:6.1%}  {frame}")
    print("\ntotal time (frame and everything it calls)")
    for frame, share in under:
        print(f"{share:6.1%}  {frame}")
    shutil.rmtree(workdir, ignore_errors=True)  # --out lives outside it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
