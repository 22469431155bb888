"""traefik-dynamic.yml is what odoo-router-migrate renders for the production shape, and the
topology's edits of both configurations apply (pure: no Traefik needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.configuration.validate import build_config
from odoo_router.migrate.inputs import Inputs
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.merge import Overrides
from odoo_router.migrate.render import Settings, render_all
from odoo_router.migrate.survey import survey

from . import topology
from .topology import DYNAMIC, router_config, traefik_dynamic

FIXTURE = Path(__file__).resolve().parents[1] / "migrate" / "fixture"
ROUTER_SERVICE = "odoo-router-service"


def _rendered() -> dict[str, Any]:
    """The Odoo part of the migration's v3 rendering of tests/migrate/fixture's edge files."""
    over = Overrides(admin_allow=tuple(topology.SHIPPED_ALLOW), traefik_version="3.1")
    r = render_all(survey(Layout.make(FIXTURE), Inputs(), over), Settings(), "$pbkdf2-sha512$1$x$y")
    assert r.problems == [] and r.router_service == f"{ROUTER_SERVICE}@file"
    svc = yaml.safe_load(r.files["dynamic:services.yml"].data)["http"]
    mw = yaml.safe_load(r.files["dynamic:middlewares.yml"].data)["http"]["middlewares"]
    return {
        "http": {
            "middlewares": {"admin-ip-allowlist": mw["admin-ip-allowlist"]},
            "routers": {n: r for n, r in svc["routers"].items() if r["service"] == ROUTER_SERVICE},
            "services": {ROUTER_SERVICE: svc["services"][ROUTER_SERVICE]},
        }
    }


def test_fixture_is_the_migrations_rendering() -> None:
    assert yaml.safe_load(DYNAMIC.read_text(encoding="utf-8")) == _rendered()


def test_router_config_is_production_but_loopback() -> None:
    ports = {"tenant": 1001, "tenant_lp": 1002, "admin": 1003, "admin_lp": 1004}
    data = router_config(2000, 2001, ports)
    cfg = build_config(yaml.safe_dump(data), "router.yaml")
    assert cfg.server.forwarded.mode == "trusted"
    assert [str(n) for n in cfg.server.forwarded.trusted_proxies] == ["127.0.0.1/32"]
    shipped = yaml.safe_load(topology.PRODUCTION.read_text(encoding="utf-8"))
    # Routing is untouched: same hosts and routes, only the admin allowlist differs.
    for mine, theirs in zip(data["hosts"], shipped["hosts"], strict=True):
        if mine["name"] == "admin":
            assert mine.pop("allow") == topology.ROUTER_ALLOW
            theirs.pop("allow")
        assert mine == theirs
    assert data["route_sets"] == shipped["route_sets"]


def test_traefik_config_points_at_loopback() -> None:
    http = traefik_dynamic(2000)["http"]
    lb = http["services"][ROUTER_SERVICE]["loadBalancer"]
    assert lb == {"servers": [{"url": "http://127.0.0.1:2000"}]}
    assert http["middlewares"]["admin-ip-allowlist"]["ipAllowList"]["sourceRange"] == (
        topology.TRAEFIK_ALLOW
    )


def test_a_changed_shipped_value_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topology, "POOL_SERVERS", {**topology.POOL_SERVERS, "admin": ["x:1"]})
    with pytest.raises(topology.ShapeError, match=r"pools\.admin\.servers"):
        router_config(2000, 2001, {"tenant": 1, "tenant_lp": 2, "admin": 3, "admin_lp": 4})
