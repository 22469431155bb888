"""Which paths the RPC firewall treats as which Odoo endpoint, and what it does with the rest."""

from __future__ import annotations

import json

import pytest

from odoo_router.security.rpc_firewall import Endpoint, Refuse, rpc_endpoint
from odoo_router.security.rpc_inspect import inspect_rpc

ENDPOINTS = [
    ("/jsonrpc", Endpoint("jsonrpc")),
    ("/web/session/authenticate", Endpoint("authenticate")),
    ("/xmlrpc/object", Endpoint("xmlrpc", "object")),
    ("/xmlrpc/common", Endpoint("xmlrpc", "common")),
    ("/xmlrpc/db", Endpoint("xmlrpc", "db")),
    ("/xmlrpc/2/object", Endpoint("xmlrpc", "object")),
    ("/xmlrpc/2/common", Endpoint("xmlrpc", "common")),
    ("/xmlrpc/2/db", Endpoint("xmlrpc", "db")),
    ("/xmlrpc/2", Endpoint("xmlrpc", "2")),  # Odoo matches /xmlrpc/<service> with service "2"
    ("/xmlrpc/report", Endpoint("xmlrpc", "report")),
    # werkzeug's strict_slashes=False in Odoo's maps: one trailing slash matches too
    ("/jsonrpc/", Endpoint("jsonrpc")),
    ("/web/session/authenticate/", Endpoint("authenticate")),
    ("/xmlrpc/2/object/", Endpoint("xmlrpc", "object")),
    ("/xmlrpc/common/", Endpoint("xmlrpc", "common")),
    ("/xmlrpc/2/", Endpoint("xmlrpc", "2")),
    # http_routing reroutes /<lang>/<path> to /<path>, RPC routes included
    ("/en/jsonrpc", Endpoint("jsonrpc")),
    ("/fr_BE/jsonrpc/", Endpoint("jsonrpc")),
    ("/sr@latin/xmlrpc/2/object", Endpoint("xmlrpc", "object")),
    ("/zh_CN/xmlrpc/db", Endpoint("xmlrpc", "db")),
    ("/english/web/session/authenticate", Endpoint("authenticate")),
    ("/es_419/web/session/authenticate/", Endpoint("authenticate")),
    ("/jsonrpc/jsonrpc", Endpoint("jsonrpc")),  # Odoo: 404; inspecting more is harmless
]


@pytest.mark.parametrize(("path", "expected"), ENDPOINTS)
def test_rpc_endpoints(path: str, expected: Endpoint) -> None:
    assert rpc_endpoint(path) == expected


# Paths the production route '^/(jsonrpc|xmlrpc)' catches that reach no Odoo RPC controller.
NOT_RPC = [
    "/jsonrpcx",
    "/jsonrpc/object",
    "/JSONRPC",
    "/xmlrpc",
    "/xmlrpc/",
    "/xmlrpc//object",
    "/xmlrpc/2/object//",
    "/xmlrpc/2/object/extra",
    "/xmlrpc/3/object",
    "/xmlrpcfoo",
    "/XMLRPC/2/object",
    "/web/session/authenticatex",
    "/web/session/authenticate/x",
    "/en/jsonrpcx",
    "/en/fr/jsonrpc",  # Odoo strips one segment
    "/en/xmlrpc",
]


@pytest.mark.parametrize("path", NOT_RPC)
def test_other_paths_are_no_endpoint(path: str) -> None:
    assert rpc_endpoint(path) is None


@pytest.mark.parametrize("path", NOT_RPC)
def test_other_paths_are_refused_404_plain_text(path: str) -> None:
    body = json.dumps({"params": {"service": "db", "method": "drop", "args": ["a", "ten_b"]}})
    verdict = inspect_rpc(path, "application/json", None, body.encode(), "ten_a")
    assert isinstance(verdict, Refuse)
    assert verdict.status == 404
    assert verdict.content_type.startswith("text/plain")


def test_host_without_a_tenant_database_refuses_everything() -> None:
    body = json.dumps({"params": {"service": "common", "method": "version", "args": []}})
    verdict = inspect_rpc("/jsonrpc", "application/json", None, body.encode(), "")
    assert isinstance(verdict, Refuse) and verdict.status == 403


def test_reason_is_log_safe() -> None:
    verdict = inspect_rpc("/jsonrpc\r\nX: y", "application/json", None, b"{}", "ten_a")
    assert isinstance(verdict, Refuse)
    assert "\n" not in verdict.reason and "\r" not in verdict.reason


@pytest.mark.parametrize(
    ("path", "db", "expected"),
    [
        ("/en/jsonrpc", "ten_b", 403),
        ("/en/jsonrpc", "ten_a", 200),
        ("/jsonrpc/", "ten_b", 403),
        ("/fr/jsonrpc/", "ten_b", 403),
    ],
)
def test_prefixed_and_slashed_jsonrpc_is_inspected(path: str, db: str, expected: int) -> None:
    args = [db, 2, "pw", "res.partner", "read", [[1]]]
    body = json.dumps({"params": {"service": "object", "method": "execute_kw", "args": args}})
    verdict = inspect_rpc(path, "application/json", None, body.encode(), "ten_a")
    assert (200 if not isinstance(verdict, Refuse) else verdict.status) == expected


def test_prefixed_xmlrpc_and_authenticate_are_inspected() -> None:
    xml = b"<methodCall><methodName>drop</methodName><params></params></methodCall>"
    assert isinstance(inspect_rpc("/en/xmlrpc/2/db", "text/xml", None, xml, "ten_a"), Refuse)
    auth = json.dumps({"params": {"db": "ten_b", "login": "a", "password": "p"}}).encode()
    verdict = inspect_rpc("/en/web/session/authenticate/", "application/json", None, auth, "ten_a")
    assert isinstance(verdict, Refuse) and verdict.status == 403


def test_reasons_from_parser_errors_are_one_line() -> None:
    verdict = inspect_rpc("/xmlrpc/2/object", "text/xml", None, b"<a>\n\n<b>", "ten_a")
    assert isinstance(verdict, Refuse) and verdict.status == 400
    assert "\n" not in verdict.reason
