"""The master's confirmations that a database exists (metrics_confirm.py) and what the slot
table does with them (metrics_slots.py), with Odoo's answer given by a function: the
bounds (threads, rate, queue, memory), the negative cache and its expiry, "not yet" for no
answer, and the parse of Odoo's JSON-RPC answer (metrics_dbexist.py). The same over a real
loopback Odoo: tests/runtime/test_tenant_confirm.py."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from odoo_router.configuration.model import Pool
from odoo_router.ops import metrics_confirm
from odoo_router.ops.metrics import Stats, write_snapshot
from odoo_router.ops.metrics_confirm import BURST, Confirmations
from odoo_router.ops.metrics_dbexist import (
    NoAnswer,
    Servers,
    complete,
    parse_answer,
    request_bytes,
)
from odoo_router.ops.metrics_slots import TenantSlots

SERVERS: Servers = (("odoo-tenant", 8069),)


class Odoo:
    """Odoo's answers by name (True, False, or an exception), and what was asked."""

    def __init__(self, answers: dict[str, bool | Exception] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, servers: Servers, first: int, name: str, timeout: float) -> bool:
        with self.lock:
            self.asked.append(name)
        answer = self.answers.get(name, True)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_yes_is_handed_over_a_no_and_no_answer_are_not() -> None:
    odoo = Odoo({"ten_ghost": False, "ten_down": NoAnswer("connect: refused")})
    exists: list[str] = []
    logged: list[str] = []
    c = Confirmations(exists.append, logged.append, odoo)
    for name in ("ten_real", "ten_ghost", "ten_down"):
        c.offer(name, SERVERS)
    assert c.idle(5)
    assert exists == ["ten_real"]
    assert sorted(odoo.asked) == ["ten_down", "ten_ghost", "ten_real"]
    assert len(logged) == 1 and "ten_down" in logged[0] and "connect: refused" in logged[0]


def test_a_no_is_remembered_until_it_expires() -> None:
    odoo = Odoo({"ten_ghost": False})
    c = Confirmations(lambda name: None, None, odoo, no_ttl=2.0, retry=0.1)
    for _ in range(20):  # every grant round offers it again
        c.offer("ten_ghost", SERVERS)
        assert c.idle(5)
    assert odoo.asked == ["ten_ghost"]  # one call for 20 offers
    time.sleep(2.1)
    c.offer("ten_ghost", SERVERS)  # a database created since: asked again
    assert c.idle(5)
    assert odoo.asked == ["ten_ghost", "ten_ghost"]


def test_no_answer_is_not_yet_and_is_asked_again_sooner() -> None:
    odoo = Odoo({"ten_a": NoAnswer("timed out")})
    exists: list[str] = []
    c = Confirmations(exists.append, None, odoo, no_ttl=60, retry=1.0)
    c.offer("ten_a", SERVERS)
    assert c.idle(5)
    c.offer("ten_a", SERVERS)  # too early
    assert c.idle(5) and odoo.asked == ["ten_a"] and exists == []
    time.sleep(1.1)
    odoo.answers["ten_a"] = True  # Odoo is back
    c.offer("ten_a", SERVERS)
    assert c.idle(5)
    assert odoo.asked == ["ten_a", "ten_a"] and exists == ["ten_a"]


def test_a_failure_while_granting_is_not_a_grant_and_stops_nothing() -> None:
    def exists(name: str) -> None:
        if name == "ten_bad":
            raise ValueError("broken")

    odoo = Odoo()
    c = Confirmations(exists, None, odoo, retry=60)
    c.offer("ten_bad", SERVERS)
    c.offer("ten_good", SERVERS)
    assert c.idle(5)
    assert sorted(odoo.asked) == ["ten_bad", "ten_good"]
    c.offer("ten_bad", SERVERS)  # remembered as "not yet", asked again only after retry
    assert c.idle(5) and len(odoo.asked) == 2


