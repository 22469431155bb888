"""The pure half: parsing, rendering, round-trip edits, lint, pre-flight and plan identity."""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path

import pytest
import yaml

from odoo_router.config import build_config
from odoo_router.migrate.inventory import Inventory, compose_facts, read_files, read_traefik_files
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.nginxconf import NginxParseError, parse_router_conf
from odoo_router.migrate.plan import Facts, Settings, build_plan, format_plan
from odoo_router.migrate.render_compose import labels_dict, split_odoo_compose
from odoo_router.migrate.render_odoo import (
    hash_admin_password,
    render_admin_conf,
    render_tenant_conf,
)
from odoo_router.migrate.render_router import edit_router_compose, render_router_yaml
from odoo_router.migrate.render_traefik import (
    OdooHosts,
    edit_middlewares,
    edit_services,
    lint,
    tenant_rule,
)
from odoo_router.migrate.yamledit import RoundTripError, load_roundtrip

STACKS = Path(__file__).parent / "fixture" / "srv" / "stacks"
NGINX = (STACKS / "seisei-odoo" / "nginx" / "default.conf").read_text()
FACTS = parse_router_conf(NGINX)
HOSTS = OdooHosts.from_facts(FACTS)


def _doc(rel: str) -> object:
    return load_roundtrip((STACKS / rel).read_text(), rel)


def test_nginx_facts_are_read_from_the_reference() -> None:
    assert FACTS.admin_hosts == ("admin.erp.seisei.tokyo",)
    assert dict(FACTS.named) == {
        "testodoo.seisei.tokyo": "ten_testodoo",
        "demo.nagashiro.top": "ten_testodoo",
    }
    assert FACTS.subdomain_regex == r"^(?P<subdomain>[a-z0-9]+)\.erp\.seisei\.tokyo$"
    assert FACTS.subdomain_dbfilter == "ten_{subdomain}"
    assert FACTS.login_redirect == "https://biznexus.seisei.tokyo/login"
    assert FACTS.upstreams["odoo_admin_lp"] == ("odoo-admin:8072",)
    with pytest.raises(NginxParseError):
        parse_router_conf("server { listen 80; }")


def test_router_yaml_validates_and_keeps_the_routing() -> None:
    text = render_router_yaml(FACTS, ["10.0.0.0/8"], ["172.16.0.0/12"])
    cfg = build_config(text, "router.yaml")
    by_name = {h.name: h for h in cfg.hosts}
    assert by_name["admin"].exact == ("admin.erp.seisei.tokyo",)
    assert by_name["admin"].allow is not None
    assert by_name["tenant_subdomain"].dbfilter == "ten_{subdomain}"
    assert by_name["named_tenant_1"].exact == ("testodoo.seisei.tokyo", "demo.nagashiro.top")
    assert by_name["named_tenant_1"].dbfilter == "ten_testodoo"
    assert cfg.server.dbfilter_anchor is True
    assert set(cfg.pools) == {"tenant", "tenant_lp", "admin", "admin_lp"}


def test_odoo_confs_load_the_header_module_and_share_the_data_dir() -> None:
    conf = (STACKS / "odoo18-prod" / "config" / "odoo.conf").read_text()
    h = hash_admin_password("s3cret", salt=b"0" * 16, rounds=1000)
    assert h.startswith("$pbkdf2-sha512$1000$")
    for text, list_db in (
        (render_tenant_conf(conf, h), "False"),
        (render_admin_conf(conf, h), "True"),
    ):
        cp = configparser.ConfigParser(interpolation=None)
        cp.read_string(text)
        o = cp["options"]
        assert "dbfilter_from_header" in o["server_wide_modules"].split(",")
        assert o["admin_passwd"] == h and "changeme" not in text
        assert o["data_dir"] == "/var/lib/odoo"
        assert o["list_db"] == list_db and o["proxy_mode"] == "True"
        assert "db_name" not in o


def test_compose_split_keeps_comments_volume_and_other_services() -> None:
    text = split_odoo_compose(_doc("odoo18-prod/docker-compose.yml"))
    data = yaml.safe_load(text)
    assert "web" not in data["services"]
    t, a = data["services"]["odoo-tenant"], data["services"]["odoo-admin"]
    for svc, conf in ((t, "odoo-tenant.conf"), (a, "odoo-admin.conf")):
        assert "odoo18-prod-data:/var/lib/odoo" in svc["volumes"]  # shared filestore + sessions
        assert f"./config/{conf}:/etc/odoo/odoo.conf:ro" in svc["volumes"]
        assert labels_dict(svc["labels"]) == {"traefik.enable": "false"}
    assert data["services"]["redis"]["labels"] == {
        "traefik.enable": "false",
        "com.seisei.backup": "none",
    }
    assert "# Seisei Odoo 18 Production Stack" in text and "# filestore + sessions" in text
    assert "traefik.http.routers" not in text


