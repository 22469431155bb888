"""README command 1 as a user runs it: `./scripts/demo.sh` serves, stops whole, restarts fast.

Stopping it (Ctrl-C, which a terminal sends to the whole foreground group, or a signal to the
script's PID alone) must stop the router and the fake Odoo together: nothing may keep the
demo's ports. A second start with nothing changed must be ready in under 5 s (no reinstall,
no recompile).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.processes import health_ok

REPO = Path(__file__).resolve().parents[2]
# config/router.demo.yaml and demo.sh's fake Odoo listen on these fixed ports.
PORTS = (8080, 9145, 18069, 18072, 18169, 18172)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start() -> tuple[subprocess.Popen[bytes], float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(REPO / "scripts" / "demo.sh")],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    deadline = t0 + 240  # a first start may install and compile
    while time.monotonic() < deadline:
        if health_ok(8080) and _listening(18069):
            return proc, time.monotonic() - t0
        if proc.poll() is not None:
            raise AssertionError(f"demo.sh exited {proc.returncode} before serving")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("demo.sh did not serve within 240 s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stopped(proc: subprocess.Popen[bytes]) -> None:
    proc.wait(timeout=40)  # any status: what matters is what is left behind
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        _group_alive(proc.pid) or any(_listening(p) for p in PORTS)
    ):
        time.sleep(0.1)
    left = [p for p in PORTS if _listening(p)]
    group_alive = _group_alive(proc.pid)
    if group_alive:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"ports still served 10 s after the demo stopped: {left}"
    assert not group_alive, "a process of the demo outlived it by 10 s"


@pytest.fixture(autouse=True)
def _ports_free() -> None:
    busy = [p for p in PORTS if _listening(p)]
    if busy:
        pytest.skip(f"the demo's fixed ports are in use here: {busy}")


def test_signal_to_the_script_stops_everything_and_a_restart_is_fast() -> None:
    proc, _ = _start()
    proc.send_signal(signal.SIGTERM)  # the script's PID only
    _stopped(proc)
    proc, seconds = _start()
    try:
        assert seconds < 5, f"second start took {seconds:.1f} s"
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        _stopped(proc)
