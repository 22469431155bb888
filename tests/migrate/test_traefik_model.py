"""traefik_model / traefik_providers / snapshots: the routing table Traefik would build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from odoo_router.migrate.traefik import TraefikAPI, TraefikError, read_snapshot, write_snapshot
from odoo_router.migrate.traefik_model import RoutingTable, from_api
from odoo_router.migrate.traefik_providers import (
    compose_services,
    dynamic_files,
    load_docker,
    load_file_provider,
    normalize,
)
from odoo_router.migrate.traefik_version import TraefikVersion

from .fake_traefik import fake_traefik

STACKS = Path(__file__).parent / "fixture/srv/stacks"
V3_1 = TraefikVersion(3, 1, 2, "t")
V3_7 = TraefikVersion(3, 7, 6, "t")
V2_11 = TraefikVersion(2, 11, 3, "t")


def _fixture_table(version: TraefikVersion) -> RoutingTable:
    table, problems = load_file_provider(STACKS / "edge-traefik/dynamic", version, label="dyn")
    assert [p for p in problems if p.fatal] == []
    services = compose_services(STACKS / "odoo18-prod/docker-compose.yml", {}, "odoo18-prod/dc.yml")
    table.add(load_docker(services, version, exposed_by_default=False))
    return table


# host, path, TLS, winner (None: 404)
FIXTURE_WINNERS = [
    ("admin.erp.seisei.tokyo", "/", True, "odoo-tenant@file"),  # priority 100: no allowlist
    ("acme.erp.seisei.tokyo", "/websocket", True, "odoo-tenant@file"),
    ("demo.nagashiro.top", "/qr/x", True, "odoo-qr@file"),
    ("demo.nagashiro.top", "/", True, "nagashiro@file"),
    ("demo.nagashiro.top", "/", False, "odoo18-nagashiro@docker"),  # the label router has no tls
    ("acme.erp.seisei.tokyo", "/websocket", False, "odoo18-prod-lp@docker"),
    ("erp.seisei.tokyo", "/", True, "erp@file"),
    ("nothing.example", "/", True, None),
]


@pytest.mark.parametrize(("host", "path", "tls", "want"), FIXTURE_WINNERS)
def test_fixture_winners(host: str, path: str, tls: bool, want: str | None) -> None:
    win = _fixture_table(V3_1).winner(host, path, tls=tls)
    if want is None:
        assert win.router is None and not win.is_tie
    else:
        assert win.router is not None and win.router.name == want, win.describe()


def test_docker_labels_list_form() -> None:
    services = compose_services(STACKS / "odoo18-prod/docker-compose.yml", {}, "odoo18-prod/dc.yml")
    assert [(s.project, s.service) for s in services] == [
        ("odoo18-prod", "web"),
        ("odoo18-prod", "redis"),
    ]
    table = load_docker(services, V3_1, exposed_by_default=True)
    names = sorted(r.name for r in table.routers)
    # redis says traefik.enable=false (mapping form); web's four routers come from labels.
    assert names == [
        "odoo18-nagashiro-lp@docker",
        "odoo18-nagashiro@docker",
        "odoo18-prod-lp@docker",
        "odoo18-prod@docker",
    ]
    r = next(r for r in table.routers if r.name == "odoo18-prod@docker")
    assert r.middlewares == ("odoo-db-header@file",) and r.tls and r.entry_points == ("websecure",)
    assert r.source == "odoo18-prod/dc.yml:39"
    assert r.rule == "HostRegexp(`^[a-z0-9]+\\.erp\\.seisei\\.tokyo$`)"  # YAML unescaped it


def _compose(tmp_path: Path, body: str, env: str = "") -> Path:
    d = tmp_path / "my-stack"
    d.mkdir()
    (d / "compose.yaml").write_text(body, encoding="utf-8")
    return d / "compose.yaml"


def test_docker_defaults_exposed_by_default(tmp_path: Path) -> None:
    path = _compose(
        tmp_path,
        "services:\n"
        "  app_1:\n    image: x\n"  # no labels: default router and service
        "  api:\n    image: x\n    labels:\n"
        "      traefik.http.routers.api.rule: Host(`${API_HOST}`)\n"
        "      traefik.http.services.a.loadbalancer.server.port: '1'\n"
        "      traefik.http.services.b.loadbalancer.server.port: '2'\n"
        "      traefik.http.routers.orphan.rule: Host(`o`)\n"
        "      traefik.http.routers.orphan.service: a\n"
        "      traefik.http.middlewares.office.ipallowlist.sourcerange:"
        " 10.0.0.0/8, 192.168.0.0/16\n"
        "  off:\n    image: x\n    labels: [traefik.enable=false]\n",
    )
    services = compose_services(path, {"API_HOST": "api.example"}, "s/compose.yaml")
    table = load_docker(services, V3_7, exposed_by_default=True)
    rules = {r.name: (r.rule, r.service) for r in table.routers}
    assert rules == {
        "app-1-my-stack@docker": ("Host(`app-1-my-stack`)", "app-1-my-stack@docker"),
        "orphan@docker": ("Host(`o`)", "a@docker"),
    }
    assert any(
        "router api@docker has no service and the container has several" in p
        for p in table.problems
    )
    assert table.middlewares["office@docker"].source_range == ("10.0.0.0/8", "192.168.0.0/16")
    hidden = load_docker(services, V3_7, exposed_by_default=False)
    assert hidden.routers == []


def test_docker_project_name_and_normalize(tmp_path: Path) -> None:
    path = _compose(tmp_path, "name: Prod_1\nservices:\n  web:\n    image: x\n")
    [svc] = compose_services(path, {}, "x")
    assert svc.project == "prod_1"
    assert normalize("web_prod_1") == "web-prod-1"
    assert normalize("a..b__c") == "a-b-c"


def test_file_provider_order_duplicates_and_dropped_directory(tmp_path: Path) -> None:
    d = tmp_path / "dynamic"
    (d / "sub").mkdir(parents=True)
    router = 'http:\n  routers:\n    r:\n      rule: "Host(`{}`)"\n      service: s@file\n'
    (d / "b.yml").write_text(router.format("b"))
    (d / "a.yaml").write_text(
        router.format("a")
        + "  services:\n    s:\n      loadBalancer: {servers: [{url: 'http://x'}]}\n"
    )
    (d / "sub" / "c.toml").write_text('[http.routers.c]\nrule = "Host(`c`)"\nservice = "s"\n')
    (d / "notes.txt").write_text("not read")
    assert [p.relative_to(d).as_posix() for p in dynamic_files(d)] == [
        "a.yaml",
        "b.yml",
        "sub/c.toml",
    ]
    table, problems = load_file_provider(d, V3_7)
    assert problems == []
    assert {r.name: r.rule for r in table.routers} == {"r@file": "Host(`a`)", "c@file": "Host(`c`)"}
    assert any("b.yml:3: router r already defined in a.yaml:3" in p for p in table.problems)
    (d / "sub" / "bad.yml").write_text("http:\n  routers:\n    x:\n      colour: red\n")
    table, problems = load_file_provider(d, V3_7)
    assert table.routers == [] and "loads none of the 4 files" in table.problems[0]
    assert [str(p).split(":")[:2] for p in problems if p.fatal] == [["sub/bad.yml", "4"]]


def test_missing_references_disable_a_router(tmp_path: Path) -> None:
    d = tmp_path / "dynamic"
    d.mkdir()
    (d / "a.yml").write_text(
        'http:\n  routers:\n    r:\n      rule: "Host(`a`)"\n      service: nope\n'
        '    m:\n      rule: "Host(`a`)"\n      service: s\n      middlewares: [gone]\n'
        "  services:\n    s:\n      loadBalancer: {servers: [{url: 'http://x'}]}\n"
    )
    table, _ = load_file_provider(d, V3_7)
    assert {table.effective(r).error for r in table.routers} == {
        "the service 'nope@file' does not exist",
        "middleware 'gone@file' does not exist",
    }
    assert table.winner("a").router is None


def _api_router(name: str, rule: str, **extra: object) -> dict[str, object]:
    provider = name.split("@")[1]
    body = {"name": name, "provider": provider, "rule": rule, "service": "s", "status": "enabled"}
    body.update(extra)
    return body


def test_ties_and_provider_precedence() -> None:
    routers = [
        _api_router("a@file", "Host(`x`)", tls={}),
        _api_router("b@docker", "Host(`x`)", tls={}),
        _api_router("c@file", "Host(`x`)", tls={}),
    ]
    before = from_api(routers, [], V3_1).winner("x")
    assert before.is_tie and {r.name for r in before.tie} == {"a@file", "b@docker", "c@file"}
    assert "tie at priority 9 between" in before.describe()
    # 3.7's providers.precedence (docker before file) breaks ties across providers.
    after = from_api(routers, [], V3_7).winner("x")
    assert after.router is not None and after.router.name == "b@docker"
    same = from_api(routers[::2], [], V3_7).winner("x")
    assert same.is_tie and same.router is None


def test_winner_reports_allowlist_and_entry_points() -> None:
    routers = [
        _api_router(
            "admin@file",
            "Host(`adm`)",
            middlewares=["allow@file"],
            tls={},
            entryPoints=["websecure"],
        ),
        _api_router("any@file", "Host(`adm`) || Host(`x`)", entryPoints=["web"]),
        _api_router("off@file", "Host(`adm`)", status="disabled", priority=1000, tls={}),
    ]
    mws = [
        {
            "name": "allow@file",
            "type": "ipallowlist",
            "ipAllowList": {"sourceRange": ["10.0.0.0/8"]},
        }
    ]
    table = from_api(routers, mws, V3_7)
    win = table.winner("adm")
    assert win.router is not None and win.router.name == "admin@file"
    assert win.allowlists == (("10.0.0.0/8",),)
    assert win.allows("10.1.2.3") and not win.allows("127.0.0.1")
    web = table.winner("adm", entry_point="web", tls=False)
    assert web.router is not None and web.router.name == "any@file" and web.allowlists == ()
    assert web.allows("127.0.0.1")


def test_snapshot_round_trip(tmp_path: Path) -> None:
    dynamic = tmp_path / "dynamic"
    shutil.copytree(STACKS / "edge-traefik/dynamic", dynamic)
    with fake_traefik(dynamic, "3.1.2", per_page_cap=3) as url:
        snap = write_snapshot(TraefikAPI(url), tmp_path / "snap")
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == [
        "http-middlewares.json",
        "http-routers.json",
        "version.json",
    ]
    again = read_snapshot(tmp_path / "snap")
    assert again == snap
    assert str(again.version) == "3.1.2" and again.version.source.startswith("snapshot ")
    assert len(again.routers()) == 8  # every page joined
    table = again.table()
    assert "odoo-db-header@file" in table.middlewares
    assert table.winner("demo.nagashiro.top", "/qr/a").router.name == "odoo-qr@file"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("version.json", None, "version.json: cannot read"),
        ("http-routers.json", "{not json", "http-routers.json: not JSON"),
        ("http-middlewares.json", '{"a": 1}', "http-middlewares.json: not a list of objects"),
        ("version.json", '{"Version": "latest"}', "'latest' does not give major.minor"),
    ],
)
def test_snapshot_errors(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    for n, body in (
        ("version.json", {"Version": "3.7.6"}),
        ("http-routers.json", []),
        ("http-middlewares.json", []),
    ):
        (tmp_path / n).write_text(json.dumps(body))
    if content is None:
        (tmp_path / name).unlink()
    else:
        (tmp_path / name).write_text(content)
    with pytest.raises(TraefikError, match=message.replace("(", r"\(")):
        read_snapshot(tmp_path)


def test_host_wildcards_from_3_7() -> None:
    routers = [_api_router("w@file", "Host(`*.x.example`)", tls={})]
    assert from_api(routers, [], V3_7).winner("a.x.example").router is not None
    assert from_api(routers, [], V3_1).winner("a.x.example").router is None
