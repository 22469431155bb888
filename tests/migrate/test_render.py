"""The pure half on the fixture tree: survey, rendering, Traefik edits in both syntaxes,
lint, pre-flight and plan identity."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.configuration.validate import build_config
from odoo_router.migrate.inputs import Inputs
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.merge import Overrides
from odoo_router.migrate.plan import LiveFacts, Plan, Secret, build_plan
from odoo_router.migrate.render import Settings, render_all
from odoo_router.migrate.render_compose import SplitSpec, copy_service, labels_dict, split_edits
from odoo_router.migrate.render_odoo import (
    hash_admin_password,
    render_admin_conf,
    render_tenant_conf,
)
from odoo_router.migrate.render_traefik import allowlist_key, tenant_rule
from odoo_router.migrate.report import format_plan
from odoo_router.migrate.survey import Survey, survey
from odoo_router.migrate.yamltext import YamlText

FIXTURE = Path(__file__).parent / "fixture"
STACKS = FIXTURE / "srv" / "stacks"
ALLOW = ("198.51.100.0/24",)
SECRET = Secret("a-long-generated-password", "$pbkdf2-sha512$1000$x$y", "test")


def fixture_survey(root: Path = FIXTURE, **over: object) -> Survey:
    o = Overrides(admin_allow=ALLOW, **over)  # type: ignore[arg-type]
    return survey(Layout.make(root), Inputs(), o)


def fixture_plan(root: Path = FIXTURE, live: LiveFacts | None = None, **over: object) -> Plan:
    return build_plan(fixture_survey(root, **over), Settings(), SECRET, live)


V3_RULE = "HostRegexp(`^[a-z0-9]+\\\\.erp\\\\.seisei\\\\.tokyo$`)"
V2_RULE = "HostRegexp(`{sub:[a-z0-9]+}.erp.seisei.tokyo`)"


def _rendered(version: str = "3.1", root: Path = FIXTURE) -> dict[str, str]:
    r = render_all(fixture_survey(root, traefik_version=version), Settings(), SECRET.hash)
    assert r.problems == []
    return {role: f.data.decode() for role, f in r.files.items()}


def as_v2(tree: Path) -> Path:
    """The fixture as a v2 operator has it: its file routers in v2's template syntax."""
    services = tree / "srv/stacks/edge-traefik/dynamic/services.yml"
    assert V3_RULE in services.read_text()
    services.write_text(services.read_text().replace(V3_RULE, V2_RULE))
    return tree


def test_router_yaml_validates_and_keeps_the_routing() -> None:
    cfg = build_config(_rendered()["router_yaml"], "router.yaml")
    by_name = {h.name: h for h in cfg.hosts}
    assert by_name["admin"].exact == ("admin.erp.seisei.tokyo",)
    assert by_name["admin"].allow is not None
    assert by_name["tenant_subdomain"].dbfilter == "ten_{sub}"
    assert set(by_name["named_tenant_1"].exact) == {"testodoo.seisei.tokyo", "demo.nagashiro.top"}
    assert by_name["named_tenant_1"].dbfilter == "ten_testodoo"
    assert cfg.server.dbfilter_anchor is True
    assert set(cfg.pools) == {"tenant", "tenant_lp", "admin", "admin_lp"}


def test_router_yaml_limits_every_login_path_that_reaches_odoo() -> None:
    """The rendered production profile rate limits the login routes as config/router.yaml
    does (docs/security.md#10): the login form where it is proxied, session authenticate
    and the RPC routes (their login calls), every /<lang>/ form included."""
    from odoo_router.routing.table import Facts, compile_table, decide

    cfg = build_config(_rendered()["router_yaml"], "router.yaml")
    table = compile_table(cfg)
    limited = [
        ("testodoo.seisei.tokyo", "/web/login"),
        ("testodoo.seisei.tokyo", "/en/web/login/"),
        ("admin.erp.seisei.tokyo", "/web/login"),
        ("admin.erp.seisei.tokyo", "/fr/web/session/authenticate"),
        ("acme.erp.seisei.tokyo", "/web/session/authenticate/"),
        ("acme.erp.seisei.tokyo", "/jsonrpc"),
        ("acme.erp.seisei.tokyo", "/en/xmlrpc/2/common"),
        ("demo.nagashiro.top", "/xmlrpc/common"),
    ]
    for host, path in limited:
        d = decide(table, Facts("POST", host, path, "198.51.100.7"))  # in the allowlist
        assert d.proxy is not None and d.rate_limit is not None, (host, path, d.route)
        assert (d.rate_limit.key, d.rate_limit.burst) == ("client_ip", 5)
    for host, path in (("testodoo.seisei.tokyo", "/web/dataset/call_kw"),):
        assert decide(table, Facts("POST", host, path, "10.0.0.1")).rate_limit is None


