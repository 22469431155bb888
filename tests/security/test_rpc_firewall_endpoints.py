"""Which paths the RPC firewall treats as which Odoo endpoint, and what it does with the rest."""

from __future__ import annotations

import json

import pytest

from odoo_router.rpc_firewall import Endpoint, Refuse, inspect_rpc, rpc_endpoint

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
]


@pytest.mark.parametrize(("path", "expected"), ENDPOINTS)
def test_rpc_endpoints(path: str, expected: Endpoint) -> None:
    assert rpc_endpoint(path) == expected


# Paths the production route '^/(jsonrpc|xmlrpc)' catches that reach no Odoo RPC controller.
NOT_RPC = [
    "/jsonrpcx",
    "/jsonrpc/",
    "/jsonrpc/object",
    "/JSONRPC",
    "/xmlrpc",
    "/xmlrpc/",
    "/xmlrpc//object",
    "/xmlrpc/2/",
    "/xmlrpc/2/object/",
    "/xmlrpc/2/object/extra",
    "/xmlrpc/3/object",
    "/xmlrpcfoo",
    "/XMLRPC/2/object",
    "/web/session/authenticate/",
    "/web/session/authenticatex",
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
