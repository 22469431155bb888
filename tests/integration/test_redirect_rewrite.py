"""A Location or Refresh naming the upstream, through both shipped profiles: nginx's
``proxy_redirect default`` in the compat profile, the bare path in production
(docs/deviations.md#redirect-rewrite-relative)."""

from __future__ import annotations

import pytest

from .client import Response, get
from .router import RouterProcess

NAMED = "testodoo.seisei.tokyo"
ADMIN = "admin.erp.seisei.tokyo"


async def _answer(router: RouterProcess, host: str, path: str, header: str) -> Response:
    return await get(router.port, host, path, [("X-Test-Header", header)])


@pytest.mark.parametrize(
    ("host", "path", "sent", "want"),
    [
        (NAMED, "/web/x", "Location: http://odoo-tenant:8069/web/login?x=1", "/web/login?x=1"),
        (NAMED, "/web/x", "Location: HTTP://Odoo-Tenant:8069/web", "/web"),
        (NAMED, "/web/x", "Location: http://odoo-tenant:8069", "http://odoo-tenant:8069"),
        (NAMED, "/web/x", "Location: https://other.example/web", "https://other.example/web"),
        (NAMED, "/longpolling/x", "Location: http://odoo-tenant:8072/x", "/x"),
        (NAMED, "/web/x", "Refresh: 0; url=http://odoo-tenant:8069/web", "0; url=/web"),
        (ADMIN, "/web/x", "Location: http://odoo-admin:8069/odoo", "/odoo"),
        (ADMIN, "/web/x", "Location: http://odoo-tenant:8069/odoo", "http://odoo-tenant:8069/odoo"),
        (ADMIN, "/longpolling/x", "Location: http://odoo-admin:8072/y", "/y"),
    ],
)
async def test_production_leaves_the_path(
    prod: RouterProcess, host: str, path: str, sent: str, want: str
) -> None:
    name = sent.split(":", 1)[0]
    resp = await _answer(prod, host, path, sent)
    assert resp.values(name) == [want]


@pytest.mark.parametrize(
    ("host", "sent", "want"),
    [
        (
            NAMED,
            "Location: http://odoo_tenant/web?x=1",
            "http://testodoo.seisei.tokyo:{port}/web?x=1",
        ),
        (NAMED, "Location: HTTP://odoo_tenant/web", "HTTP://odoo_tenant/web"),
        (NAMED, "Location: /web", "/web"),
        (NAMED, "Refresh: 3; url=http://odoo_tenant/web", "3; url=/web"),
        (ADMIN, "Location: http://odoo_admin/", "http://admin.erp.seisei.tokyo:{port}/"),
        (ADMIN, "Location: http://odoo_tenant/", "http://odoo_tenant/"),
    ],
)
async def test_compat_rewrites_as_nginx(
    compat: RouterProcess, host: str, sent: str, want: str
) -> None:
    name = sent.split(":", 1)[0]
    resp = await _answer(compat, host, "/web/x", sent)
    assert resp.values(name) == [want.format(port=compat.port)]
