"""The worker's watch of the maintenance file (router.yaml's ``maintenance.file``).

Rules
-----
* ``poll`` runs before the worker serves (the state survives a restart: no request of a
  tenant in maintenance gets through at start) and then from its housekeeping timer,
  every 100 ms: one ``stat`` of the file, read again only when its identity, size or
  modification time changed (an atomic rename always changes the inode). A change is in
  force within ~0.1 s, without a reload.
* A missing file: no tenant in maintenance. A file that cannot be read or parsed keeps the
  last good state, and is logged once (again only when the error changes or it is fixed).
* A reload may name another file, or none (``state.config`` is read at each poll): the
  state then follows the new file at once.
* ``until`` ends a tenant's maintenance when it passes, whether or not the file changes.
* Tenants that enter maintenance have their open websockets closed with 1012 (the tunnel
  finds a frame end first: datapath/tunnel.py); a websocket opened while its tenant was
  already in maintenance is closed by the driver as it opens.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..datapath.state import WorkerState
from .maintenance import Entry, StateError, active, read_state

Signature = tuple[int, int, int, int]


def _signature(path: str) -> Signature | None:
    """The file's identity and version; None when there is no file. Raises OSError."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class MaintenanceWatch:
    def __init__(self, state: WorkerState, log: Callable[[str], None]) -> None:
        self.state = state
        self.log = log
        self.path: str | None = None
        self.signature: Signature | None = None
        self.entries: dict[str, Entry] = {}  # the last good file's
        self.error: str | None = None  # the last error logged
        self.next_end = math.inf  # when the earliest "until" of those in force passes

    def poll(self, now: float | None = None) -> None:
        """Follow the file (see the module's rules); ``now``: Unix time, for tests."""
        path = self.state.config.maintenance.file
        changed = False
        if path != self.path:
            self.path, self.signature, self.error, changed = path, None, None, True
            self.entries = {}
        if path is not None:
            changed = self._read(path) or changed
        wall = time.time() if now is None else now
        if changed or wall >= self.next_end:
            self._apply(wall)

    def _read(self, path: str) -> bool:
        signature: Signature | None = None
        try:
            signature = _signature(path)
            if signature == self.signature and (signature is not None or self.error is None):
                return False  # unchanged (a broken file is read again once it changes)
            entries = read_state(path) if signature is not None else {}
        except (OSError, StateError) as exc:
            error = str(exc) if isinstance(exc, StateError) else f"{path}: {exc.strerror or exc}"
            self.signature = signature
            if error != self.error:
                self.error = error
                self.log(f"maintenance file: {error}; keeping the last good state")
            return False
        if self.error is not None:
            self.log(f"maintenance file: {path} is readable again")
        self.signature, self.error, self.entries = signature, None, entries
        return True

    def _apply(self, wall: float) -> None:
        state = self.state
        now = datetime.fromtimestamp(wall, UTC)
        on = active(self.entries, now)
        ends = [until for until in on.values() if until]
        self.next_end = min(ends) if ends else math.inf
        old = state.maintenance
        if on == old:
            return
        state.maintenance = on  # a new dict: the data path reads the attribute each time
        entered = [db for db in on if db not in old]
        left = sorted(db for db in old if db not in on)
        if entered:
            self.log(f"maintenance on: {', '.join(sorted(entered))}")
            self._close_websockets(set(entered))
        if left:
            self.log(f"maintenance off: {', '.join(left)}")

    def _close_websockets(self, tenants: set[str]) -> None:
        for conn in list(self.state.connections):
            tunnel = conn.tunnel
            if tunnel is not None and tunnel.tenant in tenants:
                tunnel.restart()