def test_router_yaml_answers_the_health_path_as_nginx_did(tree: Path) -> None:
    conf = tree / "srv/stacks/seisei-odoo/nginx/default.conf"
    text = conf.read_text()
    assert 'location = /nginx-health {\n        return 200 "OK";' in text
    conf.write_text(text.replace('return 200 "OK";', 'return 200 "pong\\n";'))
    r = render_all(fixture_survey(tree), Settings(), SECRET.hash)
    cfg = build_config(r.files["router_yaml"].data.decode(), "router.yaml")
    (health,) = [x for h in cfg.hosts for x in h.routes if x.name == "health"][:1]
    assert (health.action.status, health.action.body) == (200, "pong\n")


def test_odoo_confs_load_the_header_module_and_keep_the_data_dir() -> None:
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
    # no data_dir written: none is added (Odoo's default keeps the same filestore)
    bare = conf.replace("data_dir = /var/lib/odoo\n", "")
    assert "data_dir" not in render_tenant_conf(bare, h)


def test_compose_split_keeps_comments_volume_and_other_services() -> None:
    text = _rendered()["odoo_compose"]
    data = yaml.safe_load(text)
    assert "web" not in data["services"]
    t, a = data["services"]["odoo-tenant"], data["services"]["odoo-admin"]
    for svc, conf in ((t, "odoo-tenant.conf"), (a, "odoo-admin.conf")):
        assert "odoo18-prod-data:/var/lib/odoo" in svc["volumes"]  # shared filestore + sessions
        assert f"./config/{conf}:/etc/odoo/odoo.conf:ro" in svc["volumes"]
        assert labels_dict(svc["labels"]) == {"traefik.enable": "false"}
        assert "edge" not in svc["networks"]  # only the router is reachable from Traefik
    assert data["services"]["redis"]["labels"] == {
        "traefik.enable": "false",
        "com.seisei.backup": "none",
    }
    assert data["volumes"]["odoo18-prod-data"] == {
        "external": True,
        "name": "odoo18-prod_odoo18-prod-data",
    }
    assert "# Seisei Odoo 18 Production Stack" in text and "# filestore + sessions" in text
    assert "traefik.http.routers" not in text


def test_labels_that_already_keep_odoo_out_of_traefik_stay_as_written(tree: Path) -> None:
    """Routes in the dynamic files only, ``traefik.enable: false`` (a YAML boolean) with a
    comment: nothing to change, so both services keep the lines as written."""
    compose = tree / "srv/stacks/odoo18-prod/docker-compose.yml"
    text = compose.read_text()
    start = text.index("    labels:\n      # --- direct")
    end = text.index("\n\n  redis:")
    labels = "    labels:\n      # routes: edge-traefik/dynamic only\n      traefik.enable: false\n"
    compose.write_text(text[:start] + labels + text[end + 1 :])
    out = render_all(fixture_survey(tree), Settings(), SECRET.hash).files["odoo_compose"]
    assert out.data.decode().count(labels) == 2  # odoo-tenant and odoo-admin


def test_router_compose_changes_only_image_mounts_and_healthcheck() -> None:
    svc = yaml.safe_load(_rendered()["router_compose"])["services"]
    assert list(svc) == ["nginx"]
    r = svc["nginx"]
    assert r["container_name"] == "seisei-odoo-router"
    assert r["networks"] == ["seisei-odoo-network", "edge"]
    assert r["labels"] == {"com.seisei.role": "db-router"}
    assert r["image"] == "odoo-router:latest"
    assert "curl" not in r["healthcheck"]["test"]
    assert r["volumes"] == [
        "./odoo-router:/etc/odoo-router:ro",
        "./odoo-router/state:/etc/odoo-router/state",  # writable: the maintenance file
    ]