def test_compose_split_mapping_form_labels() -> None:
    src = (STACKS / "odoo18-prod" / "docker-compose.yml").read_text()
    head, _, _ = src.partition("    labels:\n      # --- direct")
    rest = src[src.index("  redis:") :]
    mapped = (
        head
        + (
            "    labels:\n"
            '      traefik.enable: "true"  # mapping form\n'
            '      traefik.http.routers.odoo18-prod.rule: "Host(`testodoo.seisei.tokyo`)"\n'
            '      com.seisei.team: "erp"\n\n'
        )
        + rest
    )
    text = split_odoo_compose(load_roundtrip(mapped, "mapped.yml"))
    svc = yaml.safe_load(text)["services"]["odoo-tenant"]
    assert svc["labels"] == {"traefik.enable": "false", "com.seisei.team": "erp"}
    services, _, _ = compose_facts(mapped, STACKS / "odoo18-prod")
    assert [s.traefik_routers for s in services if s.name == "web"] == [["odoo18-prod"]]


def test_round_trip_refusal_is_explained() -> None:
    odd = "services:\n  web:\n     image: x\n     ports: [ '80:80' ]\n"
    with pytest.raises(RoundTripError, match="would not reproduce"):
        load_roundtrip(odd, "odd.yml")


def test_router_compose_replaces_nginx_without_curl() -> None:
    text = edit_router_compose(_doc("seisei-odoo/docker-compose.yml"), "odoo-router:latest")
    svc = yaml.safe_load(text)["services"]
    assert list(svc) == ["odoo-router"]
    r = svc["odoo-router"]
    assert r["container_name"] == "seisei-odoo-router"
    assert r["networks"] == ["seisei-odoo-network", "edge"]
    assert "curl" not in r["healthcheck"]["test"]
    assert r["volumes"] == ["./odoo-router:/etc/odoo-router:ro"]
    assert text.startswith("# Database router in front of the Odoo containers.")


@pytest.mark.parametrize(
    ("major", "key", "other"),
    [(3, "ipAllowList", "ipWhiteList"), (2, "ipWhiteList", "ipAllowList")],
)
def test_traefik_edits_in_the_version_syntax(major: int, key: str, other: str) -> None:
    mw_text, removed = edit_middlewares(
        _doc("edge-traefik/dynamic/middlewares.yml"), major, ["10.0.0.0/8"]
    )
    assert sorted(removed) == ["nagashiro-dbfilter", "odoo-db-header"]
    mw = yaml.safe_load(mw_text)["http"]["middlewares"]
    assert mw["admin-ip-allowlist"] == {key: {"sourceRange": ["10.0.0.0/8"]}}
    assert other not in mw_text and "X-Odoo-dbfilter" not in mw_text
    assert "# Odoo: pick the database" not in mw_text  # its comment went with it
    assert "# Shared middlewares" in mw_text
    svc_text = edit_services(_doc("edge-traefik/dynamic/services.yml"), HOSTS, major, removed)
    routers = yaml.safe_load(svc_text)["http"]["routers"]
    for name in ("erp", "www", "dify", "langbot"):  # untouched
        assert (
            routers[name]
            == yaml.safe_load((STACKS / "edge-traefik/dynamic/services.yml").read_text())["http"][
                "routers"
            ][name]
        )
    for name in ("odoo-tenant", "odoo", "nagashiro", "odoo-admin"):
        assert routers[name]["service"] == "odoo-router-service"
        assert "middlewares" not in routers[name] or routers[name]["middlewares"] == [
            "admin-ip-allowlist@file"
        ]
    assert "odoo-qr" not in routers  # one route per host: the router does /qr/
    assert routers["odoo-admin"]["middlewares"] == ["admin-ip-allowlist@file"]
    assert routers["odoo-tenant"]["rule"] == tenant_rule(HOSTS, major)
    assert "!Host(`admin.erp.seisei.tokyo`)" in routers["odoo-tenant"]["rule"]
    assert "odoo18-qr" not in yaml.safe_load(svc_text)["http"]["services"]
    assert lint(mw_text, major, "mw") == [] and lint(svc_text, major, "svc") == []


def test_lint_finds_mixed_versions() -> None:
    assert lint("a:\n  ipWhiteList:\n", 3, "m.yml") == [
        "m.yml:2: ipWhiteList (v3 calls it ipAllowList) cannot be loaded by Traefik v3"
    ]
    assert lint('rule: "HostRegexp(`{s:[a-z]+}.x`)"', 3, "s.yml")
    assert lint('rule: "HostRegexp(`^[a-z]+\\\\.x$`)"', 2, "s.yml")


