"""What Traefik's file and docker providers make of an operator's tree (pure reads).

File provider (``pkg/provider/file/file.go``): every ``.yml``/``.yaml``/``.toml`` file of the
directory and its subdirectories, in name order; one file that fails to decode fails them
all (see traefik_schema); a router, service or middleware already defined by an earlier file
is skipped with a warning.

Docker provider (``pkg/provider/docker/config.go``, ``shared.go``, ``provider/configuration.go``):
- a container is kept when ``traefik.enable`` says true, or is absent and
  ``exposedByDefault`` is true (the default);
- its name is ``normalize(<compose service>_<compose project>)`` (every run of characters
  that are not letters or digits becomes ``-``): the default service and router name;
- no service label: one service of that name; no router label: one router of that name
  (only when the container has at most one service) with the default rule
  ``Host(`{{ normalize .Name }}`)``; a router without ``service`` takes the only service,
  and is dropped when there are several;
- a name defined by two containers with different settings is dropped from both.
Label keys compare case-insensitively; compose interpolates ``${VAR}`` in label values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .tomltext import loads as toml_loads
from .traefik_model import MiddlewareEntry, RoutingTable, make_router, qualify
from .traefik_schema import SchemaProblem, lint_text
from .traefik_version import TraefikVersion, interpolate
from .yamltext.tabs import compose as compose_yaml
from .yamltext.tabs import safe_load

DEFAULT_RULE = "Host(`{{ normalize .Name }}`)"
_EXTS = (".yml", ".yaml", ".toml")


def normalize(name: str) -> str:
    return "-".join(p for p in re.split(r"[^\w]|_", name) if p)


def _ci(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    return next((v for k, v in mapping.items() if str(k).lower() == key), None)


def dynamic_files(directory: Path) -> list[Path]:
    """The files the file provider reads, in its order (name order, subdirectories in place)."""
    out: list[Path] = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.is_dir():
            out += dynamic_files(entry)
        elif entry.suffix.lower() in _EXTS:
            out.append(entry)
    return out


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, name) -> line of the name's key under http.<section>, for messages."""
    out: dict[tuple[str, str], int] = {}
    try:
        root = compose_yaml(text)
    except yaml.YAMLError:
        return out
    for k, v in getattr(root, "value", ()) if isinstance(root, yaml.MappingNode) else ():
        if str(k.value).lower() != "http" or not isinstance(v, yaml.MappingNode):
            continue
        for sk, sv in v.value:
            if isinstance(sv, yaml.MappingNode):
                for nk, _nv in sv.value:
                    out[(str(sk.value).lower(), str(nk.value))] = nk.start_mark.line + 1
    return out


def load_file_provider(
    directory: Path,
    version: TraefikVersion,
    default_rule_syntax: str | None = None,
    label: str | None = None,
) -> tuple[RoutingTable, list[SchemaProblem]]:
    """The file provider's routers, middlewares and services (names ``@file``), and every
    problem found on the way. ``label`` prefixes file names in messages."""
    table = RoutingTable(version)
    problems: list[SchemaProblem] = []
    decoded: list[tuple[str, dict[str, Any], dict[tuple[str, str], int]]] = []
    prefix = (label.rstrip("/") + "/") if label else ""
    for path in dynamic_files(directory):
        name = prefix + str(path.relative_to(directory))
        text = path.read_text(encoding="utf-8")
        found = lint_text(text, name, version, default_rule_syntax)
        problems += found
        if any(p.fatal for p in found):
            continue
        if path.suffix.lower() == ".toml":
            data: Any = toml_loads(text)
        else:
            data = safe_load(text)
        decoded.append((name, data if isinstance(data, dict) else {}, _key_lines(text)))
    failed = sorted({p.file for p in problems if p.fatal})
    if failed:
        table.problems.append(
            f"file provider: {', '.join(failed)} cannot be decoded, so Traefik {version} loads "
            f"none of the {len(decoded) + len(failed)} files of the directory"
        )
        return table, problems
    owners: dict[tuple[str, str], str] = {}
    for name, data, lines in decoded:
        http = _ci(data, "http") or {}
        for section in ("routers", "middlewares", "services"):
            for key, conf in (_ci(http, section) or {}).items():
                where = f"{name}:{lines.get((section, str(key)), 0)}"
                if (section, key) in owners:
                    table.problems.append(
                        f"{where}: {section[:-1]} {key} already defined in "
                        f"{owners[(section, key)]}: Traefik skips this one"
                    )
                    continue
                owners[(section, key)] = where
                _add(
                    table,
                    section,
                    str(key),
                    conf or {},
                    "file",
                    version,
                    where,
                    default_rule_syntax,
                )
    return table, problems


