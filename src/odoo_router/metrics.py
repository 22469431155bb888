"""Per-worker request statistics, and the Prometheus listener that merges them.

Theory of operation
-------------------
The proxy's whole per-request budget is about 20 us, and a prometheus_client
``labels().inc()`` alone costs a few microseconds, so the hot path never touches
prometheus_client. Each worker process owns one ``Stats``: plain dicts of ints and
fixed-bucket histograms (lists of ints), updated with one dict lookup per request.

Workers are forked processes, so they cannot share those objects. Once a second each worker
calls ``write_snapshot(stats, directory, worker_id)``, which dumps ``stats.snapshot()`` as
JSON into ``directory/worker-<id>.json`` (tmp file + rename: a reader sees the old or the new
file, never half of one). The master runs the one metrics listener
(``start_metrics_server``) with its own ``CollectorRegistry``; its collector reads every
snapshot file at scrape time and sums them: counters, gauges and histograms alike.

When a worker dies the master calls ``forget_worker(directory, worker_id)`` *before* it
starts the replacement: the dead worker's counters and histograms are folded into
``retired.json`` and its file is removed, so counters stay monotonic and its gauges (open
connections, pool sizes) disappear with it. Counts made after the worker's last snapshot
(at most about a second) are lost with the process; Prometheus' rate() treats that as noise.
The master may keep a Stats of its own (reloads are counted there, once, not per worker)
and write it with worker_id "master".

Label values: every label value passed to ``Stats`` must come from the configuration
(host rule names, route names, pool names, the fixed status classes, error kinds and
reload outcomes). The caller guarantees it; raw client input (Host header, path) must never
be passed here, or a client could create unbounded time series.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import start_http_server

PREFIX = "odoo_router_"
SNAPSHOT_VERSION = 1

# Upper bounds ("le") in seconds; one more slot counts +Inf. Odoo requests range from a
# millisecond (static files) to minutes (reports, RPC with 120-300 s timeouts).
BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0,
)  # fmt: skip

STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")
ERROR_KINDS = ("connect", "timeout", "reset")
RELOAD_OUTCOMES = ("ok", "invalid", "error")
# Faults of the router's own resources (each also logged): a request body that could not be
# spilled to temp_dir (answered 500), a response spool that failed after the head went out
# (the client connection cut), and a once-a-second sample that found a worker at its file
# descriptor limit (new connections are being accepted and dropped).
FAULT_KINDS = ("request_spill", "response_spool", "fd_exhausted")

RETIRED = "retired"
_WORKER_FILE = re.compile(r"^worker-([A-Za-z0-9_.-]+)\.json$")

RequestKey = tuple[str, str, str, str]  # host_rule, route, pool, status_class


class Histogram:
    """Fixed buckets: ``counts[i]`` counts observations <= BUCKETS[i] (and above the previous
    bound); the last slot counts the rest (+Inf). Not cumulative until exported."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * (len(BUCKETS) + 1)
        self.total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.total += value

    def add(self, counts: list[int], total: float) -> None:
        mine = self.counts
        for i, n in enumerate(counts[: len(mine)]):
            mine[i] += n
        self.total += total


class Stats:
    """One worker's counters. Single-threaded (the worker's event loop): no locks."""

    __slots__ = (
        "_started",
        "faults",
        "open_connections",
        "open_websockets",
        "pools",
        "reloads",
        "request_duration",
        "requests",
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
        self.open_connections = 0
        self.open_websockets = 0
        self._started = time.time()

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
    ) -> None:
        """Count one finished request. ``pool`` is "" for answers made by the router itself
        (respond, redirect, errors before a pool was chosen); ``upstream_s`` is None when no
        upstream answered. Status 499 (client gone) counts as 4xx, like nginx logs it."""
        cls = STATUS_CLASSES[status // 100] if 0 <= status < 600 else "0xx"
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
        hist.counts[bisect_left(BUCKETS, total_s)] += 1
        hist.total += total_s
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
        }


# --------------------------------------------------------------------------- merging


