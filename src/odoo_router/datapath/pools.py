"""Upstream pools: keep-alive connections, round robin, passive health (nginx semantics).

* ``keepalive`` is the number of *idle* connections kept per pool (nginx ``keepalive N``),
  not a cap on concurrency: under load new connections are opened as needed. Unlike nginx,
  a connection over the cap is not closed the moment it goes idle but after ``IDLE_GRACE``
  seconds unused: under a load with more concurrent requests than ``keepalive``, nginx
  closes and reopens upstream connections on every request (see docs/deviations.md); the
  idle list is still trimmed back to ``keepalive`` within a second of the load ending.
* A connection returns to the idle list only after a complete, well-framed exchange whose
  response allowed keep-alive, if it has carried fewer than ``keepalive_requests`` requests
  and is younger than ``keepalive_time``; anything else is closed. An idle connection is
  closed after ``keepalive_timeout`` unused (nginx's three upstream keepalive_* settings).
* Bytes no request asked for end a connection: past the end of a response (exchange.py) or
  on an idle connection. An idle connection keeps reading (``release`` resumes a paused
  one), so data or EOF on it closes it and takes it off the idle list the moment uvloop
  reports it: checkout (``take_idle``) only tests ``closed``, no syscall per request. The
  one window left is bytes that arrive in the same event-loop iteration as the request that
  takes the connection, before its data callback runs (docs/security.md).
* Names are resolved for every new connection (Docker's DNS changes when a container is
  recreated), so a server that is down or unresolvable at start never stops the router.
* Passive health: ``max_fails`` failures within ``fail_timeout`` take a server out for
  ``fail_timeout``; a pool with one server never marks it down (as nginx), and when every
  server is down the least recently failed one is tried anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import Final

from ..configuration.model import Pool as PoolConfig
from ..http.response_headers import RedirectRule
from .clock import monotonic

IDLE_GRACE: Final = 1.0  # seconds an idle connection over the keepalive cap may wait for reuse
IDLE_HARD_CAP: Final = 1024  # idle connections per pool, whatever happens
UPSTREAM_WRITE_BUFFER: Final = 1 << 20  # bytes queued to an upstream before a body sender waits


def server_name(host: str, port: int) -> str:
    """``host:port``, an IPv6 address in brackets: how logs and the status page name a server."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class UpstreamError(Exception):
    """Connecting to an upstream failed; ``kind`` is resolve | connect | timeout, ``server``
    the one tried; str() is what the access log's ``error`` says."""

    def __init__(self, kind: str, detail: str, server: str) -> None:
        super().__init__(f"{kind}: {detail}; server {server}")
        self.kind = kind
        self.server = server


class Receiver:
    """What an upstream connection feeds: an exchange.Exchange, or after a 101 a
    tunnel.Tunnel (the receiver of bytes now); the base drops everything."""

    def upstream_data(self, data: bytes) -> None:
        pass

    def upstream_lost(self, exc: Exception | None) -> None:
        pass

    def retire(self) -> None:
        """The connection ended: let go of what would hold it (a parser's bound methods)."""


