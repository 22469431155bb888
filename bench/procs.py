"""Child processes and what they cost: CPU ticks and RSS from /proc, free ports, readiness."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()  # fields from 3 (state) on


def descendants(root: int) -> list[int]:
    """root and every process below it (nginx workers, router workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def cpu_seconds(pids: Sequence[int]) -> tuple[float, float]:
    """(utime, stime) of the processes (their own, not their children's)."""
    user = system = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            user += int(fields[11])
            system += int(fields[12])
    return user / TICK, system / TICK


def rss_bytes(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[21]) * PAGE if fields is not None else 0


@dataclass
class Usage:
    """CPU and peak RSS of a process tree while a load runs (sampled at 20 Hz)."""

    root: int
    pids: list[int] = field(default_factory=list)
    cpu: float = 0.0
    cpu_user: float = 0.0
    peak_rss: int = 0  # the largest single process
    peak_total_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Usage:
        self.pids = descendants(self.root)
        self._cpu0 = cpu_seconds(self.pids)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            sizes = [rss_bytes(p) for p in self.pids]
            self.peak_rss = max(self.peak_rss, *sizes)
            self.peak_total_rss = max(self.peak_total_rss, sum(sizes))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        user, system = cpu_seconds(self.pids)
        self.cpu_user = user - self._cpu0[0]
        self.cpu = self.cpu_user + system - self._cpu0[1]


def total_rss(root: int) -> int:
    return sum(rss_bytes(p) for p in descendants(root))


def wait_tcp(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_http(port: int, path: str, timeout: float, host: str = "localhost") -> None:
    """Until GET path answers 200 on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(request)
                head = s.recv(64)
            if head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                return
            last = head.decode("latin-1", "replace")
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port}{path} not ready after {timeout}s: {last}")


class Spawned:
    """A child process killed (its whole process group) on stop."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.log = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
