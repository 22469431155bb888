"""Small helpers the runtime tests share: a blocking request reader for hand-made upstreams,
the worker processes of a router master, and a bounded client loop."""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

NAMED_TENANT = "testodoo.seisei.tokyo"


def read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """One request from a blocking socket: (head, body by Content-Length); None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (a router master's workers)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]
    return []


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape_metrics(port: int) -> Samples:
    """The metrics listener's samples on 127.0.0.1:``port``, by name and sorted labels,
    parsed by the reference Prometheus parser (the answer checked to be its text format)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def fetch(
    port: int, path: str, method: str = "GET", timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection to 127.0.0.1:``port``: status, headers (names in
    lower case), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class Loop(threading.Thread):
    """A bounded client loop (count and time) recording every failure."""

    def __init__(
        self, port: int, seconds: float, max_requests: int = 5000, host: str = NAMED_TENANT
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.seconds, self.max_requests = port, seconds, max_requests
        self.host = host
        self.ok = 0
        self.failures: list[str] = []
        self._stop_now = threading.Event()

    def stop(self) -> None:
        """End the loop before its time or count (and wait for it)."""
        self._stop_now.set()
        self.join(timeout=15)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self._stop_now.is_set() and time.monotonic() < deadline and n < self.max_requests:
            n += 1
            try:
                conn.request("GET", f"/web/loop/{n}", headers={"Host": self.host})
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"status {resp.status}")
                if n % 7 == 0:  # mix new connections into keep-alive ones
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()


REPO = Path(__file__).resolve().parents[2]


def run_suite_slice(paths: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
    """Run pytest on ``paths`` in a child process with ``env`` (a build or a parser switched
    for it); the output, after asserting the run passed (its tail is the failure message)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *paths],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done.stdout


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs of its own at ``path`` (made here) with mount ``options`` (a size, ``ro``):
    a real full or read-only file system. Needs root: the test skips with mount's reason
    where it cannot mount. Unmounted (lazily) on the way out."""
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
