"""The status page's tenants: counters per tenant database from the merged view, and their
rates over a window of earlier samples.

``tenant_rows`` is the one place that knows how the merge holds per-tenant series
(``odoo_router_tenant_requests_total{db,status_class}``, ``odoo_router_tenant_websockets{db}``):
it reads ``Merged.tenant_requests`` ((db, status_class) -> count, or a row whose first item
is the count) and ``Merged.tenant_websockets`` (db -> open websockets) when the merge has
them, and returns no row while it has none.

Rates need two samples of the counters. Each metrics listener keeps a ``RateWindow``: a
sample is kept at most every ``MIN_GAP`` seconds and for ``WINDOW`` seconds, and a rate is
(now - oldest kept sample) / elapsed time, so the page shows averages over up to a minute
whatever its refresh, from the second load on (the first has no earlier sample: null).
Workers write their counters once a second, so a rate's interval is off by up to a second.
A counter that went down (a series the merge dropped or folded) counts from zero.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .metrics_merge import Merged

WINDOW = 60.0  # seconds of samples kept: rates are averages over up to this long
MIN_GAP = 2.0  # seconds between two kept samples (at most WINDOW / MIN_GAP + 1 of them)
ERROR_CLASSES = ("5xx",)  # a tenant "failing": Odoo's or the router's own 5xx answers


@dataclass(frozen=True, slots=True)
class TenantRow:
    db: str
    requests: int  # since the router started
    errors: int  # of those, answers in ERROR_CLASSES
    websockets: int  # open now
    request_rate: float | None = None  # per second over ``interval``; None: no sample yet
    error_rate: float | None = None


def _count(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(value[0])  # a row [count, bytes_in, bytes_out, ...] like Merged.requests


def tenant_rows(merged: Merged) -> list[TenantRow]:
    """One row per tenant database the merge has series for; [] when it has none."""
    requests: dict[Any, Any] = getattr(merged, "tenant_requests", None) or {}
    sockets: dict[Any, Any] = getattr(merged, "tenant_websockets", None) or {}
    totals: dict[str, list[int]] = {}
    for (db, status_class), value in requests.items():
        acc = totals.setdefault(str(db), [0, 0])
        n = _count(value)
        acc[0] += n
        if status_class in ERROR_CLASSES:
            acc[1] += n
    for db in sockets:
        totals.setdefault(str(db), [0, 0])
    return [TenantRow(db, n, errors, int(sockets.get(db, 0))) for db, (n, errors) in totals.items()]


class RateWindow:
    """Earlier samples of each tenant's (requests, errors), for rates; thread-safe (the
    listener serves each request from its own thread)."""

    def __init__(self, window: float = WINDOW, min_gap: float = MIN_GAP) -> None:
        self.window, self.min_gap = window, min_gap
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, dict[str, tuple[int, int]]]] = deque()

    def rates(self, rows: list[TenantRow], now: float) -> tuple[list[TenantRow], float | None]:
        """``rows`` with their rates, and the interval in seconds they are over (None, and
        rates None, until an earlier sample exists). ``now`` is time.monotonic()."""
        current = {r.db: (r.requests, r.errors) for r in rows}
        with self._lock:
            samples = self._samples
            while samples and now - samples[0][0] > self.window:
                samples.popleft()
            oldest = samples[0] if samples else None
            if not samples or now - samples[-1][0] >= self.min_gap:
                samples.append((now, current))
        if oldest is None or now - oldest[0] < self.min_gap:
            return rows, None
        then, before = oldest
        elapsed = now - then
        out = []
        for row in rows:
            n0, e0 = before.get(row.db, (0, 0))
            n0, e0 = (n0, e0) if row.requests >= n0 and row.errors >= e0 else (0, 0)
            out.append(
                TenantRow(
                    row.db,
                    row.requests,
                    row.errors,
                    row.websockets,
                    (row.requests - n0) / elapsed,
                    (row.errors - e0) / elapsed,
                )
            )
        return out, elapsed
