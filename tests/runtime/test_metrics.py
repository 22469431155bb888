"""Metrics: per-worker Stats, snapshot files, and the merged Prometheus scrape over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_router.ops.metrics import BUCKETS, FAULT_KINDS, Stats, write_snapshot
from odoo_router.ops.metrics_http import MetricsServer, start_metrics_server
from odoo_router.ops.metrics_merge import forget_worker, read_merged, reset_directory
from runtime.support import Samples, scrape_metrics


@pytest.fixture
def snapdir(tmp_path: Path) -> str:
    d = str(tmp_path / "metrics")
    reset_directory(d)
    return d


@pytest.fixture
def server(snapdir: str) -> Iterator[MetricsServer]:
    srv = start_metrics_server("127.0.0.1", 0, snapdir)
    try:
        yield srv
    finally:
        srv.stop()


def scrape(srv: MetricsServer) -> Samples:
    return scrape_metrics(srv.port)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def worker_one() -> Stats:
    s = Stats()
    s.connection_opened()
    s.connection_opened()
    s.connection_closed()
    s.websocket_opened()
    for _ in range(3):
        s.request_done("named_tenant", "default", "tenant", 200, 0.004, 0.003, 300, 5000)
    s.request_done("named_tenant", "default", "tenant", 502, 0.2, None, 100, 150)
    s.request_done("tenant_subdomain", "database", "", 403, 0.0004, None, 80, 120)
    s.upstream_error("tenant", "connect")
    s.set_pool("tenant", 3, 1)
    return s


def worker_two() -> Stats:
    s = Stats()
    s.connection_opened()
    s.request_done("named_tenant", "default", "tenant", 204, 7.0, 6.5, 1000, 10)
    s.request_done("named_tenant", "default", "tenant", 499, 0.02, None, 10, 0)
    s.upstream_error("tenant", "connect")
    s.upstream_error("tenant_lp", "timeout")
    s.set_pool("tenant", 2, 0)
    s.set_pool("tenant_lp", 0, 4)
    return s


def test_scrape_merges_two_workers(snapdir: str, server: MetricsServer) -> None:
    write_snapshot(worker_one(), snapdir, 1)
    write_snapshot(worker_two(), snapdir, 2)
    master = Stats()
    master.reload("ok")
    master.reload("ok")
    master.reload("invalid")
    write_snapshot(master, snapdir, "master")

    m = scrape(server)
    req = "odoo_router_requests_total"
    assert value(m, req, host_rule="named_tenant", route="default", pool="tenant",
                 status_class="2xx") == 4  # fmt: skip
    assert value(m, req, host_rule="named_tenant", route="default", pool="tenant",
                 status_class="5xx") == 1  # fmt: skip
    assert value(m, req, host_rule="named_tenant", route="default", pool="tenant",
                 status_class="4xx") == 1  # fmt: skip
    assert value(m, req, host_rule="tenant_subdomain", route="database", pool="",
                 status_class="4xx") == 1  # fmt: skip
    rx = "odoo_router_bytes_received_total"
    tx = "odoo_router_bytes_sent_total"
    assert value(m, rx, host_rule="named_tenant", route="default", pool="tenant") == 2010
    assert value(m, tx, host_rule="named_tenant", route="default", pool="tenant") == 15160
    assert value(m, rx, host_rule="tenant_subdomain", route="database", pool="") == 80

    dur = "odoo_router_request_duration_seconds"
    lbl = {"host_rule": "named_tenant", "route": "default"}
    assert value(m, dur + "_count", **lbl) == 6
    assert value(m, dur + "_sum", **lbl) == pytest.approx(3 * 0.004 + 0.2 + 7.0 + 0.02)
    assert value(m, dur + "_bucket", le="0.005", **lbl) == 3
    assert value(m, dur + "_bucket", le="0.025", **lbl) == 4
    assert value(m, dur + "_bucket", le="0.25", **lbl) == 5
    assert value(m, dur + "_bucket", le="5.0", **lbl) == 5
    assert value(m, dur + "_bucket", le="10.0", **lbl) == 6
    assert value(m, dur + "_bucket", le="+Inf", **lbl) == 6
    assert value(m, dur + "_bucket", host_rule="tenant_subdomain", route="database",
                 le="0.001") == 1  # fmt: skip

    up = "odoo_router_upstream_duration_seconds"
    assert value(m, up + "_count", pool="tenant") == 4  # no upstream time for the 502 and 499
    assert value(m, up + "_sum", pool="tenant") == pytest.approx(3 * 0.003 + 6.5)
    assert value(m, up + "_bucket", pool="tenant", le="0.0025") == 0
    assert value(m, up + "_bucket", pool="tenant", le="0.005") == 3
    assert ("odoo_router_upstream_duration_seconds_count", (("pool", ""),)) not in m

    err = "odoo_router_upstream_errors_total"
    assert value(m, err, pool="tenant", kind="connect") == 2
    assert value(m, err, pool="tenant_lp", kind="timeout") == 1
    assert value(m, "odoo_router_reloads_total", outcome="ok") == 2
    assert value(m, "odoo_router_reloads_total", outcome="invalid") == 1

    assert value(m, "odoo_router_open_connections") == 2
    assert value(m, "odoo_router_open_websockets") == 1
    assert value(m, "odoo_router_pool_idle_connections", pool="tenant") == 5
    assert value(m, "odoo_router_pool_active_connections", pool="tenant") == 1
    assert value(m, "odoo_router_pool_active_connections", pool="tenant_lp") == 4
    assert value(m, "odoo_router_workers") == 3


def test_snapshots_are_rewritten_in_place(snapdir: str, server: MetricsServer) -> None:
    s = Stats()
    s.request_done("admin", "default", "admin", 200, 0.1, 0.09, 1, 2)
    write_snapshot(s, snapdir, 1)
    s.request_done("admin", "default", "admin", 200, 0.1, 0.09, 1, 2)
    write_snapshot(s, snapdir, 1)
    m = scrape(server)
    assert value(m, "odoo_router_requests_total", host_rule="admin", route="default",
                 pool="admin", status_class="2xx") == 2  # fmt: skip
    assert sorted(os.listdir(snapdir)) == ["worker-1.json"]  # no tmp file left behind


def test_dead_worker_counters_stay_monotonic(snapdir: str, server: MetricsServer) -> None:
    write_snapshot(worker_one(), snapdir, 1)
    write_snapshot(worker_two(), snapdir, 2)
    before = scrape(server)
    forget_worker(snapdir, 2)
    assert sorted(os.listdir(snapdir)) == ["retired.json", "worker-1.json"]
    # A replacement worker reuses id 2 and starts from zero.
    fresh = Stats()
    fresh.request_done("named_tenant", "default", "tenant", 200, 0.004, 0.003, 1, 1)
    write_snapshot(fresh, snapdir, 2)
    after = scrape(server)
    for key, v in before.items():
        name = key[0]
        if name.endswith(("_total", "_count", "_sum", "_bucket")):
            assert after.get(key, 0) >= v, key
    req = ("named_tenant", "default", "tenant", "2xx")
    labels = dict(zip(("host_rule", "route", "pool", "status_class"), req, strict=True))
    assert value(after, "odoo_router_requests_total", **labels) == 5
    # The departed worker's gauges went with it.
    assert value(after, "odoo_router_open_connections") == 1
    assert ("odoo_router_pool_active_connections", (("pool", "tenant_lp"),)) not in after
    # Forgetting twice, or a worker that never wrote, changes nothing.
    forget_worker(snapdir, 2)
    forget_worker(snapdir, 2)
    forget_worker(snapdir, 7)
    again = scrape(server)
    assert value(again, "odoo_router_requests_total", **labels) == 5
    assert value(again, "odoo_router_upstream_errors_total", pool="tenant", kind="connect") == 2


def test_faults_are_summed_and_survive_a_dead_worker(snapdir: str, server: MetricsServer) -> None:
    one, two = Stats(), Stats()
    one.fault("request_spill")
    one.fault("request_spill")
    two.fault("response_spool")
    two.fault("fd_exhausted")
    write_snapshot(one, snapdir, 1)
    write_snapshot(two, snapdir, 2)
    m = scrape(server)
    assert value(m, "odoo_router_faults_total", kind="request_spill") == 2
    assert value(m, "odoo_router_faults_total", kind="response_spool") == 1
    assert value(m, "odoo_router_faults_total", kind="fd_exhausted") == 1
    forget_worker(snapdir, 2)  # counters stay monotonic when a worker goes
    after = scrape(server)
    assert value(after, "odoo_router_faults_total", kind="response_spool") == 1
    assert set(FAULT_KINDS) == {"request_spill", "response_spool", "fd_exhausted"}


def test_snapshot_without_faults_still_merges(snapdir: str) -> None:
    """A snapshot written before faults were counted (same version) still adds up."""
    snap = worker_one().snapshot()
    del snap["faults"]
    Path(snapdir, "worker-1.json").write_text(json.dumps(snap))
    merged = read_merged(snapdir)
    assert merged.workers == 1 and merged.faults == {}


def test_garbage_files_do_not_break_a_scrape(snapdir: str, server: MetricsServer) -> None:
    write_snapshot(worker_one(), snapdir, 1)
    Path(snapdir, "worker-9.json").write_text("{not json")
    Path(snapdir, ".worker-3.json.123.tmp").write_text("{}")
    Path(snapdir, "worker-8.json").write_text(json.dumps({"version": 999}))
    Path(snapdir, "notes.txt").write_text("ignored")
    m = scrape(server)
    assert value(m, "odoo_router_upstream_errors_total", pool="tenant", kind="connect") == 1
    assert value(m, "odoo_router_open_connections") == 1


def test_empty_directory_scrapes(snapdir: str, server: MetricsServer) -> None:
    m = scrape(server)
    assert value(m, "odoo_router_open_connections") == 0
    assert value(m, "odoo_router_workers") == 0


def test_reset_directory_removes_stale_snapshots(snapdir: str) -> None:
    write_snapshot(worker_one(), snapdir, 1)
    forget_worker(snapdir, 1)
    write_snapshot(worker_two(), snapdir, 2)
    reset_directory(snapdir)
    assert os.listdir(snapdir) == []
    assert read_merged(snapdir).requests == {}


def test_status_classes_and_odd_statuses() -> None:
    s = Stats()
    for status in (101, 204, 301, 404, 499, 503, 0, 999):
        s.request_done("h", "r", "p", status, 0.0, 0.0, 0, 0)
    classes = sorted(k[3] for k in s.requests)
    assert classes == ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"]
    assert s.requests[("h", "r", "p", "4xx")][0] == 2
    assert s.requests[("h", "r", "p", "0xx")][0] == 2


def test_histogram_bucket_edges() -> None:
    s = Stats()
    s.request_done("h", "r", "", 200, BUCKETS[0], None, 0, 0)  # exactly on a bound: le
    s.request_done("h", "r", "", 200, 10_000.0, None, 0, 0)  # past the last bound
    counts = s.request_duration[("h", "r")].counts
    assert counts[0] == 1
    assert counts[-1] == 1
    assert sum(counts) == 2
    assert s.upstream_duration == {}  # no pool, no upstream time


def test_snapshot_is_json(snapdir: str) -> None:
    snap = worker_two().snapshot()
    assert json.loads(json.dumps(snap)) == snap
    with pytest.raises(ValueError):
        write_snapshot(Stats(), snapdir, "../escape")


def test_request_done_is_cheap() -> None:
    s = Stats()
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        s.request_done("named_tenant", "default", "tenant", 200, 0.004, 0.003, 300, 5000)
    per_call = (time.perf_counter() - t0) / n
    assert per_call < 20e-6  # generous for a loaded CI box; about 1 us on an idle core


def test_malformed_snapshot_is_skipped_whole(snapdir: str, server: MetricsServer) -> None:
    write_snapshot(worker_one(), snapdir, 1)
    bad = worker_two().snapshot()
    bad["request_duration"] = [["named_tenant", "default", [1, 2, 3], 0.5]]  # wrong buckets
    Path(snapdir, "worker-2.json").write_text(json.dumps(bad))
    worse = worker_two().snapshot()
    worse["upstream_errors"] = [["tenant", "connect", "many"]]
    Path(snapdir, "worker-3.json").write_text(json.dumps(worse))
    m = scrape(server)
    # Nothing of workers 2 and 3 was counted, not even their valid rows.
    assert value(m, "odoo_router_upstream_errors_total", pool="tenant", kind="connect") == 1
    assert (
        "odoo_router_upstream_errors_total",
        (("kind", "timeout"), ("pool", "tenant_lp")),
    ) not in m
    assert value(m, "odoo_router_workers") == 1


WRITER = """
import sys
from odoo_router.ops.metrics import Stats, write_snapshot
directory, worker_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
stats = Stats()
for i in range(n):
    stats.request_done("named_tenant", "default", "tenant", 200, 0.01, 0.005, 10, 100)
    write_snapshot(stats, directory, worker_id)
"""


def test_concurrent_writers_and_scrapes_stay_consistent(
    snapdir: str, server: MetricsServer
) -> None:
    """Two worker processes rewrite their snapshots as fast as they can while we scrape:
    every scrape parses, and the request count never goes down."""
    n = 300
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, snapdir, str(i), str(n)]) for i in (1, 2)
    ]
    labels = {"host_rule": "named_tenant", "route": "default", "pool": "tenant"}
    seen: list[float] = []
    try:
        while any(p.poll() is None for p in procs) and len(seen) < 500:
            m = scrape(server)
            seen.append(m.get(("odoo_router_requests_total", tuple(sorted(
                {**labels, "status_class": "2xx"}.items()))), 0.0))  # fmt: skip
    finally:
        for p in procs:
            assert p.wait(timeout=60) == 0
    assert seen == sorted(seen)
    final = scrape(server)
    assert value(final, "odoo_router_requests_total", status_class="2xx", **labels) == 2 * n
    assert value(final, "odoo_router_bytes_sent_total", **labels) == 2 * n * 100
    assert not [f for f in os.listdir(snapdir) if f.endswith(".tmp")]
