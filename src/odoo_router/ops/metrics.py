"""Per-worker request statistics and the snapshot file each worker writes.

Theory of operation
-------------------
The proxy's whole per-request budget is about 20 us, and a Prometheus client library's
``labels().inc()`` alone costs a few microseconds, so the hot path touches no such library.
Each worker process owns one ``Stats``: plain dicts of ints and fixed-bucket histograms
(lists of ints), updated with one dict lookup per request.

Workers are forked processes, so they cannot share those objects. Once a second each worker
calls ``write_snapshot(stats, directory, worker_id)``, which dumps ``stats.snapshot()`` as
JSON into ``directory/worker-<id>.json`` (tmp file + rename: a reader sees the old or the new
file, never half of one). The master sums the snapshots at scrape time (metrics_merge.py),
renders the sum as Prometheus text (metrics_text.py) and serves it from its one listener
(metrics_http.py); none of those three is imported by a worker.

When a worker dies the master calls ``metrics_merge.forget_worker`` *before* it starts the
replacement: the dead worker's counters and histograms are folded into ``retired.json`` and
its file is removed, so counters stay monotonic and its gauges (open connections, pool
sizes) disappear with it. Counts made after the worker's last snapshot (at most about a
second) are lost with the process; Prometheus' rate() treats that as noise. The master keeps
a Stats of its own (reloads are counted there, once, not per worker) and writes it with
worker_id "master".

Label values: every label value passed to ``Stats`` must come from the configuration
(host rule names, route names, pool names, the fixed status classes, error kinds and
reload outcomes). The caller guarantees it; raw client input (Host header, path) must never
be passed here, or a client could create unbounded time series. The one exception, the
tenant database, is bounded by the master's slot table (``Stats.tenants``,
metrics_tenants.py and metrics_slots.py).
"""

from __future__ import annotations

import json
import os
import re
import time
from bisect import bisect_left
from typing import Any

# Re-exported: the merge, the text and the tests take them from here.
from .metrics_histogram import BUCKETS as BUCKETS
from .metrics_histogram import STATUS_CLASSES as STATUS_CLASSES
from .metrics_histogram import Histogram as Histogram
from .metrics_tenants import TenantStats

SNAPSHOT_VERSION = 1

ERROR_KINDS = ("connect", "timeout", "reset")
RELOAD_OUTCOMES = ("ok", "invalid", "error")
# Faults of the router's own resources (each also logged): a request body that could not be
# spilled to temp_dir (answered 500), a response spool that failed after the head went out
# (the client connection cut), and a once-a-second sample that found a worker at its file
# descriptor limit (new connections are being accepted and dropped).
FAULT_KINDS = ("request_spill", "response_spool", "fd_exhausted")

WORKER_FILE = re.compile(r"^worker-([A-Za-z0-9_.-]+)\.json$")

RequestKey = tuple[str, str, str, str]  # host_rule, route, pool, status_class


