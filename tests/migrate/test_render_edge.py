"""What the Traefik edits leave alone and what they replace, on the fixture tree with
routers an operator adds around Odoo's: an HTTP-to-HTTPS catch-all, another application
on an Odoo host, an admin router with its own allowlist, Traefik's dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from odoo_router.migrate.render import Settings, render_all
from odoo_router.migrate.simulate import build_table, static_settings, traefik_version
from odoo_router.migrate.traefik_hosts import tls_for

from .test_render import SECRET, fixture_plan, fixture_survey

EXTRA_ROUTERS = """\
    # every host: HTTP to HTTPS
    to-https:
      rule: "HostRegexp(`.+`)"
      entryPoints: [web]
      middlewares: [https-only@file]
      service: noop@internal
      priority: 1

    # the shop's blog is WordPress, on the tenant's own host
    blog:
      rule: "Host(`demo.nagashiro.top`) && PathPrefix(`/blog`)"
      entryPoints: [websecure]
      service: www-svc
      tls:
        certResolver: letsencrypt

    dashboard:
      rule: "Host(`traefik.seisei.tokyo`)"
      entryPoints: [websecure]
      service: api@internal
      tls:
        certResolver: letsencrypt

    admin-old:
      rule: "Host(`admin.erp.seisei.tokyo`)"
      entryPoints: [websecure]
      service: odoo-router-service
      priority: 500
      middlewares: [secure-headers@file, office@file]
      tls:
        certResolver: cloudflare

"""

EXTRA_MIDDLEWARES = """\
    https-only:
      redirectScheme:
        scheme: https

    # behind the CDN: the client is the last X-Forwarded-For entry
    office:
      ipAllowList:
        sourceRange: ["192.0.2.0/24"]
        ipStrategy:
          depth: 1

"""


def _tree(tree: Path) -> Path:
    dyn = tree / "srv/stacks/edge-traefik/dynamic"
    services = dyn / "services.yml"
    text = services.read_text()
    services.write_text(
        text.replace("    # BizNexus front-end\n", EXTRA_ROUTERS + "    # BizNexus front-end\n")
    )
    mws = dyn / "middlewares.yml"
    text = mws.read_text()
    mws.write_text(text.replace("    rate-limit:\n", EXTRA_MIDDLEWARES + "    rate-limit:\n"))
    return tree


def _dynamic(tree: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    r = render_all(fixture_survey(tree), Settings(), SECRET.hash)
    assert r.problems == []
    routers = yaml.safe_load(r.files["dynamic:services.yml"].data)["http"]["routers"]
    middlewares = yaml.safe_load(r.files["dynamic:middlewares.yml"].data)["http"]["middlewares"]
    return routers, middlewares


def test_routers_that_do_not_reach_odoo_stay_as_written(tree: Path) -> None:
    """The catch-all matches every Odoo host (on another entry point), the blog a path of
    a tenant host: neither goes to Odoo or the router, so neither is repointed or removed."""
    _tree(tree)
    before = yaml.safe_load((tree / "srv/stacks/edge-traefik/dynamic/services.yml").read_text())
    routers, _ = _dynamic(tree)
    for name in ("to-https", "blog", "dashboard"):
        assert routers[name] == before["http"]["routers"][name], name
    assert "odoo-qr" not in routers  # a path route aimed at the old container still goes


def test_an_admin_routers_own_allowlist_is_replaced_and_its_ip_strategy_kept(tree: Path) -> None:
    """Two allowlists in one chain intersect: the inputs' ranges take the place of the one
    the admin router had, and its ipStrategy (which X-Forwarded-For entry is the client
    behind a CDN) carries over."""
    _tree(tree)
    routers, middlewares = _dynamic(tree)
    assert routers["admin-old"]["middlewares"] == [
        "secure-headers@file",
        "admin-ip-allowlist@file",
    ]
    assert middlewares["admin-ip-allowlist"] == {
        "ipAllowList": {"sourceRange": ["198.51.100.0/24"], "ipStrategy": {"depth": 1}}
    }
    assert "office" in middlewares  # not the tool's to delete


def test_traefiks_own_services_count_as_defined(tree: Path) -> None:
    _tree(tree)
    s = fixture_survey(tree)
    version = traefik_version(s)
    assert version is not None
    table, _ = build_table(s, version, static_settings(s), {})
    w = table.winner("traefik.seisei.tokyo", "/dashboard/", "websecure")
    assert w.router is not None and w.router.name == "dashboard@file"


def test_plan_passes_with_the_operators_routers(tree: Path) -> None:
    plan = fixture_plan(_tree(tree))
    assert plan.problems == []
    admin = [r for r in plan.routing if r.strip().startswith("admin.erp.seisei.tokyo")]
    assert admin and all("admin-old@file [allowlist]" in r for r in admin), plan.routing


def test_a_network_declaration_stays_when_odoo_leaves_it(tree: Path) -> None:
    """Compose ignores a declared network no service uses, and the Odoo project may own the
    network Traefik's stack joins: only the services' lists change."""
    r = render_all(fixture_survey(tree), Settings(), SECRET.hash)
    assert r.problems == []
    data = yaml.safe_load(r.files["odoo_compose"].data)
    assert data["networks"]["edge"] == {"external": True}  # Traefik's
    for name in ("odoo-tenant", "odoo-admin"):
        assert "edge" not in data["services"][name]["networks"]


def test_a_new_admin_router_keeps_the_chain_the_admin_host_had(tree: Path) -> None:
    """The admin host was served by the tenant wildcard with security headers, an
    allowlist and the dbfilter middleware: its own router keeps the headers, the inputs'
    ranges take the allowlist's place (its ipStrategy kept), the dbfilter goes."""
    dyn = tree / "srv/stacks/edge-traefik/dynamic"
    services = dyn / "services.yml"
    text = services.read_text()
    chain = "        - secure-headers@file\n        - office@file\n        - odoo-db-header@file\n"
    services.write_text(text.replace("        - odoo-db-header@file\n", chain))
    mws = dyn / "middlewares.yml"
    text = mws.read_text()
    mws.write_text(text.replace("    rate-limit:\n", EXTRA_MIDDLEWARES + "    rate-limit:\n"))
    routers, middlewares = _dynamic(tree)
    assert routers["odoo-admin"]["middlewares"] == [
        "secure-headers@file",
        "admin-ip-allowlist@file",
    ]
    assert routers["odoo-tenant"]["middlewares"] == ["secure-headers@file", "office@file"]
    assert middlewares["admin-ip-allowlist"] == {
        "ipAllowList": {"sourceRange": ["198.51.100.0/24"], "ipStrategy": {"depth": 1}}
    }


def test_a_new_router_takes_a_certificate_only_where_it_covers_its_hosts() -> None:
    wild = {
        "certResolver": "dns",
        "domains": [{"main": "erp.example.com", "sans": ["*.erp.example.com"]}],
    }
    assert tls_for(wild, ["admin.erp.example.com"]) == wild
    assert tls_for(wild, ["ERP.example.com"]) == wild
    assert tls_for(wild, ["a.b.erp.example.com"]) == {"certResolver": "dns"}  # one label only
    assert tls_for(wild, ["admin.erp.example.com", "shop.example.org"]) == {"certResolver": "dns"}
    sans = {"domains": [{"main": "x.example.org", "sans": "y.example.org, z.example.org"}]}
    assert tls_for(sans, ["z.example.org"]) == sans
    assert tls_for({"certResolver": "le"}, ["shop.example.org"]) == {"certResolver": "le"}
    assert tls_for({}, ["shop.example.org"]) == {}