def _add(
    table: RoutingTable,
    section: str,
    name: str,
    conf: Mapping[str, Any],
    provider: str,
    version: TraefikVersion,
    where: str,
    default_rule_syntax: str | None,
) -> None:
    if section == "routers":
        table.routers.append(make_router(name, provider, conf, version, where, default_rule_syntax))
    elif section == "middlewares":
        kind, body = next(iter(conf.items()), ("", {}))
        full = qualify(name, provider)
        cfg = body if isinstance(body, Mapping) else {}
        table.middlewares[full] = MiddlewareEntry(full, str(kind).lower(), cfg, where)
    else:
        table.services.add(qualify(name, provider))


# --- docker labels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposeService:
    project: str
    service: str
    labels: Mapping[str, str]  # interpolated values
    lines: Mapping[str, int]  # label key -> line in the compose file
    source: str  # "odoo18-prod/docker-compose.yml"


def project_name(compose: Path, data: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """Compose's project name: top-level ``name``, COMPOSE_PROJECT_NAME, else the folder."""
    raw = str(data.get("name") or env.get("COMPOSE_PROJECT_NAME") or compose.resolve().parent.name)
    return re.sub(r"[^a-z0-9_-]", "", raw.lower())


def compose_services(
    compose: Path, env: Mapping[str, str], label: str, project: str | None = None
) -> list[ComposeService]:
    """The services of one compose file with their labels (list or mapping form)."""
    text = compose.read_text(encoding="utf-8")
    data = safe_load(text) or {}
    root = compose_yaml(text)
    out: list[ComposeService] = []
    proj = project or project_name(compose, data, env)
    services_node = _node(root, "services")
    for sname, svc in (data.get("services") or {}).items():
        labels: dict[str, str] = {}
        lines: dict[str, int] = {}
        lnode = _node(_node(services_node, str(sname)), "labels")
        raw = (svc or {}).get("labels") or {}
        if isinstance(raw, list):
            items = [(str(x).partition("=")[0], str(x).partition("=")[2]) for x in raw]
            marks = [n.start_mark.line + 1 for n in getattr(lnode, "value", [])]
        else:
            items = [(str(k), "" if v is None else _label_str(v)) for k, v in raw.items()]
            marks = [k.start_mark.line + 1 for k, _ in getattr(lnode, "value", [])]
        for i, (k, v) in enumerate(items):
            labels[k.strip()] = interpolate(v, env)[0]
            lines[k.strip()] = marks[i] if i < len(marks) else 0
        out.append(ComposeService(proj, str(sname), labels, lines, label))
    return out


def _label_str(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if str(k.value) == key), None)


def _default_rule(template: str, name: str, svc: ComposeService) -> str | None:
    """The few template forms operators use; None when the template is beyond that."""
    out = re.sub(r"\{\{\s*normalize\s+\.Name\s*\}\}", normalize(name), template)
    out = re.sub(r"\{\{\s*\.Name\s*\}\}", name, out)
    out = re.sub(
        r"\{\{\s*index\s+\.Labels\s+\"([^\"]+)\"\s*\}\}",
        lambda m: svc.labels.get(m.group(1), ""),
        out,
    )
    return None if "{{" in out else out


