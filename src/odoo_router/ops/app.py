"""Server lifetime: listening sockets, worker processes, reload and graceful shutdown.

The master binds the listening sockets once, forks ``workers`` processes that all accept
on them (worker.py), and supervises: a worker that dies unexpectedly is replaced (and
logged). It also serves metrics, merging the snapshots the workers write every second.

Signals (nginx-like):
* SIGHUP  -- reload: the master validates the file; when valid, every worker re-reads it
  and swaps its routing table (requests in flight finish on the old one); when invalid
  the old table stays and every problem is logged with key and line. Changed static
  settings (any key of server, metrics, logging) are reported as needing a restart and
  keep their running value, in the master and in every worker (config_static.reloaded).
* SIGTERM / SIGINT -- graceful stop: stop accepting, let requests finish for up to
  ``shutdown_grace``, close websockets with 1001, exit 0. The last line of the log says
  how it went: drained, or cut after shutdown_grace with what was cut.
* SIGUSR1 -- the workers reopen the access log.

Rules for signals: the master blocks its signals before anything else runs (before the
metrics listener's threads exist, which inherit the mask) and takes them one at a time with
sigtimedwait, so a signal that arrives while the master is busy (a reload) waits for it,
whatever thread the kernel would have picked; signals of one kind that arrive meanwhile
coalesce (several SIGHUPs during a reload make one more reload after it).

Memory (docs/performance.md): a forked worker shares the master's pages until one of them
writes to a page, and under CPython 3.11 running code writes to what it touches (reference
counts, the adaptive interpreter's inline caches, the allocator's free slots). So the master
imports the data path (worker.py) before it forks, and the worker finds it there, shared,
rather than importing it into private pages while copying the pages of every module it runs;
the master loads nothing else it does not use (no HTTP library: metrics_http.py). Before
each fork the master freezes its objects (gc.freeze), so that neither process's collector
writes to the pages they share.

A listen address that cannot be bound (in use, not on this host, a name that does not
resolve, a privileged port) is one ``ListenError`` line naming the key; the CLI exits 2.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

from ..configuration.static import reloaded, static_changes
from ..configuration.validate import Config, ConfigError, load_config
from ..datapath import headparse
from ..datapath.spool import describe_os_error
from ..security.ratelimit_table import BucketTable
from . import native
from .metrics import Stats, write_snapshot
from .metrics_http import MetricsServer, start_metrics_server
from .metrics_merge import forget_worker, reset_directory
from .metrics_slots import TenantSlots
from .status_model import MasterInfo, build_kind, config_hash
from .stopreport import describe_drain, sum_reports
from .worker import WorkerOptions, worker_main

MASTER_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGUSR1)
KILL_AFTER = 5.0  # seconds past shutdown_grace before a worker still running is killed


def log(message: str) -> None:
    print(f"odoo-router[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def block_signals() -> None:
    """Hold the master's signals for sigtimedwait; call it before any thread starts."""
    signal.pthread_sigmask(signal.SIG_BLOCK, MASTER_SIGNALS)


class ListenError(Exception):
    """A listen address that cannot be bound: ``key: cannot listen on ADDR: reason``."""

    def __init__(self, key: str, host: str, port: int, reason: str) -> None:
        self.key = key
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.reason = reason
        super().__init__(f"{key}: cannot listen on {self.address}: {reason}")


def _why_not(exc: OSError | UnicodeError, port: int) -> str:
    if isinstance(exc, UnicodeError):  # the IDNA codec refuses an empty or long label
        return "not a valid host name"
    if isinstance(exc, socket.gaierror):
        return f"the name does not resolve ({exc.strerror or exc})"
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use (EADDRINUSE)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "the address is not available on this host (EADDRNOTAVAIL)"
    if exc.errno == errno.EACCES and port < 1024:
        return "permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE"
    return describe_os_error(exc)


def bind_sockets(config: Config) -> list[socket.socket]:
    socks: list[socket.socket] = []
    for host, port in config.server.listen:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(1024)
        except (OSError, UnicodeError) as exc:
            sock.close()
            for done in socks:
                done.close()
            raise ListenError("server.listen", host, port, _why_not(exc, port)) from None
        sock.setblocking(False)
        socks.append(sock)
    return socks


def start_metrics(host: str, port: int, directory: str, info: MasterInfo) -> MetricsServer:
    try:
        return start_metrics_server(host, port, directory, info)
    except (OSError, UnicodeError) as exc:
        raise ListenError("metrics.listen", host, port, _why_not(exc, port)) from None


