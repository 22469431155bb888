"""The request state machine and its one driver, without sockets: a ClientConnection and an
UpstreamConnection on transports that record what is written, fed in turn (as bench.micro
does). The integration, runtime and conformance suites test the same driver over loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.configuration.validate import build_config
from odoo_router.datapath import request as rs
from odoo_router.datapath.pools import UpstreamConnection
from odoo_router.datapath.proxy import ClientConnection
from odoo_router.datapath.request import NAMES, NO_LINES, TRANSITIONS, Request
from odoo_router.datapath.state import Connection, WorkerState
from odoo_router.http.errors import LOCAL, RequestError

CONFIG = Path(__file__).resolve().parents[3] / "config"
TENANT = b"testodoo.seisei.tokyo"
GET = b"GET /web/x HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n\r\n" % TENANT
HEALTH = b"GET /nginx-health HTTP/1.1\r\nHost: %s\r\n\r\n" % TENANT
OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    b"Connection: keep-alive\r\n\r\nhello"
)


class Transport:
    """The part of a uvloop transport the data path uses, recording what is written."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closed = False

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def write_eof(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def text(self) -> bytes:
        return b"".join(self.out)


class Rig:
    """A worker state, one client connection and one idle upstream connection of the
    tenant pool; every finished request is kept with the state it ended in."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        loop_calls: list[str],
        config: str,
        server: dict[str, object],
    ) -> None:
        self.loop_calls = loop_calls  # what the data path asked of the event loop
        data = yaml.safe_load((CONFIG / config).read_text(encoding="utf-8"))
        data["server"]["forwarded"] = {"mode": "append"}
        data["server"].update(server)
        data["metrics"] = {"listen": None}
        data["logging"] = {"access_log": None}
        for pool in data["pools"].values():
            pool["servers"] = ["127.0.0.1:9"]  # never connected to: the pool has an idle one
        self.state = WorkerState(build_config(yaml.safe_dump(data)))
        self.state.loop = loop
        self.finished: list[tuple[Request, int]] = []
        self.state.observers.append(self._observe)
        self.client = ClientConnection(self.state)
        self.client_out = Transport()
        self.client.connection_made(self.client_out)  # type: ignore[arg-type]
        pool = self.state.pools["tenant"]
        self.upstream = UpstreamConnection(pool, 0)
        self.upstream_out = Transport()
        self.upstream.connection_made(self.upstream_out)  # type: ignore[arg-type]
        pool.idle.append(self.upstream)

    def _observe(self, conn: Connection, req: Request) -> None:
        self.finished.append((req, req.state))


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    param = getattr(request, "param", "nginx-compat.yaml")  # a file, or (file, server keys)
    config, server = (param, {}) if isinstance(param, str) else param
    loop = asyncio.new_event_loop()
    calls: list[str] = []
    for name in ("create_task", "create_future", "call_soon", "run_in_executor"):
        real = getattr(loop, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        setattr(loop, name, counted)
    asyncio.set_event_loop(loop)
    try:
        yield Rig(loop, calls, config, server)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_transitions_are_the_table() -> None:
    for state in NAMES:
        for target in NAMES:
            req = Request(0.0)
            req.state = state
            if target in TRANSITIONS[state]:
                req.enter(target)
                assert req.state == target
            else:
                with pytest.raises(RequestError) as err:
                    req.enter(target)
                assert (err.value.status, err.value.source) == (500, LOCAL)
                assert req.state == state


def test_every_state_is_reachable_and_ends_in_done_or_failed() -> None:
    seen = {rs.HEAD}
    todo = [rs.HEAD]
    while todo:
        for target in TRANSITIONS[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert seen == set(NAMES)
    assert TRANSITIONS[rs.DONE] == TRANSITIONS[rs.FAILED] == ()


def test_keep_alive_requests_need_no_task_future_or_loop_turn(rig: Rig) -> None:
    for n in range(1, 51):
        rig.client.data_received(GET)
        assert rig.upstream_out.text().count(b"GET /web/x HTTP/1.1\r\n") == n
        rig.upstream.data_received(OK)
    assert rig.loop_calls == []
    assert [state for _, state in rig.finished] == [rs.DONE] * 50
    assert rig.client_out.text().count(b"HTTP/1.1 200 OK\r\n") == 50
    assert not rig.client.closed
    assert NO_LINES == []  # the shared empty body was never appended to


def test_pipelined_requests_are_answered_in_order(rig: Rig) -> None:
    rig.client.data_received(HEALTH + GET + HEALTH)
    assert len(rig.finished) == 1  # the health answer; the GET waits for its upstream
    assert rig.upstream_out.text().startswith(b"GET /web/x HTTP/1.1\r\n")
    rig.upstream.data_received(OK)
    paths = [req.path for req, _ in rig.finished]
    assert paths == ["/nginx-health", "/web/x", "/nginx-health"]
    text = rig.client_out.text()
    assert text.index(b"\r\n\r\nOK") < text.index(b"hello") < text.rindex(b"\r\n\r\nOK")


def test_a_refused_request_is_answered_in_its_turn_and_ends_the_connection(rig: Rig) -> None:
    rig.client.data_received(GET + b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n" + HEALTH)
    assert [state for _, state in rig.finished] == []
    rig.upstream.data_received(OK)
    assert [(req.path, state) for req, state in rig.finished] == [
        ("/web/x", rs.DONE),
        ("-", rs.FAILED),  # refused before routing: the health check behind it is never read
    ]
    refused = rig.finished[1][0]
    assert (refused.status, refused.error_status, refused.error_source) == (400, 400, "client")
    assert rig.client_out.text().endswith(b"Connection: close\r\n\r\n" + refused_page())
    assert rig.client_out.closed


def refused_page() -> bytes:
    from odoo_router.http.pages import error_page

    return error_page(400)


def test_an_upstream_failure_is_failed_with_its_source(rig: Rig) -> None:
    rig.client.data_received(GET)
    rig.upstream.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    req, state = rig.finished[0]
    assert state == rs.FAILED
    assert (req.status, req.error_source) == (502, "upstream")
    assert req.error is not None and req.error.startswith("bad_answer: upstream sent an invalid")


def _rpc(db: bytes, pad: int = 0) -> bytes:
    body = b'{"jsonrpc":"2.0","method":"call","params":{"service":"object",'
    body += b'"method":"execute_kw","args":["%s",2,"pw","res.partner","read",[1],' % db
    body += b'{"context":{"note":"%s"}}]}}' % (b"x" * pad)
    return (
        b"POST /jsonrpc HTTP/1.1\r\nHost: acme.erp.seisei.tokyo\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )


@pytest.mark.parametrize("rig", ["router.yaml"], indirect=True)
def test_a_small_rpc_call_is_inspected_from_the_callbacks(rig: Rig) -> None:
    rig.client.data_received(_rpc(b"ten_acme"))
    assert b"X-Odoo-dbfilter: ^ten_acme$" in rig.upstream_out.text()  # allowed: forwarded
    rig.upstream.data_received(OK)
    rig.client.data_received(_rpc(b"ten_other"))
    assert rig.upstream_out.text().count(b"POST /jsonrpc") == 1  # refused: never forwarded
    assert [(req.status, state) for req, state in rig.finished] == [(200, rs.DONE), (403, rs.DONE)]
    assert (
        rig.finished[1][0].error
        == "rpc firewall: object.execute_kw db 'ten_other' is not 'ten_acme'"
    )
    assert rig.loop_calls == []


@pytest.mark.parametrize("rig", ["router.yaml"], indirect=True)
def test_a_small_rpc_body_in_pieces_is_inspected_when_whole(rig: Rig) -> None:
    call = _rpc(b"ten_acme", 2000)
    rig.client.data_received(call[:-1500])
    rig.client.data_received(call[-1500:-700])
    assert rig.upstream_out.out == []  # nothing forwarded before the verdict
    rig.client.data_received(call[-700:])
    assert b"X-Odoo-dbfilter: ^ten_acme$" in rig.upstream_out.text()
    rig.upstream.data_received(OK)
    assert [(req.status, state) for req, state in rig.finished] == [(200, rs.DONE)]
    assert rig.loop_calls == []


@pytest.mark.parametrize("rig", [("router.yaml", {"request_buffer_memory": "1k"})], indirect=True)
def test_a_small_rpc_body_spilled_to_a_file_is_inspected_from_it(rig: Rig) -> None:
    # Declared small, but past request_buffer_memory: read back from the file when whole,
    # never left waiting for an end that already came.
    call = _rpc(b"ten_acme", 4000)
    rig.client.data_received(call[:-3000])
    rig.client.data_received(call[-3000:])
    for _ in range(20):  # the inspection's slices run from the loop
        if rig.upstream_out.out:
            break
        rig.state.loop.run_until_complete(asyncio.sleep(0))
    assert b"X-Odoo-dbfilter: ^ten_acme$" in rig.upstream_out.text()
    assert rig.upstream_out.text().endswith(call[-100:])
    rig.upstream.data_received(OK)
    assert [(req.status, state) for req, state in rig.finished] == [(200, rs.DONE)]


# -- framing: the parser's events walked in order --------------------------------------


def test_trailers_never_join_the_head(rig: Rig) -> None:
    """A chunked body's trailers are dropped (as nginx drops them): a request waiting its
    turn has its whole body parsed, and nothing read after its head (an Authorization, a
    Host) may join the headers its later phases read."""
    post = (
        b"POST /web/y HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\nAuthorization: Basic b3BlcmF0b3I6eA==\r\nHost: evil\r\n\r\n" % TENANT
    )
    rig.client.data_received(GET + post)  # the POST waits for the GET's answer
    rig.upstream.data_received(OK)
    rig.upstream.data_received(OK)
    second, state = rig.finished[1]
    assert (second.path, state, second.host) == ("/web/y", rs.DONE, TENANT.decode())
    assert second.headers == [b"Host", TENANT, b"Transfer-Encoding", b"chunked"]
    sent = rig.upstream_out.text()
    assert b"evil" not in sent and b"Authorization" not in sent and sent.endswith(b"abc")


def test_a_head_across_reads_is_dated_from_its_first_byte(rig: Rig) -> None:
    from time import monotonic

    rig.client.data_received(GET[:20])
    between = monotonic()
    rig.client.data_received(GET[20:40])
    rig.client.data_received(GET[40:])
    rig.upstream.data_received(OK)
    req, state = rig.finished[0]
    assert state == rs.DONE and req.start < between


def test_a_head_that_never_ends_is_cut_by_the_header_timeout(rig: Rig) -> None:
    from time import monotonic

    rig.client.data_received(GET + GET[:30])  # the second head stays partial
    rig.upstream.data_received(OK)
    driver = rig.client.driver
    began = monotonic()
    timeout = rig.state.settings.client_header_timeout
    driver.tick(began + timeout - 1)
    assert not rig.client_out.closed
    rig.client.data_received(GET[30:40])  # reading on does not restart the head's clock
    driver.tick(began + timeout + 0.5)
    assert rig.client_out.closed


def test_a_refused_head_is_logged_with_its_target(rig: Rig) -> None:
    big = b"X-Big: " + b"v" * 9000 + b"\r\n"
    rig.client.data_received(b"GET /web/a?b=1 HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (TENANT, big))
    req, state = rig.finished[0]
    assert (state, req.status, req.url) == (rs.FAILED, 494, b"/web/a?b=1")
    assert rig.client_out.closed


def test_an_http09_request_line_is_refused_at_once(rig: Rig) -> None:
    rig.client.data_received(b"GET /jsonrpc\r\n")
    req, state = rig.finished[0]
    assert (state, req.status) == (rs.FAILED, 400)
    assert rig.client_out.text().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert rig.upstream_out.out == []
