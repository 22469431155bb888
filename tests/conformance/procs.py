"""Process helpers shared by the nginx and odoo-router fixtures: readiness and the end."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from harness.processes import end_process, free_port, health_ok

__all__ = ["free_port", "stop", "wait_ready"]


def wait_ready(proc: subprocess.Popen[bytes], port: int, what: str, timeout: float = 20) -> None:
    """Poll GET /nginx-health until 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        if health_ok(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready on 127.0.0.1:{port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes], tmp: Path) -> None:
    """End a server started by a fixture and remove its directory."""
    end_process(proc)
    shutil.rmtree(tmp, ignore_errors=True)
