"""The real servers tests start: a free loopback port, readiness over HTTP, and an end
that never leaves a process behind."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_ok(port: int, path: str = "/nginx-health") -> bool:
    """GET ``path`` on 127.0.0.1:``port`` answers 200 (nginx and odoo-router alike)."""
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(request.encode("ascii"))
            head = s.recv(64)
    except OSError:
        return False
    return head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))


def end_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, up to ``grace`` seconds to exit, then SIGKILL; returns once it is reaped."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
