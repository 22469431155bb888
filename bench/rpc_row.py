"""``python -m bench`` with the RPC firewall on: ``python -m bench.rpc_row [bench options]``.

The bench's router runs config/nginx-compat.yaml, whose RPC route has no firewall, so its
``jsonrpc`` row measures the proxy alone. This runs the same bench (same options, same rows)
with ``rpc_firewall: true`` on that route (testodoo.seisei.tokyo pins ten_testodoo, the
database the row's execute_kw names), to see what inspecting every call costs, e.g.
``python -m bench.rpc_row --rows jsonrpc --targets odoo-router --workers 1``.
"""

from __future__ import annotations

import sys
from typing import Any

from bench import run, targets

_compat_config = targets.router_config


def _with_firewall(*args: Any, **kwargs: Any) -> dict[str, Any]:
    data = _compat_config(*args, **kwargs)
    for route in data["route_sets"]["tenant_locations"]:
        if route.get("name") == "rpc":
            route["proxy"]["rpc_firewall"] = True
    return data


if __name__ == "__main__":
    targets.router_config = _with_firewall
    sys.exit(run.main(sys.argv[1:]))
