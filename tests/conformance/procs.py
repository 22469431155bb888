"""Process helpers shared by the nginx and odoo-router fixtures: free ports, readiness."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /nginx-health HTTP/1.0\r\nHost: localhost\r\n\r\n")
            head = s.recv(64)
    except OSError:
        return False
    return head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))


def wait_ready(proc: subprocess.Popen[bytes], port: int, what: str, timeout: float = 20) -> None:
    """Poll GET /nginx-health until 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        if _health_ok(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready on 127.0.0.1:{port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes], tmp: Path) -> None:
    """Terminate (then kill) a server started by a fixture and remove its directory."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)
