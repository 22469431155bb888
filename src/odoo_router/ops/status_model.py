"""What the master knows about itself for the status page: start time, version, build, its
workers, the running configuration's hash and a short history of reloads.

The master's main thread writes it (start, each reload, each worker spawned or reaped) and
the metrics listener's threads read it: one lock, and readers take a copy (``view``), so a
page never shows a history half updated. Nothing here is per request.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

from .. import __version__

RELOAD_HISTORY = 10  # reloads kept for the page; the counters in /metrics count them all


def config_hash(path: str) -> str:
    """The first 12 hex digits of the file's SHA-256 (enough to tell two files apart on a
    page), or ``unreadable`` when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:12]
    except OSError:
        return "unreadable"


@dataclass(frozen=True, slots=True)
class ReloadRecord:
    time: float  # time.time()
    outcome: str  # ok | invalid (metrics.RELOAD_OUTCOMES)
    config_hash: str  # of the file the reload read: the refused one for "invalid"
    detail: str  # what the log says about it, in one line


@dataclass(frozen=True, slots=True)
class InfoView:
    """A consistent copy of MasterInfo for one page."""

    version: str
    build: str  # compiled | pure | partial
    build_detail: str
    pid: int
    started: float
    workers_configured: int
    workers_running: int
    config_hash: str
    config_loaded: float
    reloads: tuple[ReloadRecord, ...]  # newest first


class MasterInfo:
    def __init__(
        self,
        build: str = "unknown",
        build_detail: str = "",
        config_path: str | None = None,
        workers: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self.build = build
        self.build_detail = build_detail
        self.started = time.time()
        self.pid = os.getpid()
        self._configured = workers
        self._running = 0
        self._hash = config_hash(config_path) if config_path else "unknown"
        self._loaded = self.started
        self._reloads: deque[ReloadRecord] = deque(maxlen=RELOAD_HISTORY)

    def workers(self, configured: int, running: int) -> None:
        with self._lock:
            self._configured, self._running = configured, running

    def reloaded(self, outcome: str, digest: str, detail: str = "") -> None:
        now = time.time()
        with self._lock:
            self._reloads.append(ReloadRecord(now, outcome, digest, detail))
            if outcome == "ok":
                self._hash, self._loaded = digest, now

    def view(self) -> InfoView:
        with self._lock:
            return InfoView(
                __version__,
                self.build,
                self.build_detail,
                self.pid,
                self.started,
                self._configured,
                self._running,
                self._hash,
                self._loaded,
                tuple(reversed(self._reloads)),
            )


def build_kind(compiled: int, total: int) -> str:
    """compiled (every data-path module a C extension), pure (none) or partial."""
    if compiled == 0:
        return "pure"
    return "compiled" if compiled == total else "partial"
