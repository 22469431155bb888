"""rpc_guard.BodyInspection, which the driver steps in a firewalled request's BODY state:
the body is inspected piece by piece as it arrives (from memory, then from the temp file it
spills to), a slice per step so that the event loop serves others between steps, and the
verdict comes once the body is whole."""

from __future__ import annotations

import json
import tempfile

import pytest

from odoo_router.configuration.model import ProxyAction
from odoo_router.datapath.request import NO_LINES, Request
from odoo_router.datapath.rpc_guard import DONE, MORE, WAIT, BodyInspection
from odoo_router.routing.table import Decision
from odoo_router.security.rpc_inspect import SLICE

TENANT = "ten_a"
LIMIT = 50 * 1024 * 1024


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
    req.headers = [b"Content-Type", b"application/json"]
    return req


def _arrive(req: Request, piece: bytes, spill: bool) -> None:
    """What the driver's body() does with a piece of a buffered body."""
    req.body_size += len(piece)
    if spill and req.body_file is None:
        req.body_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the test
        req.body_file.writelines(req.body)
        req.body = NO_LINES
    if req.body_file is not None:
        req.body_file.write(piece)  # left in the writer's buffer: the reader must flush
    else:
        req.add_piece(piece)


def _run(inspection: BodyInspection) -> tuple[int, int]:
    """Step until the inspection waits or is done: (its last word, the steps that said MORE)."""
    more = 0
    while (step := inspection.step()) == MORE:
        more += 1
    return step, more


@pytest.mark.parametrize("spill", [False, True], ids=["memory", "temp file"])
@pytest.mark.parametrize(("db", "allowed"), [(TENANT, True), ("ten_b", False)])
def test_body_is_inspected_as_it_arrives(spill: bool, db: str, allowed: bool) -> None:
    req = _request()
    body = _body(db)
    pieces = [body[i : i + 50_000] for i in range(0, len(body), 50_000)]
    inspection = BodyInspection(req, TENANT, LIMIT)
    for n, piece in enumerate(pieces[:-1], 1):
        _arrive(req, piece, spill and n == 2)
        assert _run(inspection)[0] == WAIT  # no verdict before the body is whole
        assert inspection.reader.offset == sum(map(len, pieces[:n]))  # before the next piece
    _arrive(req, pieces[-1], False)
    req.complete = True
    assert _run(inspection)[0] == DONE
    assert inspection.reader.offset == len(body)
    answer = inspection.answer()
    if allowed:
        assert answer is None
    else:
        assert answer is not None and answer.status == 403
    if req.body_file is not None:
        req.body_file.close()


def test_a_large_piece_is_inspected_a_slice_per_step() -> None:
    req = _request()
    body = _body(TENANT)
    _arrive(req, body, False)
    req.complete = True
    step, more = _run(BodyInspection(req, TENANT, LIMIT))
    assert step == DONE
    assert more >= len(body) // SLICE - 1  # the loop was free between the slices


def test_a_failed_body_ends_the_inspection() -> None:
    req = _request()
    inspection = BodyInspection(req, TENANT, LIMIT)
    _arrive(req, _body(TENANT)[:1000], False)
    assert _run(inspection)[0] == WAIT
    req.fail("client", 408)
    assert _run(inspection)[0] == DONE
