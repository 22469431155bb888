"""What the compiled head parser saves per request: ``python -m bench.headparse``.

Both parsers of odoo_router.datapath.headparse (the compiled one, and the fallback: llhttp through
httptools with Python callbacks) parse the same typical Odoo request streams, one
feed per request as a keep-alive client sends them: bench.micro's wrk GET, a browser's GET
of an Odoo page (cookie, accept-*, sec-fetch-*: 13 headers) and a JSON-RPC call with a
2 KiB body. Time: the best of several rounds, per request. ``--callgrind`` counts
instructions instead (valgrind's callgrind, which the machine's load does not disturb):
each parser runs N and 2N requests in separate processes, and the difference divided by N
is the per-request count, start-up and imports cancelled out.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter_ns

from bench.micro import REQUEST as WRK_GET
from odoo_router.datapath.headparse import COMPILED, describe, new_parser

BROWSER_GET = (
    b"GET /odoo/action-sale.action_quotations_with_onboarding?view_type=list HTTP/1.1\r\n"
    b"Host: testodoo.seisei.tokyo\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Referer: https://testodoo.seisei.tokyo/odoo/sales\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session_id=9c0a1d7e3b5f4a2e8d6c1b0a9f8e7d6c5b4a3f2e; frontend_lang=en_US; "
    b"tz=Asia/Tokyo; cids=1\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Priority: u=0, i\r\n\r\n"
)
_BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {
            "model": "sale.order",
            "method": "web_search_read",
            "args": [],
            "kwargs": {"specification": {f"field_{i}": {} for i in range(70)}, "limit": 80},
        },
    }
).encode()[:2048]
JSONRPC = (
    b"POST /web/dataset/call_kw/sale.order/web_search_read HTTP/1.1\r\n"
    b"Host: testodoo.seisei.tokyo\r\nContent-Type: application/json\r\n"
    b"Cookie: session_id=9c0a1d7e3b5f4a2e8d6c1b0a9f8e7d6c5b4a3f2e\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_BODY)
) + _BODY
STREAMS = {"wrk GET": WRK_GET, "browser GET": BROWSER_GET, "JSON-RPC 2 KiB": JSONRPC}


def loop(compiled: bool, data: bytes, requests: int) -> None:
    parser = new_parser(8192, 1000, compiled=compiled)
    feed = parser.feed
    for _ in range(requests):
        feed(data)
    parser.close()


def best_ns(compiled: bool, data: bytes, requests: int, rounds: int) -> float:
    """Nanoseconds per request, best round."""
    best = None
    for _ in range(rounds):
        t0 = perf_counter_ns()
        loop(compiled, data, requests)
        spent = perf_counter_ns() - t0
        best = spent if best is None or spent < best else best
    assert best is not None
    return best / requests


def instructions(compiled: bool, name: str, requests: int) -> int:
    """Instructions (callgrind's Ir) of one process parsing ``requests`` times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        code = (
            "import sys; from bench.headparse import STREAMS, loop; "
            f"loop({compiled}, STREAMS[{name!r}], {requests})"
        )
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        subprocess.run(
            [*command, sys.executable, "-c", code],
            check=True,
            capture_output=True,
        )
        summary = re.search(rb"^summary: (\d+)", out.read_bytes(), re.MULTILINE)
        assert summary is not None
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    args = parser.parse_args()
    if not COMPILED:
        sys.exit(f"nothing to compare: {describe()}")
    print(describe())
    for name, data in STREAMS.items():
        if args.callgrind:
            n = 2_000
            per = [
                (instructions(c, name, 2 * n) - instructions(c, name, n)) / n for c in (False, True)
            ]
            unit = "instructions"
        else:
            per = [best_ns(c, data, args.requests, args.rounds) / 1000 for c in (False, True)]
            unit = "us"
        print(
            f"{name:16} fallback {per[0]:9.2f} {unit}  compiled {per[1]:9.2f} {unit}  "
            f"saved {per[0] - per[1]:9.2f} ({1 - per[1] / per[0]:.0%})"
        )


if __name__ == "__main__":
    main()
