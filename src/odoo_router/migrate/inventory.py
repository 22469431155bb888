"""``inventory``: what only the running server can tell, on top of the survey of the files.

Docker (containers, volumes, networks' subnets, images, the compose project each stack
runs as), PostgreSQL (databases and sizes) and the Traefik API (version, routers), each
optional: a source that cannot be read is reported in ``errors``, not fatal, so that
``plan`` can say exactly what it could not check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .docker_api import Docker
from .edge import RouterDef
from .facts import Fact
from .inputs import Inputs
from .layout import Layout
from .merge import Overrides
from .pg import Pg
from .runner import CommandError
from .simulate import simulate
from .survey import Survey, survey
from .traefik import TraefikAPI, TraefikError, routers_from_body
from .traefik_model import RoutingTable, from_api
from .traefik_version import TraefikVersionError, from_api_body


@dataclass
class Inventory:
    survey: Survey
    traefik_version: str | None = None  # what runs, from the API
    traefik_routers: list[RouterDef] = field(default_factory=list)
    traefik_table: RoutingTable | None = None  # the API's routers: the "before" table
    volumes: list[str] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    odoo_container: str | None = None
    router_container: str | None = None
    projects: dict[str, str] = field(default_factory=dict)  # odoo/router -> running project
    networks: dict[str, list[str] | None] = field(default_factory=dict)  # name -> subnets
    images: dict[str, bool] = field(default_factory=dict)  # image -> present locally
    odoo_image: str | None = None
    data_volume: str | None = None  # the named volume at Odoo's data_dir, as docker says ...
    data_bind: str | None = None  # ... or the host directory bind-mounted there
    databases: list[str] = field(default_factory=list)
    db_sizes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # source -> why it could not be read

    def to_json(self) -> dict[str, Any]:
        s = self.survey
        sim = simulate(s, None, None, self.traefik_table)
        return {
            "facts": s.facts_lines(),
            "hazards": s.hazards + (sim.hazards if sim is not None else []),
            "routing": sim.lines() if sim is not None else [],
            "problems": s.problems,
            "warnings": s.warnings,
            "files": s.reads,
            "traefik_version": self.traefik_version,
            "traefik_routers": sorted(r.full for r in self.traefik_routers),
            "volumes": self.volumes,
            "containers": [
                {"name": c.get("Names"), "image": c.get("Image"), "state": c.get("State")}
                for c in self.containers
            ],
            "odoo_conf": _redacted(s.tree.odoo_options),
            "odoo_container": self.odoo_container,
            "router_container": self.router_container,
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


def _redacted(options: dict[str, str]) -> dict[str, str]:
    """odoo.conf's options as read, secrets shown only as set / empty / a known default."""
    opts = dict(options)
    for key in _SECRET_OPTIONS:
        if key in opts:
            value = opts[key].strip()
            opts[key] = value if value in ("", "changeme", "admin", "False") else "<set>"
    return opts


@dataclass
class Running:
    """What the Traefik API says: the version, the routers, the routing table."""

    version: Fact[str] | None = None
    routers: list[RouterDef] = field(default_factory=list)
    table: RoutingTable | None = None
    error: str = ""


def running_traefik(traefik: TraefikAPI | None) -> Running:
    if traefik is None:
        return Running(error="no Traefik API given")
    source = f"Traefik API {traefik.base_url}"
    try:
        version = from_api_body(traefik.version_body(), source)
        routers_body = traefik.list_body("/api/http/routers")
        middlewares_body = traefik.list_body("/api/http/middlewares")
    except (TraefikError, TraefikVersionError) as exc:
        return Running(error=str(exc))
    routers = [
        RouterDef(r.short_name, r.provider, r.rule, r.service, r.middlewares, None, "API")
        for r in routers_from_body(routers_body)
    ]
    table = from_api(routers_body, middlewares_body, version, "API")
    return Running(Fact(str(version), source), routers, table)


def gather(
    layout: Layout,
    docker: Docker | None,
    pg: Pg | None,
    traefik: TraefikAPI | None,
    traefik_version: str | None = None,
    inputs: Inputs | None = None,
    over: Overrides | None = None,
) -> Inventory:
    """The survey of the files plus the live state. ``traefik_version`` skips the API."""
    over = over or Overrides(traefik_version=traefik_version)
    run = Running() if traefik_version else running_traefik(traefik)
    s = survey(layout, inputs or Inputs(), over, run.version)
    inv = Inventory(survey=s, traefik_routers=run.routers, traefik_table=run.table)
    inv.traefik_version = run.version.value if run.version else traefik_version
    if run.error and traefik is not None:
        inv.errors["traefik"] = run.error
    t = s.tree
    if t.odoo is not None:
        inv.odoo_container = t.odoo.cf.container(t.odoo.svc.name)
    if t.router is not None:
        inv.router_container = t.router.cf.container(t.router.svc.name)
    fs = s.filestore
    if fs is not None and fs.kind == "volume":
        inv.data_volume = fs.name
    elif fs is not None and fs.host is not None:
        inv.data_bind = str(fs.host)
    if docker is not None:
        _docker(inv, docker)
    if pg is not None:
        try:
            inv.databases = pg.databases()
            inv.db_sizes = pg.sizes(inv.databases)
        except (CommandError, OSError) as exc:
            inv.errors["postgres"] = str(exc)
    return inv


def _docker(inv: Inventory, docker: Docker) -> None:
    s = inv.survey
    try:
        inv.containers = docker.ps_all()
        inv.volumes = docker.volumes()
        nets: set[str] = set()
        for role in (s.tree.router, s.tree.traefik):
            if role is not None:
                nets |= {role.cf.network_name(n) for n in role.svc.networks}
        for net in sorted(nets):
            inv.networks[net] = docker.network_subnets(net)
        for target, name in (("odoo", inv.odoo_container), ("router", inv.router_container)):
            info = docker.inspect(name) if name else None
            labels = ((info or {}).get("Config") or {}).get("Labels") or {}
            if labels.get("com.docker.compose.project"):
                inv.projects[target] = str(labels["com.docker.compose.project"])
        info = docker.inspect(inv.odoo_container) if inv.odoo_container else None
        if info is not None:
            inv.odoo_image = str((info.get("Config") or {}).get("Image") or "") or None
            fs = s.filestore
            for m in info.get("Mounts") or ():
                if fs is None or str(m.get("Destination", "")).rstrip("/") != fs.target.rstrip("/"):
                    continue
                if m.get("Type") == "volume":
                    inv.data_volume = m.get("Name")
                elif m.get("Type") == "bind":
                    inv.data_bind = m.get("Source")
    except (CommandError, OSError, ValueError) as exc:
        inv.errors["docker"] = str(exc)


def _bare(layout: Layout) -> Survey:
    """The survey without inputs (what a backup without a plan can know)."""
    return survey(layout, Inputs(), Overrides(traefik_version="3.0"))


def tree_files(layout: Layout) -> list[Path]:
    """Every file discovery reads in this tree (a backup without a plan covers them)."""
    return [layout.path(rel) for rel, sha in _bare(layout).reads.items() if sha is not None]


def tree_watched(layout: Layout) -> list[str]:
    """Traefik's directory as discovery finds it (for a backup without a plan)."""
    return [layout.rel(d) for d in _bare(layout).watched]