@dataclass
class Merged:
    """The sum of several snapshots."""

    requests: dict[RequestKey, list[int]]
    request_duration: dict[tuple[str, str], Histogram]
    upstream_duration: dict[str, Histogram]
    upstream_errors: dict[tuple[str, str], int]
    reloads: dict[str, int]
    pools: dict[str, list[int]]
    faults: dict[str, int] = field(default_factory=dict)
    open_connections: int = 0
    open_websockets: int = 0
    workers: int = 0

    @classmethod
    def empty(cls) -> Merged:
        return cls({}, {}, {}, {}, {}, {})

    def add(self, snap: dict[str, Any], *, gauges: bool = True) -> bool:
        """Add one snapshot, all or nothing: a file of another version or a malformed one is
        skipped (False) rather than failing the scrape or being half counted."""
        if snap.get("version") != SNAPSHOT_VERSION or snap.get("buckets") != list(BUCKETS):
            return False
        slots = len(BUCKETS) + 1

        def hist(counts: Any, total: Any) -> tuple[list[int], float]:
            out = [int(n) for n in counts]
            if len(out) != slots:
                raise ValueError("bucket count")
            return out, float(total)

        try:  # convert everything first, then apply
            requests = [
                ((str(r[0]), str(r[1]), str(r[2]), str(r[3])), (int(r[4]), int(r[5]), int(r[6])))
                for r in snap.get("requests", ())
            ]
            req_dur = [
                ((str(hr), str(rt)), *hist(c, t))
                for hr, rt, c, t in snap.get("request_duration", ())
            ]
            up_dur = [(str(p), *hist(c, t)) for p, c, t in snap.get("upstream_duration", ())]
            errors = [((str(p), str(k)), int(n)) for p, k, n in snap.get("upstream_errors", ())]
            reloads = [(str(o), int(n)) for o, n in snap.get("reloads", ())]
            faults = [(str(k), int(n)) for k, n in snap.get("faults", ())]
            conns = int(snap.get("open_connections", 0))
            sockets = int(snap.get("open_websockets", 0))
            pools = [(str(p), int(i), int(a)) for p, i, a in snap.get("pools", ())]
        except (TypeError, ValueError, IndexError):
            return False
        for key, (n, b_in, b_out) in requests:
            row = self.requests.setdefault(key, [0, 0, 0])
            row[0] += n
            row[1] += b_in
            row[2] += b_out
        for hkey, counts, total in req_dur:
            self.request_duration.setdefault(hkey, Histogram()).add(counts, total)
        for pool, counts, total in up_dur:
            self.upstream_duration.setdefault(pool, Histogram()).add(counts, total)
        for ekey, n in errors:
            self.upstream_errors[ekey] = self.upstream_errors.get(ekey, 0) + n
        for outcome, n in reloads:
            self.reloads[outcome] = self.reloads.get(outcome, 0) + n
        for kind, n in faults:
            self.faults[kind] = self.faults.get(kind, 0) + n
        if gauges:
            self.open_connections += conns
            self.open_websockets += sockets
            for pool, idle, active in pools:
                acc = self.pools.setdefault(pool, [0, 0])
                acc[0] += idle
                acc[1] += active
        return True

    def as_retired_snapshot(self) -> dict[str, Any]:
        """Counters and histograms only: a departed worker holds no connections."""
        return {
            "version": SNAPSHOT_VERSION,
            "buckets": list(BUCKETS),
            "requests": [[*k, *v] for k, v in self.requests.items()],
            "request_duration": [
                [hr, rt, h.counts, h.total] for (hr, rt), h in self.request_duration.items()
            ],
            "upstream_duration": [
                [p, h.counts, h.total] for p, h in self.upstream_duration.items()
            ],
            "upstream_errors": [[p, k, n] for (p, k), n in self.upstream_errors.items()],
            "reloads": [[o, n] for o, n in self.reloads.items()],
            "faults": [[k, n] for k, n in self.faults.items()],
        }


def _worker_path(directory: str, worker_id: int | str) -> str:
    name = f"worker-{worker_id}.json"
    if not _WORKER_FILE.match(name):
        raise ValueError(f"bad worker id {worker_id!r}")
    return os.path.join(directory, name)


def _write_atomic(path: str, data: bytes) -> None:
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_snapshot(stats: Stats, directory: str, worker_id: int | str) -> None:
    """Dump ``stats`` into ``directory/worker-<id>.json`` atomically (tmp + rename).

    Called by each worker about once a second; costs well under a millisecond."""
    data = json.dumps(stats.snapshot(), separators=(",", ":")).encode()
    _write_atomic(_worker_path(directory, worker_id), data)


# forget_worker (the master's main thread) and the collector (the listener's threads) both
# run in the master: one lock keeps a scrape from seeing a worker both retired and alive.
_merge_lock = threading.Lock()


def forget_worker(directory: str, worker_id: int | str) -> None:
    """Fold a dead worker's counters into ``retired.json`` and remove its snapshot.

    Call it from the master once the worker has exited, before its replacement writes a
    snapshot under the same id."""
    path = _worker_path(directory, worker_id)
    with _merge_lock:
        snap = _read_json(path)
        if snap is not None:
            merged = Merged.empty()
            retired_path = os.path.join(directory, f"{RETIRED}.json")
            old = _read_json(retired_path)
            if old is not None:
                merged.add(old, gauges=False)
            merged.add(snap, gauges=False)
            data = json.dumps(merged.as_retired_snapshot(), separators=(",", ":")).encode()
            _write_atomic(retired_path, data)
        for name in os.listdir(directory):
            if name == os.path.basename(path) or name.startswith(f".{os.path.basename(path)}."):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, name))


