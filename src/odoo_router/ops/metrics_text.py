"""The metric families of a merged view, and their Prometheus text exposition (format 0.0.4).

Rules of the text format kept here: a family is its ``# HELP`` line (backslash and newline
escaped), its ``# TYPE`` line, then its samples; a counter's samples and family name end in
``_total``; a histogram writes cumulative ``_bucket`` samples with ``le`` (the last one
``+Inf``), then ``_count`` and ``_sum``; label values escape backslash, double quote and
newline. Values are written as Python's shortest round-trip float, which Prometheus parses.
Label values come from the configuration (metrics.py), never from a client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .metrics import BUCKETS, STATUS_CLASSES, Histogram
from .metrics_merge import Merged

PREFIX = "odoo_router_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Family:
    """One metric family: its exposed name (a counter's ends in ``_total``), type, help and
    samples as (sample name, labels, value)."""

    name: str
    type: str  # counter | gauge | histogram
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def add(self, labels: Labels, value: float) -> None:
        self.samples.append((self.name, labels, float(value)))

    def add_histogram(self, labels: Labels, h: Histogram) -> None:
        running = 0
        for bound, n in zip(BUCKETS, h.counts, strict=False):
            running += n
            self.samples.append(
                (f"{self.name}_bucket", (*labels, ("le", repr(bound))), float(running))
            )
        running += h.counts[-1]
        self.samples.append((f"{self.name}_bucket", (*labels, ("le", "+Inf")), float(running)))
        self.samples.append((f"{self.name}_count", labels, float(running)))
        self.samples.append((f"{self.name}_sum", labels, h.total))


def _counter(name: str, help_text: str) -> Family:
    return Family(f"{PREFIX}{name}_total", "counter", help_text)


def _gauge(name: str, help_text: str, value: float | None = None) -> Family:
    family = Family(PREFIX + name, "gauge", help_text)
    if value is not None:
        family.add((), value)
    return family


def families(merged: Merged) -> list[Family]:
    """The metric families for one merged view, samples in a stable order."""
    req = _counter("requests", "Requests answered, by host rule, route, pool and status class.")
    bytes_in = _counter("bytes_received", "Request body bytes received from clients.")
    bytes_out = _counter("bytes_sent", "Response body bytes sent to clients.")
    by_route: dict[tuple[str, str, str], list[int]] = {}
    for (hr, rt, pool, cls), (n, b_in, b_out) in sorted(merged.requests.items()):
        req.add((("host_rule", hr), ("route", rt), ("pool", pool), ("status_class", cls)), n)
        acc = by_route.setdefault((hr, rt, pool), [0, 0])
        acc[0] += b_in
        acc[1] += b_out
    for (hr, rt, pool), (b_in, b_out) in by_route.items():
        labels = (("host_rule", hr), ("route", rt), ("pool", pool))
        bytes_in.add(labels, b_in)
        bytes_out.add(labels, b_out)

    dur = Family(
        PREFIX + "request_duration_seconds",
        "histogram",
        "Time from the request head to the last response byte, by host rule and route.",
    )
    for (hr, rt), h in sorted(merged.request_duration.items()):
        dur.add_histogram((("host_rule", hr), ("route", rt)), h)
    up = Family(
        PREFIX + "upstream_duration_seconds",
        "histogram",
        "Time from connecting upstream to the end of the upstream response, by pool.",
    )
    for pool, h in sorted(merged.upstream_duration.items()):
        up.add_histogram((("pool", pool),), h)

    errors = _counter(
        "upstream_errors",
        "Upstream failures by pool and kind (resolve, connect, timeout, reset, bad_answer).",
    )
    for (pool, kind), n in sorted(merged.upstream_errors.items()):
        errors.add((("pool", pool), ("kind", kind)), n)
    reloads = _counter("reloads", "Configuration reloads by outcome (ok, invalid, error).")
    for outcome, n in sorted(merged.reloads.items()):
        reloads.add((("outcome", outcome),), n)
    faults = _counter(
        "faults",
        "Faults of the router's own resources, each also logged: request_spill (a request "
        "body temp_dir could not take, answered 500), response_spool (a response spool that "
        "failed after the head, the client cut), fd_exhausted (seconds a worker was found at "
        "its file descriptor limit).",
    )
    for kind, n in sorted(merged.faults.items()):
        faults.add((("kind", kind),), n)

    idle = _gauge("pool_idle_connections", "Idle keep-alive upstream connections.")
    active = _gauge("pool_active_connections", "Upstream connections in use.")
    for pool, (n_idle, n_active) in sorted(merged.pools.items()):
        idle.add((("pool", pool),), n_idle)
        active.add((("pool", pool),), n_active)
    return [
        req,
        bytes_in,
        bytes_out,
        dur,
        up,
        errors,
        reloads,
        faults,
        _gauge("open_connections", "Client connections open.", merged.open_connections),
        _gauge("open_websockets", "WebSocket tunnels open.", merged.open_websockets),
        idle,
        active,
        _gauge("workers", "Processes whose statistics snapshot is present.", merged.workers),
        *tenant_families(merged),
    ]


def tenant_families(merged: Merged) -> list[Family]:
    """The per-tenant families: ``db`` is a database that holds a slot, ``_admin``,
    ``_unknown`` or ``_other`` (metrics_tenants.py, metrics_slots.py)."""
    req = _counter(
        "tenant_requests",
        "Requests answered, by tenant database (db: _admin the admin host, _unknown hosts "
        "of no tenant, _other databases without a label slot) and status class.",
    )
    bytes_in = _counter("tenant_bytes_received", "Request body bytes received, by tenant.")
    bytes_out = _counter("tenant_bytes_sent", "Response body bytes sent, by tenant.")
    dur = Family(
        PREFIX + "tenant_request_duration_seconds",
        "histogram",
        "Time from the request head to the last response byte, by tenant.",
    )
    sockets = _gauge("tenant_websockets", "WebSocket tunnels open, by tenant.")
    labels = sorted(set(merged.tenants) | set(merged.tenant_websockets))
    for db in labels:
        row = merged.tenants.get(db)
        if row is not None:
            for cls, n in zip(STATUS_CLASSES, row.classes, strict=True):
                if n:
                    req.add((("db", db), ("status_class", cls)), n)
            bytes_in.add((("db", db),), row.bytes_in)
            bytes_out.add((("db", db),), row.bytes_out)
            dur.add_histogram((("db", db),), row)
        sockets.add((("db", db),), merged.tenant_websockets.get(db, 0))
    folded = _counter(
        "tenant_labels_folded",
        "Databases Odoo answered that found every label slot taken (or lost theirs to a "
        'smaller tenant_labels_max), and count under db="_other".',
    )
    folded.add((), merged.tenant_folded)
    return [
        req,
        bytes_in,
        bytes_out,
        dur,
        sockets,
        folded,
        _gauge(
            "tenant_labels_max",
            "metrics.tenant_labels_max: label slots for databases (0: per-tenant series off).",
            merged.tenant_labels_max,
        ),
    ]


# --------------------------------------------------------------------------- the text


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(found: list[Family]) -> bytes:
    """The exposition of ``found``: one HELP and TYPE pair per family, then its samples."""
    lines: list[str] = []
    for family in found:
        help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {family.name} {help_text}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for name, labels, value in family.samples:
            if labels:
                pairs = ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(labels))
                lines.append(f"{name}{{{pairs}}} {number(value)}")
            else:
                lines.append(f"{name} {number(value)}")
    lines.append("")
    return "\n".join(lines).encode("utf-8")