def load_docker(
    services: Sequence[ComposeService],
    version: TraefikVersion,
    exposed_by_default: bool = True,
    default_rule: str = DEFAULT_RULE,
    default_rule_syntax: str | None = None,
) -> RoutingTable:
    """The docker provider's HTTP routers (names ``@docker``) for these compose services,
    as if each ran."""
    table = RoutingTable(version)
    seen: dict[str, tuple[dict[str, Any], str]] = {}
    dropped: set[str] = set()
    for svc in services:
        low = {k.lower(): (k, v) for k, v in svc.labels.items()}
        enable = low.get("traefik.enable", ("", ""))[1].strip()
        if not (enable.lower() in ("true", "1", "t") if enable else exposed_by_default):
            continue
        name = normalize(f"{svc.service}_{svc.project}")
        conf: dict[str, dict[str, dict[str, Any]]] = {
            "routers": {},
            "services": {},
            "middlewares": {},
        }
        for key, (orig, value) in low.items():
            parts = orig.split(".")
            if len(parts) < 5 or key.split(".")[:2] != ["traefik", "http"]:
                continue
            section = parts[2].lower()
            if section not in conf:
                continue
            entry = conf[section].setdefault(
                parts[3], {"_line": f"{svc.source}:{svc.lines.get(orig, 0)}"}
            )
            field = ".".join(parts[4:]).lower()
            if section == "middlewares":
                entry.setdefault("_kind", parts[4].lower())
                entry.setdefault("_conf", {})[".".join(parts[5:]).lower()] = value
            elif field.startswith("tls"):
                entry["tls"] = True
            else:
                entry[field] = value
        if not conf["services"]:
            conf["services"][name] = {"_line": f"{svc.source}"}
        if not conf["routers"] and len(conf["services"]) <= 1:
            conf["routers"][name] = {"_line": f"{svc.source}"}
        for rname, r in conf["routers"].items():
            if not r.get("rule"):
                rule = _default_rule(default_rule, name, svc)
                if rule is None:
                    table.problems.append(
                        f"{svc.source}: router {rname}: defaultRule {default_rule!r} "
                        "cannot be simulated"
                    )
                    continue
                r["rule"] = rule
            if not r.get("service"):
                if len(conf["services"]) > 1:
                    table.problems.append(
                        f"{r['_line']}: router {rname}@docker has no service and "
                        "the container has several: Traefik drops it"
                    )
                    continue
                r["service"] = next(iter(conf["services"]))
            _merge(seen, dropped, table, f"routers/{rname}", r, r["_line"])
        for sname in conf["services"]:
            table.services.add(f"{sname}@docker")
        for mname, m in conf["middlewares"].items():
            full = f"{mname}@docker"
            table.middlewares[full] = MiddlewareEntry(
                full, m.get("_kind", ""), m.get("_conf", {}), m["_line"]
            )
    for key, (r, where) in seen.items():
        if key not in dropped:
            name = key.split("/", 1)[1]
            body = {k: v for k, v in r.items() if not k.startswith("_")}
            table.routers.append(
                make_router(name, "docker", body, version, where, default_rule_syntax)
            )
    return table


def _merge(
    seen: dict[str, tuple[dict[str, Any], str]],
    dropped: set[str],
    table: RoutingTable,
    key: str,
    conf: dict[str, Any],
    where: str,
) -> None:
    if key in seen:
        old = {k: v for k, v in seen[key][0].items() if not k.startswith("_")}
        if old != {k: v for k, v in conf.items() if not k.startswith("_")}:
            dropped.add(key)
            table.problems.append(
                f"{where}: {key.split('/')[1]}@docker is defined differently at "
                f"{seen[key][1]}: Traefik drops both"
            )
        return
    seen[key] = (conf, where)
