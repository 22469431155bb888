"""rpc_guard.read_inspected: the body is inspected piece by piece as it arrives (from memory,
then from the temp file it spills to), and the verdict comes once the body is whole."""

from __future__ import annotations

import asyncio
import json
import tempfile
from typing import Any, ClassVar

import pytest

from odoo_router import rpc_guard
from odoo_router.model import ProxyAction
from odoo_router.request import Request
from odoo_router.routing import Decision, LocalAnswer

TENANT = "ten_a"


class _Settings:
    client_max_body_size = 50 * 1024 * 1024


class _State:
    settings = _Settings()


class _Conn:
    """The part of ClientConnection read_inspected uses."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.state = _State()
        self.closed = False
        self.answers: list[LocalAnswer] = []
        self.written: list[bytes] = []

    def write_raw(self, data: bytes) -> None:
        self.written.append(data)

    def answer(self, req: Request, answer: LocalAnswer) -> None:
        self.answers.append(answer)

    def error(self, req: Request, status: int) -> None:
        self.answers.append(LocalAnswer(status, (), b""))


class _Spy:
    """Wraps the real inspector and records how much of the body it was fed, when."""

    fed: ClassVar[list[int]] = []

    def __init__(self, *args: Any) -> None:
        from odoo_router.rpc_inspect import RpcInspector

        self.inner = RpcInspector(*args)
        _Spy.fed = []

    def feed(self, data: bytes) -> None:
        _Spy.fed.append(len(data))
        self.inner.feed(data)

    def work(self) -> bool:
        return self.inner.work()

    def verdict(self) -> object:
        return self.inner.verdict()


def _decision() -> Decision:
    action = ProxyAction(pool="tenant", rpc_firewall=True)
    return Decision("tenant", "rpc", action, TENANT, f"^{TENANT}$")


def _body(db: str) -> bytes:
    args = [db, 2, "pw", "ir.attachment", "create", [{"datas": "QUJD" * 50_000}]]
    call = {"params": {"service": "object", "method": "execute_kw", "args": args}}
    return json.dumps(call).encode()


def _request() -> Request:
    req = Request(0.0)
    req.method = "POST"
    req.path = "/jsonrpc"
    req.headers = [(b"Content-Type", b"application/json")]
    return req


def _arrive(req: Request, piece: bytes, spill: bool) -> None:
    """What ClientConnection.on_body does with a piece of a buffered body."""
    req.body_size += len(piece)
    if spill and req.body_file is None:
        req.body_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the test
        req.body_file.writelines(req.body)
        req.body = []
    if req.body_file is not None:
        req.body_file.write(piece)  # left in the writer's buffer: the reader must flush
    else:
        req.body.append(piece)
    if req.wake_on_body and req.body_waiter is not None and not req.body_waiter.done():
        req.body_waiter.set_result(None)


def _complete(req: Request) -> None:
    req.complete = True
    if req.body_waiter is not None and not req.body_waiter.done():
        req.body_waiter.set_result(None)


@pytest.mark.parametrize("spill", [False, True], ids=["memory", "temp file"])
@pytest.mark.parametrize(("db", "allowed"), [(TENANT, True), ("ten_b", False)])
async def test_body_is_inspected_as_it_arrives(
    monkeypatch: pytest.MonkeyPatch, spill: bool, db: str, allowed: bool
) -> None:
    monkeypatch.setattr(rpc_guard, "RpcInspector", _Spy)
    conn, req = _Conn(), _request()
    body = _body(db)
    pieces = [body[i : i + 50_000] for i in range(0, len(body), 50_000)]
    task = asyncio.create_task(rpc_guard.read_inspected(conn, req, _decision()))  # type: ignore[arg-type]
    for n, piece in enumerate(pieces[:-1], 1):
        _arrive(req, piece, spill and n == 2)
        for _ in range(20):
            await asyncio.sleep(0)
        assert sum(_Spy.fed) == sum(map(len, pieces[:n]))  # inspected before the next piece
        assert not task.done()  # no verdict before the body is whole
    _arrive(req, pieces[-1], False)
    _complete(req)
    assert await asyncio.wait_for(task, 5) is allowed
    assert sum(_Spy.fed) == len(body)
    if allowed:
        assert conn.answers == []
    else:
        assert [a.status for a in conn.answers] == [403]
    if req.body_file is not None:
        req.body_file.close()


async def test_client_gone_mid_body_is_499_and_no_verdict() -> None:
    conn, req = _Conn(), _request()
    task = asyncio.create_task(rpc_guard.read_inspected(conn, req, _decision()))  # type: ignore[arg-type]
    _arrive(req, _body(TENANT)[:1000], False)
    await asyncio.sleep(0)
    conn.closed = True
    assert req.body_waiter is not None
    req.body_waiter.set_result(None)
    assert await asyncio.wait_for(task, 5) is False
    assert req.status == 499 and conn.answers == []
