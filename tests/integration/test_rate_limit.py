"""Login rate limits on the shipped production profile (config/router.yaml: key client_ip,
10/min, burst 5), through a real router with more than one worker, over loopback.

Clients speak from loopback addresses: 127.0.0.2 is the test config's trusted proxy (its
X-Forwarded-For names the client), 127.0.0.3 an untrusted peer (its X-Forwarded-For is
ignored), 127.0.0.4 a plain client. Each test takes client addresses no other test uses, so
the router's buckets, shared by the whole module, never carry one test into another.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import free_port
from runtime.support import children

from .router import (
    TRUSTED_PROXY,
    UNTRUSTED_PEER,
    RouterProcess,
    production_config,
    shipped_rate_limits,
    start_router,
)
from .upstreams import Farm

BURST = 5  # the shipped profile's
NAMED, ADMIN, TENANT = "testodoo.seisei.tokyo", "admin.erp.seisei.tokyo", "acme.erp.seisei.tokyo"
DB = {NAMED: "ten_testodoo", TENANT: "ten_acme"}
WORKERS = max(2, os.cpu_count() or 1)  # production runs one per CPU ("auto"); never just 1
_clients = (f"10.{i // 250}.{i % 250}.1" for i in itertools.count(1))  # fresh per use


def fresh_client() -> str:
    return next(_clients)


@pytest.fixture(scope="module")
def limited(farm: Farm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    port = free_port()
    config = production_config(port, farm.ports, rate_limits=True)
    assert {(lim["key"], lim["rate"], lim["burst"]) for lim in shipped_rate_limits(config)} == {
        ("client_ip", "10/min", BURST)
    }
    config["server"]["workers"] = WORKERS
    log = tmp_path_factory.mktemp("ratelimit") / "access.log"
    config["logging"] = {"access_log": str(log)}
    router = start_router(config, port)
    try:
        yield router
    finally:
        router.stop()


def send(
    router: RouterProcess,
    path: str,
    *,
    host: str = NAMED,
    method: str = "POST",
    body: bytes = b"login=a&password=b",
    content_type: str = "application/x-www-form-urlencoded",
    source: str = TRUSTED_PROXY,
    forwarded_for: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection from ``source``."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", router.port, timeout=10, source_address=(source, 0)
    )
    try:
        headers = {"Host": host, "Content-Type": content_type}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        conn.request(
            method, path, body=body if method not in ("GET", "HEAD") else None, headers=headers
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def json_call(db: str, service: str = "common", method: str = "login") -> bytes:
    params = {"service": service, "method": method, "args": [db, "admin", "guess", {}]}
    return json.dumps({"jsonrpc": "2.0", "id": 41, "method": "call", "params": params}).encode()


def authenticate(db: str) -> bytes:
    params = {"db": db, "login": "admin", "password": "guess"}
    return json.dumps({"jsonrpc": "2.0", "id": 42, "method": "call", "params": params}).encode()


def xml_call(method: str, *args: Any) -> bytes:
    return xmlrpc.client.dumps(args, method).encode()


def statuses(router: RouterProcess, n: int, path: str, **kw: Any) -> list[int]:
    return [send(router, path, **kw)[0] for _ in range(n)]


# -- the cases -------------------------------------------------------------------


def test_100_attempts_get_429_after_the_burst(limited: RouterProcess) -> None:
    client = fresh_client()
    start = time.monotonic()
    got = statuses(limited, 100, "/web/login", forwarded_for=client)
    # 10/min: one more token per 6 s the loop took (a loaded machine may take that long).
    refills = int((time.monotonic() - start) / 6)
    assert got[:BURST] == [200] * BURST
    assert got.count(200) <= BURST + refills
    assert got.count(429) >= 100 - BURST - refills
    status, headers, body = send(limited, "/web/login", forwarded_for=client)
    assert status == 429
    assert 1 <= int(headers["retry-after"]) <= 6
    assert headers["content-type"] == "text/html"
    assert b"429 Too Many Requests" in body


def test_another_address_is_unaffected(limited: RouterProcess) -> None:
    assert statuses(limited, BURST + 1, "/web/login", source="127.0.0.4")[-1] == 429
    # 127.0.0.2 speaking for itself (no X-Forwarded-For) is another client.
    assert statuses(limited, BURST, "/web/login", source=TRUSTED_PROXY) == [200] * BURST


def test_a_client_chosen_x_forwarded_for_does_not_change_the_key(limited: RouterProcess) -> None:
    got = [
        send(limited, "/web/login", source=UNTRUSTED_PEER, forwarded_for=f"192.0.2.{i}")[0]
        for i in range(BURST + 3)
    ]
    assert got == [200] * BURST + [429] * 3
    # Nor does X-Real-IP, or a list where the untrusted peer pretends to be a proxy.
    for header in ("X-Real-IP", "X-Forwarded-For"):
        conn = http.client.HTTPConnection(
            "127.0.0.1", limited.port, timeout=10, source_address=(UNTRUSTED_PEER, 0)
        )
        conn.request(
            "POST",
            "/web/login",
            body=b"x",
            headers={"Host": NAMED, header: f"198.51.100.7, {TRUSTED_PROXY}"},
        )
        assert conn.getresponse().status == 429
        conn.close()


def test_bucket_memory_is_bounded_under_a_flood_of_keys(farm: Farm) -> None:
    """rate_limit_keys: 64 and 600 distinct trusted client addresses: the table is one fixed
    mapping of 64 slots in every worker, and the first client, evicted by the flood, is
    back to a full burst (the least recently used went)."""
    port = free_port()
    config = production_config(port, farm.ports, rate_limits=True)
    config["server"]["workers"] = WORKERS
    config["server"]["rate_limit_keys"] = 64
    router = start_router(config, port)
    try:
        first = "10.200.0.1"
        assert statuses(router, BURST + 1, "/web/login", forwarded_for=first)[-1] == 429
        flood = [f"10.201.{i // 250}.{i % 250}" for i in range(600)]
        assert all(send(router, "/web/login", forwarded_for=c)[0] == 200 for c in flood)
        assert send(router, "/web/login", forwarded_for=first)[0] == 200
        workers = children(router.proc.pid)
        assert len(workers) == WORKERS
        for pid in workers:
            maps = Path(f"/proc/{pid}/maps").read_text()
            table = [line for line in maps.splitlines() if "odoo-router-rate-limits" in line]
            assert len(table) == 1, maps
            lo, hi = (int(x, 16) for x in table[0].split()[0].split("-"))
            assert hi - lo == 4096  # 64 slots of 32 bytes, one page
    finally:
        router.stop()


# -- every login path that reaches Odoo --------------------------------------------------

FORM_PATHS = [
    (NAMED, "/web/login"),
    (NAMED, "/web/login/"),
    (NAMED, "/web/login?redirect=%2Fodoo"),
    (NAMED, "/en/web/login"),
    (NAMED, "/fr_BE/web/login/"),
    (NAMED, "/FR/web/login"),  # any first segment: a custom url_code included
    (NAMED, "/%77eb/%6Cogin"),  # percent-encoded
    (NAMED, "//web//login"),  # doubled slashes
    (NAMED, "/web/./login"),
    (NAMED, "/x/../web/login"),
    ("demo.nagashiro.top", "/web/login"),
    (ADMIN, "/web/login"),
    (ADMIN, "/es/web/login/"),
]


@pytest.mark.parametrize(("host", "path"), FORM_PATHS)
def test_every_form_path_is_counted(limited: RouterProcess, host: str, path: str) -> None:
    client = fresh_client()
    got = statuses(limited, BURST + 1, path, host=host, forwarded_for=client)
    assert got == [200] * BURST + [429]


def test_the_form_itself_is_not_limited(limited: RouterProcess) -> None:
    client = fresh_client()
    assert statuses(limited, BURST + 3, "/web/login", method="GET", forwarded_for=client) == [
        200
    ] * (BURST + 3)
    # ...and it still may log in after fetching the form that often.
    assert send(limited, "/web/login", forwarded_for=client)[0] == 200


JSON_TYPE, XML_TYPE = "application/json", "text/xml"
RPC_LOGINS = [
    (TENANT, "/jsonrpc", JSON_TYPE, json_call("ten_acme")),
    (TENANT, "/jsonrpc/", JSON_TYPE, json_call("ten_acme", method="authenticate")),
    (TENANT, "/en/jsonrpc", JSON_TYPE, json_call("ten_acme")),
    (NAMED, "/jsonrpc", JSON_TYPE, json_call("ten_testodoo")),
    (TENANT, "/xmlrpc/2/common", XML_TYPE, xml_call("login", "ten_acme", "admin", "guess")),
    (TENANT, "/xmlrpc/common", XML_TYPE, xml_call("authenticate", "ten_acme", "a", "b", {})),
    (NAMED, "/fr/xmlrpc/2/common", XML_TYPE, xml_call("login", "ten_testodoo", "a", "b")),
    (TENANT, "/web/session/authenticate", JSON_TYPE, authenticate("ten_acme")),
    (TENANT, "/web/session/authenticate/", JSON_TYPE, authenticate("ten_acme")),
    (NAMED, "/en/web/session/authenticate", JSON_TYPE, authenticate("ten_testodoo")),
    (ADMIN, "/web/session/authenticate", JSON_TYPE, authenticate("ten_anything")),
    # The admin host's rpc route (rpc_count_logins): no firewall, any database, still counted.
    (ADMIN, "/jsonrpc", JSON_TYPE, json_call("ten_anything")),
    (ADMIN, "/en/jsonrpc/", JSON_TYPE, json_call("postgres", method="authenticate")),
    (ADMIN, "/xmlrpc/2/common", XML_TYPE, xml_call("login", "ten_acme", "admin", "guess")),
    (ADMIN, "/xmlrpc/common/", XML_TYPE, xml_call("authenticate", "any", "a", "b", {})),
    (ADMIN, "/fr_BE/xmlrpc/2/common", XML_TYPE, xml_call("login", "ten_testodoo", "a", "b")),
]


@pytest.mark.parametrize(("host", "path", "ctype", "body"), RPC_LOGINS)
def test_every_rpc_login_is_counted_in_its_own_shape(
    limited: RouterProcess, host: str, path: str, ctype: str, body: bytes
) -> None:
    client = fresh_client()
    for _ in range(BURST):
        status, _, _ = send(
            limited, path, host=host, body=body, content_type=ctype, forwarded_for=client
        )
        assert status == 200
    status, headers, answer = send(
        limited, path, host=host, body=body, content_type=ctype, forwarded_for=client
    )
    assert status == 429
    assert int(headers["retry-after"]) >= 1
    if ctype == XML_TYPE:
        with pytest.raises(xmlrpc.client.Fault) as info:
            xmlrpc.client.loads(answer)
        assert info.value.faultCode == 429
    else:
        error = json.loads(answer)
        assert error["id"] == (42 if "authenticate" in path else 41) or host == ADMIN
        assert error["error"]["code"] == 429
        assert error["error"]["data"]["name"] == "odoo_router.security.rate_limit"


def test_other_rpc_calls_are_not_counted(limited: RouterProcess) -> None:
    client = fresh_client()
    kw: dict[str, Any] = {"host": TENANT, "forwarded_for": client}
    search = json_call("ten_acme", "object", "execute_kw")
    version = xml_call("version")
    for _ in range(BURST + 2):
        assert send(limited, "/jsonrpc", body=search, content_type=JSON_TYPE, **kw)[0] == 200
        assert (
            send(limited, "/xmlrpc/2/common", body=version, content_type=XML_TYPE, **kw)[0] == 200
        )
    # A login the firewall refuses (another tenant's database) never reached Odoo: not counted.
    other = json_call("ten_other")
    for _ in range(BURST + 2):
        assert send(limited, "/jsonrpc", body=other, content_type=JSON_TYPE, **kw)[0] == 403
    assert (
        send(limited, "/jsonrpc", body=json_call("ten_acme"), content_type=JSON_TYPE, **kw)[0]
        == 200
    )


ADMIN_CALLS = [
    ("/jsonrpc", JSON_TYPE, json_call("ten_acme", "object", "execute_kw")),
    ("/jsonrpc", JSON_TYPE, json_call("ten_other", "object", "execute_kw")),  # any database
    ("/en/jsonrpc", JSON_TYPE, json_call("postgres", "db", "list")),
    ("/jsonrpc", JSON_TYPE, json_call("x", "common", "version")),
    ("/xmlrpc/2/object", XML_TYPE, xml_call("execute_kw", "ten_b", 2, "pw", "res.partner", "read")),
    ("/xmlrpc/2/db", XML_TYPE, xml_call("list")),
    ("/xmlrpc/2/common", XML_TYPE, xml_call("version")),
]


def test_other_admin_rpc_calls_are_neither_counted_nor_refused(limited: RouterProcess) -> None:
    """The admin host may address every database: its RPC bodies are read for logins only,
    and everything else reaches Odoo as it came, however often."""
    client = fresh_client()
    for path, ctype, body in ADMIN_CALLS:
        for _ in range(BURST + 2):
            status, _, answer = send(
                limited, path, host=ADMIN, body=body, content_type=ctype, forwarded_for=client
            )
            assert status == 200, (path, answer)
    # The whole budget is still there.
    login = json_call("ten_acme")
    got = statuses(limited, BURST + 1, "/jsonrpc", host=ADMIN, body=login,
                   content_type=JSON_TYPE, forwarded_for=client)  # fmt: skip
    assert got == [200] * BURST + [429]


def test_an_unreadable_admin_rpc_body_counts(limited: RouterProcess) -> None:
    """Odoo reads XML-RPC whatever the Content-Type: a login sent as text/plain, which the
    inspection does not take for one sure call, is counted rather than let through."""
    client = fresh_client()
    body = xml_call("login", "ten_acme", "admin", "guess")
    got = statuses(limited, BURST + 1, "/xmlrpc/2/common", host=ADMIN, body=body,
                   content_type="text/plain", forwarded_for=client)  # fmt: skip
    assert got == [200] * BURST + [429]


def test_admin_rpc_needs_an_allowed_address(limited: RouterProcess) -> None:
    """The allowlist answers first: outside it, 403 and nothing counted."""
    got = statuses(limited, BURST + 1, "/jsonrpc", host=ADMIN, body=json_call("ten_acme"),
                   content_type=JSON_TYPE, forwarded_for="198.51.100.9")  # fmt: skip
    assert got == [403] * (BURST + 1)


def test_one_budget_across_login_paths(limited: RouterProcess) -> None:
    """Routes with the same limit share a client's bucket: form, JSON-RPC, XML-RPC alike."""
    client = fresh_client()
    got = [send(limited, "/web/login", forwarded_for=client)[0] for _ in range(2)]
    got += [
        send(limited, "/jsonrpc", host=TENANT, body=json_call("ten_acme"),
             content_type=JSON_TYPE, forwarded_for=client)[0]
        for _ in range(2)
    ]  # fmt: skip
    got += [
        send(limited, "/xmlrpc/2/common", host=TENANT, content_type=XML_TYPE,
             body=xml_call("login", "ten_acme", "a", "b"), forwarded_for=client)[0]
        for _ in range(2)
    ]  # fmt: skip
    assert got == [200] * BURST + [429]


