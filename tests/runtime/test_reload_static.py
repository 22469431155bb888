"""A reload that also changes a static setting: the master names it as needing a restart,
and every process keeps running with its old value while the routing table is reloaded.
``server.dbfilter_anchor`` is the sharp case: it shapes the routing table the workers
compile, and a worker once applied it on reload while the master (and any worker it
started later) kept the old value."""

from __future__ import annotations

import http.client
import json
import signal
import time

from harness.processes import free_port
from integration.router import compat_config, start_router
from integration.upstreams import Farm
from runtime.support import NAMED_TENANT


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": NAMED_TENANT})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def dbfilter_seen(port: int) -> list[str]:
    status, body = get(port, "/web/x")
    assert status == 200, body[:200]
    return [v for k, v in json.loads(body)["headers"] if k.lower() == "x-odoo-dbfilter"]


def test_a_static_change_waits_for_a_restart_while_routes_reload(farm: Farm) -> None:
    port = free_port()
    config = compat_config(port, farm.ports)
    config["server"]["workers"] = 2
    router = start_router(config, port)
    try:
        assert dbfilter_seen(port) == ["ten_testodoo"]
        config["server"]["dbfilter_anchor"] = True
        config["server"]["client_max_body_size"] = "1k"
        named = next(h for h in config["hosts"] if h["name"] == "named_tenant")
        named["routes"].insert(
            0, {"name": "teapot", "exact": "/tea", "respond": {"status": 418, "body": "tea"}}
        )
        router.config_path.write_text(json.dumps(config))  # JSON is YAML
        router.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reloaded" not in router.log():
            assert time.monotonic() < deadline, router.log()
            time.sleep(0.05)
        assert (
            "reload: server.client_max_body_size, server.dbfilter_anchor changed and need a "
            "restart; routing is reloaded"
        ) in router.log()
        deadline = time.monotonic() + 5
        while get(port, "/tea")[0] != 418:  # each worker swaps its table on its SIGHUP
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(10):  # both workers, whichever takes the connection
            assert dbfilter_seen(port) == ["ten_testodoo"]
    finally:
        router.stop()
