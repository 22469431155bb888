"""Glue between a request's body, as it arrives, and the RPC firewall (rpc_inspect.RpcInspector).

The router decides before it forwards: the body is buffered as for any buffered route
(memory, then a temp file) and inspected as it arrives, a slice at a time with the event loop
free in between; the upstream is contacted only once the whole body was read and allowed. A
verdict can hang on the last byte (a duplicate key closing the outer object, a gzip trailer,
the size limit), and Odoo acts only on a whole body anyway, so forwarding early would only
leave an Odoo worker holding half a request when the call is refused.

A small, uncompressed body that came whole with its head is inspected at once, on the fast
path (``check_request``); anything else in ``read_inspected``, on the request's task.
"""

from __future__ import annotations

import asyncio
import os
from time import perf_counter
from typing import TYPE_CHECKING, Final

from .routing import LocalAnswer
from .rpc_firewall import Refuse, Verdict
from .rpc_inspect import RpcInspector

if TYPE_CHECKING:
    from .proxy import ClientConnection
    from .request import Request
    from .routing import Decision

INLINE_MAX: Final = 64 * 1024  # bodies inspected at once, without yielding (~1 ms at worst)
_FILE_PIECE: Final = 256 * 1024  # read back from a spilled body per piece


def _header(req: Request, name: bytes) -> str | None:
    """The header's value; ValueError when it comes more than once (parser differentials)."""
    values = [v for k, v in req.headers if k.lower() == name]
    if len(values) > 1:
        raise ValueError(name.decode())
    return values[0].decode("latin-1") if values else None


class _Inspection:
    """The inspector for one request, or the refusal its headers already earned."""

    def __init__(self, req: Request, tenant_db: str, limit: int) -> None:
        self.limit = limit
        self.refusal: Verdict | None = None
        self.inspector: RpcInspector | None = None
        self.longest = 0.0  # the longest single work() call, seconds
        try:
            content_type = _header(req, b"content-type")
            content_encoding = _header(req, b"content-encoding")
        except ValueError as exc:
            message = f"duplicate {exc} header in an RPC request\n".encode()
            self.refusal = Refuse(400, "text/plain", message, f"duplicate {exc}")
            return
        self.inspector = RpcInspector(req.path, content_type, content_encoding, tenant_db, limit)

    def feed(self, data: bytes) -> None:
        if self.inspector is not None:
            self.inspector.feed(data)

    def work(self) -> bool:
        if self.inspector is None:
            return False
        start = perf_counter()
        more = self.inspector.work()
        self.longest = max(self.longest, perf_counter() - start)
        return more

    def answer(self, req: Request) -> LocalAnswer | None:
        """None to forward; otherwise the refusal, in the protocol's own shape."""
        if req.body_size > self.limit:
            verdict: Verdict = Refuse(
                413, "text/plain", b"RPC request body too large\n", "too large"
            )
        elif self.refusal is not None:
            verdict = self.refusal
        else:
            assert self.inspector is not None
            verdict = self.inspector.verdict()
        if isinstance(verdict, Refuse):
            req.error = f"rpc firewall: {verdict.reason}"
            return LocalAnswer(
                verdict.status, (("Content-Type", verdict.content_type),), verdict.body
            )
        return None


def inline(req: Request) -> bool:
    """Whether the fast path may inspect this body at once (small, whole and not coded)."""
    return (
        req.complete
        and req.body_file is None
        and req.body_size <= INLINE_MAX
        and not any(k.lower() == b"content-encoding" for k, _ in req.headers)
    )


def check_request(req: Request, tenant_db: str, limit: int) -> LocalAnswer | None:
    """The firewall on a whole body in memory (``inline`` said so): None to forward."""
    inspection = _Inspection(req, tenant_db, limit)
    if req.body_size <= limit:
        for piece in req.body:
            inspection.feed(piece)
        while inspection.work():
            pass
    return inspection.answer(req)


class _BodyReader:
    """What arrived of a buffered body since the last call: in memory, the pieces on_body
    kept; once spilled to a temp file, read back from it (the writer's buffer flushed)."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.offset = 0  # bytes handed out
        self.index = 0  # into req.body, while it is in memory

    def take(self) -> bytes:
        req = self.req
        if req.body_file is None:
            if self.index < len(req.body):
                piece = req.body[self.index]
                self.index += 1
                self.offset += len(piece)
                return piece
            return b""
        if self.offset >= req.body_size:
            return b""
        req.body_file.flush()
        size = min(_FILE_PIECE, req.body_size - self.offset)
        piece = os.pread(req.body_file.fileno(), size, self.offset)
        self.offset += len(piece)
        return piece


async def read_inspected(conn: ClientConnection, req: Request, decision: Decision) -> bool:
    """Phase 3 for a firewalled route: read the body, inspecting it as it arrives; True to
    forward it, False when the request was answered (refused, or the client went away)."""
    action = decision.proxy
    assert action is not None and decision.tenant_db is not None
    limit = action.rpc_body_limit
    if limit is None:
        limit = conn.state.settings.client_max_body_size
    inspection = _Inspection(req, decision.tenant_db, limit)
    if req.expect_continue and not req.complete:
        conn.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
    reader = _BodyReader(req)
    req.wake_on_body = True
    while True:
        while piece := reader.take():
            inspection.feed(piece)
            while inspection.work():
                await asyncio.sleep(0)  # one slice at a time: the loop serves others between
        if req.complete or req.error_status or conn.closed:
            break  # (take() found nothing new since the last await)
        req.body_waiter = conn.loop.create_future()
        await req.body_waiter
    req.wake_on_body = False
    if conn.closed:
        req.status = 499
        return False
    if req.error_status:
        conn.error(req, req.error_status)
        return False
    refusal = inspection.answer(req)
    if refusal is not None:
        conn.answer(req, refusal)
        return False
    return True
