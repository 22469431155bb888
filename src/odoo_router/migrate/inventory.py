"""``inventory``: read the current state. Files are read from disk; docker, PostgreSQL and
Traefik through their interfaces, each optional (a missing one is reported, not fatal, so
``plan`` can say exactly what it could not check)."""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .docker_api import Docker
from .fsops import sha256_bytes
from .layout import Layout
from .pg import Pg
from .render_compose import find_odoo_service, labels_dict
from .render_router import ROUTER_CONTAINER, ROUTER_NETWORKS
from .runner import CommandError
from .traefik import TraefikAPI, TraefikError
from .yamledit import load_plain

# Files the plan reads (role -> Layout attribute); their sha256 make the plan's identity.
INPUT_ROLES = (
    "odoo_compose",
    "odoo_conf",
    "tenant_conf",
    "admin_conf",
    "middlewares",
    "services",
    "router_compose",
    "nginx_conf",
    "router_yaml",
)


@dataclass
class FileInput:
    path: Path
    data: bytes | None

    @property
    def sha256(self) -> str | None:
        return None if self.data is None else sha256_bytes(self.data)

    @property
    def text(self) -> str:
        return "" if self.data is None else self.data.decode("utf-8")


@dataclass
class ComposeService:
    name: str
    container_name: str | None
    image: str | None
    traefik_routers: list[str]
    volumes: list[str]


@dataclass
class Inventory:
    files: dict[str, FileInput]
    compose_services: dict[str, list[ComposeService]] = field(default_factory=dict)
    bind_files: set[Path] = field(default_factory=set)  # host files bind-mounted one by one
    bind_dirs: set[Path] = field(default_factory=set)
    traefik_version: str | None = None
    # dynamic file -> router -> service, and the bytes of the dynamic files we do not edit
    traefik_routers: dict[str, dict[str, str]] = field(default_factory=dict)
    traefik_files: dict[str, bytes] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    odoo_container: str | None = None
    projects: dict[str, str] = field(default_factory=dict)  # odoo/router -> compose project
    networks: dict[str, list[str] | None] = field(default_factory=dict)  # name -> subnets
    images: dict[str, bool] = field(default_factory=dict)  # image -> present locally
    odoo_image: str | None = None
    data_volume: str | None = None  # a named volume at Odoo's data_dir ...
    data_bind: str | None = None  # ... or a host directory bind-mounted there
    databases: list[str] = field(default_factory=list)
    db_sizes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # source -> why it could not be read

    def to_json(self, layout: Layout) -> dict[str, Any]:
        return {
            "files": {
                k: {"path": layout.rel(v.path), "sha256": v.sha256} for k, v in self.files.items()
            },
            "compose_services": {
                layout.rel(Path(k)): [s.__dict__ for s in v]
                for k, v in self.compose_services.items()
            },
            "traefik_version": self.traefik_version,
            "traefik_routers": self.traefik_routers,
            "volumes": self.volumes,
            "containers": [
                {"name": c.get("Names"), "image": c.get("Image"), "state": c.get("State")}
                for c in self.containers
            ],
            "odoo_conf": _redacted_options(self.files["odoo_conf"]),
            "odoo_container": self.odoo_container,
            "projects": self.projects,
            "networks": self.networks,
            "images": self.images,
            "odoo_image": self.odoo_image,
            "data_volume": self.data_volume,
            "data_bind": self.data_bind,
            "databases": self.databases,
            "db_sizes": self.db_sizes,
            "errors": self.errors,
        }


_SECRET_OPTIONS = ("admin_passwd", "db_password", "smtp_password")


def _redacted_options(f: FileInput) -> dict[str, str]:
    """odoo.conf's options as read, secrets shown only as set / empty / a known default."""
    if f.data is None:
        return {}
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(f.text)
    opts = dict(cp["options"]) if cp.has_section("options") else {}
    for key in _SECRET_OPTIONS:
        if key in opts:
            value = opts[key].strip()
            opts[key] = value if value in ("", "changeme", "admin", "False") else "<set>"
    return opts


def read_files(layout: Layout) -> dict[str, FileInput]:
    out = {}
    for role in INPUT_ROLES:
        path: Path = getattr(layout, role)
        try:
            out[role] = FileInput(path, path.read_bytes())
        except FileNotFoundError:
            out[role] = FileInput(path, None)
    return out


