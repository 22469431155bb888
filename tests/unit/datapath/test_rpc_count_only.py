"""rpc_guard in count-only mode (``tenant_db`` None: a route with ``rpc_count_logins``, the
admin host's RPC): no database rules, nothing refused; a call that logs in counts, and so
does a body that cannot be read as one sure call; everything else passes uncounted."""

from __future__ import annotations

import gzip
import json
import xmlrpc.client

import pytest

from odoo_router.configuration.model import ProxyAction, RateLimit
from odoo_router.datapath.request import Request
from odoo_router.datapath.rpc_guard import DONE, BodyInspection, check_request
from odoo_router.http.headers import ClientView
from odoo_router.routing.table import Decision
from odoo_router.security.ratelimit import RateLimits

LIMIT = RateLimit("client_ip", 1 / 3600, 2, "client_ip 1/h, burst 2")  # no refill in a test
JSON, XML = "application/json", "text/xml"
BODY_LIMIT = 1 << 20


def _request(path: str, ctype: str, body: bytes, *extra: bytes) -> Request:
    req = Request(0.0)
    req.method = "POST"
    req.path = path
    req.headers = [b"Content-Type", ctype.encode(), *extra]
    req.view = ClientView("10.1.2.3", "http", "10.1.2.3")
    req.redecided(
        Decision(
            "admin",
            "rpc",
            ProxyAction(pool="admin", rpc_count_logins=True),
            None,
            None,
            rate_limit=LIMIT,
        )
    )
    if body:
        req.add_piece(body)
    req.body_size = len(body)
    req.complete = True
    return req


def _statuses(path: str, ctype: str, body: bytes, *extra: bytes, n: int = 3) -> list[int]:
    """n attempts from one client in a fresh table: 200 forwarded, else the answer's."""
    limits = RateLimits(64)
    out = []
    for _ in range(n):
        answer = check_request(_request(path, ctype, body, *extra), None, BODY_LIMIT, limits)
        out.append(200 if answer is None else answer.status)
    return out


def _json(service: str, method: str, db: object = "ten_anything", rid: object = 7) -> bytes:
    params = {"service": service, "method": method, "args": [db, "admin", "guess", {}]}
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": "call", "params": params}).encode()


def _xml(method: str, *args: object) -> bytes:
    return xmlrpc.client.dumps(args, method).encode()


COUNTED = [
    ("/jsonrpc", JSON, _json("common", "login")),
    ("/jsonrpc", JSON, _json("common", "authenticate", "any_db")),
    ("/en/jsonrpc/", JSON, _json("common", "login", 42)),  # a db no firewall would pass
    ("/xmlrpc/2/common", XML, _xml("login", "ten_x", "admin", "guess")),
    ("/xmlrpc/common/", XML, _xml("authenticate", "ten_x", "a", "b", {})),
    ("/fr/xmlrpc/2/common", XML, _xml("login", "ten_x", "a", "b")),
    # What cannot be read as one sure call counts: Odoo might read a login in it.
    ("/jsonrpc", JSON, b'{"params": {"service": "common", "method": "login"'),  # truncated
    ("/jsonrpc", JSON, b'{"params": [["service", "common"], ["method", "login"]]}'),
    ("/jsonrpc", JSON, b'{"params": {"service": "object", "service": "common"}}'),  # dup key
    ("/jsonrpc", "text/plain", _json("common", "login")),
    ("/xmlrpc/2/common", "text/plain", _xml("login", "ten_x", "a", "b")),
    ("/jsonrpc", JSON, b"\xff\xfe{}"),
    ("/xmlrpc/2/common", XML, b"<methodCall><params/></methodCall>"),  # no methodName
]


@pytest.mark.parametrize(("path", "ctype", "body"), COUNTED)
def test_login_calls_and_unreadable_bodies_count(path: str, ctype: str, body: bytes) -> None:
    assert _statuses(path, ctype, body) == [200, 200, 429]