def _inventory(tmp: Path | None = None, **over: object) -> tuple[Layout, Inventory]:
    layout = Layout.make(tmp or STACKS.parent.parent)
    inv = Inventory(
        files=read_files(layout), traefik_version="3.1.2", databases=["ten_acme", "ten_testodoo"]
    )
    inv.odoo_container = "odoo18-prod-web"
    read_traefik_files(layout, inv)
    for k, v in over.items():
        setattr(inv, k, v)
    return layout, inv


FACTS_OK = Facts(
    "a-long-generated-password", "$pbkdf2-sha512$1000$x$y", "/srv/x/dbfilter_from_header"
)


def test_plan_is_identical_twice_and_lists_steps() -> None:
    layout, inv = _inventory()
    a = build_plan(layout, inv, FACTS_OK, Settings())
    b = build_plan(layout, inv, FACTS_OK, Settings())
    assert a.problems == []
    assert a.to_json() == b.to_json() and format_plan(a) == format_plan(b)
    ids = [s.id for s in a.steps]
    assert ids[0] == "backup" and ids[-1] == "verify"
    assert ids.index("stop-odoo") < ids.index("write-odoo-compose") < ids.index("start-odoo")
    out = format_plan(a)
    assert "expected downtime" in out and "+++ /srv/stacks/edge-traefik/dynamic/services.yml" in out
    assert "$pbkdf2" not in out and "fixture-db-password" not in out  # no secret printed
    assert "+admin_passwd = <redacted>" in out
    watched = {f.role: f.watched for f in a.files}
    assert watched["services"] and watched["middlewares"] and not watched["odoo_compose"]
    assert a.verify["tenant_sample"] == "acme.erp.seisei.tokyo"


@pytest.mark.parametrize(
    ("facts", "over", "message"),
    [
        (dataclasses.replace(FACTS_OK, admin_password="changeme"), {}, "changeme"),
        (dataclasses.replace(FACTS_OK, admin_password=""), {}, "changeme"),
        (
            dataclasses.replace(FACTS_OK, dbfilter_module=None),
            {},
            "dbfilter_from_header is not available",
        ),
        (FACTS_OK, {"traefik_version": "1.7.34"}, "only v2 and v3"),
        (FACTS_OK, {"traefik_version": None}, "Traefik version unknown"),
        (
            dataclasses.replace(FACTS_OK, backup_bytes=10 << 30, free_bytes=1 << 30),
            {},
            "too little disk",
        ),
        (FACTS_OK, {"images": {"odoo-router:latest": False}}, "build it before the downtime"),
    ],
)
def test_preflight_refusals(facts: Facts, over: dict[str, object], message: str) -> None:
    layout, inv = _inventory(**over)
    plan = build_plan(layout, inv, facts, Settings())
    assert any(message in p for p in plan.problems), plan.problems


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ({"edge": ["192.168.16.0/20"]}, "edge (192.168.16.0/20) is not within the trusted proxies"),
        ({"seisei-odoo-network": None}, "seisei-odoo-network does not exist"),
    ],
)
def test_preflight_refuses_untrusted_or_missing_networks(
    networks: dict[str, list[str] | None], message: str
) -> None:
    layout, inv = _inventory(networks={"edge": ["172.18.0.0/16"], **networks})
    plan = build_plan(layout, inv, FACTS_OK, Settings())
    assert [p for p in plan.problems if "docker network" in p] == [
        next(p for p in plan.problems if message in p)
    ]


def test_preflight_refuses_mixed_traefik_files(tree: Path) -> None:
    extra = tree / "srv/stacks/edge-traefik/dynamic/legacy.yml"
    extra.write_text(
        'http:\n  middlewares:\n    old:\n      ipWhiteList:\n        sourceRange: ["1.2.3.4/32"]\n'
    )
    layout, inv = _inventory(tree)
    plan = build_plan(layout, inv, FACTS_OK, Settings())
    assert any("legacy.yml:4: ipWhiteList" in p for p in plan.problems)


def test_hosts_only_the_labels_served_get_file_routers() -> None:
    text = (STACKS / "edge-traefik/dynamic/services.yml").read_text()
    start, end = text.index("    odoo:\n"), text.index("    # QR ordering")
    doc = load_roundtrip(text[:start] + text[end:], "services.yml")
    routers = yaml.safe_load(edit_services(doc, HOSTS, 3, []))["http"]["routers"]
    assert routers["odoo-testodoo-seisei-tokyo"]["rule"] == "Host(`testodoo.seisei.tokyo`)"
    assert routers["odoo-demo-nagashiro-top"]["service"] == "odoo-router-service"
    assert routers["odoo-admin"]["tls"] == {"certResolver": "cloudflare"}
    assert "odoo-qr" not in routers