@pytest.mark.parametrize(
    ("version", "key", "other"),
    [("3.1", "ipAllowList", "ipWhiteList"), ("2.10", "ipWhiteList", "ipAllowList")],
)
def test_traefik_edits_in_the_version_syntax(
    tree: Path, version: str, key: str, other: str
) -> None:
    out = _rendered(version, as_v2(tree) if version.startswith("2") else tree)
    mw_text, svc_text = out["dynamic:middlewares.yml"], out["dynamic:services.yml"]
    mw = yaml.safe_load(mw_text)["http"]["middlewares"]
    assert mw["admin-ip-allowlist"] == {key: {"sourceRange": list(ALLOW)}}
    assert other not in mw_text and "X-Odoo-dbfilter" not in mw_text
    assert "# Odoo: pick the database" not in mw_text  # its comment went with it
    assert "# Shared middlewares" in mw_text
    routers = yaml.safe_load(svc_text)["http"]["routers"]
    original = yaml.safe_load((STACKS / "edge-traefik/dynamic/services.yml").read_text())
    for name in ("erp", "www", "dify", "langbot"):  # untouched
        assert routers[name] == original["http"]["routers"][name]
    for name in ("odoo-tenant", "odoo", "nagashiro", "odoo-admin"):
        assert routers[name]["service"] == "odoo-router-service"
    assert "odoo-qr" not in routers  # one route per host: the router does /qr/
    assert routers["odoo-admin"]["middlewares"] == ["admin-ip-allowlist@file"]
    assert routers["odoo-admin"]["priority"] > routers["odoo-tenant"]["priority"]
    assert "odoo18-qr" not in yaml.safe_load(svc_text)["http"]["services"]
    assert routers["odoo-tenant"]["rule"] == (
        V2_RULE if version.startswith("2") else V3_RULE.replace("\\\\", "\\")
    )


def test_allowlist_key_and_tenant_rule_per_version() -> None:
    assert [allowlist_key(v) for v in ("2.10.7", "2.11", "3.1", "3.7.6")] == [
        "ipWhiteList",
        "ipAllowList",
        "ipAllowList",
        "ipAllowList",
    ]
    assert (
        tenant_rule("erp.x.tokyo", "[a-z0-9]+", "v3")
        == "HostRegexp(`^[a-z0-9]+\\.erp\\.x\\.tokyo$`)"
    )
    assert (
        tenant_rule("erp.x.tokyo", "[a-z0-9]+", "v2") == "HostRegexp(`{sub:[a-z0-9]+}.erp.x.tokyo`)"
    )


def test_plan_is_identical_twice_and_lists_steps() -> None:
    a, b = fixture_plan(), fixture_plan()
    assert a.problems == []
    assert a.to_json() == b.to_json() and format_plan(a) == format_plan(b)
    ids = [s.id for s in a.steps]
    assert ids[0] == "backup" and ids[-1] == "verify"
    assert ids.index("stop-odoo") < ids.index("write-odoo-compose") < ids.index("start-odoo")
    assert ids.index("write-router-yaml") < ids.index("stop-odoo")
    out = format_plan(a)
    assert "expected downtime" in out and "dynamic/services.yml" in out
    assert "$pbkdf2" not in out and "fixture-db-password" not in out  # no secret printed
    assert "+admin_passwd = <redacted>" in out
    watched = {f.role: f.watched for f in a.files}
    assert watched["dynamic:services.yml"] and not watched["odoo_compose"]
    assert a.compose["odoo"]["file"].endswith("odoo18-prod/docker-compose.yml")
    assert a.watched[0].endswith("edge-traefik/dynamic")
    assert a.backup["data_volume"] == "odoo18-prod_odoo18-prod-data"
    assert a.verify["tenant_sample"] == "probe.erp.seisei.tokyo"
    live = fixture_plan(live=LiveFacts(databases=["ten_acme", "ten_testodoo"]))
    assert live.verify["tenant_sample"] == "acme.erp.seisei.tokyo"
    assert live.verify["odoo_containers"] == ["odoo-tenant", "odoo-admin"]
    assert live.verify["router_service"] == "odoo-router-service@file"


