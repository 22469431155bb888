"""The master's table of tenant label slots: which databases may be a ``db`` label.

Rules:
* The master alone grants slots, so the bound holds after the merge across workers: the
  scrape shows at most ``tenant_labels_max`` databases plus ``_admin``, ``_unknown`` and
  ``_other`` (metrics_merge maps any other name to ``_other``, whatever a file says).
* About once a second (``update``, from the master's loop) the candidates of every worker
  snapshot (databases Odoo answered with a 2xx or 101: metrics_tenants.py), each with the
  pool that answered it, are handed to the confirmations (metrics_confirm.py), which ask
  that pool's Odoo whether the database exists, in the background and bounded. Only a
  database Odoo says it has is decided (``confirmed``, from a confirmation's thread): granted
  a slot while slots are free; past the cap refused once and counted in ``folded``
  (``odoo_router_tenant_labels_folded_total``), so ``folded`` counts real databases only.
  The master remembers up to ``REFUSED_MEMORY`` refused names: past that a refused database
  may be counted again.
* Slots are stable: a granted database keeps its slot for the master's lifetime, across
  scrapes, worker restarts (a new worker reads ``tenants.json`` before its first request
  is counted) and reloads. A reload that lowers ``tenant_labels_max`` keeps the oldest
  grants and refuses the rest (their counts move to ``_other``, so no counter goes down);
  a refused database is not granted again while the master remembers it, since its past
  counts already sit in ``_other``. A restart starts afresh, as every counter does.
* ``tenants.json`` (cap, granted in grant order, folded) is written whole (tmp + rename)
  whenever it changes; workers and the metrics listener only read it. The master's loop
  and the confirmations' threads change the table under one lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping

from ..configuration.model import Pool
from .metrics import WORKER_FILE, write_atomic
from .metrics_confirm import Ask, Confirmations
from .metrics_dbexist import db_exist
from .metrics_merge import merge_lock, read_json
from .metrics_tenants import FIXED, SLOTS_FILE

REFUSED_MEMORY = 10_000
# The master's loop wakes once a second, and on every signal: a burst of SIGHUPs must not
# make it read every snapshot each time.
UPDATE_EVERY = 0.5


class TenantSlots:
    def __init__(
        self,
        directory: str,
        cap: int,
        pools: Mapping[str, Pool] | None = None,
        log: Callable[[str], None] | None = None,
        ask: Ask = db_exist,
    ) -> None:
        self.directory = directory
        self.cap = cap
        self.pools: Mapping[str, Pool] = pools or {}  # the running configuration's
        self.granted: dict[str, None] = {}  # grant order
        self.refused: dict[str, None] = {}  # oldest first, at most REFUSED_MEMORY
        self.folded = 0
        self._updated = 0.0
        self._lock = threading.Lock()
        self._dirty = False  # a change tenants.json does not show yet
        self.confirmations = Confirmations(self.confirmed, log, ask)
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
        with self._lock:
            if cap == self.cap:
                return
            self.cap = cap
            for name in list(self.granted)[cap:]:
                del self.granted[name]
                self._refuse(name)
            self.write()

    def confirmed(self, name: str) -> None:
        """Odoo says ``name`` exists (a confirmation's thread): grant or refuse it now. A
        file that cannot be written now is written by the next ``update``."""
        with self._lock:
            if self.offer([name]):
                self._dirty = True
                with contextlib.suppress(OSError):
                    self.write()

    def offer(self, names: list[str]) -> bool:
        """Grant or refuse each name not decided yet, Odoo having confirmed that it exists
        (``confirmed``; the caller holds the lock); True when the table changed."""
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
        """Read every worker's candidates and have those not decided yet confirmed."""
        now = time.monotonic()
        if now - self._updated < UPDATE_EVERY:
            return
        self._updated = now
        if self._dirty:
            with self._lock:
                self.write()
        found: dict[str, str] = {}  # database -> the pool that answered it, first seen
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
                    for item in tenants["candidates"]:
                        if isinstance(item, list) and len(item) == 2:
                            found.setdefault(str(item[0]), str(item[1]))
        with self._lock:
            new = [
                (db, pool)
                for db, pool in found.items()
                if db not in self.granted and db not in self.refused and db not in FIXED
            ]
        for db, pool in new:
            known = self.pools.get(pool)
            if known is not None:  # a pool a reload removed: its workers offer it again
                self.confirmations.offer(db, known.servers)

    def write(self) -> None:
        data = {"cap": self.cap, "granted": list(self.granted), "folded": self.folded}
        path = os.path.join(self.directory, SLOTS_FILE)
        write_atomic(path, json.dumps(data, separators=(",", ":")).encode())
        self._dirty = False
