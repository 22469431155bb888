"""A fake Traefik API for the migrate tests: ``/api/version``, ``/api/http/routers`` and
``/api/http/middlewares`` in Traefik's own shapes (and paging), computed on every request
from what a Traefik of that version would load. Written from Traefik's documented
behaviour, not from the tool's model, so that the tool's reading of the API is checked
against something it did not produce.

Files: every ``.yml``, ``.yaml`` and ``.toml`` below the file provider's directory,
subfolders included (Traefik walks it), each decoded alone; a file this version cannot
decode (``ipWhiteList`` on v3, ``ipAllowList`` before 2.11) is dropped whole.

Labels (with a docker engine): every running container that ``traefik.enable`` (else
``exposedByDefault``) lets in. Its ``traefik.http.routers|services|middlewares.*`` labels
(option names case-insensitive); a router without ``service`` takes the container's only
service, else one Traefik makes for the container (``<service>-<project>``); a container
with no router gets Traefik's default one (``Host(`<that name>`)``).

Every router: entry points as written, else all of them; ``tls`` as written, or from an
entry point with ``http.tls``; ``enabled`` when its middlewares and service exist, else
``disabled`` with Traefik's error.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import tomllib
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from harness.stub_http import serve

# The API spells options in camelCase; labels may use any case. The ones the tool reads.
CANONICAL = {
    k.lower(): k
    for k in (
        "ipAllowList",
        "ipWhiteList",
        "sourceRange",
        "ipStrategy",
        "excludedIPs",
        "customRequestHeaders",
        "customResponseHeaders",
        "basicAuth",
        "redirectScheme",
        "redirectRegex",
        "stripPrefix",
    )
}


@dataclass(frozen=True)
class Edge:
    """What the fake needs from Traefik's static configuration."""

    dynamic: Path | None
    exposed_by_default: bool = False
    entry_points: Mapping[str, bool] = field(default_factory=dict)  # name -> TLS by default


def _decodes(text: str, major_minor: tuple[int, int]) -> bool:
    if major_minor >= (3, 0) and "ipWhiteList" in text:
        return False  # removed in v3: the file fails to decode
    return not (major_minor < (2, 11) and "ipAllowList" in text)  # not known yet


# libyaml where PyYAML has it: Go's YAML is a port of it (a tab before a comment is fine)
GO_LIKE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _file_docs(dynamic: Path | None, major_minor: tuple[int, int]) -> list[dict[str, Any]]:
    if dynamic is None or not dynamic.exists():
        return []
    docs = []
    files = [dynamic] if dynamic.is_file() else sorted(p for p in dynamic.rglob("*"))
    for f in (p for p in files if p.is_file()):  # a directory, or providers.file.filename
        if f.suffix not in (".yml", ".yaml", ".toml"):
            continue
        text = f.read_text("utf-8")
        if not _decodes(text, major_minor):
            continue
        text = text.removeprefix("\ufeff")  # Traefik skips a byte order mark
        doc = tomllib.loads(text) if f.suffix == ".toml" else yaml.load(text, Loader=GO_LIKE)
        docs.append(doc if isinstance(doc, dict) else {})
    return docs


def _qualify(name: str, provider: str) -> str:
    return name if "@" in name else f"{name}@{provider}"


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    return [str(x) for x in value or ()]


@dataclass
class _Config:
    routers: dict[str, dict[str, Any]] = field(default_factory=dict)  # qualified name -> conf
    services: set[str] = field(default_factory=set)
    middlewares: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (type, conf)