def test_every_fact_and_hazard_in_the_report() -> None:
    out = format_plan(fixture_plan())
    assert "admin host admin.erp.seisei.tokyo: seisei-odoo/nginx/default.conf:13" in out
    assert "admin allowlist 198.51.100.0/24: --admin-allow" in out
    assert "Traefik version 3.1: image tag traefik:v3.1 in edge-traefik/docker-compose.yml:3" in out
    assert (
        "HAZARD default master password: admin_passwd = changeme in odoo18-prod/config/odoo.conf:11"
        in out
    )
    assert "HAZARD filestore: docker volume odoo18-prod_odoo18-prod-data" in out
    assert "HAZARD @docker and @file: admin.erp.seisei.tokyo is served by both" in out
    assert "  admin.erp.seisei.tokyo: odoo-tenant@file -> odoo-admin@file [allowlist]" in out
    assert "  demo.nagashiro.top/qr/probe: odoo-qr@file -> nagashiro@file" in out


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"traefik_version": "1.7.34"}, "only v2 and v3"),
        ({"admin_allow": ("0.0.0.0/0",)}, "allows every address"),
        ({"admin_allow": ("172.20.0.0/16",)}, "overlaps 172.16.0.0/12"),
    ],
)
def test_preflight_refusals(over: dict[str, object], message: str) -> None:
    s = survey(Layout.make(FIXTURE), Inputs(), Overrides(**{"admin_allow": ALLOW, **over}))  # type: ignore[arg-type]
    plan = build_plan(s, Settings(), SECRET, None)
    assert any(message in p for p in plan.problems), plan.problems


def test_weak_master_password_refused() -> None:
    plan = build_plan(fixture_survey(), Settings(), Secret("changeme", "x", "a file"), None)
    assert any("master password (a file) is empty or a default" in p for p in plan.problems)


def test_preflight_refuses_a_file_the_version_cannot_decode(tree: Path) -> None:
    """One undecodable file makes Traefik drop the whole directory: refused with its line
    (ipWhiteList is only deprecated on v3: a warning)."""
    extra = tree / "srv/stacks/edge-traefik/dynamic/legacy.yml"
    extra.write_text(
        'http:\n  middlewares:\n    old:\n      ipWhiteList:\n        sourceRange: ["1.2.3.4/32"]\n'
        '    new:\n      ipAllowLists:\n        sourceRange: ["1.2.3.4/32"]\n'
    )
    plan = fixture_plan(tree)
    assert plan.problems == [
        next(
            p
            for p in plan.problems
            if p.startswith("edge-traefik/dynamic/legacy.yml:7: unknown key")
        )
    ]


def test_plan_marks_bind_mounted_files_in_place(tree: Path) -> None:
    conf = tree / "srv/stacks/odoo18-prod/config/odoo-tenant.conf"
    conf.write_text("[options]\n")
    compose = tree / "srv/stacks/odoo18-prod/docker-compose.yml"
    compose.write_text(
        compose.read_text().replace(
            "      - ./addons:/mnt/extra-addons/seisei:ro\n",
            "      - ./addons:/mnt/extra-addons/seisei:ro\n"
            "      - ./config/odoo-tenant.conf:/etc/odoo/extra.conf:ro\n",
        )
    )
    plan = fixture_plan(tree)
    modes = {f.role: f.write for f in plan.files}
    assert modes["tenant_conf"] == "in-place" and modes["dynamic:services.yml"] == "atomic"
    assert any("exists already" in w for w in plan.warnings)


def test_hosts_only_the_labels_served_get_file_routers(tree: Path) -> None:
    svc = tree / "srv/stacks/edge-traefik/dynamic/services.yml"
    text = svc.read_text()
    start, end = text.index("    odoo:\n"), text.index("    # QR ordering")
    svc.write_text(text[:start] + text[end:])
    r = render_all(fixture_survey(tree), Settings(), SECRET.hash)
    routers = yaml.safe_load(r.files["dynamic:services.yml"].data)["http"]["routers"]
    assert routers["odoo-testodoo-seisei-tokyo"]["rule"] == "Host(`testodoo.seisei.tokyo`)"
    assert routers["odoo-demo-nagashiro-top"]["service"] == "odoo-router-service"
    assert routers["odoo-admin"]["tls"]["certResolver"] == "cloudflare"  # the tenant router's
    # its wildcard certificate covers the admin host, not another domain's: Traefik takes
    # those names from the rule
    assert routers["odoo-admin"]["tls"]["domains"][0]["sans"] == ["*.erp.seisei.tokyo"]
    assert routers["odoo-testodoo-seisei-tokyo"]["tls"] == {"certResolver": "cloudflare"}
    assert "odoo-qr" not in routers