class UpstreamConnection(asyncio.Protocol):
    """One TCP connection to an upstream server; carries one exchange at a time."""

    __slots__ = (
        "addr",
        "closed",
        "drained",
        "idle_since",
        "last_read",
        "last_write",
        "made",
        "own",
        "paused_writing",
        "pool",
        "reading_paused",
        "receiver",
        "requests",
        "reused",
        "send",
        "server",
        "transport",
    )

    def __init__(self, pool: UpstreamPool, server: int) -> None:
        self.pool = pool
        self.server = server
        self.transport: asyncio.Transport | None = None
        # transport.write bound once (a call by name costs about 90 instructions more).
        self.send: Callable[[bytes], None] | None = None
        self.receiver: Receiver | None = None  # the receiver of bytes now
        self.own: Receiver | None = None  # this connection's Exchange, reused per request
        self.closed = False
        self.reused = False
        self.made = monotonic()  # keepalive_time runs from here
        self.requests = 0  # requests it carried, against keepalive_requests
        self.addr = ""
        self.last_read = 0.0
        self.idle_since = 0.0
        self.last_write = 0.0
        self.paused_writing = False
        self.reading_paused = False  # paused for a slow client (exchange.py)
        self.drained: Callable[[], None] | None = None  # runs once the upstream takes more

    def attach(self, receiver: Receiver, now: float) -> None:
        """``receiver`` gets what arrives from now on; the read timeout runs from ``now``."""
        self.receiver = receiver
        self.last_read = now

    def adopt(self, receiver: Receiver) -> None:
        """``receiver`` (an Exchange) is this connection's for every request it carries."""
        self.own = receiver

    def release_own(self) -> None:
        """Nothing is parsed on this connection again (a tunnel took it over)."""
        own = self.own
        if own is not None:
            self.own = None
            own.retire()

    def heard(self) -> None:
        """Bytes came in: the read timeout runs from here."""
        self.last_read = monotonic()

    def sent(self) -> None:
        """Bytes went out: the send timeout runs from here."""
        self.last_write = monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop: TCP_NODELAY is set
        self.send = transport.write  # type: ignore[attr-defined]
        transport.set_write_buffer_limits(high=UPSTREAM_WRITE_BUFFER)  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        if peer:
            self.addr = f"{peer[0]}:{peer[1]}" if ":" not in peer[0] else f"[{peer[0]}]:{peer[1]}"

    def data_received(self, data: bytes) -> None:
        receiver = self.receiver
        if receiver is None:  # bytes on an idle connection: no request asked for them
            self.unasked(f"{len(data)} bytes on an idle connection")
            return
        receiver.upstream_data(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        self._wake_drain()
        receiver = self.receiver
        if receiver is not None:
            self.receiver = None
            receiver.upstream_lost(exc)
        self.release_own()  # break connection <-> Exchange <-> parser for refcounting

    def unasked(self, what: str) -> None:
        """The upstream sent bytes no request asked for: log it and never reuse this
        connection (read as the next request's answer, they would serve one client's
        response to another)."""
        if not self.closed:
            self.pool.log(f"upstream pool {self.pool.name} ({self.addr}) sent {what}: closed")
        self.abort()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        self.paused_writing = True
        self.last_write = monotonic()  # proxy_send_timeout runs from the last progress

    def resume_writing(self) -> None:
        self.paused_writing = False
        self.last_write = monotonic()
        self._wake_drain()

    def when_drained(self, callback: Callable[[], None]) -> None:
        """``callback`` runs once the upstream takes more, or the connection ends (one
        waiter at a time: the body sender, or a tunnel's client side)."""
        self.drained = callback

    def close(self) -> None:
        """Close; bytes the upstream has not taken yet are dropped (abort), never left to
        hold a socket open for an upstream that stopped reading."""
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
            transport = self.transport
            if transport is not None:
                if transport.get_write_buffer_size():
                    transport.abort()
                else:
                    transport.close()
            self._wake_drain()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self.pool.forget(self)
        self._wake_drain()

    def _wake_drain(self) -> None:
        callback = self.drained
        if callback is not None:
            self.drained = None
            callback()


def _no_log(message: str) -> None:
    pass


class UpstreamPool:
    def __init__(
        self,
        cfg: PoolConfig,
        on_error: Callable[[str, str, str], None] | None = None,
        log: Callable[[str], None] = _no_log,
        head_max: int = 64 * 1024,
    ) -> None:
        self.cfg = cfg
        self.head_max = head_max  # server.proxy_header_max (static: kept across reloads)
        self.name = cfg.name
        self.idle: list[UpstreamConnection] = []  # MRU last; a list: deque calls go by name
        self.active: set[UpstreamConnection] = set()
        self._next = 0
        self._fails = [0] * len(cfg.servers)
        self.idle_cap = IDLE_HARD_CAP if cfg.keepalive else 0
        # nginx's keepalive_requests and keepalive_time, read here once (cfg is no native class)
        self.max_requests = cfg.keepalive_requests
        self.max_age = cfg.keepalive_time
        self.retired = False  # a reload replaced this pool: connections end with their exchange
        self._first_fail = [0.0] * len(cfg.servers)
        self._down_until = [0.0] * len(cfg.servers)
        self.on_error = on_error
        self.log = log  # the worker's error log
        prefix = cfg.redirect_prefix
        self.redirect = RedirectRule(prefix, cfg.redirect_rewrite == "nginx") if prefix else None

    # -- selection and health -------------------------------------------------------

    def _pick(self) -> int:
        n = len(self.cfg.servers)
        if n == 1:
            return 0
        now = time.monotonic()
        for _ in range(n):
            i = self._next % n
            self._next += 1
            if self._down_until[i] <= now:
                return i
        return min(range(n), key=lambda i: self._down_until[i])

    def mark_failed(self, server: int) -> None:
        cfg = self.cfg
        if len(cfg.servers) == 1 or cfg.max_fails == 0:
            return
        now = time.monotonic()
        if now - self._first_fail[server] > cfg.fail_timeout:
            self._first_fail[server] = now
            self._fails[server] = 0
        self._fails[server] += 1
        if self._fails[server] >= cfg.max_fails:
            self._down_until[server] = now + cfg.fail_timeout
            self._fails[server] = 0

    def mark_ok(self, server: int) -> None:
        self._fails[server] = 0

    def health(self) -> list[tuple[str, float]]:
        """Each server as ``host:port`` with the time.monotonic() until which passive health
        keeps it out of rotation (0.0: never marked failed), for the status page."""
        return [
            (server_name(host, port), self._down_until[i])
            for i, (host, port) in enumerate(self.cfg.servers)
        ]

    # -- connections ----------------------------------------------------------------

    def take_idle(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()  # most recently used first: the least likely to be stale
            if not conn.closed:
                self.active.add(conn)
                conn.reused = True
                return conn
        return None

    async def connect(self, timeout: float, avoid: int | None = None) -> UpstreamConnection:
        server = self._pick()
        if avoid is not None and server == avoid and len(self.cfg.servers) > 1:
            server = self._pick()
        host, port = self.cfg.servers[server]
        name = server_name(host, port)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(self, server), host, port
                )
        except TimeoutError:
            error = UpstreamError("timeout", f"connect timed out after {timeout:g}s", name)
        except socket.gaierror as exc:  # the name does not resolve (a container not running)
            error = UpstreamError("resolve", str(exc.strerror or exc), name)
        except OSError as exc:
            error = UpstreamError("connect", str(exc.strerror or exc), name)
        else:
            self.active.add(conn)
            return conn
        self.mark_failed(server)
        self.report(error.kind, str(error))
        raise error

    def report(self, kind: str, error: str) -> None:
        """A failure of this pool: counted, and logged at most once per cause and interval."""
        if self.on_error is not None:
            self.on_error(self.name, kind, error)

    def release(self, conn: UpstreamConnection, reusable: bool, now: float = 0.0) -> None:
        self.active.discard(conn)
        if not now:
            now = monotonic()
        conn.requests += 1
        worn = conn.requests >= self.max_requests or now - conn.made > self.max_age
        if worn or not reusable or conn.closed or self.retired or len(self.idle) >= self.idle_cap:
            conn.close()
            return
        conn.receiver = None
        conn.idle_since = now
        if conn.reading_paused:  # an idle connection must see unasked bytes and EOF at once
            conn.resume_reading()
        self.idle.append(conn)

    def trim(self, now: float) -> None:
        """Close the least recently used idle connections over the cap once unused for
        IDLE_GRACE, and any unused for keepalive_timeout (the idle list is
        most-recently-used last)."""
        idle = self.idle
        while len(idle) > self.cfg.keepalive and now - idle[0].idle_since > IDLE_GRACE:
            idle.pop(0).close()
        timeout = self.cfg.keepalive_timeout
        while idle and now - idle[0].idle_since > timeout:
            idle.pop(0).close()

    def forget(self, conn: UpstreamConnection) -> None:
        self.active.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    def close_idle(self) -> None:
        while self.idle:
            self.idle.pop().close()


class Pools:
    """All pools of one routing table generation; a reload makes a new set."""

    def __init__(
        self,
        configs: dict[str, PoolConfig],
        on_error: Callable[[str, str, str], None] | None = None,
        log: Callable[[str], None] = _no_log,
        head_max: int = 64 * 1024,
    ) -> None:
        self.by_name = {
            name: UpstreamPool(cfg, on_error, log, head_max) for name, cfg in configs.items()
        }

    def __getitem__(self, name: str) -> UpstreamPool:
        return self.by_name[name]

    def close_idle(self) -> None:
        for pool in self.by_name.values():
            pool.close_idle()

    def retire(self) -> None:
        """A reload replaced these pools: close what is idle, and the rest once released."""
        for pool in self.by_name.values():
            pool.retired = True
            pool.close_idle()
