"""The corpus of operator trees is well-formed (tests/migrate/corpus/SCHEMA.md).

These checks hold the data to its own format and to itself (an expectation naming a file
that does not exist, a fact the tree does not say, a YAML file with a duplicate key), so
that the tool-facing checks that read it fail for the tool's reasons, never the data's.
They run no part of the migration tool.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .corpus_data import (
    BAD,
    CASES,
    COMPOSE_NAMES,
    CORPUS,
    TREES,
    compose_file,
    dotenv,
    dynamic_files,
    expect,
    exposed_by_default,
    load_dynamic,
    stacks,
    strict_load,
)

INPUT_KEYS = {
    "stacks": {"odoo", "router", "traefik"},
    "traefik_version": None,
    "admin": {"hosts", "allow"},
    "tenants": {"subdomains", "hosts"},
    "tenant_ui": {"redirect", "login_redirect"},
    "master_password": {"file"},
}
EXPECT_KEYS = {
    "traefik_version",
    "traefik_version_from",
    "facts",
    "files",
    "unchanged_everything_else",
    "routing",
    "admin_allowlisted_after",
    "admin_middleware_kind",
    "hazards",
    "real_traefik",
}
FACT_KEYS = {
    "stacks",
    "odoo_service",
    "router_service",
    "nginx_config",
    "filestore",
    "exposed_by_default",
    "admin_hosts",
    "admin_allow",
    "tenant_subdomains",
    "tenant_hosts",
    "tenant_ui",
}
BAD_KEYS = {"base", "exit", "message", "key", "file", "line", "unparsable"}
DOCKER_NETS = ipaddress.ip_network("172.16.0.0/12")
WINNER = re.compile(r"^(\+\*|[A-Za-z0-9_.-]+@(file|docker)|tie\([^()]+\))$")


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def _unparsable() -> set[Path]:
    out: set[Path] = set()
    for case in CASES:
        for rel in strict_load(BAD / case / "expect.yaml").get("unparsable", []):
            out.add((BAD / case / rel).resolve())
    return out


def _dig(doc: Any, path: list[str]) -> bool:
    node = doc
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_enough_trees_and_cases() -> None:
    assert len(TREES) >= 10
    assert len(CASES) >= 10


def test_every_yaml_parses_strictly_except_the_broken_ones() -> None:
    broken = _unparsable()
    assert broken, "the corpus-bad cases list their deliberately broken files"
    for path in _yaml_files(CORPUS) + _yaml_files(BAD):
        if path.resolve() in broken:
            with pytest.raises(yaml.YAMLError):
                strict_load(path)
        else:
            strict_load(path)


@pytest.mark.parametrize("tree", TREES)
def test_tree_has_its_files(tree: str) -> None:
    root = CORPUS / tree
    for name in ("README.md", "inputs.yaml", "expect.yaml"):
        assert (root / name).is_file(), name
    stacks = root / "srv" / "stacks"
    composes = [p for p in stacks.rglob("*") if p.name in COMPOSE_NAMES]
    assert len(composes) >= 2
    for path in composes:
        doc = strict_load(path)
        assert isinstance(doc.get("services"), dict) and doc["services"], path
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 150, path
    odoo = stacks / expect(tree)["facts"]["odoo_service"]["file"]
    assert len(odoo.read_text(encoding="utf-8").splitlines()) >= 40, "small enough, not bare"


@pytest.mark.parametrize("tree", TREES)
def test_inputs_keep_to_the_format(tree: str) -> None:
    inputs = strict_load(CORPUS / tree / "inputs.yaml")
    for key, value in inputs.items():
        assert key in INPUT_KEYS, key
        sub = INPUT_KEYS[key]
        if isinstance(value, dict) and sub is not None:
            assert set(value) <= sub, (key, value)
    if isinstance(inputs.get("tenant_ui"), str):
        assert inputs["tenant_ui"] == "proxy"
    assert inputs["master_password"] == "generate" or set(inputs["master_password"]) == {"file"}
    for cidr in inputs["admin"]["allow"]:
        net = ipaddress.ip_network(cidr)
        assert net.prefixlen > 0, cidr
        if net.version == 4:
            assert not net.overlaps(DOCKER_NETS), cidr


@pytest.mark.parametrize("tree", TREES)
def test_expect_is_well_formed(tree: str) -> None:
    exp = expect(tree)
    assert set(exp) == EXPECT_KEYS, set(exp) ^ EXPECT_KEYS
    version = exp["traefik_version"]
    assert isinstance(version, str) and re.fullmatch(r"[23]\.\d+", version), version
    major, minor = (int(x) for x in version.split("."))
    assert exp["admin_middleware_kind"] == (
        "ipWhiteList" if (major, minor) < (2, 11) else "ipAllowList"
    )
    assert exp["real_traefik"] is (major == 3)
    assert exp["unchanged_everything_else"] is True
    assert exp["admin_allowlisted_after"] is True
    assert all(isinstance(h, str) and h for h in exp["hazards"])
    assert set(exp["facts"]) == FACT_KEYS


@pytest.mark.parametrize("tree", TREES)
def test_version_matches_the_image_or_the_inputs(tree: str) -> None:
    exp = expect(tree)
    stacks = CORPUS / tree / "srv" / "stacks"
    edge = stacks / exp["facts"]["stacks"]["traefik"]
    image = strict_load(compose_file(edge))["services"]
    (tag,) = {str(s["image"]).split(":", 1)[1] for s in image.values() if "traefik" in s["image"]}
    env = dotenv(edge)
    tag = re.sub(
        r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or m.group(2) or "", tag
    )
    tag_version = re.fullmatch(r"v?(\d+\.\d+)(\.\d+)?", tag)
    inputs = strict_load(CORPUS / tree / "inputs.yaml")
    if exp["traefik_version_from"] == "image":
        assert tag_version and tag_version.group(1) == exp["traefik_version"], tag
    else:
        assert exp["traefik_version_from"] == "inputs"
        assert tag_version is None, tag
        assert inputs["traefik_version"] == exp["traefik_version"]


@pytest.mark.parametrize("tree", TREES)
def test_files_named_exist_and_nodes_are_there(tree: str) -> None:
    stacks = CORPUS / tree / "srv" / "stacks"
    files = expect(tree)["files"]
    assert any(spec.get("new") for spec in files.values())
    for rel, spec in files.items():
        path = stacks / rel
        if spec.get("new"):
            assert spec == {"new": True}, rel
            assert not path.exists(), f"{rel} is to be created but exists"
            continue
        assert path.is_file(), rel
        nodes = spec["may_change"]
        if nodes == "whole":
            continue
        doc = load_dynamic(path)
        for node in nodes:
            assert isinstance(node, list) and all(isinstance(p, str) for p in node), node
            if node[-1].startswith("+"):
                assert _dig(doc, node[:-1]), (rel, node)
                if node[-1] != "+*":
                    assert not _dig(doc, [*node[:-1], node[-1][1:]]), (rel, node)
            else:
                assert all(not p.startswith("+") for p in node), node
                assert _dig(doc, node), (rel, node)


@pytest.mark.parametrize("tree", TREES)
def test_facts_are_in_the_tree(tree: str) -> None:
    facts = expect(tree)["facts"]
    stacks = CORPUS / tree / "srv" / "stacks"
    for name in facts["stacks"].values():
        assert (stacks / name).is_dir(), name
    for role in ("odoo_service", "router_service"):
        doc = strict_load(stacks / facts[role]["file"])
        assert facts[role]["service"] in doc["services"], role
    odoo = strict_load(stacks / facts["odoo_service"]["file"])
    store = facts["filestore"]
    if "volume" in store:
        assert store["volume"] in odoo["volumes"], store
    else:
        assert store["bind"] in (stacks / facts["odoo_service"]["file"]).read_text("utf-8")
    nginx = (stacks / facts["nginx_config"]).read_text(encoding="utf-8")
    assert "map $host" in nginx and "X-Odoo-dbfilter" in nginx
    said = _said_by_nginx(facts, nginx)
    inputs = strict_load(CORPUS / tree / "inputs.yaml")
    for key, path in INPUT_OF_FACT.items():
        fact = facts[key]
        given = _get(inputs, path)
        assert fact["from"] in ("nginx", "inputs", "both"), key
        assert said[key] is (fact["from"] != "inputs"), (key, "nginx")
        assert (given is not None) is (fact["from"] != "nginx"), (key, "inputs")
        if isinstance(given, dict) and key == "tenant_hosts":
            assert given.items() <= fact["value"].items(), key
        elif given is not None:
            assert given == fact["value"], key


INPUT_OF_FACT = {
    "admin_hosts": ["admin", "hosts"],
    "admin_allow": ["admin", "allow"],
    "tenant_subdomains": ["tenants", "subdomains"],
    "tenant_hosts": ["tenants", "hosts"],
    "tenant_ui": ["tenant_ui"],
}


def _get(doc: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _said_by_nginx(facts: dict[str, Any], nginx: str) -> dict[str, bool]:
    """Whether each fact's value is written in the nginx config (a check of the data)."""
    sub = facts["tenant_subdomains"]["value"]
    ui = facts["tenant_ui"]["value"]
    return {
        "admin_hosts": all(h in nginx for h in facts["admin_hosts"]["value"]),
        "admin_allow": any(c in nginx for c in facts["admin_allow"]["value"]),
        "tenant_subdomains": re.escape(sub["domain"]) in nginx and sub["db_prefix"] in nginx,
        "tenant_hosts": all(
            re.search(rf"{re.escape(h)}\s+\"?{re.escape(d)}\"?;", nginx)
            for h, d in facts["tenant_hosts"]["value"].items()
        ),
        "tenant_ui": "return 302" not in nginx
        if ui == "proxy"
        else all(f"302 {u}" in nginx for u in ui.values()),
    }


