"""What a rate-limited route counts, the bucket keys, and the 429 in each protocol's shape
(security/ratelimit.py)."""

from __future__ import annotations

import json
import xmlrpc.client

import pytest

from odoo_router.configuration.model import RateLimit
from odoo_router.routing.table import LocalAnswer
from odoo_router.security.ratelimit import RateLimits, bucket_key, client_key, too_many
from odoo_router.security.rpc_firewall import Allow
from odoo_router.security.rpc_inspect import RpcInspector

LIMIT = RateLimit("client_ip", 1 / 3600, 2, "client_ip 1/h, burst 2")
BY_DB = RateLimit("client_ip_db", 1 / 3600, 2, "client_ip_db 1/h, burst 2")


def _attempts(
    limits: RateLimits, method: str, path: str, n: int = 3, ip: str = "10.0.0.1"
) -> list[int]:
    out = []
    for _ in range(n):
        answer = limits.at_head(LIMIT, False, method, path, ip, "ten_a")
        out.append(answer.status if answer is not None else 200)
    return out


@pytest.mark.parametrize(
    ("method", "path", "counted"),
    [
        ("POST", "/web/login", True),
        ("POST", "/fr_BE/web/login/", True),
        ("GET", "/web/login", False),  # the form itself
        ("HEAD", "/web/login", False),
        ("POST", "/web/session/authenticate", True),
        ("GET", "/web/session/authenticate", True),  # Odoo's JSON routes take any method
        ("POST", "/en/web/session/authenticate/", True),
        ("POST", "/jsonrpc", False),  # uninspected: a login cannot be told from other calls
        ("POST", "/xmlrpc/2/common", False),
    ],
)
def test_what_counts_at_the_head(method: str, path: str, counted: bool) -> None:
    statuses = _attempts(RateLimits(64), method, path)
    assert statuses == ([200, 200, 429] if counted else [200, 200, 200])


def test_inspected_routes_count_after_the_firewall() -> None:
    limits = RateLimits(64)
    for _ in range(5):
        assert (
            limits.at_head(LIMIT, True, "POST", "/web/session/authenticate", "1.2.3.4", "t") is None
        )


def test_addresses_and_databases_have_their_own_buckets() -> None:
    limits = RateLimits(64)
    assert _attempts(limits, "POST", "/web/login", 3, "10.0.0.1") == [200, 200, 429]
    assert _attempts(limits, "POST", "/web/login", 3, "10.0.0.2") == [200, 200, 429]
    db = [limits.at_head(BY_DB, False, "POST", "/web/login", "10.0.0.3", d) for d in "aab"]
    assert [a is None for a in db] == [True, True, True]
    assert limits.at_head(BY_DB, False, "POST", "/web/login", "10.0.0.3", "a") is not None


def test_routes_with_the_same_limit_share_a_budget() -> None:
    limits = RateLimits(64)
    assert limits.at_head(LIMIT, False, "POST", "/web/login", "10.0.0.9", "a") is None
    assert limits.after_inspection(LIMIT, "xmlrpc", "10.0.0.9", "b", None) is None
    assert limits.after_inspection(LIMIT, "jsonrpc", "10.0.0.9", "c", 7) is not None


def test_client_keys() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert bucket_key(LIMIT, "1.2.3.4", "a") == bucket_key(LIMIT, "1.2.3.4", "b")
    assert bucket_key(BY_DB, "1.2.3.4", "a") != bucket_key(BY_DB, "1.2.3.4", "b")
    assert bucket_key(LIMIT, "1.2.3.4", None) != bucket_key(BY_DB, "1.2.3.4", None)


def _header(answer: LocalAnswer, name: str) -> str:
    return dict(answer.headers)[name]


def test_429_as_html() -> None:
    answer = too_many("html", 12.2)
    assert answer.status == 429
    assert _header(answer, "Retry-After") == "13"
    assert b"429 Too Many Requests" in answer.body


def test_429_as_a_json_rpc_error() -> None:
    answer = too_many("jsonrpc", 0.2, "req-7")
    assert _header(answer, "Retry-After") == "1"
    body = json.loads(answer.body)
    assert body["id"] == "req-7"
    assert body["error"]["code"] == 429
    assert body["error"]["data"]["name"] == "odoo_router.security.rate_limit"
    assert "too many login attempts" in body["error"]["data"]["message"]


def test_429_as_an_xml_rpc_fault() -> None:
    answer = too_many("xmlrpc", 30.0)
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(answer.body)
    assert info.value.faultCode == 429


def _inspect(path: str, content_type: str, body: bytes) -> RpcInspector:
    inspector = RpcInspector(path, content_type, None, "ten_a", 1 << 20)
    inspector.feed(body)
    while inspector.work():
        pass
    assert isinstance(inspector.verdict(), Allow)
    return inspector


def _json(service: str, method: str) -> bytes:
    params = {"service": service, "method": method, "args": ["ten_a", "u", "p", {}]}
    return json.dumps({"jsonrpc": "2.0", "id": 1, "params": params}).encode()


def _xml(method: str, *args: object) -> bytes:
    return xmlrpc.client.dumps(args, method).encode()


AUTHENTICATE = json.dumps({"params": {"db": "ten_a", "login": "u", "password": "p"}}).encode()
JSON, XML = "application/json", "text/xml"
SEARCH = ("ten_a", 2, "p", "res.partner", "search", [])


@pytest.mark.parametrize(
    ("path", "content_type", "body", "login"),
    [
        ("/jsonrpc", JSON, _json("common", "login"), True),
        ("/jsonrpc", JSON, _json("common", "authenticate"), True),
        ("/jsonrpc", JSON, _json("common", "version"), False),
        ("/jsonrpc", JSON, _json("object", "execute_kw"), False),
        ("/xmlrpc/2/common", XML, _xml("login", "ten_a", "u", "p"), True),
        ("/xmlrpc/common", XML, _xml("authenticate", "ten_a", "u", "p", {}), True),
        ("/xmlrpc/2/common", XML, _xml("version"), False),
        ("/xmlrpc/2/object", XML, _xml("execute_kw", *SEARCH), False),
        ("/web/session/authenticate", JSON, AUTHENTICATE, True),
    ],
)
def test_login_calls(path: str, content_type: str, body: bytes, login: bool) -> None:
    assert _inspect(path, content_type, body).login_call() is login
