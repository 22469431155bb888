"""Show what nginx (and odoo-router) did with the cases whose id contains a text.

    cd tests && ../.venv/bin/python -m conformance.show 'path-sub-GET-/web/%64' [--router]

For writing FINDINGS.md and checking the harness by eye; not collected by pytest.
"""

from __future__ import annotations

import argparse
import pprint

from .cases import generate
from .client import exchange
from .deviations import compare
from .nginx_ref import start_nginx
from .observe import observe
from .procs import free_port
from .router_proc import start_router
from .upstreams import running_upstreams


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("needle")
    parser.add_argument("--router", action="store_true", help="also run odoo-router and diff")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    cases = [c for c in generate() if args.needle in c.id][: args.limit]
    with running_upstreams() as ups:
        nginx = start_nginx(free_port(), ups.ports)
        router = start_router(free_port(), ups.ports) if args.router else None
        try:
            for case in cases:
                print(f"=== {case.id}\n{case.raw[:600]!r}")
                ups.recorder.take()
                ref = observe(
                    case, exchange(nginx.port, case.raw, head=case.head), ups.recorder.take()
                )
                print("--- nginx")
                pprint.pprint(ref, width=110)
                if router is not None:
                    answer = exchange(router.port, case.raw, head=case.head)
                    ours = observe(case, answer, ups.recorder.take())
                    print("--- odoo-router differences")
                    print("\n".join(compare(case, ref, ours)) or "(none)")
        finally:
            nginx.stop()
            if router is not None:
                router.stop()


if __name__ == "__main__":
    main()
