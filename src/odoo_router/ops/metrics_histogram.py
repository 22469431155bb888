"""The fixed-bucket histogram the per-worker statistics use, and the status classes.

A module of its own so that metrics.py (Stats) and metrics_tenants.py (TenantStats), which
Stats holds, share it without importing each other.
"""

from __future__ import annotations

from bisect import bisect_left

# Upper bounds ("le") in seconds; one more slot counts +Inf. Odoo requests range from a
# millisecond (static files) to minutes (reports, RPC with 120-300 s timeouts).
BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0,
)  # fmt: skip

STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")


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
