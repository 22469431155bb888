"""Tenant label slots only for databases Odoo has (ops/metrics_confirm.py): a real router
(two workers) over recording upstreams of its own, which answer the master's JSON-RPC
``db.db_exist`` as each test says (true, false, slow, a JSON-RPC error, HTTP 500, a dropped
connection). Odoo answers an RPC call 200 even on a database it does not have, so a flood
of such calls on random subdomains is evidence for the workers; the master must grant
nothing for it, count nothing as folded, and ask Odoo a bounded number of times."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from harness.processes import free_port
from integration.upstreams import Farm
from odoo_router.ops.metrics_confirm import BURST, NO_TTL, RATE, RETRY, TIMEOUT
from odoo_router.ops.metrics_dbexist import MAX_ANSWER, USER_AGENT, NoAnswer, db_exist
from runtime.tenant_router import (
    FOLDED,
    Tenants,
    all_requests,
    dbs,
    granted,
    open_websocket,
    tenant_host,
    workers_took_the_grant,
)


@pytest.fixture
def odoo() -> Iterator[Farm]:
    """Upstreams of this test alone: their journal counts only its questions."""
    farm = Farm()
    farm.start()
    try:
        yield farm
    finally:
        farm.stop()


@pytest.fixture
def make(odoo: Farm) -> Iterator[Callable[[int], Tenants]]:
    made: list[Tenants] = []

    def factory(cap: int) -> Tenants:
        made.append(Tenants(odoo, cap))
        return made[-1]

    yield factory
    for t in made:
        t.router.stop()


def _calls(odoo: Farm) -> list[str]:
    return odoo.journal.db_exist_calls()


def test_rpc_floods_on_databases_odoo_does_not_have_take_no_slot(
    odoo: Farm, make: Callable[[int], Tenants]
) -> None:
    t = make(5)
    odoo.databases.default = "false"  # Odoo has none of the flood's databases
    ghosts = [tenant_host(f"g{i}") for i in range(60)]
    began = time.monotonic()
    sent = t.rpc(ghosts, 2)  # 200 from Odoo each time: evidence for the workers
    deadline = began + 30
    while len(set(_calls(odoo))) < 60 and time.monotonic() < deadline:
        asked = len(_calls(odoo))
        assert asked <= BURST + RATE * (time.monotonic() - began), "more than the rate allows"
        time.sleep(0.1)
    calls = _calls(odoo)
    assert sorted(calls) == sorted(f"ten_g{i}" for i in range(60))  # each once, both workers
    with odoo.journal.lock:
        asks = [r for r in odoo.journal.records if r.rpc]
    assert {r.pool for r in asks} == {"tenant"}  # the pool that answered the calls
    assert {tuple(r.values("user-agent")) for r in asks} == {(USER_AGENT,)}
    assert all(not r.values("x-odoo-dbfilter") for r in asks)
    sent += t.rpc(ghosts, 1)  # they keep coming: the "no" is remembered (NO_TTL)
    time.sleep(2.5)  # grant rounds that could have asked again
    assert NO_TTL > 10 and len(_calls(odoo)) == 60
    m = t.wait_for(lambda s: all_requests(s) >= sent)
    assert granted(m) == set() and m[(FOLDED, ())] == 0  # a ghost is not even "folded"
    assert dbs(m)["_other"] == sent
    real = {"ten_real1", "ten_real2"}
    for db in real:
        odoo.databases.names[db] = "true"
    t.rpc([tenant_host(db.removeprefix("ten_")) for db in sorted(real)], 1)
    assert granted(t.wait_for(lambda s: granted(s) == real)) == real  # the slots were free
    workers_took_the_grant()
    t.rpc([tenant_host("real1")], 3)
    m = t.wait_for(lambda s: dbs(s).get("ten_real1", 0) >= 3)
    assert dbs(m)["ten_real1"] == 3 and len(set(_calls(odoo))) == 62


def test_no_answer_from_odoo_is_not_a_grant_until_odoo_says_yes(
    odoo: Farm, make: Callable[[int], Tenants]
) -> None:
    t = make(10)
    answers = {
        "ten_slow": f"slow:{TIMEOUT + 2}",  # past the question's timeout
        "ten_err": "error",  # a JSON-RPC error, HTTP 200
        "ten_down": "status:502",
        "ten_drop": "close",  # the connection closed without an answer
        "ten_no": "false",
    }
    odoo.databases.names.update(answers)
    t.rpc([tenant_host(db.removeprefix("ten_")) for db in [*answers, "ten_yes"]], 1)
    assert granted(t.wait_for(lambda s: granted(s) == {"ten_yes"})) == {"ten_yes"}
    deadline = time.monotonic() + 15
    while set(_calls(odoo)) < {*answers, "ten_yes"} and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(TIMEOUT + 0.5)  # the slow one has timed out
    assert granted(t.scrape()) == {"ten_yes"}
    assert "tenant label slots: no answer from Odoo on whether" in t.router.log()
    for db in answers:
        odoo.databases.names[db] = "true"  # Odoo is back, and has them all
    t.rpc([tenant_host(db.removeprefix("ten_")) for db in answers], 1)  # keep them candidates
    # No answer is asked again after RETRY; a "no" only after NO_TTL (not within this test).
    want = {*answers, "ten_yes"} - {"ten_no"}
    m = t.wait_for(lambda s: granted(s) == want, timeout=RETRY + 15)
    assert granted(m) == want
    assert _calls(odoo).count("ten_no") == 1
    assert m[(FOLDED, ())] == 0


def test_past_the_cap_only_real_databases_are_folded(
    odoo: Farm, make: Callable[[int], Tenants]
) -> None:
    t = make(2)
    odoo.databases.default = "false"
    for i in range(3):
        odoo.databases.names[f"ten_real{i}"] = "true"
    t.rpc([tenant_host(f"real{i}") for i in range(3)], 1)
    t.rpc([tenant_host(f"ghost{i}") for i in range(8)], 1)
    m = t.wait_for(lambda s: s.get((FOLDED, ()), 0) >= 1 and len(granted(s)) == 2)
    deadline = time.monotonic() + 15
    while len(set(_calls(odoo))) < 11 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    m = t.scrape()
    assert len(granted(m)) == 2 and granted(m) < {f"ten_real{i}" for i in range(3)}
    assert m[(FOLDED, ())] == 1  # the third real one, not the eight ghosts


def test_the_question_goes_to_the_pool_that_answered(
    odoo: Farm, make: Callable[[int], Tenants]
) -> None:
    t = make(10)
    sock = open_websocket(t.port, tenant_host("wsq"))  # a 101 from the tenant_lp pool
    try:
        assert granted(t.wait_for(lambda s: granted(s) == {"ten_wsq"})) == {"ten_wsq"}
    finally:
        sock.close()
    with odoo.journal.lock:
        pools = [r.pool for r in odoo.journal.records if r.rpc == "db_exist:ten_wsq"]
    assert pools == ["tenant_lp"]


# -- the question itself, against the recording upstream ---------------------------------


def _servers(odoo: Farm, *names: str) -> tuple[tuple[str, int], ...]:
    return tuple(("127.0.0.1", odoo.ports[n]) for n in names)


@pytest.mark.parametrize(("answer", "result"), [("true", True), ("false", False)])
def test_db_exist_reads_odoos_answer(odoo: Farm, answer: str, result: bool) -> None:
    odoo.databases.names["ten_x"] = answer
    assert db_exist(_servers(odoo, "tenant"), 0, "ten_x", 2.0) is result
    assert _calls(odoo) == ["ten_x"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("slow:3", "timed out waiting for the answer; server 127.0.0.1:"),
        ("error", "a JSON-RPC error (Odoo Server Error); server 127.0.0.1:"),
        ("status:500", "HTTP 500; server 127.0.0.1:"),
        ("close", "an incomplete HTTP answer; server 127.0.0.1:"),
    ],
)
def test_db_exist_without_an_answer_says_why(odoo: Farm, answer: str, why: str) -> None:
    odoo.databases.names["ten_x"] = answer
    began = time.monotonic()
    with pytest.raises(NoAnswer, match=re.escape(why)):
        db_exist(_servers(odoo, "tenant"), 0, "ten_x", 0.5)
    assert time.monotonic() - began < 2.0  # the timeout holds for a slow Odoo


def test_db_exist_skips_a_server_it_cannot_reach(odoo: Farm) -> None:
    dead = ("127.0.0.1", free_port())
    servers = (dead, *_servers(odoo, "tenant"))
    assert db_exist(servers, 0, "ten_x", 2.0) is True  # refused: the next server answers
    with pytest.raises(NoAnswer, match=r"connect: Connection refused; server 127\.0\.0\.1:"):
        db_exist((dead,), 0, "ten_x", 2.0)
    with pytest.raises(NoAnswer, match="the pool has no server"):
        db_exist((), 0, "ten_x", 2.0)
    assert _calls(odoo) == ["ten_x"]


@contextlib.contextmanager
def _one_answer(answer: bytes) -> Iterator[tuple[str, int]]:
    """A server that answers one request with ``answer`` and keeps the connection open."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"}" not in data:  # the whole JSON body of the question
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            conn.sendall(answer)
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield ("127.0.0.1", listener.getsockname()[1])
    finally:
        done.set()
        thread.join(10)
        listener.close()


def test_an_answer_ends_at_its_length_on_a_connection_kept_open() -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "result": true}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    with _one_answer(answer) as server:
        began = time.monotonic()
        assert db_exist((server,), 0, "ten_x", 5.0) is True
        assert time.monotonic() - began < 2.0  # not the timeout


def test_an_answer_too_long_is_no_answer() -> None:
    answer = b"HTTP/1.1 200 OK\r\n\r\n" + b" " * (MAX_ANSWER + 10)
    with _one_answer(answer) as server, pytest.raises(NoAnswer, match="an answer over"):
        db_exist((server,), 0, "ten_x", 5.0)
