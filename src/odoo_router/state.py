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
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Final

from .cache import StaticCache
from .config import Config, ServerSettings
from .errorlog import RateLimitedLog
from .pools import Pools
from .routing import RoutingTable, compile_table

if TYPE_CHECKING:
    from .proxy import ClientConnection
    from .request import Request

RequestObserver = Callable[["ClientConnection", "Request"], None]


_HEX2: Final = tuple(b"%02x" % i for i in range(256))


class WorkerState:
    def __init__(self, config: Config) -> None:
        self.settings: ServerSettings = config.server
        self.config = config
        self.table: RoutingTable = compile_table(config)
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
        self.connections: set[ClientConnection] = set()
        self.observers: list[RequestObserver] = []
        self.conn_hooks: list[Callable[[int], None]] = []  # +1 opened / -1 closed
        self.websocket_hooks: list[Callable[[int], None]] = []
        self.open_websockets = 0
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
        self.pools = Pools(
            config.pools, self.upstream_error, self.log_error, self.settings.proxy_header_max
        )
        self.cache.clear()  # a reload may point pools at another Odoo image
        old.retire()

    # -- connections and timers -----------------------------------------------------

    def connection_opened(self, conn: ClientConnection) -> None:
        self.connections.add(conn)
        for hook in self.conn_hooks:
            hook(1)

    def connection_closed(self, conn: ClientConnection) -> None:
        self.connections.discard(conn)
        for hook in self.conn_hooks:
            hook(-1)

    def websocket_change(self, delta: int) -> None:
        self.open_websockets += delta
        for hook in self.websocket_hooks:
            hook(delta)

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
        s = self.settings
        for conn in list(self.connections):
            if conn.closed:
                continue
            if conn.paused_writing and conn.send_stalled(now, s.client_send_timeout):
                continue
            if conn.linger_until:  # reading and dropping the rest of a refused body
                conn.check_linger(now)
                continue
            tunnel = conn.tunnel
            if tunnel is not None:
                tunnel.check_idle(now)
                continue
            ex = conn.exchange
            if ex is not None:
                action = ex.req.decision.proxy if ex.req.decision else None
                up = ex.conn
                if up.paused_writing:  # the upstream is not taking the body: send timeout
                    limit, since = (action.send_timeout if action else 60.0), up.last_write
                else:
                    limit, since = (action.read_timeout if action else 60.0), up.last_read
                if not ex.ended() and now - since > limit:
                    ex.timed_out()
                continue
            # Each timeout as nginx measures it (silent closes, as nginx's).
            if conn.queue:
                req = conn.queue[0]  # the body: between two reads
                if not req.complete and now - conn.last_activity > s.client_body_timeout:
                    conn.body_timed_out(req)
            elif conn.cur is not None and not conn.cur_done:
                # The whole head, from the read its first byte came in: trickling bytes
                # does not extend it (slowloris).
                if now - conn.cur.start > s.client_header_timeout:
                    conn.close()
            elif conn.served == 0:  # a new connection's first request: from the accept
                if now - conn.last_activity > s.client_header_timeout:
                    conn.close()
            elif now - conn.idle_since > s.keepalive_timeout:  # from the last answer
                conn.close()

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

    def finish(self, conn: ClientConnection, req: Request) -> None:
        for observer in self.observers:
            try:
                observer(conn, req)
            except Exception as exc:  # logging must never break the data path
                self.log_error(f"request observer failed: {exc!r}")