def reset_directory(directory: str) -> None:
    """Create ``directory`` or empty it of snapshots left by an earlier run. The master
    calls it once at start, before forking workers."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith((".json", ".tmp")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))


def read_merged(directory: str) -> Merged:
    """Sum every worker snapshot and the retired counters found in ``directory``."""
    merged = Merged.empty()
    with _merge_lock:
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return merged
        for name in names:
            m = _WORKER_FILE.match(name)
            if m is None and name != f"{RETIRED}.json":
                continue
            snap = _read_json(os.path.join(directory, name))
            if snap is not None and merged.add(snap, gauges=m is not None) and m is not None:
                merged.workers += 1
    return merged


# --------------------------------------------------------------------------- exposition


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip(BUCKETS, h.counts, strict=False):
        running += n
        out.append((repr(float(bound)), float(running)))
    running += h.counts[-1]
    out.append(("+Inf", float(running)))
    return out


def families(merged: Merged) -> Iterator[Metric]:
    """The Prometheus metric families for one merged view."""
    req = CounterMetricFamily(
        PREFIX + "requests",
        "Requests answered, by host rule, route, pool and status class.",
        labels=["host_rule", "route", "pool", "status_class"],
    )
    bytes_in = CounterMetricFamily(
        PREFIX + "bytes_received",
        "Request body bytes received from clients.",
        labels=["host_rule", "route", "pool"],
    )
    bytes_out = CounterMetricFamily(
        PREFIX + "bytes_sent",
        "Response body bytes sent to clients.",
        labels=["host_rule", "route", "pool"],
    )
    by_route: dict[tuple[str, str, str], list[int]] = {}
    for (hr, rt, pool, cls), (n, b_in, b_out) in sorted(merged.requests.items()):
        req.add_metric([hr, rt, pool, cls], n)
        acc = by_route.setdefault((hr, rt, pool), [0, 0])
        acc[0] += b_in
        acc[1] += b_out
    for labels, (b_in, b_out) in by_route.items():
        bytes_in.add_metric(list(labels), b_in)
        bytes_out.add_metric(list(labels), b_out)
    yield req
    yield bytes_in
    yield bytes_out

    dur = HistogramMetricFamily(
        PREFIX + "request_duration_seconds",
        "Time from the request head to the last response byte, by host rule and route.",
        labels=["host_rule", "route"],
    )
    for (hr, rt), h in sorted(merged.request_duration.items()):
        dur.add_metric([hr, rt], _buckets(h), h.total)
    yield dur
    up = HistogramMetricFamily(
        PREFIX + "upstream_duration_seconds",
        "Time from connecting upstream to the end of the upstream response, by pool.",
        labels=["pool"],
    )
    for pool, h in sorted(merged.upstream_duration.items()):
        up.add_metric([pool], _buckets(h), h.total)
    yield up

    errors = CounterMetricFamily(
        PREFIX + "upstream_errors",
        "Upstream failures by pool and kind (connect, timeout, reset).",
        labels=["pool", "kind"],
    )
    for (pool, kind), n in sorted(merged.upstream_errors.items()):
        errors.add_metric([pool, kind], n)
    yield errors
    reloads = CounterMetricFamily(
        PREFIX + "reloads",
        "Configuration reloads by outcome (ok, invalid, error).",
        labels=["outcome"],
    )
    for outcome, n in sorted(merged.reloads.items()):
        reloads.add_metric([outcome], n)
    yield reloads
    faults = CounterMetricFamily(
        PREFIX + "faults",
        "Faults of the router's own resources, each also logged: request_spill (a request "
        "body temp_dir could not take, answered 500), response_spool (a response spool that "
        "failed after the head, the client cut), fd_exhausted (seconds a worker was found at "
        "its file descriptor limit).",
        labels=["kind"],
    )
    for kind, n in sorted(merged.faults.items()):
        faults.add_metric([kind], n)
    yield faults

    yield GaugeMetricFamily(
        PREFIX + "open_connections", "Client connections open.", value=merged.open_connections
    )
    yield GaugeMetricFamily(
        PREFIX + "open_websockets", "WebSocket tunnels open.", value=merged.open_websockets
    )
    idle = GaugeMetricFamily(
        PREFIX + "pool_idle_connections", "Idle keep-alive upstream connections.", labels=["pool"]
    )
    active = GaugeMetricFamily(
        PREFIX + "pool_active_connections", "Upstream connections in use.", labels=["pool"]
    )
    for pool, (n_idle, n_active) in sorted(merged.pools.items()):
        idle.add_metric([pool], n_idle)
        active.add_metric([pool], n_active)
    yield idle
    yield active
    yield GaugeMetricFamily(
        PREFIX + "workers", "Processes whose statistics snapshot is present.", value=merged.workers
    )


class SnapshotCollector:
    """A prometheus_client collector that reads the snapshot directory at scrape time."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        return list(families(read_merged(self.directory)))

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check at registration; the families are made per scrape


@dataclass
class MetricsServer:
    """Handle on the metrics listener: ``port`` is the bound port (useful with port 0)."""

    host: str
    port: int
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def close_in_child(self) -> None:
        """In a forked child: close the inherited listening socket (the thread serving it
        exists only in the parent), so that the port is never held by a worker."""
        self._server.socket.close()


def start_metrics_server(host: str, port: int, directory: str) -> MetricsServer:
    """Serve Prometheus text on ``http://host:port/`` (any path) from a thread of the
    calling process, with its own registry: nothing registered globally leaks in."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(directory))
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(host, int(server.server_address[1]), server, thread)