# -- the router as a whole -----------------------------------------------------------------


def _request_ids(log: Path, client: str) -> list[str]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [e["request_id"] for e in lines if e.get("client_ip") == client]


def test_the_limit_holds_across_workers(limited: RouterProcess) -> None:
    """100 attempts from one address over 10 concurrent clients, each on new connections
    that the workers accept as they come: BURST pass in total, not BURST per worker."""
    client = fresh_client()
    results: list[int] = []
    lock = threading.Lock()

    def attempts() -> None:
        for _ in range(10):
            status = send(limited, "/web/login", forwarded_for=client)[0]
            with lock:
                results.append(status)

    start = time.monotonic()
    threads = [threading.Thread(target=attempts) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    refills = int((time.monotonic() - start) / 6)
    assert len(results) == 100
    assert BURST <= results.count(200) <= BURST + refills
    assert len(children(limited.proc.pid)) == WORKERS
    log = Path(limited.config["logging"]["access_log"])
    deadline = time.monotonic() + 5
    while len(_request_ids(log, client)) < 100 and time.monotonic() < deadline:
        time.sleep(0.1)  # the access log is flushed every 0.1 s
    ids = _request_ids(log, client)
    assert len(ids) == 100
    # Request ids start with their worker's random prefix: more than one worker served them.
    assert len({rid[:12] for rid in ids}) >= 2


def test_a_reload_keeps_the_buckets(limited: RouterProcess) -> None:
    client = fresh_client()
    assert statuses(limited, BURST + 1, "/web/login", forwarded_for=client)[-1] == 429
    os.kill(limited.proc.pid, signal.SIGHUP)
    time.sleep(1.0)
    assert limited.alive()
    assert send(limited, "/web/login", forwarded_for=client)[0] == 429


def test_refill_over_time(farm: Farm) -> None:
    port = free_port()
    config = production_config(port, farm.ports, rate_limits=True)
    config["server"]["workers"] = WORKERS
    for limit in shipped_rate_limits(config):
        limit.update(rate="30/min", burst=2)  # one token per 2 s
    router = start_router(config, port)
    try:
        client = fresh_client()
        assert statuses(router, 2, "/web/login", forwarded_for=client) == [200, 200]
        status, headers, _ = send(router, "/web/login", forwarded_for=client)
        assert (status, headers["retry-after"]) == (429, "2")
        time.sleep(2.2)
        assert statuses(router, 2, "/web/login", forwarded_for=client) == [200, 429]
        time.sleep(4.5)  # back to the burst, not beyond
        assert statuses(router, 3, "/web/login", forwarded_for=client) == [200, 200, 429]
    finally:
        router.stop()


def test_a_keep_alive_client_gets_429_and_keeps_its_connection(limited: RouterProcess) -> None:
    """The 429 answers before the body is read; the body is still consumed, so the next
    request on the connection is read where it starts."""
    client = fresh_client()
    conn = http.client.HTTPConnection(
        "127.0.0.1", limited.port, timeout=10, source_address=(TRUSTED_PROXY, 0)
    )
    headers = {"Host": NAMED, "X-Forwarded-For": client, "Content-Type": "text/plain"}
    got = []
    try:
        for i in range(BURST + 2):
            conn.request("POST", "/web/login", body=b"login=a&password=%d" % i, headers=headers)
            resp = conn.getresponse()
            resp.read()
            got.append(resp.status)
        conn.request("GET", "/web/login", headers=headers)
        resp = conn.getresponse()
        resp.read()
        got.append(resp.status)
        assert conn.sock is not None  # the same connection throughout
    finally:
        conn.close()
    assert got == [200] * BURST + [429, 429, 200]
