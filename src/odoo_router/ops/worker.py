"""A worker process: serve the shared listening sockets until told to stop, then drain.

Rules:
* Signals come in blocked (the master blocks them before it starts any thread or worker,
  and a fork keeps the mask): the worker installs its handlers first and unblocks them
  after, so a signal sent while it starts (a reload, a stop) is handled late, never by its
  default action.
* SIGHUP re-reads the file the master validated and swaps the routing table, static
  settings keeping their running value (config_static.reloaded); SIGTERM and SIGINT drain;
  SIGUSR1 reopens the access log.
* The master imports this module, and with it the whole data path, before it forks, so
  that the workers share those pages instead of each importing its own (app.py, Memory):
  importing it starts nothing.
* A worker whose master is gone (killed, crashed: its parent pid changes) drains as for
  SIGTERM and exits: it is never left serving on its own. PR_SET_PDEATHSIG is no substitute:
  it races with the fork and says nothing a 100 ms check of the parent pid does not.
* Draining stops accepting, lets requests and queued pipelined requests finish for up to
  ``shutdown_grace``, closes websockets with 1001, then cuts what is left; how many
  requests and websockets were cut goes to the master (``report_fd``), which says it in its
  last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

import uvloop

from ..configuration.static import reloaded
from ..configuration.validate import Config, ConfigError, load_config
from ..datapath.proxy import ClientConnection
from ..datapath.state import Connection, WorkerState
from ..security.ratelimit_table import BucketTable
from .accesslog import AccessLog
from .fdwatch import FdWatch
from .maintenance_watch import MaintenanceWatch
from .metrics import Stats, write_snapshot
from .observe import attach
from .stopreport import Drained, describe_drain, report_line


def log(message: str) -> None:
    print(f"odoo-router[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


@dataclass
class WorkerOptions:
    config_path: str
    worker_id: int
    metrics_dir: str | None
    master_pid: int | None = None  # drain and exit once the parent is another process
    report_fd: int | None = None  # where the stop report goes (a pipe to the master)
    buckets: BucketTable | None = None  # the login rate limits' table, shared by the workers


async def serve_sockets(
    state: WorkerState, socks: list[socket.socket]
) -> list[asyncio.AbstractServer]:
    loop = asyncio.get_running_loop()
    servers: list[asyncio.AbstractServer] = []
    for sock in socks:
        server = await loop.create_server(lambda: ClientConnection(state), sock=sock, backlog=1024)
        servers.append(server)
    state.start_ticker()
    return servers


def _idle(conn: Connection) -> bool:
    return not conn.queue and conn.exchange is None and conn.tunnel is None


async def drain(state: WorkerState, servers: list[asyncio.AbstractServer], grace: float) -> Drained:
    """Stop accepting, let in-flight requests finish, then close what is left."""
    for server in servers:
        server.close()
    state.draining = True
    deadline = time.monotonic() + grace
    for conn in list(state.connections):
        if _idle(conn):
            conn.close()
        elif conn.tunnel is not None:
            conn.tunnel.going_away()
        # else: the connection closes once its queued requests are answered
    while time.monotonic() < deadline:
        busy = [c for c in state.connections if not c.closed]
        if not busy:
            break
        for conn in busy:
            if _idle(conn):
                conn.close()
        await asyncio.sleep(0.05)
    left = Drained()
    for conn in list(state.connections):
        if conn.closed:
            continue
        if conn.tunnel is not None:
            left.websockets_cut += 1
            conn.tunnel.going_away()
        elif conn.transport is not None:
            left.requests_cut += len(conn.queue)
            conn.transport.abort()
    state.stop_ticker()
    state.pools.close_idle()
    return left


def worker_main(config: Config, socks: list[socket.socket], opts: WorkerOptions) -> None:
    """Entry point of a worker process, forked by the master with its signals blocked."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_worker(config, socks, opts))


def _report(opts: WorkerOptions, left: Drained) -> None:
    """One line to the master (shorter than PIPE_BUF: written whole); nobody reads it when
    the master is gone, hence no error either."""
    if opts.report_fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(opts.report_fd, report_line(opts.worker_id, left))


async def _worker(config: Config, socks: list[socket.socket], opts: WorkerOptions) -> None:
    # Start-up objects never die: keep them out of every collection, and collect young
    # objects less often (a request makes a few short cycles; profiles showed 3-5% in gc).
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    loop = asyncio.get_running_loop()
    state = WorkerState(config, opts.buckets)
    stats = Stats() if opts.metrics_dir else None
    if stats is not None and opts.metrics_dir:
        stats.tenants.refresh(opts.metrics_dir)  # the slots granted so far, before serving
    target = config.logging.access_log
    access = AccessLog(target, on_error=log) if target else None
    attach(state, stats, access)
    maintenance = MaintenanceWatch(state, log)
    maintenance.poll()  # before serving: a tenant in maintenance stays out across restarts
    servers = await serve_sockets(state, socks)
    stop = asyncio.Event()

    def reload() -> None:
        try:
            new = load_config(opts.config_path)
        except ConfigError as exc:
            # The master validated the file; it changed again before this worker read it.
            for problem in exc.problems:
                log(f"reload refused: {problem}")
            if stats is not None:
                stats.reload("error")
            return
        state.swap(reloaded(config, new))  # static settings keep their running value

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, access.reopen if access else (lambda: None))
    # What came meanwhile runs now; SIGCHLD, blocked for the master's sigtimedwait, too.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    fds = FdWatch(log, (lambda: stats.fault("fd_exhausted")) if stats else (lambda: None))

    def orphaned() -> bool:
        return opts.master_pid is not None and os.getppid() != opts.master_pid

    async def housekeeping() -> None:
        ticks = 0
        while True:
            await asyncio.sleep(0.1)
            ticks += 1
            if access is not None:
                access.flush()
            try:
                maintenance.poll()  # a stat: a change is in force within ~0.1 s, no reload
            except Exception as exc:  # a bug there must not stop this loop (metrics, orphans)
                log(f"maintenance watch failed: {exc!r}")
            if not stop.is_set() and orphaned():
                log(f"the master (pid {opts.master_pid}) is gone: draining, then exiting")
                stop.set()
            if ticks % 10 == 0:
                fds.sample(time.monotonic())
            if stats is not None and opts.metrics_dir:
                for name, pool in state.pools.by_name.items():
                    stats.set_pool(name, len(pool.idle), len(pool.active))
                # A stat: a slot the master grants (from a confirmation's thread, at any
                # moment) is taken within ~0.1 s, not at this worker's next second.
                stats.tenants.refresh(opts.metrics_dir)
                if ticks % 10 == 0:
                    health = {n: p.health() for n, p in state.pools.by_name.items()}
                    stats.set_health(health, time.monotonic(), time.time())
                    with contextlib.suppress(OSError):  # a full disk must not stop this loop
                        write_snapshot(stats, opts.metrics_dir, opts.worker_id)

    keeper = loop.create_task(housekeeping())
    await stop.wait()
    left = await drain(state, servers, config.server.shutdown_grace)
    keeper.cancel()
    if access is not None:
        access.flush()
    if stats is not None and opts.metrics_dir:
        with contextlib.suppress(OSError):  # the master removes the directory when it goes
            write_snapshot(stats, opts.metrics_dir, opts.worker_id)
    if orphaned():
        how = describe_drain(left, config.server.shutdown_grace)
        log(f"worker {opts.worker_id} stopped: {how}")
    _report(opts, left)
