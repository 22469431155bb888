"""The Traefik side of discovery: static configuration, the file provider's directory and
its files, the docker provider's routers from labels, the version, with sources.

Routers are read only as far as the report needs them (which hosts a router's rule names,
which middlewares set ``X-Odoo-dbfilter``); the rule matching here is deliberately small:
``Host()`` names and ``HostRegexp()`` patterns in either syntax.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..configuration.yamlmarks import load_marked
from .composefile import ComposeFile, Service, container_path
from .discover import Reader, Role
from .facts import Fact
from .tomltext import loads as toml_loads
from .traefik_sources import STATIC_PATHS, config_file_target, list_dynamic
from .traefik_static import TraefikStatic, from_env, from_file, from_flags
from .traefik_version import TraefikVersion, from_image
from .yamltext.tabs import SafeLoader


@dataclass(frozen=True)
class RouterDef:
    name: str
    provider: str  # file | docker
    rule: str
    service: str
    middlewares: tuple[str, ...]
    priority: int | None
    where: str

    @property
    def full(self) -> str:
        return f"{self.name}@{self.provider}"


@dataclass(frozen=True)
class DbfilterMiddleware:
    name: str  # qualified: odoo-db-header@file
    value: str
    where: str


@dataclass
class Edge:
    static: TraefikStatic | None = None
    version: Fact[str] | None = None
    version_unknown: str = ""  # why the image tag gave no version
    dynamic_target: str | None = None  # container path of the file provider's directory
    dynamic_dir: Path | None = None  # its host path
    dynamic_files: list[Path] = field(default_factory=list)  # what Traefik loads
    dynamic_others: list[Path] = field(default_factory=list)
    dynamic_subdirs: list[Path] = field(default_factory=list)
    networks: dict[str, list[str]] = field(default_factory=dict)  # Traefik's networks: subnets
    routers: list[RouterDef] = field(default_factory=list)
    dbfilter_middlewares: list[DbfilterMiddleware] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_edge(traefik: Role, composes: list[ComposeFile], reader: Reader) -> Edge:
    edge = Edge()
    svc, cf = traefik.svc, traefik.cf
    raw = str(svc.raw.get("image") or "")
    found = from_image(raw, cf.env, cf.where(f"services.{svc.name}.image"))
    if isinstance(found, TraefikVersion):
        edge.version = Fact(str(found), found.source)
    else:
        edge.version_unknown = f"{found.reason}; {found.source}"
    edge.static = _static(traefik, reader, edge)
    for key in svc.networks:
        edge.networks[cf.network_name(key)] = cf.network_subnets(key)
    st = edge.static
    target = st.file_directory if st is not None else None
    single = st.file_filename if st is not None else None
    if target is not None:
        edge.dynamic_target = container_path(target.value)
        edge.dynamic_dir = traefik.host_of(edge.dynamic_target)
        if edge.dynamic_dir is None or not edge.dynamic_dir.is_dir():
            edge.problems.append(
                f"{target.source}: the file provider's directory {target.value} is not mounted "
                f"from a host directory in {cf.rel}"
            )
        else:
            loaded, others, subdirs = list_dynamic(edge.dynamic_dir)
            edge.dynamic_files, edge.dynamic_others, edge.dynamic_subdirs = loaded, others, subdirs
    elif single is not None:
        host = traefik.host_of(container_path(single.value))
        if host is None or not host.is_file():
            edge.problems.append(f"{single.source}: {single.value} is not mounted from the host")
        else:
            edge.dynamic_files = [host]
    for path in edge.dynamic_files:
        _read_dynamic(path, reader, edge)
    exposed = st.exposed_by_default.value if st is not None else True
    docker = st.docker if st is not None else False
    for c in composes:
        for s in c.services.values():
            _read_labels(c, s, exposed, docker, edge)
    return edge


def _static(traefik: Role, reader: Reader, edge: Edge) -> TraefikStatic | None:
    """Traefik's one source of static configuration: a file found through the mounts, else
    the command flags, else the environment."""
    svc, cf = traefik.svc, traefik.cf
    flags = from_flags(
        svc.command,
        f"command flags in {cf.rel}:{svc.line}",
        lambda i: cf.where(f"services.{svc.name}.command[{i}]"),
    )
    env = from_env(svc.environment, f"TRAEFIK_* environment in {cf.rel}:{svc.line}")
    named = config_file_target(svc)
    for target in [named] if named else STATIC_PATHS:
        host = traefik.host_of(container_path(target)) if target else None
        text = reader.text(host) if host is not None else None
        if host is None or text is None:
            continue
        try:
            st = from_file(text, reader.show(host), host)
        except ValueError as exc:
            edge.problems.append(str(exc))
            return None
        if flags is not None and set(flags.settings) - {"configfile"}:  # the flag naming it
            edge.warnings.append(
                f"{st.source} is Traefik's static configuration: the command flags in "
                f"{cf.rel}:{svc.line} are ignored by Traefik"
            )
        return st
    return flags or env


def _read_dynamic(path: Path, reader: Reader, edge: Edge) -> None:
    name = reader.show(path)
    text = reader.text(path) or ""
    lines: dict[str, int] = {}
    try:
        if path.suffix.lower() == ".toml":
            data: Any = toml_loads(text)
        else:
            marked = load_marked(text, name, SafeLoader)
            data, lines = marked.data, marked.lines
            if marked.duplicate_keys:
                key, line = marked.duplicate_keys[0]
                edge.problems.append(
                    f"{name}:{line}: duplicate key {key}: Traefik refuses the file"
                )
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{name}:{mark.line + 1}" if mark is not None else name
        edge.problems.append(f"{at}: not valid {path.suffix.lstrip('.').upper()}: {exc}")
        return
    http = _ci(data, "http") or {}

    def where(*keys: str) -> str:
        return f"{name}:{lines.get('.'.join(keys), 1)}" if lines else name

    for rname, r in (_ci(http, "routers") or {}).items():
        if isinstance(r, dict):
            mws = tuple(str(m) for m in _ci(r, "middlewares") or ())
            edge.routers.append(
                RouterDef(
                    str(rname),
                    "file",
                    str(_ci(r, "rule") or ""),
                    str(_ci(r, "service") or ""),
                    tuple(m if "@" in m else f"{m}@file" for m in mws),
                    _int(_ci(r, "priority")),
                    where("http", "routers", str(rname)),
                )
            )
    for mname, m in (_ci(http, "middlewares") or {}).items():
        value = _dbfilter_value(m)
        if value is not None:
            edge.dbfilter_middlewares.append(
                DbfilterMiddleware(f"{mname}@file", value, where("http", "middlewares", str(mname)))
            )


def _read_labels(cf: ComposeFile, svc: Service, exposed: bool, docker: bool, edge: Edge) -> None:
    low = {k.lower(): (k, v) for k, v in svc.labels.items()}
    enable = low.get("traefik.enable", ("", ""))[1].strip().lower()
    if not docker or not (enable in ("true", "1", "t") if enable else exposed):
        return
    routers: dict[str, dict[str, str]] = {}
    for key, (orig, value) in low.items():
        parts = key.split(".")
        if len(parts) >= 5 and parts[:3] == ["traefik", "http", "routers"]:
            r = routers.setdefault(
                orig.split(".")[3], {"_line": str(svc.label_lines.get(orig, svc.line))}
            )
            r[".".join(parts[4:])] = value
        if (
            len(parts) >= 6
            and parts[:3] == ["traefik", "http", "middlewares"]
            and (
                ".".join(parts[4:6]) == "headers.customrequestheaders"
                and ".".join(parts[6:]) == "x-odoo-dbfilter"
            )
        ):
            line = svc.label_lines.get(orig, svc.line)
            edge.dbfilter_middlewares.append(
                DbfilterMiddleware(f"{orig.split('.')[3]}@docker", value, f"{cf.rel}:{line}")
            )
    for name, r in routers.items():
        mws = tuple(m.strip() for m in r.get("middlewares", "").split(",") if m.strip())
        edge.routers.append(
            RouterDef(
                name,
                "docker",
                r.get("rule", ""),
                r.get("service", ""),
                tuple(m if "@" in m else f"{m}@docker" for m in mws),
                _int(r.get("priority")),
                f"{cf.rel}:{r['_line']}",
            )
        )


def _ci(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    return next((v for k, v in mapping.items() if str(k).lower() == key), None)


def _int(value: Any) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _dbfilter_value(mw: Any) -> str | None:
    custom = _ci(_ci(mw, "headers"), "customrequestheaders") or {}
    return next((str(v) for k, v in custom.items() if str(k).lower() == "x-odoo-dbfilter"), None)


# ---------------------------------------------------------------------------- rule hosts


def _v2_template(pattern: str) -> str:
    """``{sub:[a-z0-9]+}.erp.example.tokyo`` -> a Python regex."""
    out, i = [], 0
    for m in re.finditer(r"\{(\w*):?([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", pattern):
        out.append(re.escape(pattern[i : m.start()]))
        out.append(f"({m.group(2) or '[^.]+'})")
        i = m.end()
    out.append(re.escape(pattern[i:]))
    return "^" + "".join(out) + "$"


def rule_matches_host(rule: str, host: str) -> bool:
    """Whether a router's rule can match ``host`` (the Host part only)."""
    for group in re.findall(r"\bHost\(([^)]*)\)", rule):
        if host in [h.lower() for h in re.findall(r"`([^`]*)`", group)]:
            return True
    for pattern in re.findall(r"\bHostRegexp\(`([^`]*)`", rule):
        rx = pattern if pattern.startswith("^") else _v2_template(pattern)
        try:
            if re.search(rx, host, re.I):
                return True
        except re.error:
            continue
    return False
