"""Per-tenant counters in a worker, labelled by database name, with a bounded label set.

Theory of operation
-------------------
The tenant of a request is its decision's database (routing.table.Decision.tenant_db: a
host rule's fixed ``dbfilter``, or its template filled from the host regex's groups, as
``ten_{sub}`` gives ``ten_acme``). A host rule without a dbfilter is the admin host
(``_admin``) unless it is the default rule, which takes unknown hosts (``_unknown``); a
request refused before routing (no decision) is ``_unknown`` too. ``tenant_key`` says it.

Database names come from the client's Host header through the template, so they are not
safe label values by themselves: a name becomes a label only once the master *granted* it a
slot (metrics_slots.py), and the master grants at most ``metrics.tenant_labels_max``. A
worker counts a request under its database when the database holds a slot, and under
``_other`` otherwise. A database the worker does not know as granted becomes a
*candidate* once Odoo itself answered one of its requests in a way that shows the database
exists (observe.slot_evidence: a 2xx or 101, never for a static file; so the router's
redirects and refusals, Odoo's 404s and its redirects to the database selector, and
``/web/static/`` or ``/<module>/static/`` files, which Odoo serves to any host, never
qualify); each snapshot carries the candidates, the master reads them about once a second,
asks Odoo whether each exists, grants or refuses those that do and writes the granted list
to ``tenants.json`` in the snapshot directory, which every worker reads when it changes
(``refresh``: a stat every 0.1 s). A new tenant's first requests, until that round trip is
done (1-2 s), count under ``_other``.

Bounded memory: ``rows`` holds the granted databases and the fixed labels (cap + 3),
``candidates`` at most ``max(cap, CANDIDATES_MIN)`` names (oldest forgotten first; a
forgotten one that is answered again comes back), and ``websockets`` one entry per database
with a websocket open now. A flood of random hosts touches none of them while its answers
are not evidence. Odoo answers a JSON-RPC or XML-RPC call with 200 even when it failed
because the database does not exist (and ``common.version`` needs none), so an RPC call that
passes the firewall on a random subdomain makes it a candidate: the master grants a slot
only once Odoo confirms that the database exists (metrics_confirm.py, the JSON-RPC
``db.db_exist`` call), so a candidate carries the pool whose Odoo answered it.

Websockets are counted by the key they opened with, not by label, so that a close always
undoes its open; the snapshot maps keys to labels (granted name, fixed label, or
``_other``), which makes the per-tenant gauge add up to the open websockets exactly.
"""

from __future__ import annotations

import json
import os
from bisect import bisect_left
from typing import Any

from .metrics_histogram import BUCKETS, STATUS_CLASSES, Histogram

ADMIN = "_admin"
UNKNOWN = "_unknown"
OTHER = "_other"
FIXED = (ADMIN, UNKNOWN, OTHER)
SLOTS_FILE = "tenants.json"
DEFAULT_CAP = 500  # configuration.model.MetricsSettings.tenant_labels_max
# Candidates a worker keeps between two grant rounds: more than the cap, so that a burst of
# new tenants (a restart of the farm) is not mostly forgotten before the master sees it.
CANDIDATES_MIN = 1000


class TenantRow(Histogram):
    """One label's counters: the duration histogram itself (``counts``, ``total``: one
    attribute less on every request), requests per status class, bytes."""

    __slots__ = ("bytes_in", "bytes_out", "classes")

    def __init__(self) -> None:
        super().__init__()
        self.classes: list[int] = [0] * len(STATUS_CLASSES)
        self.bytes_in = 0
        self.bytes_out = 0

    def merge(self, other: TenantRow) -> None:
        for i, n in enumerate(other.classes):
            self.classes[i] += n
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.add(other.counts, other.total)

    def dump(self, label: str) -> list[Any]:
        return [
            label,
            list(self.classes),
            self.bytes_in,
            self.bytes_out,
            list(self.counts),
            self.total,
        ]


def tenant_key(tenant_db: str | None, host_rule: str, default_rule: str) -> str:
    """The database a decision belongs to, or the fixed label of a host without one."""
    if tenant_db is not None:
        return tenant_db
    return UNKNOWN if host_rule == default_rule else ADMIN


