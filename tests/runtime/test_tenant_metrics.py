"""Per-tenant metrics through a real router (two workers, the metrics listener) over
loopback: a series per tenant database, the bound and the fold into ``_other``, the
websocket gauge against the websockets really open, floods of random subdomains that take
no slot, and counters that stay monotonic when a worker is killed and replaced or the
configuration reloaded."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from integration.upstreams import Farm
from runtime.support import Samples, children
from runtime.tenant_router import (
    ADMIN_HOST,
    FIXED,
    FOLDED,
    WS,
    Tenants,
    all_requests,
    dbs,
    granted,
    open_websocket,
    sockets,
    tenant_host,
    workers_took_the_grant,
)


@pytest.fixture
def make(farm: Farm) -> Iterator[Callable[[int | None], Tenants]]:
    made: list[Tenants] = []

    def factory(cap: int | None) -> Tenants:
        made.append(Tenants(farm, cap))
        return made[-1]

    yield factory
    for t in made:
        t.router.stop()


def test_fifty_tenants_give_fifty_series(make: Callable[[int | None], Tenants]) -> None:
    t = make(None)
    names = [f"t{i}" for i in range(50)]
    hosts = [tenant_host(n) for n in names]
    wanted = {f"ten_{n}" for n in names}
    t.load(hosts, 1)
    t.load([ADMIN_HOST], 3, "/web/x")
    t.load(["nobody.example"], 4, "/web/x")
    assert granted(t.wait_for(lambda s: granted(s) == wanted)) == wanted
    workers_took_the_grant()
    sent = t.load(hosts, 3)
    m = t.wait_for(lambda s: all_requests(s) >= 50 + 3 + 4 + sent)
    seen = dbs(m)
    assert set(seen) == wanted | FIXED
    assert sum(seen.values()) == all_requests(m)  # every request once, under one label
    assert seen["_admin"] == 3 and seen["_unknown"] >= 4  # and the readiness probes
    for db in wanted:  # at least the requests made after the slot was granted
        assert seen[db] >= 3
        assert m[("odoo_router_tenant_request_duration_seconds_count", (("db", db),))] >= 3
        assert m[("odoo_router_tenant_bytes_sent_total", (("db", db),))] > 0
    assert m[(FOLDED, ())] == 0
    assert m[("odoo_router_tenant_labels_max", ())] == 500


def test_past_the_cap_tenants_fold_into_other(make: Callable[[int | None], Tenants]) -> None:
    t = make(20)
    hosts = [tenant_host(f"f{i}") for i in range(50)]
    t.load(hosts, 1)
    m = t.wait_for(lambda s: s.get((FOLDED, ()), 0) >= 30)
    assert m[(FOLDED, ())] == 30 and len(granted(m)) == 20
    sent = t.load(hosts, 2)
    m = t.wait_for(lambda s: all_requests(s) >= 50 + sent)
    seen = dbs(m)
    assert len(set(seen) - FIXED) == 20  # the bound holds after the merge of both workers
    assert sum(seen.values()) == all_requests(m)
    assert seen["_other"] >= 30 * 3  # the folded ones, every request of theirs
    assert m[(FOLDED, ())] == 30  # each database folded once, however often it comes


def test_random_subdomain_floods_take_no_slot(make: Callable[[int | None], Tenants]) -> None:
    t = make(5)
    flood = [tenant_host(f"r{i}x{os.getpid()}") for i in range(200)]
    sent = t.load(flood, 1, "/report/x", **{"X-Test-Behave": "status:404"})  # Odoo: no db
    sent += t.load(flood, 1, "/")  # the router's own redirect
    sent += t.load(flood[:50], 1, "/report/x", **{"X-Test-Behave": "status:502"})
    sent += t.load(flood[:50], 1, "/report/x", **{"X-Test-Behave": "status:303"})  # selector
    sent += t.load(flood[50:100], 1, "/web/static/src/app.js")  # Odoo: 200 without a db
    t.wait_for(lambda s: all_requests(s) >= sent)
    time.sleep(2.5)  # grant rounds that could have happened
    m = t.scrape()
    assert set(dbs(m)) - FIXED == set() and granted(m) == set()
    assert dbs(m)["_other"] == sent
    assert m[(FOLDED, ())] == 0
    real = {f"ten_real{i}" for i in range(5)}
    t.load([tenant_host(db.removeprefix("ten_")) for db in sorted(real)], 1)
    assert granted(t.wait_for(lambda s: granted(s) == real)) == real  # the slots were free


def test_the_websocket_gauge_is_the_websockets_open(make: Callable[[int | None], Tenants]) -> None:
    t = make(None)
    opened: dict[str, list[socket.socket]] = {"wsa": [], "wsb": [], "wsc": []}
    admin: list[socket.socket] = []
    try:
        for name, n in (("wsa", 4), ("wsb", 3), ("wsc", 1)):
            opened[name] = [open_websocket(t.port, tenant_host(name)) for _ in range(n)]
        admin = [open_websocket(t.port, ADMIN_HOST) for _ in range(2)]
        want = {"ten_wsa": 4.0, "ten_wsb": 3.0, "ten_wsc": 1.0, "_admin": 2.0}
        m = t.wait_for(lambda s: sockets(s) == want)
        assert sockets(m) == want
        assert m[("odoo_router_open_websockets", ())] == 10
        for sock in opened["wsa"][:3] + opened["wsb"] + admin[:1]:
            sock.close()
        want = {"ten_wsa": 1.0, "ten_wsc": 1.0, "_admin": 1.0}
        m = t.wait_for(lambda s: sockets(s) == want)
        assert sockets(m) == want
        assert m[(WS, (("db", "ten_wsb"),))] == 0  # a granted tenant keeps its series, at 0
    finally:
        for sock in [s for group in opened.values() for s in group] + admin:
            sock.close()
    m = t.wait_for(lambda s: not sockets(s))
    assert sockets(m) == {}


def _counters(samples: Samples) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        k: v
        for k, v in samples.items()
        if k[0].startswith("odoo_router_tenant_") and k[0].endswith(("_total", "_count", "_sum"))
    }


def test_a_replaced_worker_keeps_counters_monotonic_and_slots_stable(
    make: Callable[[int | None], Tenants],
) -> None:
    t = make(10)
    hosts = [tenant_host(f"k{i}") for i in range(6)]
    t.load(hosts, 1)
    t.wait_for(lambda s: len(granted(s)) == 6)
    workers_took_the_grant()
    sent = t.load(hosts, 5)
    before = t.wait_for(lambda s: all_requests(s) >= 6 + sent)
    victim = children(t.router.proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = children(t.router.proc.pid)
        if victim not in now and len(now) == 2:
            break
        time.sleep(0.1)
    sent = t.load(hosts, 5)  # served by the survivor and the replacement
    after = t.wait_for(lambda s: all_requests(s) >= all_requests(before) + sent)
    for key, v in _counters(before).items():
        assert after.get(key, 0) >= v, key  # lost: at most the victim's last second
    assert granted(after) == granted(before)  # the same slots
    assert set(dbs(after)) == set(dbs(before))  # and no new label
    assert after[(FOLDED, ())] == 0


def test_a_reload_keeps_slots_and_a_smaller_cap_keeps_the_oldest(
    make: Callable[[int | None], Tenants],
) -> None:
    t = make(10)
    first = [tenant_host(f"o{i}") for i in range(4)]
    for i, host in enumerate(first):  # one after the other: the grant order is theirs
        t.load([host], 1)
        t.wait_for(lambda s, i=i: len(granted(s)) == i + 1)
    sent = t.load(first, 2)
    before = t.wait_for(lambda s: all_requests(s) >= 4 + sent)
    config: dict[str, Any] = yaml.safe_load(t.router.config_path.read_text())
    config["metrics"]["tenant_labels_max"] = 2
    t.router.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    os.kill(t.router.proc.pid, signal.SIGHUP)
    after = t.wait_for(lambda s: s.get((FOLDED, ()), 0) == 2)
    assert granted(after) == {"ten_o0", "ten_o1"}
    assert set(dbs(after)) - FIXED == {"ten_o0", "ten_o1"}
    assert after[("odoo_router_tenant_labels_max", ())] == 2
    assert sum(dbs(after).values()) == all_requests(after)  # moved, not lost
    assert dbs(after)["_other"] >= dbs(before)["_other"]
    assert "need a restart" not in t.router.log()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_host_forms_count_under_one_database(make: Callable[[int | None], Tenants]) -> None:
    """The db label comes from the normalised host (case, port, trailing dot), the
    absolute-form target over the Host header, and no other header; a host refused before
    routing counts as _unknown."""
    t = make(None)
    t.load([tenant_host("hv")], 1)
    t.wait_for(lambda s: granted(s) == {"ten_hv"})
    workers_took_the_grant()
    start = dbs(t.scrape())
    for host in ("HV.ERP.Seisei.Tokyo", "hv.erp.seisei.tokyo:8080", "hv.erp.seisei.tokyo."):
        t.load([host], 1, **{"X-Forwarded-Host": "evil.erp.seisei.tokyo"})
    answer = _raw(
        t.port,
        b"GET http://hv.erp.seisei.tokyo/report/x HTTP/1.1\r\nHost: other.erp.seisei.tokyo\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200")
    bad = _raw(t.port, b"GET /report/x HTTP/1.1\r\nHost: a..b\r\nConnection: close\r\n\r\n")
    assert bad.startswith(b"HTTP/1.1 400")
    m = t.wait_for(lambda s: dbs(s).get("ten_hv", 0) >= start.get("ten_hv", 0) + 4)
    assert dbs(m)["ten_hv"] == start.get("ten_hv", 0) + 4
    assert dbs(m)["_unknown"] >= start.get("_unknown", 0) + 1  # the 400
    assert granted(m) == {"ten_hv"}  # neither "evil" nor "other" took a slot
