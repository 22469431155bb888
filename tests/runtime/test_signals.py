"""Signals whenever they come: bursts of SIGHUP, SIGTERM right behind a SIGHUP, SIGTERM
during start-up, all under load, on the production profile with its metrics listener (whose
threads once took a signal the busy master had blocked, and died of its default action).
At the end the master is alive and serving, or stopped cleanly for SIGTERM, and no worker
is left behind. Also: a worker whose master is killed finishes its requests and exits, and
the last line of a stop says how it went."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.processes import end_process, free_port, health_ok
from integration.router import compat_config, production_config, router_command
from integration.upstreams import Farm
from runtime.support import NAMED_TENANT, Loop, children


class Router:
    """A router process whose config path marks every process it forks (for orphans)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="signals-router-"))
        self.config_path = self.tmp / "router.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.port = int(config["server"]["listen"][0].rsplit(":", 1)[1])
        self.out = (self.tmp / "router.out").open("wb")
        self.proc = subprocess.Popen(
            router_command(self.config_path), stdout=self.out, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if health_ok(self.port) and len(children(self.proc.pid)) == self.workers():
                return
            time.sleep(0.05)
        raise AssertionError(f"not ready:\n{self.log()[-3000:]}")

    def workers(self) -> int:
        return int(yaml.safe_load(self.config_path.read_text())["server"]["workers"])

    def log(self) -> str:
        return (self.tmp / "router.out").read_text(errors="replace")

    def processes(self) -> list[int]:
        """Every live process started from this config: the master and its workers, and
        any worker that outlived its master (reparented, so found by its command line)."""
        found = []
        marker = str(self.config_path).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker not in fh.read():
                        continue
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    if fh.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                        found.append(int(entry))
        return found

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        end_process(self.proc)
        for pid in self.processes():  # a failed test must not leave workers behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.out.close()


@pytest.fixture
def production(farm: Farm) -> Iterator[Router]:
    port = free_port()
    config = production_config(port, farm.ports)
    config["server"]["workers"] = 2
    config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}  # its threads are the point
    router = Router(config)
    try:
        router.wait_ready()
        yield router
    finally:
        router.stop()


def get(port: int, path: str = "/web/x", **headers: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": NAMED_TENANT, **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wait_gone(router: Router, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = router.processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = router.processes()
    return left


def assert_serving(router: Router) -> None:
    assert router.proc.poll() is None, router.log()[-3000:]
    assert get(router.port) == 200
    workers = children(router.proc.pid)
    assert len(workers) == 2, workers
    # Nothing else runs from this config: no worker outlived a master or was left behind.
    assert sorted(router.processes()) == sorted([router.proc.pid, *workers])
    log = router.log()
    assert "exited unexpectedly" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def assert_stopped_cleanly(router: Router, timeout: float = 15) -> None:
    assert router.proc.wait(timeout=timeout) == 0, router.log()[-3000:]
    assert wait_gone(router, 3) == [], "a worker outlived its master"
    lines = router.log().strip().splitlines()
    assert lines[-1].endswith("stopped: drained, every request finished"), lines[-5:]
    assert "Traceback" not in router.log()


def test_200_hups_20ms_apart_under_load(production: Router) -> None:
    load = Loop(production.port, seconds=6.0, max_requests=20_000)
    load.start()
    for _ in range(200):  # 4 s
        production.signal(signal.SIGHUP)
        time.sleep(0.02)
    load.join(timeout=30)
    assert load.failures == [], load.failures[:10]
    assert load.ok > 50
    # SIGHUPs that arrive during a reload coalesce: at least one reload, at most 200, and
    # the last one after the last signal (the log settles).
    deadline = time.monotonic() + 10
    count = production.log().count("reloaded")
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = production.log().count("reloaded")
        if now == count:
            break
        count = now
    assert 1 <= count <= 200, count
    assert_serving(production)


def test_hup_then_term_5ms_later_stops_cleanly(farm: Farm) -> None:
    for delay in (0.001, 0.005, 0.02):
        port = free_port()
        config = production_config(port, farm.ports)
        config["server"]["workers"] = 2
        config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
        router = Router(config)
        try:
            router.wait_ready()
            load = Loop(router.port, seconds=1.0, max_requests=2000)
            load.start()
            time.sleep(0.2)
            router.signal(signal.SIGHUP)
            time.sleep(delay)
            router.signal(signal.SIGTERM)
            load.join(timeout=20)
            assert_stopped_cleanly(router)
            assert "stopping: finishing in-flight requests" in router.log()
        finally:
            router.stop()


def test_term_during_start_up_stops_cleanly(farm: Farm) -> None:
    """SIGTERM at points through start-up: the config load, the forks, the workers' own
    start. Before the interpreter has run a line of the router the default action ends it
    (no worker exists yet, nothing is logged); after that the stop is a clean one."""
    port = free_port()
    config = production_config(port, farm.ports)
    config["server"]["workers"] = 2
    config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    for delay in (0.0, 0.15, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3):
        router = Router(config)
        try:
            time.sleep(delay)
            router.signal(signal.SIGTERM)
            code = router.proc.wait(timeout=20)
            assert wait_gone(router, 3) == [], f"a worker outlived its master (delay {delay})"
            log = router.log()
            assert "Traceback" not in log, log
            if code == -signal.SIGTERM:
                assert log == "", (delay, log)
            else:
                assert code == 0, (delay, code, log)
                assert (
                    log.strip()
                    .splitlines()[-1]
                    .endswith("stopped: drained, every request finished")
                )
        finally:
            router.stop()


def test_term_under_load_drains_and_says_so(production: Router) -> None:
    load = Loop(production.port, seconds=1.5, max_requests=5000)
    load.start()
    slow: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: slow.append(get(production.port, **{"X-Test-Behave": "delay:1.0"}))
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    production.signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=20)
    load.join(timeout=20)
    assert slow == [200] * 4, "in-flight requests finish during the drain"
    assert_stopped_cleanly(production)


