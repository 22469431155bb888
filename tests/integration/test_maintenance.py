"""Maintenance mode per tenant through a real router (the production profile with
``maintenance: {file}``): ``odoo-router maintenance on`` is in force within 1 s on every host
and path form of the tenant (503, Retry-After, HTML / JSON-RPC / XML-RPC shapes), the admin
host and the other tenants untouched, the state kept across a restart and a reload, a
broken file keeping the last good state, ``until`` ending it, ``off`` bringing it back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import free_port

from .client import Response, get, websocket_handshake
from .router import RouterProcess, production_config, router_command, start_router
from .upstreams import Farm

DB = "ten_testodoo"
HOSTS = ["testodoo.seisei.tokyo", "demo.nagashiro.top"]  # the tenant's two hosts
OTHER = "acme.erp.seisei.tokyo"  # ten_acme
ADMIN = "admin.erp.seisei.tokyo"
JSON_BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": "common", "method": "version", "args": []},
    }
).encode()
XML_BODY = xmlrpc.client.dumps((DB, 2, "pw", "res.partner", "search", []), "execute").encode()
JSON_TYPE = ("Content-Type", "application/json")
XML_TYPE = ("Content-Type", "text/xml")

# (method, target, extra headers, body, the shape of the 503)
PATH_FORMS: list[tuple[str, str, list[tuple[str, str]], bytes, str]] = [
    ("GET", "/web", [], b"", "html"),
    ("GET", "/odoo/action-12", [], b"", "html"),
    ("GET", "/", [], b"", "html"),
    ("GET", "/web/login", [], b"", "html"),
    ("GET", "/fr_BE/web", [], b"", "html"),
    ("GET", "/web/static/src/app.js", [], b"", "html"),
    ("GET", "/report/pdf/sale.report_saleorder/4", [], b"", "html"),
    ("GET", "/%77eb", [], b"", "html"),
    ("GET", "//web/./x/../", [], b"", "html"),
    ("HEAD", "/web", [], b"", "html"),
    ("POST", "/jsonrpc", [JSON_TYPE], JSON_BODY, "json"),
    ("POST", "/jsonrpc/", [JSON_TYPE], JSON_BODY, "json"),
    ("POST", "/fr/jsonrpc", [JSON_TYPE], JSON_BODY, "json"),
    ("POST", "/web/session/authenticate", [JSON_TYPE], JSON_BODY, "json"),
    ("POST", "/web/dataset/call_kw/res.partner/read", [JSON_TYPE], JSON_BODY, "json"),
    (
        "POST",
        "/web/dataset/call_kw",
        [("Content-Type", "application/json; charset=utf-8")],
        JSON_BODY,
        "json",
    ),
    ("POST", "/xmlrpc/2/object", [XML_TYPE], XML_BODY, "xml"),
    ("POST", "/xmlrpc/2/common", [XML_TYPE], XML_BODY, "xml"),
    ("POST", "/en_US/xmlrpc/2/object", [XML_TYPE], XML_BODY, "xml"),
    ("GET", "/websocket", websocket_handshake("-")[1:], b"", "html"),
    ("GET", "/longpolling/poll", [], b"", "html"),
]
# What stays a local answer on the tenant's hosts: no Odoo behind them.
LOCAL = [("/nginx-health", 200), ("/web/database/manager", 403), ("/fr/web/database/list", 403)]


@pytest.fixture
def router(farm: Farm, tmp_path: Path) -> Iterator[RouterProcess]:
    port = free_port()
    config = production_config(port, farm.ports)
    config["maintenance"] = {"file": str(tmp_path / "maintenance.yaml"), "retry_after": "90s"}
    handle = start_router(config, port)
    try:
        yield handle
    finally:
        handle.stop()


def cli(router: RouterProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        router_command(router.config_path, "maintenance", *args),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def request(
    port: int, host: str, method: str, target: str, extra: list[tuple[str, str]], body: bytes
) -> Response:
    return await get(port, host, target, extra, method=method, body=body)


async def until_status(
    port: int, host: str, status: int, limit: float, target: str = "/web"
) -> float:
    """Seconds until ``host``'s ``target`` answers ``status`` (polled); fails past ``limit``."""
    start = time.monotonic()
    while True:
        response = await get(port, host, target)
        took = time.monotonic() - start
        if response.status == status:
            return took
        assert took < limit, f"{host}/web still {response.status} after {took:.2f}s"
        await asyncio.sleep(0.02)


def check_503(response: Response, shape: str, retry: int | None = None) -> None:
    assert response.status == 503, response
    assert response.upstream() is None, "answered by the router, never by Odoo"
    retry_after = int(response.header("Retry-After") or "0")
    assert (retry_after == retry) if retry is not None else 0 < retry_after <= 3600
    kind = response.header("Content-Type") or ""
    if shape == "html":
        assert kind == "text/html"
        assert b"Down for maintenance" in response.body or response.body == b""  # HEAD
    elif shape == "json":
        assert kind == "application/json"
        error: dict[str, Any] = response.json()["error"]
        assert error["code"] == 503
        assert error["data"]["message"].startswith("odoo-router: the database ten_testodoo")
    else:
        assert kind == "text/xml; charset=utf-8"
        with pytest.raises(xmlrpc.client.Fault) as fault:
            xmlrpc.client.loads(response.body)
        assert fault.value.faultCode == 503
        assert "ten_testodoo is under maintenance" in fault.value.faultString