class Master:
    def __init__(self, config: Config, config_path: str) -> None:
        self.config = config
        self.config_path = config_path
        self.socks = bind_sockets(config)
        self.workers: dict[int, int] = {}  # pid -> worker id
        self.metrics_dir: str | None = None
        self.metrics: MetricsServer | None = None
        self.slots: TenantSlots | None = None  # the tenant label slots (metrics_slots.py)
        self.stopping = False
        self.killed = 0  # workers still running KILL_AFTER past the grace
        self.crash_times: list[float] = []
        self.stats = Stats()
        built = f"{native.describe()}; {headparse.describe()}"
        kind = build_kind(len(native.compiled()), len(native.NATIVE))
        self.info = MasterInfo(kind, built, config_path, self.worker_count())  # the status page
        self.report_r, self.report_w = os.pipe()  # the workers' stop reports
        # The login rate limits' buckets, made before any fork: one table for all workers,
        # kept across reloads and worker restarts (security/ratelimit_table.py).
        self.buckets = BucketTable(config.server.rate_limit_keys)
        os.set_blocking(self.report_r, False)

    def worker_count(self) -> int:
        n = self.config.server.workers
        return n if n > 0 else (os.cpu_count() or 1)

    def spawn(self, worker_id: int) -> None:
        master_pid = os.getpid()
        gc.collect()  # what is garbage now is not frozen with the rest
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # child: its signals stay blocked until its handlers are in place
            code = 0
            try:
                for sig in MASTER_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                os.close(self.report_r)
                if self.metrics is not None:  # the master's: never held by a worker
                    self.metrics.close_in_child()
                opts = WorkerOptions(
                    self.config_path,
                    worker_id,
                    self.metrics_dir,
                    master_pid,
                    self.report_w,
                    self.buckets,
                )
                worker_main(self.config, self.socks, opts)
            except BaseException as exc:
                log(f"worker {worker_id} failed: {exc!r}")
                code = 1
            finally:
                os._exit(code)
        self.workers[pid] = worker_id
        self.info.workers(self.worker_count(), len(self.workers))

    def run(self) -> int:
        try:
            if self.config.metrics.listen is not None:
                self.metrics_dir = tempfile.mkdtemp(prefix="odoo-router-metrics-")
                reset_directory(self.metrics_dir)
                cap = self.config.metrics.tenant_labels_max
                self.slots = TenantSlots(self.metrics_dir, cap, self.config.pools, log)
                host, port = self.config.metrics.listen
                self.metrics = start_metrics(host, port, self.metrics_dir, self.info)
                log(f"metrics on http://{host}:{self.metrics.port}/metrics")
            for i in range(self.worker_count()):
                self.spawn(i)
            addrs = ", ".join(f"{h}:{p}" for h, p in self.config.server.listen)
            log(
                f"listening on {addrs} with {len(self.workers)} worker(s); {self.info.build_detail}"
            )
            self._loop()
        finally:
            for sock in self.socks:
                sock.close()
            if self.metrics is not None:
                self.metrics.stop()
            if self.metrics_dir:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
        log(f"stopped: {self._stop_summary()}")
        return 0

    def _loop(self) -> None:
        deadline: float | None = None
        while self.workers:
            timeout = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            info = signal.sigtimedwait(MASTER_SIGNALS, timeout)
            self._reap()
            if self.slots is not None:  # about once a second: the workers' new tenants
                with contextlib.suppress(OSError):
                    self.slots.update()
            if deadline is not None and time.monotonic() > deadline:
                for pid in self.workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        self.killed += 1
                deadline = None  # killed once; now only wait for them to be reaped
            if info is None:
                continue
            if info.si_signo in (signal.SIGTERM, signal.SIGINT) and not self.stopping:
                self.stopping = True
                log("stopping: finishing in-flight requests")
                deadline = time.monotonic() + self.config.server.shutdown_grace + KILL_AFTER
                self._signal_workers(signal.SIGTERM)
            elif info.si_signo == signal.SIGHUP and not self.stopping:
                self._reload()
            elif info.si_signo == signal.SIGUSR1:  # reopen logs (logrotate)
                self._signal_workers(signal.SIGUSR1)

    def _signal_workers(self, sig: signal.Signals) -> None:
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

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
            self.info.workers(self.worker_count(), len(self.workers))
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

    def _stop_summary(self) -> str:
        """Sum the workers' reports: what was cut at the end of the grace, and by whom."""
        data = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.report_r, 65536):
                data += chunk
        os.close(self.report_r)
        os.close(self.report_w)
        total = sum_reports(data)
        grace = self.config.server.shutdown_grace
        if not self.killed:
            return describe_drain(total, grace)
        text = (
            f"cut after shutdown_grace ({grace:g}s): {self.killed} worker(s) still running "
            f"{KILL_AFTER:g}s after it were killed"
        )
        if total.requests_cut or total.websockets_cut:
            text += (
                f"; the others cut {total.requests_cut} request(s) and "
                f"{total.websockets_cut} websocket(s)"
            )
        return text

    def _reload(self) -> None:
        digest = config_hash(self.config_path)  # read just before: the file the reload reads
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            n = len(exc.problems)
            self._count_reload("invalid", digest, f"refused: {n} problem(s), listed in the log")
            log(f"reload refused, still serving the previous configuration ({n} problem(s)):")
            for problem in exc.problems:
                log(f"  {problem}")
            return
        changed = static_changes(self.config, new)
        if changed:
            log(f"reload: {', '.join(changed)} changed and need a restart; routing is reloaded")
        self._signal_workers(signal.SIGHUP)
        # Static settings stay as they were: keep them for workers spawned later.
        self.config = reloaded(self.config, new)
        if self.slots is not None:
            self.slots.pools = self.config.pools  # whom to ask whether a database exists
            with contextlib.suppress(OSError):
                self.slots.set_cap(self.config.metrics.tenant_labels_max)
        detail = f"{', '.join(changed)} need a restart" if changed else ""
        self._count_reload("ok", digest, detail)
        log("reloaded")

    def _count_reload(self, outcome: str, digest: str, detail: str) -> None:
        """Reloads are counted once, here, not once per worker. The count's file is written
        before the status page's history names the reload (metrics_http reads the history
        first): a page that lists a reload counts it too."""
        self.stats.reload(outcome)
        if self.metrics_dir:
            write_snapshot(self.stats, self.metrics_dir, "master")
        self.info.reloaded(outcome, digest, detail)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def run(config: Config, config_path: str, pid_file: str | None = None) -> int:
    """Serve until stopped; raises ListenError when an address cannot be bound."""
    block_signals()
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
