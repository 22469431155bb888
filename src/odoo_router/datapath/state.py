"""Per-worker state shared by every connection: the routing table generation, pools,
timers, and the logging phase.

A reload calls ``swap``: new requests route on the new table and pools, while requests and
websockets already in flight keep the objects they hold; the old pools' idle connections
are closed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Sized
from email.utils import formatdate
from typing import Final, Protocol

from ..configuration.validate import Config, ServerSettings
from ..routing.memo import RouteMemo
from ..routing.request_filter import FilterSettings
from ..routing.table import Decision, RoutingTable, compile_table
from ..security.ratelimit import RateLimits
from ..security.ratelimit_table import BucketTable
from .cache import StaticCache
from .errorlog import RateLimitedLog
from .pools import Pools
from .request import Request


class Tunnelled(Protocol):
    @property
    def tenant(self) -> str | None: ...
    def going_away(self) -> None: ...
    def restart(self) -> None: ...


class Connection(Protocol):
    """A client connection as the worker sees it (driver.Driver): its timers, and what a
    graceful stop asks of it."""

    @property
    def peer(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def transport(self) -> asyncio.Transport | None: ...
    @property
    def queue(self) -> Sized: ...
    @property
    def exchange(self) -> object | None: ...
    @property
    def tunnel(self) -> Tunnelled | None: ...
    def close(self) -> None: ...
    def tick(self, now: float) -> None: ...


RequestObserver = Callable[[Connection, Request], None]


_HEX2: Final = tuple(b"%02x" % i for i in range(256))


class WorkerState:
    def __init__(self, config: Config, buckets: BucketTable | None = None) -> None:
        self.settings: ServerSettings = config.server
        self.config = config
        # The routes' login limits: the master's table, shared by every worker (a reload
        # keeps it); made on first use when no master made one (a worker on its own).
        self.rate_limits = RateLimits(config.server.rate_limit_keys, buckets)
        self.table: RoutingTable = compile_table(config)
        self.routes = RouteMemo(self.table)  # the worker's memo of this table's decisions
        self.filter_settings = FilterSettings(self.settings)
        self.upstream_error_hooks: list[Callable[[str, str], None]] = []
        self.error_lines = RateLimitedLog(self.log_error)  # upstream failures, per pool and cause
        self.fault_hooks: list[Callable[[str], None]] = []  # metrics.FAULT_KINDS
        self.pools = Pools(
            config.pools, self.upstream_error, self.log_error, self.settings.proxy_header_max
        )
        s = self.settings
        self.cache = StaticCache(s.cache_size, min(s.cache_max_entry, s.cache_size))
        self._server = self.settings.server_header.encode("latin-1")
        self.secure_cookies = self.settings.secure_cookies
        samesite = self.settings.session_cookie_samesite
        self.samesite = samesite.encode("ascii") if samesite else None
        self.now = time.monotonic()
        self._date_second = 0
        self.server_date = b""  # the Server and Date lines of every response, renewed per second
        self._update_date()
        self.connections: set[Connection] = set()
        self.observers: list[RequestObserver] = []
        self.conn_hooks: list[Callable[[int], None]] = []  # +1 opened / -1 closed
        # +1 opened / -1 closed, and the decision of the request that opened it (its tenant)
        self.websocket_hooks: list[Callable[[int, Decision | None], None]] = []
        self.open_websockets = 0
        # Tenants in maintenance: database -> its "until" (Unix time, 0.0: none), kept by
        # the worker's watcher of the maintenance file (ops/maintenance_watch.py).
        self.maintenance: dict[str, float] = {}
        self.maintenance_retry = config.maintenance.retry_after
        self.draining = False
        self._ticker: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # set by the first connection
        self._rid_prefix = os.urandom(6).hex().encode()
        self._rid_counter = 0
        self._rid_block = b""  # the prefix and all but the counter's last two hex digits

    # -- generation swap (reload) ---------------------------------------------------

    def swap(self, config: Config) -> None:
        table = compile_table(config)
        old = self.pools
        self.config = config
        self.table = table
        self.maintenance_retry = config.maintenance.retry_after
        self.routes = RouteMemo(table)
        self.pools = Pools(
            config.pools, self.upstream_error, self.log_error, self.settings.proxy_header_max
        )
        self.cache.clear()  # a reload may point pools at another Odoo image
        old.retire()

    # -- connections and timers -----------------------------------------------------

    def event_loop(self) -> asyncio.AbstractEventLoop:
        """The worker's loop (asyncio.get_running_loop() costs a getpid() syscall: once)."""
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        return loop

    def connection_opened(self, conn: Connection) -> None:
        self.connections.add(conn)
        for hook in self.conn_hooks:
            hook(1)

    def connection_closed(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for hook in self.conn_hooks:
            hook(-1)

    def websocket_change(self, delta: int, decision: Decision | None) -> None:
        self.open_websockets += delta
        for hook in self.websocket_hooks:
            hook(delta, decision)

    def start_ticker(self) -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:
            self.now = time.monotonic()
            self._update_date()
            self.check_timeouts(self.now)
            for pool in self.pools.by_name.values():
                pool.trim(self.now)
            self.error_lines.flush(self.now)
            self._ticker = loop.call_later(0.25, tick)

        self._ticker = loop.call_later(0.25, tick)

    def stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()

    def _update_date(self) -> None:
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            date = formatdate(second, usegmt=True).encode("ascii")
            self.server_date = b"Server: %b\r\nDate: %b\r\n" % (self._server, date)

    def check_timeouts(self, now: float) -> None:
        for conn in list(self.connections):
            conn.tick(now)

    # -- ids, errors, logging phase -------------------------------------------------

    def new_request_id(self) -> bytes:
        """The worker's random prefix, then a counter in 10 hex digits: formatted once per
        256 requests, the last two digits from a table (a %-format costs 0.1 us)."""
        n = self._rid_counter = self._rid_counter + 1
        low = n & 0xFF
        if low == 0 or not self._rid_block:
            self._rid_block = b"%s%08x" % (self._rid_prefix, n >> 8)
        return self._rid_block + _HEX2[low]

    def upstream_error(self, pool: str, kind: str, error: str) -> None:
        """A failed upstream exchange or connect: ``kind`` resolve | connect | timeout |
        reset | bad_answer, ``error`` the access log's text. Counted (hooks), and one error
        line per pool and kind per interval (errorlog.py)."""
        for hook in self.upstream_error_hooks:
            hook(pool, kind)
        self.error_lines.log(pool, kind, f"upstream pool {pool}: {error}", time.monotonic())

    def log_error(self, message: str) -> None:
        print(f"odoo-router: {message}", file=sys.stderr, flush=True)

    def fault(self, kind: str, message: str) -> None:
        """A fault of the router's own resources (a full temp_dir, no file descriptor left):
        logged as one line and counted by kind (metrics.FAULT_KINDS)."""
        self.log_error(message)
        for hook in self.fault_hooks:
            hook(kind)

    def finish(self, conn: Connection, req: Request) -> None:
        for observer in self.observers:
            try:
                observer(conn, req)
            except Exception as exc:  # logging must never break the data path
                self.log_error(f"request observer failed: {exc!r}")