def test_at_most_in_flight_questions_at_once() -> None:
    release = threading.Event()
    lock = threading.Lock()
    now = [0]
    most = [0]

    def ask(servers: Servers, first: int, name: str, timeout: float) -> bool:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        release.wait(5)
        with lock:
            now[0] -= 1
        return False

    c = Confirmations(lambda name: None, None, ask, in_flight=3, rate=1000)
    for i in range(12):
        c.offer(f"ten_{i}", SERVERS)
    deadline = time.monotonic() + 5
    while most[0] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # a fourth thread would have started by now
    assert most[0] == 3
    release.set()
    assert c.idle(10)
    assert most[0] == 3 and c.asked == 12


def test_at_most_rate_questions_start_per_second_after_a_burst() -> None:
    starts: list[float] = []

    def ask(servers: Servers, first: int, name: str, timeout: float) -> bool:
        starts.append(time.monotonic())
        return False

    c = Confirmations(lambda name: None, None, ask, rate=20)
    began = time.monotonic()
    for i in range(24):  # a flood of new names
        c.offer(f"ten_r{i}", SERVERS)
    assert c.idle(10)
    starts.sort()
    assert len(starts) == 24
    # Never more than BURST + rate * t questions in the first t seconds (a start made late
    # by the scheduler only helps), so the last one cannot come before (24 - BURST) / 20 s.
    for k, at in enumerate(starts):
        assert k + 1 <= BURST + 20 * (at - began) + 1e-6
    assert starts[-1] - began >= (24 - BURST) / 20 - 1e-6


def test_the_queue_and_the_memory_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_confirm, "PENDING_MAX", 5)
    monkeypatch.setattr(metrics_confirm, "LATER_MAX", 8)
    release = threading.Event()
    asking = threading.Event()

    def ask(servers: Servers, first: int, name: str, timeout: float) -> bool:
        asking.set()
        release.wait(5)
        return False

    c = Confirmations(lambda name: None, None, ask, in_flight=1, rate=1000)
    c.offer("ten_r0", SERVERS)
    assert asking.wait(5)
    for i in range(1, 50):
        c.offer(f"ten_r{i}", SERVERS)
    release.set()
    assert c.idle(10)
    assert c.asked == 6  # the one being asked, then a queue of 5; the rest come again
    for i in range(50, 70):
        c.offer(f"ten_r{i}", SERVERS)
        assert c.idle(10)
    assert len(c._later) == 8


def test_the_servers_are_taken_in_turn() -> None:
    firsts: list[int] = []

    def ask(servers: Servers, first: int, name: str, timeout: float) -> bool:
        firsts.append(first)
        return False

    c = Confirmations(lambda name: None, None, ask, in_flight=1, rate=1000)
    for i in range(3):
        c.offer(f"ten_{i}", (*SERVERS, ("odoo-tenant-2", 8069)))
    assert c.idle(5)
    assert firsts == [0, 1, 2]


def test_an_unanswered_question_is_logged_once_a_minute() -> None:
    logged: list[str] = []
    odoo = Odoo({f"ten_{i}": NoAnswer("HTTP 502; server odoo-tenant:8069") for i in range(5)})
    c = Confirmations(lambda name: None, logged.append, odoo, rate=1000)
    for i in range(5):
        c.offer(f"ten_{i}", SERVERS)
    assert c.idle(5)
    assert len(logged) == 1
    assert "HTTP 502; server odoo-tenant:8069" in logged[0] and "no slot meanwhile" in logged[0]


def _slots(tmp: str, cap: int, odoo: Odoo) -> TenantSlots:
    pools = {
        "tenant": Pool("tenant", SERVERS),
        "tenant_lp": Pool("tenant_lp", (("odoo-tenant", 8072),)),
    }
    return TenantSlots(tmp, cap, pools, ask=odoo)


