"""Which Traefik router takes each Odoo host, before and after the migration (simulated).

The routing table is the traefik branch's model (traefik_model, traefik_providers): the
file provider's directory as Traefik reads it and the docker provider's routers from the
compose labels of every service (``exposedByDefault``, ``traefik.enable``, ``.env``), under
the static settings Traefik uses (traefik_static, as discovery read them). Before: the tree
as it is, or the snapshot's routers when there is one. After: the same with the rendered
files in place.

Probes: ``/web/login`` and ``/websocket`` of every admin host, every exact tenant host and
a tenant subdomain per domain (``acme.<domain>``), plus the paths of path-specific routers
on those hosts (a QR router's ``/qr/``), on the HTTPS entry point the Odoo routers use.
After the migration, for every probe: a tie, no router, a router that does not reach the
odoo-router service (on a path of another router's only when it reaches Odoo directly),
or an admin host reaching Odoo without an allowlist are pre-flight errors; ties before it
are the hazard being fixed, reported.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .survey import Survey
from .traefik_match import Request, rule_matches
from .traefik_model import RouterEntry, RoutingTable, Winner, qualify
from .traefik_providers import compose_services, load_docker, load_file_provider
from .traefik_rule_tree import walk
from .traefik_schema import SchemaProblem
from .traefik_static import DEFAULTS, StaticSettings
from .traefik_version import TraefikVersion, UnknownVersion, parse_version

PATHS = ("/web/login", "/websocket")


@dataclass
class Row:
    probe: str  # "host" (/web/login) or "host/path"
    host: str
    path: str
    admin: bool
    before: Winner
    after: Winner | None = None


@dataclass
class Simulation:
    entry_point: str
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hazards: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if all(r.after is None for r in self.rows):
            return [f"routing on {self.entry_point} (today):"] + [
                f"  {r.probe}: {_name(r.before)}" for r in self.rows
            ]
        out = [f"routing on {self.entry_point} (before -> after):"]
        for r in self.rows:
            after = _name(r.after) if r.after is not None else "(not rendered)"
            out.append(f"  {r.probe}: {_name(r.before)} -> {after}")
        return out


def _name(w: Winner) -> str:
    if w.is_tie:
        return "tie(" + ", ".join(r.name for r in w.tie) + ")"
    if w.router is None:
        return "no router (404)"
    allow = " [allowlist]" if w.allowlists else ""
    return f"{w.router.name}{allow}"


def traefik_version(s: Survey) -> TraefikVersion | None:
    if s.version is None:
        return None
    v = parse_version(s.version.value, s.version.source)
    return None if isinstance(v, UnknownVersion) else v


def static_settings(s: Survey) -> StaticSettings:
    """The static settings discovery read (edge.py), else Traefik's defaults."""
    e = s.edge
    return (e.static if e is not None and e.static is not None else DEFAULTS).typed()


def build_table(
    s: Survey, version: TraefikVersion, static: StaticSettings, files: Mapping[Path, bytes]
) -> tuple[RoutingTable, list[SchemaProblem]]:
    """The table of the tree with ``files`` (host path -> bytes) in place of the originals."""
    table = RoutingTable(version)
    problems: list[SchemaProblem] = []
    with tempfile.TemporaryDirectory(prefix="odoo-router-migrate-") as tmp:
        root = Path(tmp)
        e = s.edge
        # the directory's files, or the one file of ``providers.file.filename``: a
        # directory holding only it reads the same
        base = e.dynamic_dir if e is not None else None
        if e is not None and base is None and len(e.dynamic_files) == 1:
            base = e.dynamic_files[0].parent
        if e is not None and base is not None:
            copy = root / "dynamic"
            copy.mkdir()
            for path in e.dynamic_files:
                dest = copy / path.relative_to(base)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(files.get(path, s.text(path).encode("utf-8")))
            for path, data in files.items():  # a rendered file new to the directory
                if e.dynamic_dir and path.is_relative_to(base) and path not in e.dynamic_files:
                    (copy / path.relative_to(base)).write_bytes(data)
            label = s.show(base)
            got, problems = load_file_provider(copy, version, static.default_rule_syntax, label)
            table.add(got)
        if static.docker:
            services = []
            for n, cf in enumerate(s.tree.composes):
                path = root / f"compose-{n}.yml"
                path.write_bytes(files.get(cf.path, s.text(cf.path).encode("utf-8")))
                try:
                    services += compose_services(path, cf.env, cf.rel, cf.project)
                except yaml.YAMLError as exc:
                    problems.append(SchemaProblem(cf.rel, 0, f"not YAML ({exc})"))
            table.add(
                load_docker(
                    services,
                    version,
                    static.exposed_by_default,
                    static.default_rule,
                    static.default_rule_syntax,
                )
            )
        shutil.rmtree(root, ignore_errors=True)
    # Traefik's own services (the dashboard, ping, the redirect's noop) exist when the static
    # config turns them on; a router naming one is taken at its word.
    table.services |= {r.service for r in table.routers if r.service.endswith("@internal")}
    table.tls_entry_points = static.tls_entry_points
    if static.precedence:
        table.precedence = static.precedence
    return table, problems


