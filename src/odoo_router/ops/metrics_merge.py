"""The master's view of the workers' statistics: every snapshot file summed.

Counters and histograms of every snapshot are added up, gauges only from live workers'
files; ``retired.json`` holds what workers that died had counted (``forget_worker``), so
that counters never go down when a worker is replaced. A file of another version, or one
malformed in any row, is skipped whole: a scrape never fails and never counts half a file.

Per-tenant rows are summed by label, then every label the master has not granted
(``tenants.json``, metrics_slots.py) is folded into ``_other``: the scrape never shows more
than ``tenant_labels_max`` databases, whatever the files hold.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .metrics import (
    BUCKETS,
    SNAPSHOT_VERSION,
    STATUS_CLASSES,
    WORKER_FILE,
    Histogram,
    RequestKey,
    snapshot_path,
    write_atomic,
)
from .metrics_tenants import FIXED, OTHER, SLOTS_FILE, TenantRow

RETIRED = "retired"


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
    # pool -> server -> each live worker's "failed until" (time.time(); 0.0: never failed)
    health: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    open_connections: int = 0
    open_websockets: int = 0
    workers: int = 0
    tenants: dict[str, TenantRow] = field(default_factory=dict)  # label -> counters
    tenant_websockets: dict[str, int] = field(default_factory=dict)  # label -> open now
    tenant_labels_max: int = 0
    tenant_folded: int = 0

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
            health = [(str(p), str(s), _finite(u)) for p, s, u in snap.get("health", ())]
            tenants = snap.get("tenants") or {}
            rows = [_tenant_row(r, hist) for r in tenants.get("rows", ())]
            tenant_ws = [(str(db), int(n)) for db, n in tenants.get("websockets", ())]
        except (TypeError, ValueError, IndexError, AttributeError):
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
        for label, tenant in rows:
            self.tenants.setdefault(label, TenantRow()).merge(tenant)
        if gauges:
            for label, n in tenant_ws:
                self.tenant_websockets[label] = self.tenant_websockets.get(label, 0) + n
            self.open_connections += conns
            self.open_websockets += sockets
            for pool, idle, active in pools:
                acc = self.pools.setdefault(pool, [0, 0])
                acc[0] += idle
                acc[1] += active
            for pool, server, until in health:
                self.health.setdefault(pool, {}).setdefault(server, []).append(until)
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
            "tenants": {"rows": [row.dump(label) for label, row in self.tenants.items()]},
        }

    def fold_tenants(self, granted: set[str]) -> None:
        """Every label outside ``granted`` and the fixed ones counts as ``_other``; every
        granted database has its series from the grant on (at zero until it is counted)."""
        for label in granted:
            self.tenants.setdefault(label, TenantRow())
        for label in [t for t in self.tenants if t not in granted and t not in FIXED]:
            self.tenants.setdefault(OTHER, TenantRow()).merge(self.tenants.pop(label))
        for label in [t for t in self.tenant_websockets if t not in granted and t not in FIXED]:
            n = self.tenant_websockets.pop(label)
            self.tenant_websockets[OTHER] = self.tenant_websockets.get(OTHER, 0) + n


def _tenant_row(
    r: Any, hist: Callable[[Any, Any], tuple[list[int], float]]
) -> tuple[str, TenantRow]:
    """``[label, classes, bytes_in, bytes_out, bucket counts, total]`` (TenantRow.dump)."""
    label, classes, b_in, b_out, counts, total = r
    row = TenantRow()
    row.classes = [int(n) for n in classes]
    if len(row.classes) != len(STATUS_CLASSES):
        raise ValueError("status classes")
    row.bytes_in, row.bytes_out = int(b_in), int(b_out)
    row.counts, row.total = hist(counts, total)
    return str(label), row


def _finite(value: Any) -> float:
    out = float(value)
    if not math.isfinite(out):  # json reads NaN and Infinity
        raise ValueError("not a finite number")
    return out


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# forget_worker (the master's main thread) and the collector (the listener's threads) both
# run in the master: one lock keeps a scrape from seeing a worker both retired and alive.
_merge_lock = threading.Lock()
merge_lock = _merge_lock  # metrics_slots reads the snapshots under it too


def forget_worker(directory: str, worker_id: int | str) -> None:
    """Fold a dead worker's counters into ``retired.json`` and remove its snapshot.

    Call it from the master once the worker has exited, before its replacement writes a
    snapshot under the same id."""
    path = snapshot_path(directory, worker_id)
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
            write_atomic(retired_path, data)
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
            m = WORKER_FILE.match(name)
            if m is None and name != f"{RETIRED}.json":
                continue
            snap = _read_json(os.path.join(directory, name))
            if snap is not None and merged.add(snap, gauges=m is not None) and m is not None:
                merged.workers += 1
        slots = _read_json(os.path.join(directory, SLOTS_FILE)) or {}
    granted = slots.get("granted")
    merged.fold_tenants({str(g) for g in granted} if isinstance(granted, list) else set())
    with contextlib.suppress(TypeError, ValueError):
        merged.tenant_labels_max = int(slots.get("cap", 0))
        merged.tenant_folded = int(slots.get("folded", 0))
    return merged


def read_json(path: str) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when it is missing or not one."""
    return _read_json(path)