def test_only_confirmed_databases_take_slots_or_count_as_folded(tmp_path: Path) -> None:
    odoo = Odoo({"ten_ghost1": False, "ten_ghost2": False, "ten_down": NoAnswer("reset")})
    slots = _slots(str(tmp_path), 2, odoo)
    c = slots.confirmations
    for name in ("ten_ghost1", "ten_a", "ten_ghost2", "ten_down", "ten_b", "ten_c"):
        c.offer(name, SERVERS)
    assert c.idle(5)
    assert list(slots.granted) == ["ten_a", "ten_b"]
    assert list(slots.refused) == ["ten_c"] and slots.folded == 1  # real, but no slot left


def test_a_pool_a_reload_removed_is_not_asked(tmp_path: Path) -> None:
    odoo = Odoo()
    slots = _slots(str(tmp_path), 5, odoo)
    slots.pools = {}
    s = Stats()
    s.tenants.request_done("ten_a", 200, 200, 0.01, 1, 1, "tenant")
    write_snapshot(s, str(tmp_path), 1)
    slots.update()
    assert slots.confirmations.idle(5) and odoo.asked == [] and not slots.granted


@pytest.mark.parametrize(
    ("answer", "result"),
    [
        (b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"result": true}', True),
        (b'HTTP/1.1 200 OK\r\n\r\n{"jsonrpc": "2.0", "id": 1, "result": false}', False),
    ],
)
def test_odoos_answer(answer: bytes, result: bool) -> None:
    assert parse_answer(answer) is result


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"", "incomplete"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n", "incomplete"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP answer"),
        (b'HTTP/1.0 500 Internal\r\n\r\n{"result": true}', "HTTP 500"),
        (b"HTTP/1.0 303 See Other\r\nLocation: /web/database/selector\r\n\r\n", "HTTP 303"),
        (b"HTTP/1.0 200 OK\r\n\r\n<html>", "not JSON"),
        (b"HTTP/1.0 200 OK\r\n\r\n[true]", "not a JSON-RPC object"),
        (
            b'HTTP/1.0 200 OK\r\n\r\n{"error": {"code": 200, "message": "Odoo Server Error"}}',
            "JSON-RPC error (Odoo Server Error)",
        ),
        (b'HTTP/1.0 200 OK\r\n\r\n{"result": 1}', "neither true nor false"),
        (b'HTTP/1.0 200 OK\r\n\r\n{"result": "true"}', "neither true nor false"),
        (b"HTTP/1.0 200 OK\r\n\r\n{}", "neither true nor false"),
    ],
)
def test_anything_else_is_no_answer(answer: bytes, why: str) -> None:
    with pytest.raises(NoAnswer, match=re.escape(why)):
        parse_answer(answer)


def test_the_question_is_odoos_db_exist_and_names_the_router() -> None:
    raw = request_bytes("odoo-tenant", 8069, 'ten_"x\\y')
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /jsonrpc HTTP/1.0"
    assert b"Host: odoo-tenant:8069" in lines
    assert b"Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}".encode() in lines
    assert any(line.startswith(b"User-Agent: odoo-router/") for line in lines)
    assert not any(line.lower().startswith(b"x-odoo-dbfilter") for line in lines)
    doc = json.loads(body)
    assert doc["params"] == {"service": "db", "method": "db_exist", "args": ['ten_"x\\y']}
    assert request_bytes("::1", 8069, "a").split(b"\r\n")[1] == b"Host: [::1]:8069"


@pytest.mark.parametrize(
    ("data", "whole"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue", True),
        (b"HTTP/1.1 200 OK\r\ncontent-length:  4 \r\n\r\ntr", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n", False),  # the head is not whole
        (b"HTTP/1.0 200 OK\r\n\r\ntrue", False),  # no length: until the connection ends
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", False),
    ],
)
def test_an_answer_is_whole_at_its_length(data: bytes, whole: bool) -> None:
    assert complete(data) is whole
