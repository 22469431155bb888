"""The status page's tenants: counters per tenant database from the merged view, and their
rates over a window of earlier samples.

``tenant_rows`` is the one place that knows how the merge holds per-tenant series
(``odoo_router_tenant_requests_total{db,status_class}``, ``odoo_router_tenant_websockets{db}``):
``Merged.tenants`` (label -> metrics_tenants.TenantRow, its requests per status class) and
``Merged.tenant_websockets`` (label -> open websockets), already folded to the granted labels
(``_other`` included), so the page shows what /metrics shows.

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

from .metrics_histogram import STATUS_CLASSES
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


def tenant_rows(merged: Merged) -> list[TenantRow]:
    """One row per tenant label the merge has series for (none while per-tenant series are
    off or nothing was counted)."""
    sockets = merged.tenant_websockets
    errors_at = [STATUS_CLASSES.index(c) for c in ERROR_CLASSES]
    rows = [
        TenantRow(
            label,
            sum(row.classes),
            sum(row.classes[i] for i in errors_at),
            sockets.get(label, 0),
        )
        for label, row in merged.tenants.items()
    ]
    rows += [
        TenantRow(label, 0, 0, n) for label, n in sockets.items() if label not in merged.tenants
    ]
    return rows


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
