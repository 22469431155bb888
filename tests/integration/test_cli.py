"""The command line as a user runs it: ``odoo-router check`` (exit 0/2, one line per problem
with key path and line) and ``odoo-router explain`` (the decision, in words)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .router import COMPAT, PRODUCTION, router_command

BAD = """\
server:
  listn: ["127.0.0.1:8080"]
  workers: many
pools:
  tenant: {servers: ["127.0.0.1:8069"], keepalive: lots}
  tenant_lp: {keepalive: 2}
hosts:
  - name: a
    exact: [a.test]
    routes:
      - {name: r0, prefix: /, proxy: {pool: tenant_lpp}}
      - {name: r1, regex: '^/(unclosed', proxy: {pool: tenant}}
      - {name: r2, prefix: /x, proxy: {pool: tenant}, respond: {status: 200}}
      - {name: r3, prefix: /y}
      - {name: r4, prefix: /z, proxy: {pool: tenant, websocket: "yes"}, colour: red}
      - {name: r5, prefix: /w, redirect: {status: 302, location: /v}, proxy: {pool: tenant}}
  - name: b
    regex: '^(?P<sub>[a-z+\\.test$'
    routes: [{name: d, prefix: /, respond: {status: 404}}]
  - name: c
    default: true
    routes: [{name: d, prefix: /, respond: {status: 404}}]
  - name: dd
    default: true
    routes: [{name: d, prefix: /, respond: {status: "not a number"}}]
  - name: e
    exact: [e.test]
"""

# (problem line prefix, text identifying the line it must point at)
EXPECTED = [
    ("server.listn: unknown key", "listn:"),
    ("server.workers: expected a whole number", "workers: many"),
    ("pools.tenant.keepalive: expected a whole number", "keepalive: lots"),
    ("pools.tenant_lp.servers: missing required key", "tenant_lp: {keepalive"),
    ("hosts[0].routes[0].proxy.pool: unknown pool 'tenant_lpp'", "pool: tenant_lpp"),
    ("hosts[0].routes[1].regex: bad regex", "unclosed"),
    ("hosts[0].routes[2]: a route needs exactly one action", "name: r2"),
    ("hosts[0].routes[3]: a route needs exactly one action", "name: r3"),
    ("hosts[0].routes[4].colour: unknown key", "colour: red"),
    ("hosts[0].routes[4].proxy.websocket: expected true or false", 'websocket: "yes"'),
    ("hosts[0].routes[5]: a route needs exactly one action", "name: r5"),
    ("hosts[1].regex: bad regex", "[a-z+"),
    ("hosts[3].default: two default host rules", "name: dd\n    default"),
    ("hosts[3].routes[0].respond.status: expected a whole number", "not a number"),
    ("hosts[4].routes: missing required key", "name: e"),
]


def _line_of(text: str, marker: str) -> int:
    """1-based line where ``marker`` ends (a marker may span lines to be unique)."""
    end = text.index(marker) + len(marker)
    return text.count("\n", 0, end) + 1


def _run(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        router_command(config, *args[:1]) + list(args[1:]),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("config", [COMPAT, PRODUCTION], ids=["compat", "production"])
def test_check_shipped_configs(config: Path) -> None:
    done = _run("check", config=config)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout


def test_check_reports_every_problem_with_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    done = _run("check", config=path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    for prefix, marker in EXPECTED:
        found = [line for line in lines if line.startswith(prefix)]
        assert found, f"no problem line starting {prefix!r} in:\n{done.stderr}"
        where = re.search(r"\(bad\.yaml:(\d+)\)$", found[0])
        assert where, f"no (file:line) in {found[0]!r}"
        assert int(where.group(1)) == _line_of(BAD, marker), found[0]
    for line in lines:
        assert re.search(r"\(bad\.yaml:\d+\)$", line), f"every line names its place: {line!r}"


def test_check_hints_the_closest_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    err = _run("check", config=path).stderr
    assert "(did you mean 'tenant_lp'?)" in err
    assert "(did you mean 'listen'?)" in err


def test_check_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("pools:\n  tenant: [unclosed\nhosts: []\n", encoding="utf-8")
    done = _run("check", config=path)
    assert done.returncode == 2
    assert re.search(r"broken\.yaml:\d+", done.stderr)
    assert "Traceback" not in done.stderr


def test_check_missing_file(tmp_path: Path) -> None:
    done = _run("check", config=tmp_path / "nope.yaml")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_check_a_wrong_top_level_type(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    done = _run("check", config=path)
    assert done.returncode == 2
    assert "expected a mapping" in done.stderr


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    done = subprocess.run(router_command(path), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "unknown pool 'tenant_lpp'" in done.stderr


# --------------------------------------------------------------------------- explain


def _explain(config: Path, *args: str) -> str:
    done = subprocess.run(
        [*router_command(config, "explain"), *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


EXPLAIN = [
    (
        COMPAT,
        ["acme.erp.seisei.tokyo", "/jsonrpc"],
        ["rule tenant_subdomain", "route:       rpc", "proxy to pool tenant", "read 120s",
         "X-Odoo-dbfilter: ten_acme"],
    ),
    (
        COMPAT,
        ["ACME.erp.seisei.tokyo:443", "/web/%64atabase/manager"],
        ["host:        acme.erp.seisei.tokyo", "path:        /web/database/manager",
         "route:       database", "answer 403"],
    ),
    (
        COMPAT,
        ["acme.erp.seisei.tokyo", "/"],
        ["route:       root", "answer 302", "Location: https://biznexus.seisei.tokyo"],
    ),
    (
        COMPAT,
        ["admin.erp.seisei.tokyo", "/websocket"],
        ["rule admin", "proxy to pool admin_lp", "websocket:   allowed", "read 300s",
         "X-Odoo-dbfilter: (none sent"],
    ),
    (
        COMPAT,
        ["testodoo.seisei.tokyo", "/qr/x"],
        ["rule named_tenant", "route:       qr", "not allowed", "X-Odoo-dbfilter: ten_testodoo"],
    ),
    (
        COMPAT,
        ["unknown.example.com", "/web/login"],
        ["rule default", "proxy to pool tenant", "X-Odoo-dbfilter: (none sent"],
    ),
    (COMPAT, ["testodoo.seisei.tokyo", "/../x"], ["answer: 400"]),
    (
        PRODUCTION,
        ["acme.erp.seisei.tokyo", "/jsonrpc"],
        ["rpc firewall: on, pinned to ten_acme", "X-Odoo-dbfilter: ^ten_acme$"],
    ),
    (
        PRODUCTION,
        ["testodoo.seisei.tokyo", "/fr_BE/web/database/manager"],
        ["route:       database", "answer 403"],
    ),
    (PRODUCTION, ["unknown.example.com", "/"], ["route:       unknown_host", "answer 421"]),
    (
        PRODUCTION,
        ["admin.erp.seisei.tokyo", "/web/database/manager", "--client-ip", "203.0.113.5"],
        ["client:      203.0.113.5", "answer 403"],
    ),
    (
        PRODUCTION,
        ["admin.erp.seisei.tokyo", "/web/database/manager", "--client-ip", "172.18.0.2",
         "--header", "X-Forwarded-For: 192.168.1.5"],
        ["client:      192.168.1.5", "proxy to pool admin"],
    ),
    (
        PRODUCTION,
        ["acme.erp.seisei.tokyo", "/website_sale/static/src/x.js"],
        ["route:       module_static", "proxy to pool tenant", "cache:       on"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("config", "args", "wanted"), EXPLAIN, ids=[f"{c.stem}:{' '.join(a)}" for c, a, _ in EXPLAIN]
)
def test_explain(config: Path, args: list[str], wanted: list[str]) -> None:
    out = _explain(config, *args)
    for text in wanted:
        assert text in out, f"{text!r} not in:\n{out}"


def test_routes_lists_every_route() -> None:
    done = subprocess.run(
        router_command(COMPAT, "routes"), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    for name in ("host admin:", "host tenant_subdomain:", "host named_tenant:", "host default:"):
        assert name in done.stdout


def test_check_one_line_per_problem(tmp_path: Path) -> None:
    """A host rule without ``routes`` is one problem: one line, not two."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    lines = [line for line in _run("check", config=path).stderr.splitlines() if line.strip()]
    keys = [line.split(": ", 1)[0] for line in lines]
    assert len(keys) == len(set(keys)), "\n".join(lines)
    assert len(lines) == len(EXPECTED), "\n".join(lines)


