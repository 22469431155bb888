"""traefik_schema: strict decoding of dynamic files per Traefik version (pure)."""

from __future__ import annotations

import pytest

from odoo_router.migrate.traefik_schema import lint_text, schema_versions
from odoo_router.migrate.traefik_version import TraefikVersion

V2_10 = TraefikVersion(2, 10, 7, "t")
V2_11 = TraefikVersion(2, 11, 0, "t")
V3_0 = TraefikVersion(3, 0, 4, "t")
V3_7 = TraefikVersion(3, 7, 6, "t")

ROUTER = 'http:\n  routers:\n    r:\n      rule: "Host(`a`)"\n      service: s\n'


def _mw(body: str) -> str:
    return "http:\n  middlewares:\n    m:\n" + body


# text, version, expected problems as (line, fatal, fragment); [] = clean
CASES = [
    ("router ok", ROUTER, V3_7, []),
    (
        "unknown key",
        ROUTER + "      colour: red\n",
        V3_7,
        [(6, True, "unknown key 'http.routers.r.colour'")],
    ),
    (
        "case-insensitive keys",
        ROUTER.replace("rule", "Rule").replace("routers", "ROUTERS"),
        V3_7,
        [],
    ),
    ("null value skipped", ROUTER + "      colour:\n", V3_7, []),
    ("other top-level keys ignored", "x-common: &c {a: 1}\n" + ROUTER, V3_7, []),
    (
        "ipAllowList before 2.11",
        _mw("      ipAllowList:\n        sourceRange: [10.0.0.0/8]\n"),
        V2_10,
        [(4, True, "(field not found, node: ipAllowList); known to Traefik 2.11 to 3.7")],
    ),
    (
        "ipAllowList on 2.11",
        _mw("      ipAllowList:\n        sourceRange: [10.0.0.0/8]\n"),
        V2_11,
        [],
    ),
    (
        "ipWhiteList on 2.10",
        _mw("      ipWhiteList:\n        sourceRange: [10.0.0.0/8]\n"),
        V2_10,
        [],
    ),
    (
        "ipWhiteList on 3.7 is deprecated, not fatal",
        _mw("      ipWhiteList:\n        sourceRange: [10.0.0.0/8]\n"),
        V3_7,
        [(4, False, "deprecated since Traefik 2.11")],
    ),
    (
        "ruleSyntax on v2",
        ROUTER + "      ruleSyntax: v3\n",
        V2_11,
        [(6, True, "known to Traefik 3.0 to 3.7")],
    ),
    (
        "v2 rule under ruleSyntax v2 on v3",
        ROUTER.replace("`a`", "`a`, `b`") + "      ruleSyntax: v2\n",
        V3_0,
        [],
    ),
    (
        "v2 rule on v3",
        ROUTER.replace("`a`", "`a`, `b`"),
        V3_0,
        [(4, False, "Host takes 1 argument(s) in v3, got 2")],
    ),
    (
        "standalone middleware",
        _mw("      headers: {}\n"),
        V3_7,
        [(4, True, "cannot be a standalone element")],
    ),
    ("tls may be empty", ROUTER + "      tls: {}\n", V3_7, []),
    (
        "bool checked",
        _mw("      headers:\n        frameDeny: yes\n"),
        V3_7,
        [(5, True, "'yes' is not a boolean")],
    ),
    ("int checked", ROUTER + "      priority: 1.5\n", V3_7, [(6, True, "'1.5' is not an integer")]),
    (
        "duration",
        _mw("      retry:\n        attempts: 3\n        initialInterval: 100ms\n"),
        V3_7,
        [],
    ),
    (
        "bad duration",
        _mw("      retry:\n        attempts: 3\n        initialInterval: soon\n"),
        V3_7,
        [(6, True, "not a duration")],
    ),
    (
        "list given a mapping",
        ROUTER + "      middlewares: {a: b}\n",
        V3_7,
        [(6, True, "takes a list")],
    ),
    (
        "scalar given a list",
        ROUTER + "      priority: [1]\n",
        V3_7,
        [(6, True, "takes a single value")],
    ),
    (
        "duplicate key",
        ROUTER + "      service: t\n",
        V3_7,
        [(6, True, 'mapping key "service" already defined at line 5')],
    ),
    ("not YAML", "http: [\n", V3_7, [(2, True, "not YAML")]),
    (
        "bare server string",
        "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - http://x\n",
        V3_7,
        [(6, False, "ignores it")],
    ),
    (
        "merge keys",
        "x: &lb\n  passHostHeader: true\nhttp:\n  services:\n    s:\n      loadBalancer:\n"
        "        <<: *lb\n        servers:\n          - url: http://x\n",
        V3_7,
        [],
    ),
    (
        "merged unknown key is reported at the anchor",
        "x: &lb\n  colour: red\nhttp:\n  services:\n    s:\n      loadBalancer:\n        <<: *lb\n",
        V3_7,
        [(2, True, "unknown key 'http.services.s.loadBalancer.colour'")],
    ),
    (
        "weighted, mirroring, failover",
        "http:\n  services:\n    w:\n      weighted:\n        services:\n          - name: a\n"
        "            weight: 3\n    m:\n      mirroring:\n        service: a\n        mirrors:\n"
        "          - name: b\n            percent: 10\n    f:\n      failover:\n"
        "        service: a\n"
        "        fallback: b\n",
        V3_7,
        [],
    ),
    (
        "tcp and tls",
        "tcp:\n  routers:\n    t:\n      rule: HostSNI(`*`)\n      service: x\n"
        "tls:\n  options:\n    default:\n      minVersion: VersionTLS12\n",
        V2_10,
        [],
    ),
    (
        "plugin config is free-form",
        _mw("      plugin:\n        anything:\n          a: {b: c}\n"),
        V3_7,
        [],
    ),
    (
        "template warning",
        ROUTER.replace("`a`", "`{{ print 1 }}`"),
        V3_7,
        [(4, False, "Go template")],
    ),
]


@pytest.mark.parametrize(("desc", "text", "version", "want"), CASES, ids=[c[0] for c in CASES])
def test_lint(
    desc: str, text: str, version: TraefikVersion, want: list[tuple[int, bool, str]]
) -> None:
    problems = lint_text(text, "dynamic/x.yml", version)
    got = [(p.line, p.fatal) for p in problems]
    assert got == [(line, fatal) for line, fatal, _ in want], [str(p) for p in problems]
    for p, (_line, fatal, fragment) in zip(problems, want, strict=True):
        assert fragment in str(p)
        assert str(p).startswith(f"dynamic/x.yml:{p.line}: ")
        if fatal:
            assert f"Traefik {version}" in str(p) and "loads none of the directory's files" in str(
                p
            )


def test_versions_cover_the_supported_range() -> None:
    assert [v.rsplit(".", 1)[0] for v in schema_versions()][:3] == ["2.10", "2.11", "3.0"]
    # A newer release than the table uses the newest column, and says so.
    newer = lint_text(ROUTER + "      colour: red\n", "x.yml", TraefikVersion(3, 9, 0, "t"))
    assert "schema of 3.7" in str(newer[0])


def test_toml_is_checked_without_lines() -> None:
    text = '[http.routers.r]\nrule = "Host(`a`)"\nservice = "s"\ncolour = "red"\n'
    problems = lint_text(text, "x.toml", V3_7)
    assert [str(p).split(": ")[0] for p in problems] == ["x.toml"]
    assert "unknown key 'http.routers.r.colour'" in str(problems[0])
