"""Instructions per keep-alive GET, counted by callgrind: ``python -m bench.instructions``.

Wall-clock numbers swing with the load of a shared machine; an instruction count does not.
This runs bench.micro's loop (one 1 KiB GET through the router's own Python: request parsed,
filtered, head written upstream, response parsed and relayed, connection released) under
``valgrind --tool=callgrind`` twice, with N and with M requests, and prints
(instructions(M) - instructions(N)) / (M - N): start-up, imports and the config load cancel
out, what is left is the cost of one request. Runs agree to about 0.1%.

Needs valgrind (``apt install valgrind``); each run takes 10-30 s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def _child(requests: int) -> None:
    import uvloop

    from bench.micro import measure

    uvloop.run(measure(requests, 1))


def count(requests: int) -> int:
    """Instructions of one process that serves ``requests`` requests (start-up included)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            str(requests),
        ],
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
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return
    if args.m <= args.n:
        parser.error("--m must be larger than --n")
    short, long = count(args.n), count(args.m)
    print(f"instructions per keep-alive GET: {(long - short) / (args.m - args.n):,.0f}")


if __name__ == "__main__":
    main()
