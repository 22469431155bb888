"""The harness, checked against what we know of the reference (tests/reference/README.md).

These run nginx alone: if one fails, either the harness no longer sees what happens or the
reference changed, and the comparison with odoo-router would prove nothing until it is
understood. They are not conformance cases and do not count in `agree N/N`.
"""

from __future__ import annotations

import pytest

from .cases import Case, generate
from .client import exchange
from .observe import observe
from .targets import Target
from .upstreams import Upstreams

BY_ID = {c.id: c for c in generate()}
SUB = "acme.erp.seisei.tokyo"
ADMIN = "admin.erp.seisei.tokyo"
DENIED: dict[str, object] = {
    "status": 403,
    "upstream": None,
    "body": b"Database management disabled",
}

# case id -> the fields nginx must show (a subset of observe()'s fields).
FACTS: dict[str, dict[str, object]] = {
    # Locations match the normalised path (tests/reference/README.md, fact 2); the raw target
    # goes upstream.
    "path-sub-GET-/web/%64atabase/manager": DENIED,
    "path-sub-GET-/web//database/manager": DENIED,
    "path-sub-GET-/x/../web/database/manager": DENIED,
    "path-sub-GET-/web/database%2Fmanager": DENIED,
    "path-unknown-GET-/web/database/manager": DENIED,
    "path-testodoo-GET-/x/../xmlrpc/2/db": {"upstream": "tenant", "target": "/x/../xmlrpc/2/db"},
    "path-testodoo-GET-/../web/login": {"status": 400, "upstream": None},
    "path-sub-GET-/%77ebsocket": {"upstream": "tenant_lp", "target": "/%77ebsocket"},
    # $host: lower-cased, port and trailing dot stripped; absolute-form wins (router 3).
    "hostform-admin-port-GET-/jsonrpc": {"upstream": "admin", "host": (ADMIN,)},
    "hostform-admin-dot-GET-/jsonrpc": {"upstream": "admin", "host": (ADMIN,)},
    "path-admin-upper-GET-/jsonrpc": {"upstream": "admin", "host": (ADMIN,)},
    "hostform-absolute-admin-over-sub-GET-/jsonrpc": {"upstream": "admin", "host": (ADMIN,)},
    "hostform-no-host-http10-GET-/jsonrpc": {"upstream": "tenant", "host": ("_",)},
    "hostform-dup-host-differ-GET-/jsonrpc": {"status": 400, "upstream": None},
    # The dbfilter: the host's value or nothing at all, whatever the client sent (router 4).
    "header-sub-GET-/jsonrpc-dbf-dup": {"x_odoo_dbfilter": ("ten_acme",)},
    "header-admin-GET-/jsonrpc-dbf": {"upstream": "admin", "x_odoo_dbfilter": ()},
    "header-unknown-GET-/jsonrpc-dbf-regex": {"upstream": "tenant", "x_odoo_dbfilter": ()},
    "header-testodoo-GET-/jsonrpc-dbf-connection": {"x_odoo_dbfilter": ("ten_testodoo",)},
    # Underscored names are dropped (router 5).
    "header-sub-GET-/jsonrpc-dbf-underscores": {"underscore_headers": ()},
    "header-sub-GET-/jsonrpc-dbf-one-underscore": {"underscore_headers": ()},
    # Admin /qr/ goes to the tenant pool (router 6).
    "path-admin-GET-/qr/table/5": {"upstream": "tenant", "x_odoo_dbfilter": ()},
    # Upstream protocol per location (router 7).
    "path-admin-GET-/jsonrpc": {"upstream_version": "1.0", "upstream_connection": ("close",)},
    "path-unknown-GET-/odoo": {"upstream_version": "1.1", "upstream_connection": ("upgrade",)},
    # Forwarding headers and cookies (router 8).
    "header-sub-GET-/jsonrpc-xff-dup": {
        "x_forwarded_for": ("203.0.113.7, 198.51.100.2, 127.0.0.1",),
        "x_real_ip": ("127.0.0.1",),
        "x_forwarded_host": (SUB,),
    },
    "header-sub-GET-/jsonrpc-xfp-HTTPS": {"x_forwarded_proto": ("https",)},
    "header-sub-GET-/jsonrpc-xfp-wss": {"x_forwarded_proto": ("http",)},
    "header-sub-GET-/jsonrpc-xfh": {"x_forwarded_host": (SUB,)},
    "path-sub-GET-/jsonrpc": {
        "set_cookie": (
            "session_id=s3cr3t; Path=/; HttpOnly; Secure",
            "tz=Asia/Tokyo; Path=/; Secure",
            "frontend_lang=en_US; path=/; secure; SameSite=Lax",
        )
    },
    # Connection-named headers and Proxy-Connection pass (the documented deviation's base).
    "header-sub-GET-/jsonrpc-conn-custom": {"connection_named": (("X-Custom", "1"),)},
    "header-sub-GET-/jsonrpc-proxy-connection": {
        "hop_by_hop": (("Proxy-Connection", "keep-alive"),)
    },
    # The health answer carries two Content-Type lines.
    "path-sub-GET-/nginx-health": {
        "status": 200,
        "content_type": ("application/octet-stream", "text/plain"),
        "body": b"OK",
    },
    "path-sub-GET-/": {"status": 302, "location": ("https://biznexus.seisei.tokyo",)},
    # Websockets: the lp pools echo; the admin catch-all (HTTP/1.0) cannot upgrade.
    "websocket-admin-GET-/websocket": {
        "status": 101,
        "ws_echo": "admin_lp:ping from the conformance suite",
    },
    "websocket-unknown-GET-/odoo": {"status": 101, "upstream": "tenant"},
    "websocket-admin-GET-/odoo": {"status": 200, "upstream": "admin", "upgrade": ()},
    # Declared bodies over 50 MiB: 413 before anything else, even on the health location.
    "oversize-admin-POST-/nginx-health-52428801": {"status": 413, "upstream": None},
    "method-testodoo-POST-/jsonrpc-at-limit": {"status": 200, "body_received": (52428800, "")},
}


def _check(case: Case, reference: Target, upstreams: Upstreams) -> dict[str, object]:
    upstreams.recorder.take()
    answer = exchange(reference.port, case.raw, head=case.head)
    return observe(case, answer, upstreams.recorder.take())


@pytest.mark.nginx
@pytest.mark.parametrize("case_id", list(FACTS))
def test_reference_fact(case_id: str, reference: Target, upstreams: Upstreams) -> None:
    seen = _check(BY_ID[case_id], reference, upstreams)
    for field, want in FACTS[case_id].items():
        got = seen.get(field)
        if field == "body_received" and isinstance(want, tuple) and isinstance(got, tuple):
            got = (got[0], "")  # the length is the fact; the hash is checked by comparison
        assert got == want, f"{field}: {got!r}"
