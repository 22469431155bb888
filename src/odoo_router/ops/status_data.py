"""The status document: one dict, served as ``/status.json`` and rendered as ``/status``.

Its shape is docs/status.schema.json (JSON Schema), documented in docs/status.md; a test
validates live documents against it. Both views come from this one function, so they cannot
disagree. Rules for pools: a server is failed when any live worker's passive health keeps it
out of rotation now, and ``failed_until`` is the latest such time across workers (workers
mark servers on their own: each sees only its own connections).
"""

from __future__ import annotations

import time
from typing import Any

from .metrics_merge import Merged
from .status_model import InfoView
from .status_tenants import RateWindow, tenant_rows

SCHEMA_VERSION = 1


def _pools(merged: Merged, now: float) -> list[dict[str, Any]]:
    out = []
    for name in sorted(set(merged.pools) | set(merged.health)):
        idle, active = merged.pools.get(name, [0, 0])
        servers = []
        for server, untils in sorted(merged.health.get(name, {}).items()):
            failing = [u for u in untils if u > now]
            latest = max(untils, default=0.0)
            servers.append(
                {
                    "server": server,
                    "failed": bool(failing),
                    "failed_until": max(failing) if failing else None,
                    "last_failed_until": latest if latest > 0 else None,
                    "workers_failed": len(failing),
                    "workers_reporting": len(untils),
                }
            )
        out.append({"name": name, "idle": idle, "active": active, "servers": servers})
    return out


def status_document(
    merged: Merged, info: InfoView, window: RateWindow, now: float | None = None
) -> dict[str, Any]:
    """Everything the page shows. ``now`` (time.time()) is for tests."""
    wall = time.time() if now is None else now
    rows, interval = window.rates(tenant_rows(merged), time.monotonic())
    return {
        "schema": SCHEMA_VERSION,
        "generated": wall,
        "router": {
            "version": info.version,
            "build": info.build,
            "build_detail": info.build_detail,
            "pid": info.pid,
            "started": info.started,
            "uptime_seconds": max(0.0, wall - info.started),
            "workers": {
                "configured": info.workers_configured,
                "running": info.workers_running,
            },
            "open_connections": merged.open_connections,
            "open_websockets": merged.open_websockets,
        },
        "config": {"hash": info.config_hash, "loaded": info.config_loaded},
        "reloads": {
            "counts": dict(sorted(merged.reloads.items())),
            "recent": [
                {
                    "time": r.time,
                    "outcome": r.outcome,
                    "config_hash": r.config_hash,
                    "detail": r.detail,
                }
                for r in info.reloads
            ],
        },
        "pools": _pools(merged, wall),
        "tenants": {
            "rate_interval_seconds": interval,
            "rows": [
                {
                    "db": r.db,
                    "requests": r.requests,
                    "errors": r.errors,
                    "websockets": r.websockets,
                    "request_rate": r.request_rate,
                    "error_rate": r.error_rate,
                }
                for r in sorted(rows, key=lambda r: (-(r.request_rate or 0.0), -r.requests, r.db))
            ],
        },
    }
