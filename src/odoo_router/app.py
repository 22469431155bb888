"""Server lifetime: listening sockets, worker processes, reload and graceful shutdown.

The master binds the listening sockets once, forks ``workers`` processes that all accept
on them, and supervises: a worker that dies unexpectedly is replaced (and logged). It
also serves metrics, merging the snapshots the workers write every second.

Signals (nginx-like):
* SIGHUP  -- reload: the master validates the file; when valid, every worker re-reads it
  and swaps its routing table (requests in flight finish on the old one); when invalid
  the old table stays and every problem is logged with key and line. Changed static
  settings (listen, workers, metrics, logging) are reported as needing a restart.
* SIGTERM / SIGINT -- graceful stop: stop accepting, let requests finish for up to
  ``shutdown_grace``, close websockets with 1001, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass

from . import native
from .accesslog import AccessLog
from .config import Config, ConfigError, load_config
from .metrics import Stats, forget_worker, reset_directory, start_metrics_server, write_snapshot
from .observe import attach
from .proxy import ClientConnection
from .state import WorkerState


def log(message: str) -> None:
    print(f"odoo-router[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def bind_sockets(config: Config) -> list[socket.socket]:
    socks = []
    for host, port in config.server.listen:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
        socks.append(sock)
    return socks


def static_changes(old: Config, new: Config) -> list[str]:
    changed = []
    for name in ("listen", "workers"):
        if getattr(old.server, name) != getattr(new.server, name):
            changed.append(f"server.{name}")
    if old.metrics != new.metrics:
        changed.append("metrics")
    if old.logging != new.logging:
        changed.append("logging")
    return changed


# --------------------------------------------------------------------------- worker


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


async def drain(state: WorkerState, servers: list[asyncio.AbstractServer], grace: float) -> None:
    """Stop accepting, let in-flight requests finish, then close what is left."""
    for server in servers:
        server.close()
    state.draining = True
    deadline = time.monotonic() + grace
    for conn in list(state.connections):
        if not conn.queue and conn.exchange is None and conn.tunnel is None:
            conn.close()
        elif conn.tunnel is not None:
            conn.tunnel.going_away()
        # else: the connection closes once its queued requests are answered
    while time.monotonic() < deadline:
        busy = [c for c in state.connections if not c.closed]
        if not busy:
            break
        for conn in busy:
            if not conn.queue and conn.exchange is None and conn.tunnel is None:
                conn.close()
        await asyncio.sleep(0.05)
    for conn in list(state.connections):
        if conn.tunnel is not None:
            conn.tunnel.going_away()
        elif conn.transport is not None:
            conn.transport.abort()
    state.stop_ticker()
    state.pools.close_idle()


@dataclass
class WorkerOptions:
    config_path: str
    worker_id: int
    metrics_dir: str | None


def worker_main(config: Config, socks: list[socket.socket], opts: WorkerOptions) -> None:
    """Entry point of a worker process (also used directly with workers: 1 in tests)."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep running without it
        pass
    asyncio.run(_worker(config, socks, opts))


async def _worker(config: Config, socks: list[socket.socket], opts: WorkerOptions) -> None:
    # Start-up objects never die: keep them out of every collection, and collect young
    # objects less often (a request makes a few short cycles; profiles showed 3-5% in gc).
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    loop = asyncio.get_running_loop()
    state = WorkerState(config)
    stats = Stats() if opts.metrics_dir else None
    access = AccessLog(config.logging.access_log) if config.logging.access_log else None
    attach(state, stats, access)
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
        state.swap(new)

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    with contextlib.suppress(Exception):
        loop.add_signal_handler(signal.SIGUSR1, access.reopen if access else (lambda: None))

    async def housekeeping() -> None:
        ticks = 0
        while True:
            await asyncio.sleep(0.1)
            ticks += 1
            if access is not None:
                access.flush()
            if stats is not None and opts.metrics_dir:
                for name, pool in state.pools.by_name.items():
                    stats.set_pool(name, len(pool.idle), len(pool.active))
                if ticks % 10 == 0:
                    write_snapshot(stats, opts.metrics_dir, opts.worker_id)

    keeper = loop.create_task(housekeeping())
    await stop.wait()
    await drain(state, servers, config.server.shutdown_grace)
    keeper.cancel()
    if access is not None:
        access.flush()
    if stats is not None and opts.metrics_dir:
        write_snapshot(stats, opts.metrics_dir, opts.worker_id)


# --------------------------------------------------------------------------- master


