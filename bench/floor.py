"""How far odoo-router is from the cheapest Python proxy: ``python -m bench.floor``.

Runs the get8 and get64 rows, one worker each, against nginx-tuned, the forward-only proxy
of bench/floor_proxy.py (same loop, parser and upstream keep-alive, none of the router's
rules) as it is and compiled by mypyc (as the router's data path is), and odoo-router, and
prints requests/s and the user and system CPU per request (the median of interleaved
rounds, as the main bench). The difference between the floor and odoo-router is the price
of what the router does beyond forwarding; the floor's distance to nginx is the price of
Python itself.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.measure import Row, run_wrk
from bench.report import combine
from bench.scenarios import DOWNLOAD_BYTES, SCENARIOS
from bench.targets import compile_floor, start_floor, start_nginx, start_router, start_sink


def _line(row: Row) -> str:
    user = row.cpu_user_s / row.requests * 1e6 if row.requests else 0.0
    system = row.cpu_us - user
    return (
        f"| {row.scenario} | {row.target} | {row.rps:,.0f} | {user:.1f} | {system:.1f} "
        f"| {row.cpu_us:.1f} | {row.errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per row and target")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, median kept")
    parser.add_argument(
        "--pure-only", action="store_true", help="skip the floor compiled by mypyc (~20 s build)"
    )
    args = parser.parse_args()
    rows = [sc for sc in SCENARIOS if sc.key in ("get8", "get64")]
    with tempfile.TemporaryDirectory(prefix="odoo-router-floor-") as tmp:
        workdir = Path(tmp)
        sink = start_sink(workdir, DOWNLOAD_BYTES)
        up = sink.upstreams
        # The floors exit by themselves: after every row's rounds on four targets (and the
        # compile, for the pure one), with room to spare.
        lifetime = 8 * (args.rounds * args.seconds + 1) + 120
        targets = [start_nginx("nginx-tuned", workdir, up, 1, 256)]
        targets.append(start_floor(workdir, up.http, lifetime))
        if not args.pure_only:
            try:
                targets.append(start_floor(workdir, up.http, lifetime, compile_floor(workdir)))
            except RuntimeError as exc:
                print(f"(no compiled floor: {exc})")
        targets.append(start_router(workdir, up, 1))
        try:
            print("| row | target | req/s | user us/req | sys us/req | CPU us/req | errors |")
            print("|---|---|---:|---:|---:|---:|---:|")
            for sc in rows:
                for target in targets:
                    run_wrk(target, sc, 1, 1.0, workdir)  # warm-up
                rounds: dict[str, list[Row]] = {t.name: [] for t in targets}
                for _ in range(args.rounds):  # interleaved: a slow spell hits every target
                    for target in targets:
                        rounds[target.name].append(run_wrk(target, sc, 1, args.seconds, workdir))
                for measured in rounds.values():
                    print(_line(combine(measured)), flush=True)
        finally:
            for target in targets:
                target.stop()
            sink.stop()


if __name__ == "__main__":
    main()