async def test_on_within_a_second_on_every_host_and_path_form(router: RouterProcess) -> None:
    port = router.port
    for host in HOSTS:
        assert (await get(port, host, "/web")).upstream() == "tenant"
    done = cli(router, "on", DB)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{DB}: in maintenance\n"
    took = await until_status(port, HOSTS[0], 503, 1.0)
    assert took < 1.0
    for host in HOSTS:
        for method, target, extra, body, shape in PATH_FORMS:
            response = await request(port, host, method, target, extra, body)
            check_503(response, shape, retry=90)
        for target, status in LOCAL:
            assert (await get(port, host, target)).status == status
    # Host spellings a client controls: case, port, absolute form over another Host.
    assert (await get(port, "TestOdoo.Seisei.Tokyo:80", "/web")).status == 503
    absolute = await get(port, ADMIN, f"http://{HOSTS[1]}/web")
    assert absolute.status == 503
    # The admin host still reaches the tenant; the other tenants are untouched.
    admin = await get(port, ADMIN, "/web/database/manager")
    assert admin.status == 200 and admin.upstream() == "admin"
    assert admin.seen("X-Odoo-dbfilter") == []
    other = await get(port, OTHER, "/jsonrpc", [JSON_TYPE], method="POST", body=JSON_BODY)
    assert other.upstream() == "tenant" and other.status == 200
    assert (await get(port, "testodoo.seisei.tokyo.example", "/web")).status == 421

    listed = cli(router, "list")
    assert listed.stdout.startswith(f"{DB}  since ")
    done = cli(router, "off", DB)
    assert done.returncode == 0 and done.stdout == f"{DB}: back online\n", done.stderr
    assert await until_status(port, HOSTS[1], 200, 1.0) < 1.0
    assert "maintenance on: ten_testodoo" in router.log()
    assert "maintenance off: ten_testodoo" in router.log()


async def test_retry_after_counts_down_to_until_and_until_ends_it(router: RouterProcess) -> None:
    done = cli(router, "on", DB, "--until", "3s")
    assert done.returncode == 0, done.stderr
    await until_status(router.port, HOSTS[0], 503, 1.0)
    response = await get(router.port, HOSTS[0], "/web")
    assert 1 <= int(response.header("Retry-After") or "0") <= 3
    assert b"Back at " in response.body
    # Nothing writes the file again: the time alone ends it.
    assert await until_status(router.port, HOSTS[0], 200, 5.0) < 5.0


async def test_state_survives_a_restart_and_a_reload(farm: Farm, tmp_path: Path) -> None:
    port = free_port()
    config = production_config(port, farm.ports)
    config["maintenance"] = {"file": str(tmp_path / "maintenance.yaml")}
    first = start_router(config, port)
    try:
        assert cli(first, "on", DB).returncode == 0
        await until_status(port, HOSTS[0], 503, 1.0)
    finally:
        first.stop()
    second = start_router(config, port)
    try:
        # The very first request after the start: no window where the tenant is back.
        check_503(await get(port, HOSTS[0], "/web"), "html", retry=300)
        os.kill(second.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reloaded" not in second.log():
            assert time.monotonic() < deadline, second.log()
            await asyncio.sleep(0.05)
        for _ in range(20):  # across the reload: always 503
            assert (await get(port, HOSTS[1], "/web")).status == 503
            await asyncio.sleep(0.02)
        # A reload that drops the key ends maintenance mode (its file is no longer read).
        del config["maintenance"]
        second.config_path.write_text(json.dumps(config))
        os.kill(second.proc.pid, signal.SIGHUP)
        assert await until_status(port, HOSTS[0], 200, 5.0) < 5.0
    finally:
        second.stop()


async def test_a_broken_file_keeps_the_last_good_state(router: RouterProcess) -> None:
    assert cli(router, "on", DB).returncode == 0
    await until_status(router.port, HOSTS[0], 503, 1.0)
    state = Path(router.config["maintenance"]["file"])
    good = state.read_text()
    state.write_text("ten_testodoo: [\n")
    await asyncio.sleep(0.5)
    for _ in range(5):
        assert (await get(router.port, HOSTS[0], "/web")).status == 503
        await asyncio.sleep(0.1)
    assert router.log().count("maintenance file:") == 1, "logged once"
    refused = cli(router, "off", DB)
    assert refused.returncode == 1
    assert "not valid YAML" in refused.stderr
    assert state.read_text() == "ten_testodoo: [\n", "the CLI never overwrites a broken file"
    state.write_text(good.replace(DB, "ten_acme"))
    await until_status(router.port, HOSTS[0], 200, 1.0)
    assert (await get(router.port, OTHER, "/report/x")).status == 503
    assert "is readable again" in router.log()
    state.unlink()
    await until_status(router.port, OTHER, 200, 1.0, "/report/x")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["on", "ten testodoo"], "not a database name"),
        (["on", "acme"], "no host rule of"),
        (["on", DB, "--until", "2020-01-01T00:00:00Z"], "is not in the future"),
        (["on", DB, "--until", "half an hour"], "is neither an ISO 8601 time"),
        (["off"], "off: name the databases, or --all"),
    ],
)
def test_bad_cli_input_is_refused(router: RouterProcess, args: list[str], message: str) -> None:
    done = cli(router, *args)
    assert done.returncode == 1
    assert done.stderr.startswith("maintenance: ") and message in done.stderr, done.stderr
    assert not Path(router.config["maintenance"]["file"]).exists()
