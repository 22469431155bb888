"""The master's table of tenant label slots: which databases may be a ``db`` label.

Rules:
* The master alone grants slots, so the bound holds after the merge across workers: the
  scrape shows at most ``tenant_labels_max`` databases plus ``_admin``, ``_unknown`` and
  ``_other`` (metrics_merge maps any other name to ``_other``, whatever a file says).
* About once a second (``update``, from the master's loop) the candidates of every worker
  snapshot (databases Odoo answered below 400: metrics_tenants.py) are granted a slot in
  the order found while slots are free; past the cap each is refused once and counted in
  ``folded`` (``odoo_router_tenant_labels_folded_total``). The master remembers up to
  ``REFUSED_MEMORY`` refused names: past that a refused database may be counted again.
* Slots are stable: a granted database keeps its slot for the master's lifetime, across
  scrapes, worker restarts (a new worker reads ``tenants.json`` before its first request
  is counted) and reloads. A reload that lowers ``tenant_labels_max`` keeps the oldest
  grants and refuses the rest (their counts move to ``_other``, so no counter goes down);
  a refused database is not granted again while the master remembers it, since its past
  counts already sit in ``_other``. A restart starts afresh, as every counter does.
* ``tenants.json`` (cap, granted in grant order, folded) is written whole (tmp + rename)
  whenever it changes; workers and the metrics listener only read it.
"""

from __future__ import annotations

import json
import os
import time

from .metrics import WORKER_FILE, write_atomic
from .metrics_merge import merge_lock, read_json
from .metrics_tenants import FIXED, SLOTS_FILE

REFUSED_MEMORY = 10_000
# The master's loop wakes once a second, and on every signal: a burst of SIGHUPs must not
# make it read every snapshot each time.
UPDATE_EVERY = 0.5


class TenantSlots:
    def __init__(self, directory: str, cap: int) -> None:
        self.directory = directory
        self.cap = cap
        self.granted: dict[str, None] = {}  # grant order
        self.refused: dict[str, None] = {}  # oldest first, at most REFUSED_MEMORY
        self.folded = 0
        self._updated = 0.0
        self.write()

    def _refuse(self, name: str) -> None:
        if name in self.refused:
            return
        if len(self.refused) >= REFUSED_MEMORY:
            del self.refused[next(iter(self.refused))]
        self.refused[name] = None
        self.folded += 1

    def set_cap(self, cap: int) -> None:
        """A reload's ``tenant_labels_max``: the oldest ``cap`` grants stay."""
        if cap == self.cap:
            return
        self.cap = cap
        for name in list(self.granted)[cap:]:
            del self.granted[name]
            self._refuse(name)
        self.write()

    def offer(self, names: list[str]) -> bool:
        """Grant or refuse each name not decided yet; True when the table changed."""
        changed = False
        for name in names:
            if name in self.granted or name in FIXED or name in self.refused:
                continue
            if len(self.granted) < self.cap:
                self.granted[name] = None
            else:
                self._refuse(name)
            changed = True
        return changed

    def update(self) -> None:
        """Read every worker's candidates and grant them; write tenants.json if changed."""
        now = time.monotonic()
        if now - self._updated < UPDATE_EVERY:
            return
        self._updated = now
        found: list[str] = []
        with merge_lock:
            try:
                names = sorted(os.listdir(self.directory))
            except FileNotFoundError:
                return
            for name in names:
                if WORKER_FILE.match(name) is None:
                    continue
                snap = read_json(os.path.join(self.directory, name))
                tenants = snap.get("tenants") if snap is not None else None
                if isinstance(tenants, dict) and isinstance(tenants.get("candidates"), list):
                    found.extend(str(c) for c in tenants["candidates"])
        if self.offer(found):
            self.write()

    def write(self) -> None:
        data = {"cap": self.cap, "granted": list(self.granted), "folded": self.folded}
        path = os.path.join(self.directory, SLOTS_FILE)
        write_atomic(path, json.dumps(data, separators=(",", ":")).encode())