class TenantStats:
    """One worker's per-tenant counters. Single-threaded (the worker's event loop)."""

    __slots__ = ("_seen", "candidates", "cap", "granted", "rows", "websockets")

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap  # 0: tenant metrics off (the master's tenants.json says)
        self.granted: frozenset[str] = frozenset()
        self.rows: dict[str, TenantRow] = {label: TenantRow() for label in FIXED}
        self.candidates: dict[str, str] = {}  # database -> the pool that answered; oldest first
        self.websockets: dict[str, int] = {}  # key at open -> websockets open now
        # tenants.json's inode, size and mtime when last read: the master may write it twice
        # within one tick of the file system's clock, but each write is a new file (rename)
        # and every grant makes it longer.
        self._seen: tuple[int, int, int] = (0, 0, 0)

    # ------------------------------------------------------------------ hot path

    def request_done(
        self,
        key: str,
        status: int,
        upstream_status: int,
        total_s: float,
        bytes_in: int,
        bytes_out: int,
        pool: str = "",
    ) -> None:
        """Count one request of tenant ``key`` (tenant_key). ``upstream_status`` is Odoo's
        own answer (0: Odoo did not answer), from ``pool``. Stats.request_done does the same
        inline."""
        row = self.rows.get(key)
        if row is None:
            row = self.unlabelled(key, upstream_status, pool)
        row.classes[status // 100 if 0 <= status < 600 else 0] += 1
        row.bytes_in += bytes_in
        row.bytes_out += bytes_out
        row.counts[bisect_left(BUCKETS, total_s)] += 1
        row.total += total_s

    def unlabelled(self, key: str, upstream_status: int, pool: str = "") -> TenantRow:
        """The row of a database without a row yet: its own once granted, else ``_other``
        (a candidate when Odoo, behind ``pool``, answered it below 400)."""
        if key in self.granted:
            row = self.rows[key] = TenantRow()
            self.candidates.pop(key, None)
            return row
        if 0 < upstream_status < 400 and key not in self.candidates:
            if len(self.candidates) >= max(self.cap, CANDIDATES_MIN):
                del self.candidates[next(iter(self.candidates))]
            self.candidates[key] = pool
        return self.rows[OTHER]

    def websocket(self, key: str, delta: int) -> None:
        n = self.websockets.get(key, 0) + delta
        if n > 0:
            self.websockets[key] = n
        else:
            self.websockets.pop(key, None)

    # ------------------------------------------------------------------ housekeeping

    def refresh(self, directory: str) -> None:
        """Take the master's granted list (``tenants.json``) when it changed (a stat when it
        did not: the worker asks every 0.1 s). A database that lost its slot (a smaller
        ``tenant_labels_max`` after a reload) moves its counts to ``_other``: the merged sum
        stays the same, so no counter goes down."""
        path = os.path.join(directory, SLOTS_FILE)
        try:
            st = os.stat(path)
            seen = (st.st_ino, st.st_size, st.st_mtime_ns)
            if seen == self._seen:
                return
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
            cap = int(data["cap"])
            granted = frozenset(str(name) for name in data["granted"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # not written yet, or being replaced: keep what we have
        self._seen = seen
        self.apply(cap, granted)

    def apply(self, cap: int, granted: frozenset[str]) -> None:
        self.cap = cap
        self.granted = granted
        other = self.rows[OTHER]
        for name in [n for n in self.rows if n not in granted and n not in FIXED]:
            other.merge(self.rows.pop(name))
        for name in [n for n in self.candidates if n in granted]:
            del self.candidates[name]
        while len(self.candidates) > max(cap, CANDIDATES_MIN):
            del self.candidates[next(iter(self.candidates))]

    def label(self, key: str) -> str:
        return key if key in self.granted or key in FIXED else OTHER

    def snapshot(self) -> dict[str, Any]:
        """Rows by label, the open websockets by label, the candidates for a slot (each with
        the pool that answered it: the master asks that pool's Odoo whether it exists)."""
        sockets: dict[str, int] = {}
        for key, n in self.websockets.items():
            label = self.label(key)
            sockets[label] = sockets.get(label, 0) + n
        return {
            "rows": [row.dump(label) for label, row in self.rows.items()],
            "websockets": [[label, n] for label, n in sockets.items()],
            "candidates": [[name, pool] for name, pool in self.candidates.items()],
        }
