"""The access log of a real router process: what a client can send, what a SIGKILL, a
logrotate (SIGUSR1) and a full disk do to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import free_port
from integration.router import TRUSTED_PROXY, RouterProcess, production_config, start_router
from integration.upstreams import Farm
from runtime.support import Loop, children, mounted_tmpfs

HOST = "testodoo.seisei.tokyo"


def _router(farm: Farm, log: Path, workers: int = 1) -> RouterProcess:
    port = free_port()
    config = production_config(port, farm.ports)
    config["server"]["workers"] = workers
    config["metrics"] = {"listen": None}
    config["logging"] = {"access_log": str(log)}
    return start_router(config, port)


def _send(port: int, request: bytes, source: str = "127.0.0.1") -> bytes:
    """One request on its own connection; the whole answer (the router closes after it)."""
    with socket.socket() as sock:
        sock.bind((source, 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def _get(port: int, path: str, *headers: bytes, source: str = "127.0.0.1") -> bytes:
    head = b"GET %b HTTP/1.1\r\nHost: %b\r\nConnection: close\r\n" % (path.encode(), HOST.encode())
    return _send(port, head + b"".join(h + b"\r\n" for h in headers) + b"\r\n", source)


def _lines(path: Path, count: int = 0, timeout: float = 5) -> list[dict[str, Any]]:
    """Every line of the file, each whole and valid JSON; waits (the log is flushed about
    every 100 ms) until there are at least ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        raw = path.read_bytes() if path.exists() else b""
        lines = raw.splitlines(keepends=True)
        if len(lines) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    out = []
    for line in lines:
        assert line.endswith(b"\n") and line.isascii(), line
        out.append(json.loads(line))
    return out


def test_what_a_client_sends_is_escaped_in_the_line(farm: Farm, tmp_path: Path) -> None:
    """A target with quotes, a backslash and bytes that are not UTF-8; a trusted proxy's
    X-Request-ID and X-Forwarded-For: each read back as sent, on a line of its own."""
    log = tmp_path / "access.log"
    router = _router(farm, log)
    try:
        target = b'/web/x?q="a\\b",\xff\xfe&c=%22'
        answer = _send(
            router.port,
            b"GET %b HTTP/1.1\r\nHost: %b\r\nConnection: close\r\n\r\n" % (target, HOST.encode()),
        )
        assert answer.startswith(b"HTTP/1.1 ")
        answer = _get(
            router.port,
            "/web/trusted",
            b"X-Request-ID: abc-123",
            b"X-Forwarded-For: 198.51.100.23",
            source=TRUSTED_PROXY,
        )
        assert answer.startswith(b"HTTP/1.1 200")
        lines = _lines(log, 2)
    finally:
        router.stop()
    first = next(d for d in lines if d["path"].startswith("/web/x"))
    assert first["path"] == '/web/x?q="a\\b",\\xff\\xfe&c=%22'
    trusted = next(d for d in lines if d["path"] == "/web/trusted")
    assert trusted["request_id"] == "abc-123"
    assert trusted["client_ip"] == "198.51.100.23"


def test_a_killed_worker_loses_at_most_its_buffer_and_never_half_a_line(
    farm: Farm, tmp_path: Path
) -> None:
    """SIGKILL under load, three times: what was answered more than the flush interval
    before the kill is in the file; every line there is whole."""
    log = tmp_path / "access.log"
    router = _router(farm, log)
    try:
        for round_ in range(3):
            for n in range(30):
                assert _get(router.port, f"/web/before/{round_}/{n}").startswith(b"HTTP/1.1 200")
            time.sleep(1.0)  # their lines are flushed by now (every 100 ms; at most 1 s)
            load = [Loop(router.port, 2.0, 20_000) for _ in range(3)]
            for loop in load:
                loop.start()
            time.sleep(0.5)
            (worker,) = children(router.proc.pid)
            os.kill(worker, signal.SIGKILL)
            for loop in load:
                loop.join(10)
            deadline = time.monotonic() + 10  # the master starts another worker
            while time.monotonic() < deadline and not _answers(router.port):
                time.sleep(0.1)
        lines = _lines(log)
    finally:
        router.stop()
    paths = {d["path"] for d in lines}
    for round_ in range(3):
        assert {f"/web/before/{round_}/{n}" for n in range(30)} <= paths


def _answers(port: int) -> bool:
    try:
        return _get(port, "/web/probe").startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def test_sigusr1_reopens_the_log_after_logrotate(farm: Farm, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    router = _router(farm, log, workers=2)
    try:
        for n in range(10):
            _get(router.port, f"/web/old/{n}")
        _lines(log, 10)
        os.rename(log, tmp_path / "access.log.1")  # what logrotate does, then SIGUSR1
        os.kill(router.proc.pid, signal.SIGUSR1)
        workers = children(router.proc.pid)
        assert len(workers) == 2
        deadline = time.monotonic() + 10
        while not all(_writes_to(pid, log) for pid in workers):
            assert time.monotonic() < deadline, "a worker did not reopen the log"
            time.sleep(0.02)
        for n in range(10):
            _get(router.port, f"/web/new/{n}")
        new = _lines(log, 10)
    finally:
        router.stop()
    old = {d["path"] for d in _lines(tmp_path / "access.log.1")} - {"/nginx-health"}
    assert old == {f"/web/old/{n}" for n in range(10)}  # the start's readiness probes aside
    assert {d["path"] for d in new} == {f"/web/new/{n}" for n in range(10)}


def _writes_to(pid: int, path: Path) -> bool:
    """Whether the process has ``path`` open (its descriptors name the file they opened)."""
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue
    return False


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "small", "size=128k,mode=1777") as path:
        yield path


def test_a_full_disk_does_not_stop_serving(farm: Farm, small_tmpfs: Path) -> None:
    """The log's file system fills up: every request is still answered, the dropped lines
    are told in one error line (not one per flush), and once there is room again the log
    goes on with whole lines."""
    log = small_tmpfs / "access.log"
    router = _router(farm, log)
    try:
        filler = small_tmpfs / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # fill it: the log has no room left
            while os.write(fd, b"f" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        started = time.monotonic()
        for n in range(300):
            assert _get(router.port, f"/web/full/{n}").startswith(b"HTTP/1.1 200")
        time.sleep(0.5)
        errors = [ln for ln in router.log().splitlines() if "access log " in ln]
        assert errors and "No space left on device" in errors[0]
        # One line, not one per flush: at most one per 10 s.
        assert len(errors) <= 1 + (time.monotonic() - started) // 10
        filler.unlink()
        for n in range(20):
            assert _get(router.port, f"/web/room/{n}").startswith(b"HTTP/1.1 200")
        raw = b""
        deadline = time.monotonic() + 5
        while raw.count(b"/web/room/") < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
            raw = log.read_bytes()
    finally:
        router.stop()
    lines = raw.splitlines(keepends=True)
    broken = [line for line in lines if not line.endswith(b"}\n")]
    assert len(broken) <= 1  # at most the fragment of the write the disk cut short
    room = [json.loads(line)["path"] for line in lines if b"/web/room/" in line]
    assert room == [f"/web/room/{n}" for n in range(20)]