class Master:
    def __init__(self, config: Config, config_path: str) -> None:
        self.config = config
        self.config_path = config_path
        self.socks = bind_sockets(config)
        self.workers: dict[int, int] = {}  # pid -> worker id
        self.metrics_dir: str | None = None
        self.stopping = False
        self.pending: list[int] = []
        self.crash_times: list[float] = []
        self.stats = Stats()

    def worker_count(self) -> int:
        n = self.config.server.workers
        return n if n > 0 else (os.cpu_count() or 1)

    def spawn(self, worker_id: int) -> None:
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                for sig in (
                    signal.SIGHUP,
                    signal.SIGTERM,
                    signal.SIGINT,
                    signal.SIGCHLD,
                    signal.SIGUSR1,
                ):
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                worker_main(
                    self.config,
                    self.socks,
                    WorkerOptions(self.config_path, worker_id, self.metrics_dir),
                )
            except BaseException as exc:
                log(f"worker {worker_id} failed: {exc!r}")
                code = 1
            finally:
                os._exit(code)
        self.workers[pid] = worker_id

    def run(self) -> int:
        metrics = None
        if self.config.metrics.listen is not None:
            self.metrics_dir = tempfile.mkdtemp(prefix="odoo-router-metrics-")
            reset_directory(self.metrics_dir)
            host, port = self.config.metrics.listen
            metrics = start_metrics_server(host, port, self.metrics_dir)
            log(f"metrics on http://{host}:{metrics.port}/metrics")
        signals = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGUSR1)
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
        for i in range(self.worker_count()):
            self.spawn(i)
        addrs = ", ".join(f"{h}:{p}" for h, p in self.config.server.listen)
        log(f"listening on {addrs} with {len(self.workers)} worker(s); {native.describe()}")
        try:
            self._loop(signals)
        finally:
            if metrics is not None:
                metrics.stop()
            if self.metrics_dir:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return 0

    def _loop(self, signals: tuple[signal.Signals, ...]) -> None:
        deadline: float | None = None
        while self.workers:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            info = signal.sigtimedwait(signals, timeout if timeout is not None else 1.0)
            self._reap()
            if deadline is not None and time.monotonic() > deadline:
                for pid in self.workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            if info is None:
                continue
            if info.si_signo in (signal.SIGTERM, signal.SIGINT) and not self.stopping:
                self.stopping = True
                log("stopping: finishing in-flight requests")
                deadline = time.monotonic() + self.config.server.shutdown_grace + 5
                for pid in self.workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            elif info.si_signo == signal.SIGHUP and not self.stopping:
                self._reload()
            elif info.si_signo == signal.SIGUSR1:  # reopen logs (logrotate)
                for pid in self.workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGUSR1)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker_id = self.workers.pop(pid, None)
            if worker_id is None:
                continue
            if self.metrics_dir:
                forget_worker(self.metrics_dir, worker_id)
            if self.stopping:
                continue
            why = _describe(status)
            log(f"worker {worker_id} (pid {pid}) exited unexpectedly ({why}); replacing it")
            now = time.monotonic()
            self.crash_times = [t for t in self.crash_times if now - t < 10] + [now]
            if len(self.crash_times) > 10:
                time.sleep(1.0)  # crash loop: do not spin
            self.spawn(worker_id)

    def _reload(self) -> None:
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            self._count_reload("invalid")
            n = len(exc.problems)
            log(f"reload refused, still serving the previous configuration ({n} problem(s)):")
            for problem in exc.problems:
                log(f"  {problem}")
            return
        changed = static_changes(self.config, new)
        if changed:
            log(f"reload: {', '.join(changed)} changed and need a restart; routing is reloaded")
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)
        # Static settings stay as they were: keep them for workers spawned later.
        self.config = Config(
            server=self.config.server,
            metrics=self.config.metrics,
            logging=self.config.logging,
            pools=new.pools,
            hosts=new.hosts,
            source=new.source,
        )
        self._count_reload("ok")
        log("reloaded")

    def _count_reload(self, outcome: str) -> None:
        """Reloads are counted once, here, not once per worker."""
        self.stats.reload(outcome)
        if self.metrics_dir:
            write_snapshot(self.stats, self.metrics_dir, "master")


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def run(config: Config, config_path: str, pid_file: str | None = None) -> int:
    master = Master(config, config_path)
    if pid_file:
        with open(pid_file, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
    try:
        return master.run()
    finally:
        if pid_file:
            with contextlib.suppress(OSError):
                os.unlink(pid_file)
