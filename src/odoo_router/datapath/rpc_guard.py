"""Glue between a request's body, as it arrives, and the RPC firewall (rpc_inspect.RpcInspector).

The router decides before it forwards: the body is buffered as for any buffered route
(memory, then a temp file) and inspected as it arrives, a slice at a time with the event loop
free in between; the upstream is contacted only once the whole body was read and allowed. A
verdict can hang on the last byte (a duplicate key closing the outer object, a gzip trailer,
the size limit), and Odoo acts only on a whole body anyway, so forwarding early would only
leave an Odoo worker holding half a request when the call is refused.

A small, uncompressed body held in memory is inspected at once when it is whole
(``check_request``), whether it came with its head or in later reads (``inline_once_whole``:
the driver waits for its end without stepping); anything else by a ``BodyInspection`` the
driver steps in its BODY state: one slice per step, the event loop serving others between
steps, the steps waiting for more body when they have inspected all that came.

Count only (``tenant_db`` None: a route with ``rpc_count_logins``, the admin host's RPC): the
same reading without the database rules, and nothing refused. Only the endpoints that may
log in are read (``/jsonrpc``, ``/xmlrpc[/2]/common``; the rest, ``/web/session/authenticate``
included, were counted or passed at the head). A call that logs in is counted, and so is a
body the reading cannot take for one sure call (malformed, over ``limit``, an unexpected
type or coding): Odoo might read a login in it, and a guesser must not get past the count by
malformed padding. An empty body is never a login; everything else goes upstream untouched.
"""

from __future__ import annotations

import os
from time import perf_counter
from typing import Final

from ..http.headers import find
from ..routing.table import LocalAnswer
from ..security.ratelimit import RateLimits
from ..security.rpc_firewall import Refuse, Verdict, rpc_endpoint
from ..security.rpc_inspect import RpcInspector
from .login_limit import after_inspection
from .request import Request

INLINE_MAX: Final = 64 * 1024  # bodies inspected at once, without yielding (~1 ms at worst)
_FILE_PIECE: Final = 256 * 1024  # read back from a spilled body per piece


def _header(req: Request, name: bytes) -> str | None:
    """The header's value; ValueError when it comes more than once (parser differentials)."""
    headers = req.headers
    values = [headers[i + 1] for i in range(0, len(headers), 2) if headers[i].lower() == name]
    if len(values) > 1:
        raise ValueError(name.decode())
    return values[0].decode("latin-1") if values else None


class Inspection:
    """The inspector for one request, or the refusal its headers already earned; with
    ``limits``, an allowed call that logs in is counted against the route's rate limit
    (``tenant_db`` None: count only, see the module's doc)."""

    def __init__(
        self, req: Request, tenant_db: str | None, limit: int, limits: RateLimits | None = None
    ) -> None:
        self.limit = limit
        self.limits = limits
        self.count_only = tenant_db is None
        self.refusal: Verdict | None = None
        self.inspector: RpcInspector | None = None
        self.longest = 0.0  # the longest single work() call, seconds
        self.protocol = ""  # count only: the endpoint's, "" when it cannot log in
        if tenant_db is None:
            endpoint = rpc_endpoint(req.path)
            if endpoint is None or endpoint.protocol == "authenticate":
                return
            if endpoint.protocol == "xmlrpc" and endpoint.service != "common":
                return
            self.protocol = endpoint.protocol
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
        if self.count_only:
            return self._counted(req)
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
        inspector = self.inspector
        if self.limits is not None and inspector is not None and inspector.login_call():
            protocol = inspector.endpoint.protocol
            return after_inspection(self.limits, req, protocol, inspector.request_id)
        return None

    def _counted(self, req: Request) -> LocalAnswer | None:
        """Count only: the 429 when the call may log in and is over the limit, else None."""
        limits = self.limits
        if not self.protocol or limits is None or req.body_size == 0:
            return None
        inspector = self.inspector
        request_id: object = None
        if inspector is not None and self.refusal is None and req.body_size <= self.limit:
            sure = not isinstance(inspector.verdict(), Refuse)
            if sure and not inspector.login_call():
                return None
            request_id = inspector.request_id
        return after_inspection(limits, req, self.protocol, request_id)


def inline(req: Request) -> bool:
    """Whether this body may be inspected at once (small, whole and not coded)."""
    return (
        req.complete
        and req.body_file is None
        and req.body_size <= INLINE_MAX
        and find(req.headers, b"content-encoding") is None
    )


def inline_once_whole(req: Request) -> bool:
    """Whether this body, not whole yet, will be inspected at once when it is: declared
    small, not coded and held in memory (past request_buffer_memory it is in a file, which
    only a BodyInspection reads back)."""
    length = req.content_length
    return (
        not req.complete
        and req.body_file is None
        and length is not None
        and length <= INLINE_MAX
        and not req.chunked
        and find(req.headers, b"content-encoding") is None
    )


def check_request(
    req: Request, tenant_db: str | None, limit: int, limits: RateLimits | None = None
) -> LocalAnswer | None:
    """The firewall on a whole body in memory (``inline`` said so): None to forward."""
    inspection = Inspection(req, tenant_db, limit, limits)
    if req.body_size <= limit:
        for piece in req.body:
            inspection.feed(piece)
        while inspection.work():
            pass
    return inspection.answer(req)


class BodyReader:
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


# What BodyInspection.step says.
MORE: Final = 0  # a slice was inspected and more is waiting: step again from the loop
WAIT: Final = 1  # all that came is inspected: step again when more body arrives
DONE: Final = 2  # the body is whole (or the request failed): answer() has the verdict


class BodyInspection:
    """Phase 3 for a firewalled route: the body inspected as it arrives, from memory or
    from the temp file it spilled to, a slice per step; the verdict once it is whole."""

    def __init__(
        self, req: Request, tenant_db: str | None, limit: int, limits: RateLimits | None = None
    ) -> None:
        self.req = req
        self.inspection = Inspection(req, tenant_db, limit, limits)
        self.reader = BodyReader(req)
        self.busy = False  # a piece was fed and not all of it inspected yet

    def step(self) -> int:
        inspection = self.inspection
        req = self.req
        if inspection.count_only and inspection.inspector is None:
            # Nothing to read (an endpoint that cannot log in): a spilled upload stays unread.
            return DONE if req.complete or req.error_status else WAIT
        while True:
            if self.busy:
                if inspection.work():
                    return MORE
                self.busy = False
            piece = self.reader.take()
            if piece:
                inspection.feed(piece)
                self.busy = True
                continue
            return DONE if req.complete or req.error_status else WAIT

    def answer(self) -> LocalAnswer | None:
        """None to forward; otherwise the refusal, in the protocol's own shape."""
        return self.inspection.answer(self.req)