class Stats:
    """One worker's counters. Single-threaded (the worker's event loop): no locks."""

    __slots__ = (
        "_started",
        "faults",
        "health",
        "open_connections",
        "open_websockets",
        "pools",
        "reloads",
        "request_duration",
        "requests",
        "tenants",
        "upstream_duration",
        "upstream_errors",
    )

    def __init__(self) -> None:
        # key -> [count, bytes_in, bytes_out]: one lookup per request for three counters.
        self.requests: dict[RequestKey, list[int]] = {}
        self.request_duration: dict[tuple[str, str], Histogram] = {}  # (host_rule, route)
        self.upstream_duration: dict[str, Histogram] = {}  # pool
        self.upstream_errors: dict[tuple[str, str], int] = {}  # (pool, kind)
        self.reloads: dict[str, int] = {}
        self.faults: dict[str, int] = {}  # kind (FAULT_KINDS) -> count
        self.pools: dict[str, tuple[int, int]] = {}  # pool -> (idle, active)
        # pool -> [(server, failed until as time.time(), 0.0 when never failed)]
        self.health: dict[str, list[tuple[str, float]]] = {}
        self.open_connections = 0
        self.open_websockets = 0
        self._started = time.time()
        self.tenants: TenantStats = TenantStats()

    # ------------------------------------------------------------------ hot path

    def request_done(
        self,
        host_rule: str,
        route: str,
        pool: str,
        status: int,
        total_s: float,
        upstream_s: float | None,
        bytes_in: int,
        bytes_out: int,
        tenant: str | None = None,
        upstream_status: int = 0,
    ) -> None:
        """Count one finished request. ``pool`` is "" for answers made by the router itself
        (respond, redirect, errors before a pool was chosen); ``upstream_s`` is None when no
        upstream answered. Status 499 (client gone) counts as 4xx, like nginx logs it.
        ``tenant`` (metrics_tenants.tenant_key; None: per-tenant series off) counts it under
        its tenant too, ``upstream_status`` being Odoo's own answer (0: none). One call for
        both, sharing the status class and the bucket: this runs on every request."""
        ci = status // 100 if 0 <= status < 600 else 0
        cls = STATUS_CLASSES[ci]
        key = (host_rule, route, pool, cls)
        row = self.requests.get(key)
        if row is None:
            row = self.requests[key] = [0, 0, 0]
        row[0] += 1
        row[1] += bytes_in
        row[2] += bytes_out
        hkey = (host_rule, route)
        hist = self.request_duration.get(hkey)
        if hist is None:
            hist = self.request_duration[hkey] = Histogram()
        bucket = bisect_left(BUCKETS, total_s)
        hist.counts[bucket] += 1
        hist.total += total_s
        if tenant is not None:
            tenants = self.tenants
            trow = tenants.rows.get(tenant)
            if trow is None:
                trow = tenants.unlabelled(tenant, upstream_status, pool)
            trow.classes[ci] += 1
            trow.bytes_in += bytes_in
            trow.bytes_out += bytes_out
            trow.counts[bucket] += 1
            trow.total += total_s
        if upstream_s is not None and pool:
            uh = self.upstream_duration.get(pool)
            if uh is None:
                uh = self.upstream_duration[pool] = Histogram()
            uh.counts[bisect_left(BUCKETS, upstream_s)] += 1
            uh.total += upstream_s

    def connection_opened(self) -> None:
        self.open_connections += 1

    def connection_closed(self) -> None:
        self.open_connections -= 1

    def websocket_opened(self) -> None:
        self.open_websockets += 1

    def websocket_closed(self) -> None:
        self.open_websockets -= 1

    def upstream_error(self, pool: str, kind: str) -> None:
        """kind: connect | timeout | reset."""
        key = (pool, kind)
        self.upstream_errors[key] = self.upstream_errors.get(key, 0) + 1

    # ------------------------------------------------------------------ occasional

    def fault(self, kind: str) -> None:
        """kind: one of FAULT_KINDS."""
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def set_pool(self, pool: str, idle: int, active: int) -> None:
        self.pools[pool] = (idle, active)

    def set_health(
        self, pools: dict[str, list[tuple[str, float]]], mono_now: float, wall_now: float
    ) -> None:
        """Replace every pool's passive health (``UpstreamPool.health``: monotonic times,
        made wall-clock here so that the master can compare and show them)."""
        self.health = {
            pool: [(srv, wall_now + until - mono_now if until else 0.0) for srv, until in servers]
            for pool, servers in pools.items()
        }

    def reload(self, outcome: str) -> None:
        """outcome: ok | invalid | error."""
        self.reloads[outcome] = self.reloads.get(outcome, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON-able lists (tuple keys do not survive JSON)."""
        return {
            "version": SNAPSHOT_VERSION,
            "pid": os.getpid(),
            "started": self._started,
            "time": time.time(),
            "buckets": list(BUCKETS),
            "requests": [[*k, *v] for k, v in self.requests.items()],
            "request_duration": [
                [hr, rt, list(h.counts), h.total] for (hr, rt), h in self.request_duration.items()
            ],
            "upstream_duration": [
                [p, list(h.counts), h.total] for p, h in self.upstream_duration.items()
            ],
            "upstream_errors": [[p, k, n] for (p, k), n in self.upstream_errors.items()],
            "reloads": [[o, n] for o, n in self.reloads.items()],
            "faults": [[k, n] for k, n in self.faults.items()],
            "open_connections": self.open_connections,
            "open_websockets": self.open_websockets,
            "pools": [[p, idle, active] for p, (idle, active) in self.pools.items()],
            "health": [
                [p, srv, until] for p, servers in self.health.items() for srv, until in servers
            ],
            "tenants": self.tenants.snapshot(),
        }


# --------------------------------------------------------------------------- snapshot files


def snapshot_path(directory: str, worker_id: int | str) -> str:
    name = f"worker-{worker_id}.json"
    if not WORKER_FILE.match(name):
        raise ValueError(f"bad worker id {worker_id!r}")
    return os.path.join(directory, name)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``path`` whole or not at all (tmp file + rename), for readers in another process."""
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_snapshot(stats: Stats, directory: str, worker_id: int | str) -> None:
    """Dump ``stats`` into ``directory/worker-<id>.json`` atomically (tmp + rename).

    Called by each worker about once a second; costs well under a millisecond."""
    data = json.dumps(stats.snapshot(), separators=(",", ":")).encode()
    write_atomic(snapshot_path(directory, worker_id), data)