def test_stop_cut_after_the_grace_says_how_many(farm: Farm) -> None:
    port = free_port()
    config = compat_config(port, farm.ports)
    config["server"]["workers"] = 2
    config["server"]["shutdown_grace"] = "1s"
    router = Router(config)
    try:
        router.wait_ready()
        results: list[object] = []

        def hang() -> None:  # the upstream never answers; the route's read timeout is 60 s
            try:
                results.append(get(port, **{"X-Test-Behave": "never"}))
            except (OSError, http.client.HTTPException) as exc:
                results.append(exc)

        threads = [threading.Thread(target=hang) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        router.signal(signal.SIGTERM)
        assert router.proc.wait(timeout=15) == 0
        for t in threads:
            t.join(timeout=10)
        assert len(results) == 3 and not any(r == 200 for r in results), results
        lines = router.log().strip().splitlines()
        wanted = "cut after shutdown_grace (1s): 3 request(s) and 0 websocket(s) were still open"
        assert lines[-1].endswith(f"stopped: {wanted}"), lines[-5:]
        assert wait_gone(router, 3) == []
    finally:
        router.stop()


def test_a_worker_that_does_not_stop_is_killed_and_the_last_line_says_so(farm: Farm) -> None:
    port = free_port()
    config = compat_config(port, farm.ports)
    config["server"]["workers"] = 2
    config["server"]["shutdown_grace"] = "1s"
    router = Router(config)
    try:
        router.wait_ready()
        stuck = children(router.proc.pid)[0]
        os.kill(stuck, signal.SIGSTOP)  # a worker that takes no signal any more
        router.signal(signal.SIGTERM)
        assert router.proc.wait(timeout=20) == 0  # shutdown_grace + 5 s, then SIGKILL
        lines = router.log().strip().splitlines()
        wanted = "cut after shutdown_grace (1s): 1 worker(s) still running 5s after it were killed"
        assert lines[-1].endswith(f"stopped: {wanted}"), lines[-5:]
        assert wait_gone(router, 3) == []
    finally:
        router.stop()


def test_worker_whose_master_is_killed_finishes_its_requests_and_exits(farm: Farm) -> None:
    port = free_port()
    config = compat_config(port, farm.ports)
    config["server"]["workers"] = 2
    config["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    router = Router(config)
    try:
        router.wait_ready()
        workers = children(router.proc.pid)
        slow: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: slow.append(get(port, **{"X-Test-Behave": "delay:1.5"}))
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        time.sleep(0.5)
        router.proc.kill()
        router.proc.wait(timeout=5)
        for t in threads:
            t.join(timeout=20)
        assert slow == [200] * 4, "requests in flight when the master died are answered"
        assert wait_gone(router, 5) == [], "the workers outlived their master"
        log = router.log()
        assert log.count(f"the master (pid {router.proc.pid}) is gone: draining") == 2, log
        for pid in workers:
            assert f"odoo-router[{pid}]: worker" in log
        assert log.count("stopped: drained, every request finished") == 2, log
    finally:
        router.stop()