def compose_facts(
    text: str, project_dir: Path
) -> tuple[list[ComposeService], set[Path], set[Path]]:
    """Services with their Traefik routers (labels in list or mapping form) and the host paths
    they bind-mount (files one by one vs directories)."""
    data = load_plain(text) or {}
    services = []
    files: set[Path] = set()
    dirs: set[Path] = set()
    for name, svc in (data.get("services") or {}).items():
        svc = svc or {}
        labels = labels_dict(svc.get("labels"))
        routers = sorted(
            {
                k.split(".")[3]
                for k in labels
                if k.startswith("traefik.http.routers.") and k.count(".") >= 4
            }
        )
        vols = [
            str(v) if not isinstance(v, dict) else f"{v.get('source')}:{v.get('target')}"
            for v in svc.get("volumes") or ()
        ]
        for v in vols:
            src = v.split(":")[0]
            if src.startswith((".", "/")):
                host = (project_dir / src).resolve() if src.startswith(".") else Path(src)
                (dirs if host.is_dir() else files).add(host)
        services.append(
            ComposeService(str(name), svc.get("container_name"), svc.get("image"), routers, vols)
        )
    return services, files, dirs


def read_traefik_files(layout: Layout, inv: Inventory) -> None:
    """Every file of Traefik's dynamic directory: its routers, and the bytes of those we do
    not edit (lint and staleness cover them too: Traefik loads the whole directory)."""
    dynamic = sorted(layout.traefik_dir.glob("*.y*ml")) if layout.traefik_dir.is_dir() else []
    for dyn in dynamic:
        if dyn not in (layout.middlewares, layout.services):
            inv.traefik_files[layout.rel(dyn)] = dyn.read_bytes()
        try:
            http = (load_plain(dyn.read_text("utf-8")) or {}).get("http") or {}
        except Exception as exc:  # reported, plan decides
            inv.errors[layout.rel(dyn)] = str(exc)
            continue
        routers = http.get("routers") or {}
        inv.traefik_routers[layout.rel(dyn)] = {
            str(k): str((v or {}).get("service", "")) for k, v in routers.items()
        }


def gather(
    layout: Layout,
    docker: Docker | None,
    pg: Pg | None,
    traefik: TraefikAPI | None,
    traefik_version: str | None = None,
) -> Inventory:
    inv = Inventory(files=read_files(layout))
    for role, project in (("odoo_compose", layout.odoo_dir), ("router_compose", layout.router_dir)):
        f = inv.files[role]
        if f.data is None:
            inv.errors[role] = f"{layout.rel(f.path)} not found"
            continue
        try:
            services, files, dirs = compose_facts(f.text, project)
        except Exception as exc:  # any YAML problem is reported by plan
            inv.errors[role] = f"{layout.rel(f.path)}: {exc}"
            continue
        inv.compose_services[str(f.path)] = services
        inv.bind_files |= files
        inv.bind_dirs |= dirs
        if role == "odoo_compose":
            web = find_odoo_service({s.name: {"volumes": s.volumes} for s in services})
            for s in services:
                if s.name == web:
                    inv.odoo_container = s.container_name or f"{project.name}-{s.name}-1"
    read_traefik_files(layout, inv)
    inv.traefik_version = traefik_version
    if traefik is not None and traefik_version is None:
        try:
            inv.traefik_version = traefik.version()
        except TraefikError as exc:
            inv.errors["traefik"] = str(exc)
    if docker is not None:
        try:
            inv.containers = docker.ps_all()
            inv.volumes = docker.volumes()
            for net in ROUTER_NETWORKS:
                inv.networks[net] = docker.network_subnets(net)
            for target, name in (("odoo", inv.odoo_container), ("router", ROUTER_CONTAINER)):
                labels = (
                    ((docker.inspect(name) or {}).get("Config") or {}).get("Labels")
                    if name
                    else None
                )
                compose_project = (labels or {}).get("com.docker.compose.project")
                if compose_project:
                    inv.projects[target] = str(compose_project)
            info = docker.inspect(inv.odoo_container) if inv.odoo_container else None
            if info is not None:
                inv.odoo_image = str(info.get("Config", {}).get("Image") or "") or None
                conf = inv.files["odoo_conf"]
                opts = _redacted_options(conf)
                data_dir = opts.get("data_dir", "/var/lib/odoo").rstrip("/")
                for m in info.get("Mounts") or ():
                    if str(m.get("Destination", "")).rstrip("/") != data_dir:
                        continue
                    if m.get("Type") == "volume":
                        inv.data_volume = m.get("Name")
                    elif m.get("Type") == "bind":
                        inv.data_bind = m.get("Source")
        except (CommandError, OSError, ValueError) as exc:
            inv.errors["docker"] = str(exc)
    if pg is not None:
        try:
            inv.databases = pg.databases()
            inv.db_sizes = pg.sizes(inv.databases)
        except (CommandError, OSError) as exc:
            inv.errors["postgres"] = str(exc)
    return inv