@pytest.mark.parametrize("tree", TREES)
def test_routing_probes_are_well_formed(tree: str) -> None:
    exp = expect(tree)
    routing = exp["routing"]
    assert set(routing) == {"service", "before", "after"}
    assert re.fullmatch(r"[\w.-]+@(file|docker)", routing["service"])
    assert list(routing["before"]) == list(routing["after"])
    for table in ("before", "after"):
        for probe, winner in routing[table].items():
            assert WINNER.match(winner), (table, probe, winner)
            if table == "after":
                assert not winner.startswith("tie("), probe
    probes = {p.split("/", 1)[0] for p in routing["before"]}
    facts = exp["facts"]
    for host in [*facts["admin_hosts"]["value"], *facts["tenant_hosts"]["value"]]:
        assert host in probes, host
    domain = facts["tenant_subdomains"]["value"]["domain"]
    assert any(p.endswith("." + domain) and p not in facts["admin_hosts"]["value"] for p in probes)


@pytest.mark.parametrize("case", CASES)
def test_bad_case_is_well_formed(case: str) -> None:
    root = BAD / case
    exp = strict_load(root / "expect.yaml")
    assert set(exp) <= BAD_KEYS and {"base", "exit", "message", "file"} <= set(exp)
    assert exp["exit"] == 3
    assert exp["message"] and all(isinstance(m, str) and m for m in exp["message"])
    base = CORPUS / exp["base"]
    assert base.is_dir(), exp["base"]
    overlay = [p for p in root.rglob("*") if p.is_file() and p.name not in ("expect.yaml",)]
    assert overlay, "a case replaces at least one file of its base"
    for path in overlay:
        rel = path.relative_to(root)
        assert (base / rel).is_file(), f"{rel} replaces nothing in {exp['base']}"
        assert path.read_bytes() != (base / rel).read_bytes(), rel
    at_fault = exp["file"]
    where = root if (root / at_fault).is_file() else base
    if at_fault != "inputs.yaml":
        at_fault = f"srv/stacks/{at_fault}"
        where = root if (root / at_fault).is_file() else base
    lines = (where / at_fault).read_text(encoding="utf-8").splitlines()
    numbers = exp.get("line", [])
    for number in numbers if isinstance(numbers, list) else [numbers]:
        assert 1 <= number <= len(lines)
        line = lines[number - 1]
        words = [*exp["message"], exp.get("key", "").rsplit(".", 1)[-1]]
        assert any(w and w in line for w in words) or exp.get("unparsable"), (case, line)
    if exp.get("unparsable"):
        assert at_fault in exp["unparsable"]
        with pytest.raises(yaml.MarkedYAMLError) as err:
            strict_load(where / at_fault)
        mark = err.value.problem_mark
        assert mark is not None and mark.line + 1 == exp["line"], str(err.value)
    if "key" in exp:
        assert exp["key"] in exp["message"]


@pytest.mark.parametrize("tree", TREES)
def test_traefik_watches_a_directory_of_the_tree(tree: str) -> None:
    edge = stacks(tree) / expect(tree)["facts"]["stacks"]["traefik"]
    files = dynamic_files(edge)
    assert 1 <= len({p for p in files if p.parent == files[0].parent}) <= 5, files
    for path in files:
        assert set(load_dynamic(path)) <= {"http", "tls", "tcp", "udp"}, path
    assert exposed_by_default(edge) is expect(tree)["facts"]["exposed_by_default"]