def _from_files(cfg: _Config, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        http = doc.get("http") or {}
        cfg.services |= {f"{s}@file" for s in http.get("services") or {}}
        for name, mw in (http.get("middlewares") or {}).items():
            kind, conf = next(iter((mw or {"unknown": {}}).items()))
            cfg.middlewares[f"{name}@file"] = (str(kind), conf)
        for name, r in (http.get("routers") or {}).items():
            r = dict(r or {})
            r["middlewares"] = [_qualify(m, "file") for m in _names(r.get("middlewares"))]
            if r.get("service"):
                r["service"] = _qualify(str(r["service"]), "file")
            cfg.routers[f"{name}@file"] = r


def _nest(pairs: list[tuple[list[str], str]]) -> dict[str, Any]:
    """Label option paths (``headers.customrequestheaders.X-Odoo-dbfilter``) as a mapping."""
    out: dict[str, Any] = {}
    for path, value in pairs:
        node = out
        for part in path[:-1]:
            node = node.setdefault(CANONICAL.get(part.lower(), part), {})
        last = CANONICAL.get(path[-1].lower(), path[-1])
        node[last] = _names(value) if last == "sourceRange" else value
    return out


def _container_config(cfg: _Config, info: Mapping[str, Any], exposed: bool) -> None:
    labels: dict[str, str] = info["Config"].get("Labels") or {}
    low = {k.lower(): v for k, v in labels.items()}
    if low.get("traefik.enable", str(exposed)).lower() != "true":
        return
    routers: dict[str, dict[str, Any]] = {}
    services: set[str] = set()
    mws: dict[str, list[tuple[list[str], str]]] = {}
    for key, value in labels.items():
        parts = key.split(".")
        if len(parts) < 4 or [p.lower() for p in parts[:2]] != ["traefik", "http"]:
            continue
        section, name, rest = parts[2].lower(), parts[3], parts[4:]
        if section == "routers" and rest:
            opts = routers.setdefault(name, {})
            opt = rest[0].lower()
            if opt == "tls":
                tls = opts.setdefault("tls", {})
                if len(rest) > 1 and rest[1].lower() == "certresolver":
                    tls["certResolver"] = value
            elif opt in ("rule", "service", "priority", "entrypoints", "middlewares"):
                opts[opt] = value
        elif section == "services":
            services.add(name)
        elif section == "middlewares" and rest:
            mws.setdefault(name, []).append((rest, value))
    project = labels.get("com.docker.compose.project")
    service = labels.get("com.docker.compose.service")
    own = (
        re.sub(r"[^a-zA-Z0-9]+", "-", f"{service}_{project}")
        if service and project
        else info["Name"].lstrip("/")
    )
    if not routers:
        routers[own] = {"rule": f"Host(`{own}`)"}
    if not services:
        services.add(own)
    cfg.services |= {f"{s}@docker" for s in services}
    for name, pairs in mws.items():
        nested = _nest(pairs)
        kind, conf = next(iter(nested.items()))
        cfg.middlewares[f"{name}@docker"] = (kind, conf)
    for name, opts in routers.items():
        r: dict[str, Any] = {"rule": opts.get("rule", "")}
        if "entrypoints" in opts:
            r["entryPoints"] = _names(opts["entrypoints"])
        if "priority" in opts:
            r["priority"] = int(opts["priority"])
        if "tls" in opts:
            r["tls"] = opts["tls"]
        r["middlewares"] = [_qualify(m, "docker") for m in _names(opts.get("middlewares"))]
        if opts.get("service"):
            r["service"] = _qualify(opts["service"], "docker")
        elif len(services) == 1:
            r["service"] = f"{next(iter(services))}@docker"
        else:
            r["service"] = ""
            r["error"] = ["could not define the service name for the router: too many services"]
        cfg.routers[f"{name}@docker"] = r


def _containers(env: dict[str, str]) -> list[dict[str, Any]]:
    ids = subprocess.run(
        ["docker", "ps", "-q"], env=env, capture_output=True, text=True, timeout=30
    ).stdout.split()
    if not ids:
        return []
    out = subprocess.run(
        ["docker", "inspect", *ids], env=env, capture_output=True, text=True, timeout=30
    ).stdout
    data: list[dict[str, Any]] = json.loads(out or "[]")
    return data


def _bodies(
    edge: Edge, major_minor: tuple[int, int], docker_env: dict[str, str] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cfg = _Config()
    _from_files(cfg, _file_docs(edge.dynamic, major_minor))
    for info in _containers(docker_env) if docker_env is not None else []:
        _container_config(cfg, info, edge.exposed_by_default)
    routers = []
    for name, r in cfg.routers.items():
        eps = _names(r.get("entryPoints")) or sorted(edge.entry_points)
        tls = r.get("tls")
        if tls is None and any(edge.entry_points.get(e) for e in eps):
            tls = {}
        errors = list(r.get("error") or ())
        errors += [f'middleware "{m}" does not exist' for m in r["middlewares"]
                   if m not in cfg.middlewares]  # fmt: skip
        svc = str(r.get("service") or "")
        if svc and svc not in cfg.services and not svc.endswith("@internal"):
            errors.append(f'the service "{svc}" does not exist')
        body: dict[str, Any] = {
            "entryPoints": eps,
            "middlewares": r["middlewares"] or None,
            "service": svc,
            "rule": str(r.get("rule", "")),
            "priority": int(r.get("priority") or 0),
            "status": "disabled" if errors else "enabled",
            "using": eps,
            "name": name,
            "provider": name.split("@")[1],
        }
        if r.get("ruleSyntax"):
            body["ruleSyntax"] = r["ruleSyntax"]
        if tls is not None:
            body["tls"] = tls
        if errors:
            body["error"] = errors
        routers.append(body)
    middlewares = [
        {
            kind: conf,
            "status": "enabled",
            "name": name,
            "provider": name.split("@")[1],
            "type": kind.lower(),
        }
        for name, (kind, conf) in cfg.middlewares.items()
    ]
    return routers, middlewares


@contextlib.contextmanager
def fake_traefik(
    dynamic: Path | Edge,
    version: str = "3.1.2",
    docker_env: dict[str, str] | None = None,
    per_page_cap: int = 100,
) -> Iterator[str]:
    """The API of a Traefik ``version`` loading ``dynamic`` (a directory, or an ``Edge``)
    and, with ``docker_env``, the labels of that engine's running containers."""
    edge = dynamic if isinstance(dynamic, Edge) else Edge(dynamic)
    major, minor = (int(x) for x in version.split(".")[:2])

    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/api/version":
            body = {"Version": version, "Codename": "fake", "startDate": "2026-11-27T00:00:00Z"}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        if not req.path.startswith(("/api/http/routers", "/api/http/middlewares")):
            return 404, {}, b"404 page not found\n"
        routers, middlewares = _bodies(edge, (major, minor), docker_env)
        items = middlewares if req.path.startswith("/api/http/middlewares") else routers
        items.sort(key=lambda r: str(r["name"]))
        # Traefik's paging: X-Next-Page is the next page, "1" on the last one.
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(req.path).query)
        page = int(query.get("page", ["1"])[0])
        per_page = min(int(query.get("per_page", ["100"])[0]), per_page_cap)
        start = (page - 1) * per_page
        more = start + per_page < len(items)
        headers = {"Content-Type": "application/json", "X-Next-Page": str(page + 1 if more else 1)}
        return 200, headers, json.dumps(items[start : start + per_page]).encode()

    with serve(handle) as url:
        yield url