def _probes(s: Survey, table: RoutingTable) -> list[tuple[str, str, bool]]:
    r = s.routing
    hosts = [(h, True) for h in r.admin] + [(h, False) for h in sorted(r.hosts)]
    for f in r.subdomains:
        hosts.append((f"acme.{f.value.domain}", False))
    known = {h for h, _ in hosts}
    for router in table.routers:  # hosts a route names under a tenant domain (a dead label)
        for h in router.parsed.hosts() if router.parsed is not None else ():
            if h not in known and any(h.endswith("." + f.value.domain) for f in r.subdomains):
                hosts.append((h, False))
                known.add(h)
    out = []
    for host, admin in hosts:
        paths = list(PATHS)
        for router in table.routers:
            if router.parsed is None:
                continue
            for m in walk(router.parsed.tree):
                if m.name not in ("PathPrefix", "Path") or not m.args:
                    continue
                p = m.args[0] + ("probe" if m.args[0].endswith("/") else "")
                if p not in paths and rule_matches(router.parsed, Request(host, p)):
                    paths.append(p)  # a path-specific router on this host (QR, reports)
        out += [(host, p, admin) for p in paths]
    return out


def entry_point(s: Survey, table: RoutingTable, static: StaticSettings) -> str:
    odoo = {h for h, _ in s.routing.hosts.items()} | set(s.routing.admin)
    seen: Counter[str] = Counter()
    for router in table.routers:
        if router.parsed is not None and odoo & set(router.parsed.hosts()):
            seen.update(router.entry_points)
    if seen:
        return seen.most_common(1)[0][0]
    for name in (*sorted(static.tls_entry_points), "websecure", "https"):
        if name in static.entry_points or name in static.tls_entry_points:
            return name
    return next(iter(static.entry_points), "websecure")


def simulate(
    s: Survey,
    rendered: Mapping[Path, bytes] | None,
    router_service: str | None,
    before: RoutingTable | None = None,
    backends: frozenset[str] = frozenset(),
) -> Simulation | None:
    """None when the version is unknown (the plan says why). ``before``: the snapshot's;
    ``backends``: the Traefik services that reach Odoo or the router."""
    version = traefik_version(s)
    if version is None:
        return None
    static = static_settings(s)
    mine, input_problems = build_table(s, version, static, {})
    table_before = before if before is not None else mine
    sim = Simulation(entry_point(s, mine, static))
    for p in input_problems:
        (sim.problems if p.severity == "error" else sim.warnings).append(str(p))
    table_after = None
    if rendered is not None and not sim.problems:  # a broken input: its consequences are noise
        table_after, out_problems = build_table(s, version, static, rendered)
        sim.problems += [f"rendered {p}" for p in out_problems if p.severity == "error"]
    service = qualify(router_service, "file") if router_service else None
    seen: dict[str, dict[str, RouterEntry]] = {}
    for host, path, admin in _probes(s, mine):
        probe = host if path == "/web/login" else f"{host}{path}"
        row = Row(probe, host, path, admin, table_before.winner(host, path, sim.entry_point))
        if row.before.is_tie:
            sim.hazards.append(f"tie: {row.before.describe()}")
        seen.setdefault(host, {}).update({r.name: r for r in row.before.candidates})
        if table_after is not None:
            row.after = table_after.winner(host, path, sim.entry_point)
            sim.problems += _after_problems(row, row.after, service, backends)
        sim.rows.append(row)
    for host, routers in seen.items():
        if {r.provider for r in routers.values()} >= {"docker", "file"}:
            names = ", ".join(f"{r.name} ({r.source})" for r in routers.values())
            sim.hazards.append(f"@docker and @file: {host} is served by both: {names}")
    return sim


def _after_problems(
    row: Row, w: Winner, service: str | None, backends: frozenset[str]
) -> list[str]:
    """Odoo's own paths must reach the router; a path another router claims (a blog on a
    tenant's host) may go to another application, but not straight to Odoo."""
    where = f"after the migration, {row.probe}"
    if w.is_tie:
        return [f"{where}: {w.describe()}"]
    if w.router is None:
        return [f"{where}: no Traefik router takes it"]
    out = []
    odoo_path = row.path in PATHS
    elsewhere = w.router.service != service
    if service is not None and elsewhere and (odoo_path or w.router.service in backends):
        out.append(
            f"{where}: {w.router.name} ({w.router.source}) goes to {w.router.service}, "
            f"not {service}"
        )
    if row.admin and not w.allowlists and (odoo_path or not elsewhere):
        out.append(
            f"{where}: the admin host is reachable through {w.router.name} without the allowlist"
        )
    return out