OPERATOR_CONF = """\
[options]
; the farm's settings, see the wiki
addons_path = /mnt/extra-addons,
    /usr/lib/python3/dist-packages/odoo/addons
;db_name = old_default
db_name = ten_main

# workers sized for 8 cores
workers: 9
server_wide_modules = web,base
admin_passwd = changeme
Proxy_Mode = False
data_dir = /var/lib/odoo

[queue_job]
channels = root:2
"""


def test_odoo_confs_keep_the_operator_s_lines_and_change_only_what_must_differ() -> None:
    h = "$pbkdf2-sha512$1000$x$y"
    tenant = render_tenant_conf(OPERATOR_CONF, h)
    head, _, body = tenant.partition("[options]\n")
    assert head.startswith("; Rendered by odoo-router-migrate")
    assert body == (
        "; the farm's settings, see the wiki\n"
        "addons_path = /mnt/extra-addons,\n"
        "    /usr/lib/python3/dist-packages/odoo/addons\n"
        ";db_name = old_default\n"  # a comment, even shaped like a key
        "\n"
        "# workers sized for 8 cores\n"
        "workers: 9\n"
        "server_wide_modules = web,base,dbfilter_from_header\n"
        f"admin_passwd = {h}\n"
        "Proxy_Mode = True\n"  # the operator's spelling of the key
        "data_dir = /var/lib/odoo\n"
        "list_db = False\n"
        "gevent_port = 8072\n"
        "\n"
        "[queue_job]\n"
        "channels = root:2\n"
    )
    admin = render_admin_conf(OPERATOR_CONF, h)
    assert "workers: 1\n" in admin and "[queue_job]\nchannels = root:2\n" in admin
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(admin)
    assert cp["options"]["max_cron_threads"] == "0" and "db_name" not in cp["options"]


def test_odoo_confs_keep_crlf_and_change_a_key_written_twice() -> None:
    text = "[options]\r\nadmin_passwd = a\r\nlist_db = True\r\nadmin_passwd = b\r\n"
    out = render_tenant_conf(text, "H")
    assert out.startswith("; Rendered")
    assert "\n" not in out.replace("\r\n", "")
    assert out.endswith(
        "[options]\r\nadmin_passwd = H\r\nlist_db = False\r\nadmin_passwd = H\r\n"
        "server_wide_modules = base,web,dbfilter_from_header\r\n"
        "proxy_mode = True\r\ngevent_port = 8072\r\n"
    )


def _split(text: str) -> dict[str, Any]:
    spec = SplitSpec(
        service="web",
        conf_target="/etc/odoo/odoo.conf",
        conf_by_file=True,
        tenant_conf=("./odoo-tenant.conf", "/etc/odoo/odoo-tenant.conf"),
        admin_conf=("./odoo-admin.conf", "/etc/odoo/odoo-admin.conf"),
        drop_networks=(),
        filestore=None,
    )
    y = YamlText(copy_service(text, "c.yml", "web"), "c.yml")
    split_edits(y, spec)
    out: dict[str, Any] = yaml.safe_load(y.render())["services"]
    return out


@pytest.mark.parametrize(
    "ports",
    [
        '    ports:\n      - "127.0.0.1:18069:8069"\n',
        "    ports:\n      - target: 8069\n        published: 18069\n        host_ip: 127.0.0.1\n",
    ],
)
def test_host_ports_stay_with_odoo_tenant_only(ports: str) -> None:
    """Both copies binding the same host port: compose up would fail during the downtime."""
    text = (
        "services:\n  web:\n    image: odoo:18\n"
        + ports
        + "    volumes:\n      - ./odoo.conf:/etc/odoo/odoo.conf:ro\n"
    )
    svc = _split(text)
    assert svc["odoo-tenant"]["ports"] == yaml.safe_load(text)["services"]["web"]["ports"]
    assert "ports" not in svc["odoo-admin"]


def test_host_ports_a_merge_brings_are_overridden_on_odoo_admin() -> None:
    text = (
        "x-odoo: &odoo\n  image: odoo:18\n  ports: ['18069:8069']\n"
        "services:\n  web:\n    <<: *odoo\n"
        "    volumes:\n      - ./odoo.conf:/etc/odoo/odoo.conf:ro\n"
    )
    svc = _split(text)
    assert svc["odoo-tenant"]["ports"] == ["18069:8069"]
    assert svc["odoo-admin"]["ports"] == []