PASSED = [
    ("/jsonrpc", JSON, _json("object", "execute_kw", "any_db")),
    ("/jsonrpc", JSON, _json("db", "drop", "any_db")),  # the admin host may; Odoo decides
    ("/jsonrpc", JSON, _json("common", "version")),
    ("/jsonrpc", JSON, _json("nope", "whatever")),
    ("/xmlrpc/2/common", XML, _xml("version")),
    ("/xmlrpc/2/object", XML, _xml("execute_kw", "any_db", 2, "pw", "res.partner", "search")),
    ("/xmlrpc/2/object", "text/plain", b"not even xml"),  # object never logs in: not read
    ("/xmlrpc/db", XML, _xml("list")),
    ("/jsonrpcx", JSON, _json("common", "login")),  # no endpoint: Odoo's 404
    ("/jsonrpc", JSON, b""),  # an empty body logs nobody in
]


@pytest.mark.parametrize(("path", "ctype", "body"), PASSED)
def test_other_calls_pass_uncounted_and_unrefused(path: str, ctype: str, body: bytes) -> None:
    assert _statuses(path, ctype, body, n=4) == [200] * 4


def test_the_429_echoes_the_call_in_its_shape() -> None:
    limits = RateLimits(64)
    body = _json("common", "login", rid="abc")
    answers = [check_request(_request("/jsonrpc", JSON, body), None, BODY_LIMIT, limits)]
    answers += [check_request(_request("/jsonrpc", JSON, body), None, BODY_LIMIT, limits)]
    answer = check_request(_request("/jsonrpc", JSON, body), None, BODY_LIMIT, limits)
    assert answers == [None, None] and answer is not None
    error = json.loads(answer.body)
    assert (error["id"], error["error"]["code"]) == ("abc", 429)
    assert ("Retry-After", "3600") in answer.headers  # 1/h: a token an hour
    xml = check_request(
        _request("/xmlrpc/2/common", XML, _xml("login", "d", "a", "b")), None, BODY_LIMIT, limits
    )
    assert xml is not None
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(xml.body)
    assert info.value.faultCode == 429


def test_a_body_over_the_inspection_limit_counts() -> None:
    """A login padded past the bound the body is read to is still an attempt."""
    body = _json("common", "login")[:-1] + b', "pad": "' + b"x" * 2000 + b'"}'
    limits = RateLimits(64)
    got = [check_request(_request("/jsonrpc", JSON, body), None, 1000, limits) for _ in range(3)]
    assert [a is None for a in got] == [True, True, False]


def test_a_gzip_login_counts_and_a_gzip_search_does_not() -> None:
    coded = (b"Content-Encoding", b"gzip")
    login = gzip.compress(_json("common", "login"))
    search = gzip.compress(_json("object", "execute_kw"))
    assert _statuses("/jsonrpc", JSON, login, *coded) == [200, 200, 429]
    assert _statuses("/jsonrpc", JSON, search, *coded, n=4) == [200] * 4


def test_a_duplicate_content_type_counts() -> None:
    dup = (b"Content-Type", b"application/json")
    assert _statuses("/jsonrpc", JSON, _json("common", "version"), *dup) == [200, 200, 429]


def test_stepped_as_it_arrives() -> None:
    """A body the driver steps (large, or arriving in pieces): the same count."""
    limits = RateLimits(64)
    pad = b"[" + b"1," * 40_000 + b"1]"
    body = _json("common", "login")[:-1] + b', "pad": ' + pad + b"}"
    got = []
    for _ in range(3):
        inspection = BodyInspection(_request("/jsonrpc", JSON, body), None, BODY_LIMIT, limits)
        while inspection.step() != DONE:
            pass
        got.append(inspection.answer())
    assert [a is None for a in got] == [True, True, False]


def test_an_endpoint_that_cannot_log_in_is_not_read() -> None:
    """/xmlrpc/2/object never logs in: its body, however large, is not read back."""
    body = _xml("execute_kw", "ten_b", 2, "pw", "ir.attachment", "create", "QUJD" * 100_000)
    inspection = BodyInspection(
        _request("/xmlrpc/2/object", XML, body), None, BODY_LIMIT, RateLimits(64)
    )
    assert inspection.step() == DONE
    assert inspection.reader.offset == 0
    assert inspection.answer() is None
