"""Upstream failures say why: the access line's ``error`` (cause, errno text, the server
tried) and one error line per pool and cause per interval, with the count not logged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.processes import free_port
from integration.client import exchange, get
from integration.router import RouterProcess, compat_config, start_router
from integration.upstreams import Farm


@pytest.fixture(scope="module")
def router(farm: Farm) -> Iterator[RouterProcess]:
    port = free_port()
    config = compat_config(port, farm.ports)
    config["pools"]["nowhere"] = {"servers": ["no-such-host.invalid:8069"], "keepalive": 2}
    hosts: list[dict[str, Any]] = config["hosts"]
    hosts.insert(
        0,
        {
            "name": "test_nowhere",
            "exact": ["nowhere.test"],
            "routes": [{"name": "all", "prefix": "/", "proxy": {"pool": "nowhere"}}],
        },
    )
    proc = start_router(config | {"logging": {"access_log": "access.log"}}, port)
    try:
        yield proc
    finally:
        proc.stop()


def _access_line(router: RouterProcess, path: str) -> dict[str, Any]:
    """The access line of the request for ``path`` (the log is flushed about every 100 ms)."""
    log = router.tmp / "access.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if log.exists():
            for raw in log.read_bytes().splitlines():
                line: dict[str, Any] = json.loads(raw)
                if line["path"] == path:
                    return line
        time.sleep(0.05)
    raise AssertionError(f"no access line for {path}")


def _error_lines(router: RouterProcess, pool: str, cause: str) -> list[str]:
    return [ln for ln in router.log().splitlines() if f"upstream pool {pool}: {cause}: " in ln]


async def test_unresolvable_name(router: RouterProcess) -> None:
    resp = await get(router.port, "nowhere.test", "/web/resolve")
    assert resp.status == 502
    line = _access_line(router, "/web/resolve")
    assert line["error"].startswith("resolve: ")
    assert line["error"].endswith("; server no-such-host.invalid:8069")
    assert line["upstream_addr"] == "no-such-host.invalid:8069"
    assert _error_lines(router, "nowhere", "resolve")


async def test_refused_connection(router: RouterProcess) -> None:
    resp = await exchange(router.port, "POST", "/jsonrpc/refused", [("Host", "dead.test")], b"{}")
    assert resp.status == 502
    line = _access_line(router, "/jsonrpc/refused")
    server = router.config["pools"]["dead"]["servers"][0]
    assert line["error"] == f"connect: Connection refused; server {server}"
    assert line["upstream_addr"] == server


async def test_reset_before_the_answer(router: RouterProcess, farm: Farm) -> None:
    resp = await get(
        router.port, "testodoo.seisei.tokyo", "/web/reset", [("X-Test-Behave", "close")]
    )
    assert resp.status == 502
    line = _access_line(router, "/web/reset")
    assert line["error"].startswith("reset: upstream closed the connection prematurely")
    assert line["error"].endswith(f"; server 127.0.0.1:{farm.ports['tenant']}")


async def test_read_timeout(router: RouterProcess) -> None:
    resp = await get(router.port, "timeouts.test", "/web/timeout", [("X-Test-Behave", "never")])
    assert resp.status == 504
    line = _access_line(router, "/web/timeout")
    assert line["error"].startswith("timeout: upstream sent no response within read_timeout")


async def test_bad_answer(router: RouterProcess) -> None:
    resp = await get(
        router.port, "testodoo.seisei.tokyo", "/web/bad", [("X-Test-Behave", "garbage")]
    )
    assert resp.status == 502
    line = _access_line(router, "/web/bad")
    assert line["error"].startswith("bad_answer: upstream sent an invalid response")
    assert _error_lines(router, "tenant", "bad_answer")


async def test_one_error_line_per_pool_and_cause_per_interval(router: RouterProcess) -> None:
    before = len(_error_lines(router, "dead", "connect"))
    for i in range(20):
        resp = await get(router.port, "dead.test", f"/web/burst{i}")
        assert resp.status == 502
    assert _access_line(router, "/web/burst19")["error"].startswith("connect: ")
    lines = _error_lines(router, "dead", "connect")
    # 20 failures (each tried once: GET is retried on the next server, and there is one)
    # make at most one line in this interval, unless the previous interval ends meanwhile.
    assert len(lines) - before <= 2, lines[before:]


def test_the_error_line_tells_the_count_it_did_not_log() -> None:
    from odoo_router.datapath.errorlog import RateLimitedLog

    out: list[str] = []
    log = RateLimitedLog(out.append, interval=10)
    for i in range(5):
        log.log("tenant", "connect", f"upstream pool tenant: connect: refused {i}", now=100 + i)
    log.log("tenant", "timeout", "upstream pool tenant: timeout", now=101)
    log.log("admin", "connect", "upstream pool admin: connect", now=101)
    assert out == [
        "upstream pool tenant: connect: refused 0",
        "upstream pool tenant: timeout",
        "upstream pool admin: connect",
    ]
    log.flush(now=105)  # the interval is not over: nothing yet
    log.flush(now=110)
    assert out[3:] == [
        "upstream pool tenant: connect: refused 4 (3 more like it in the last 10s not logged)"
    ]
    log.log("tenant", "connect", "upstream pool tenant: connect: refused 5", now=121)
    assert out[4:] == ["upstream pool tenant: connect: refused 5"]