POOL = "pools: {a: {servers: ['x:1']}}\n"
SMALL: dict[str, tuple[str, list[str]]] = {
    "no pools": (
        "hosts: []\n",
        [
            "pools: missing required key",
            "hosts: expected a non-empty list of host rules (c.yaml:1)",
        ],
    ),
    "empty pools and hosts": (
        "pools: {}\nhosts: []\n",
        [
            "pools: expected a non-empty mapping of pool name -> pool (c.yaml:1)",
            "hosts: expected a non-empty list of host rules (c.yaml:2)",
        ],
    ),
    "bad duration": (
        POOL
        + """\
hosts:
  - name: h
    default: true
    routes:
      - name: r
        prefix: /
        proxy: {pool: a, read_timeout: soon}
""",
        [
            "hosts[0].routes[0].proxy.read_timeout: expected a duration such as 60s or 500ms,"
            " got 'soon' (c.yaml:8)"
        ],
    ),
    "bad port and a bad prefix": (
        """\
pools: {a: {servers: ['x:99999']}}
hosts:
  - name: h
    default: true
    routes:
      - {name: r, prefix: x, proxy: {pool: a}}
""",
        [
            "pools.a.servers[0]: bad port '99999' in 'x:99999' (c.yaml:1)",
            "hosts[0].routes[0].prefix: expected a path starting with '/' (c.yaml:6)",
        ],
    ),
    "redirect status and no default host": (
        POOL
        + """\
hosts:
  - name: h
    exact: [a.test]
    routes:
      - {name: r, prefix: /, redirect: {status: 200, location: /}}
""",
        [
            "hosts[0].routes[0].redirect.status: status 200 is not allowed here (c.yaml:6)",
            "hosts: one host rule needs 'default: true' (what unknown hosts get) (c.yaml:2)",
        ],
    ),
    "template group missing": (
        POOL
        + """\
hosts:
  - name: h
    default: true
    dbfilter: 'ten_{sub}'
    routes: [{name: r, prefix: /, respond: {status: 200}}]
""",
        ["hosts[0].dbfilter: {sub} is not a named group of this host rule's regex (c.yaml:5)"],
    ),
}


@pytest.mark.parametrize("case", list(SMALL), ids=list(SMALL))
def test_check_small_configs(tmp_path: Path, case: str) -> None:
    """Exactly the expected lines: each problem once, no consequence of another reported."""
    text, expected = SMALL[case]
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    done = _run("check", config=path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert sorted(lines) == sorted(expected)
