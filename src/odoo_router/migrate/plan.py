"""``plan``, pure: an Inventory and the operator's settings in; rendered files, pre-flight
problems and the ordered steps out. The same inputs give the same plan, byte for byte: no
clock, no randomness (the generated master password is an input, kept in the state dir).

Theory of operation: every input file's sha256 is recorded; ``apply`` refuses when a file
differs from both its planned input and its planned output (stale plan). Steps are data
(id, kind, target); apply.py gives each kind its precheck / act / verify / undo.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .fsops import sha256_bytes
from .inventory import Inventory
from .layout import Layout
from .nginxconf import NginxParseError, RouterFacts, parse_router_conf
from .render_compose import split_odoo_compose
from .render_odoo import WEAK_PASSWORDS, read_options, render_admin_conf, render_tenant_conf
from .render_router import edit_router_compose, render_router_yaml
from .render_traefik import OdooHosts, edit_middlewares, edit_services, is_odoo_rule, lint
from .traefik import major_version
from .yamledit import RoundTripError, YamlDoc, load_plain, load_roundtrip

PLAN_FORMAT = 1


@dataclass(frozen=True)
class Settings:
    # config/router.yaml's: loopback, VPN and office ranges; not the docker networks.
    admin_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "192.168.0.0/16")
    trusted_proxies: tuple[str, ...] = ("127.0.0.0/8", "::1/128", "172.16.0.0/12", "10.0.0.0/8")
    router_image: str = "odoo-router:latest"
    router_command: tuple[str, ...] = ()  # () keeps the image's ENTRYPOINT/CMD
    router_health_interval: str = "10s"
    stop_timeout: int = 30


@dataclass(frozen=True)
class Facts:
    """What pre-flight learned through I/O (plan.py does none itself)."""

    admin_password: str  # the one the rendered confs will carry (only its hash is written)
    admin_hash: str
    dbfilter_module: str | None  # where dbfilter_from_header was found, None: not found
    dbfilter_error: str | None = None
    backup_bytes: int | None = None  # estimated size of the backups
    free_bytes: int | None = None  # free space where backups go


@dataclass
class FileChange:
    role: str
    path: str  # as the operator knows it: /srv/stacks/...
    old_sha256: str | None
    new_sha256: str
    write: str  # "atomic" | "in-place"
    watched: bool  # inside a directory a watcher reads (Traefik's dynamic/)
    like: str | None = None  # a new file takes this file's mode and owner (odoo.conf's)
    diff: str = field(default="", repr=False)


@dataclass
class Step:
    id: str
    title: str
    kind: str  # backup | write | compose-down | compose-up | verify
    target: str = ""  # role of the file, or the compose project
    downtime: bool = False
    seconds: int = 5


@dataclass
class Plan:
    inputs: dict[str, str | None]
    traefik_version: str | None
    files: list[FileChange]
    steps: list[Step]
    problems: list[str]
    warnings: list[str]
    verify: dict[str, Any]
    settings: dict[str, Any]
    projects: dict[str, str] = field(default_factory=dict)  # compose project of each stack
    # Directories whose listing matters (Traefik loads every file of its dynamic/): a file
    # added there after plan makes the plan stale, and the backup copies all of them.
    watched: list[str] = field(default_factory=list)
    rendered: dict[str, bytes] = field(default_factory=dict, repr=False)  # role -> content

    def body(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "inputs": self.inputs,
            "traefik_version": self.traefik_version,
            "files": [{k: v for k, v in asdict(f).items() if k != "diff"} for f in self.files],
            "steps": [asdict(s) for s in self.steps],
            "problems": self.problems,
            "warnings": self.warnings,
            "verify": self.verify,
            "settings": self.settings,
            "projects": self.projects,
            "watched": self.watched,
        }

    @property
    def plan_id(self) -> str:
        return sha256_bytes(json.dumps(self.body(), sort_keys=True).encode())[:16]

    def to_json(self) -> str:
        return json.dumps({"plan_id": self.plan_id, **self.body()}, indent=2, sort_keys=True) + "\n"

    @property
    def downtime_seconds(self) -> int:
        return sum(s.seconds for s in self.steps if s.downtime)


# Diffs are printed (and end up in terminal logs): no secret values in them.
_REDACT = re.compile(r"^([-+ ](admin_passwd|db_password|smtp_password) = ).*$", re.M)


def _diff(path: str, old: bytes | None, new: bytes) -> str:
    a = [] if old is None else old.decode("utf-8").splitlines(keepends=True)
    b = new.decode("utf-8").splitlines(keepends=True)
    text = "".join(
        difflib.unified_diff(a, b, fromfile="/dev/null" if old is None else path, tofile=path)
    )
    return _REDACT.sub(r"\1<redacted>", text)


def _sample_tenant(facts: RouterFacts, hosts: OdooHosts, databases: list[str]) -> str | None:
    """A real tenant subdomain (one whose database exists) to probe in verify."""
    if not facts.subdomain_regex or not hosts.suffix or not facts.subdomain_dbfilter:
        return None
    rx = re.compile(facts.subdomain_regex)
    prefix, _, rest = facts.subdomain_dbfilter.partition("{")
    for db in databases:
        if db.startswith(prefix) and not rest.split("}", 1)[-1]:
            host = db[len(prefix) :] + hosts.suffix
            if rx.match(host):
                return host
    return "probe" + hosts.suffix


# The runbook's order, as data: (id, kind, target, in the downtime, title). Files that no
# container reads yet are written before the downtime; Traefik's files only once the old
# containers are down (Traefik applies them the moment they change).
STEPS: tuple[tuple[str, str, str, bool, str], ...] = (
    ("backup", "backup", "", False, "back up databases, data volume, docker state, files"),
    ("write-tenant-conf", "write", "tenant_conf", False, "write odoo-tenant.conf"),
    ("write-admin-conf", "write", "admin_conf", False, "write odoo-admin.conf"),
    ("write-router-yaml", "write", "router_yaml", False, "write router.yaml for odoo-router"),
    ("stop-odoo", "compose-down", "odoo", True, "compose down odoo18-prod (downtime starts)"),
    ("stop-router", "compose-down", "router", True, "compose down seisei-odoo (nginx router)"),
    ("write-odoo-compose", "write", "odoo_compose", True, "split web into tenant and admin"),
    ("write-router-compose", "write", "router_compose", True, "nginx container -> odoo-router"),
    ("write-middlewares", "write", "middlewares", True, "Traefik: dbfilter out, allowlist in"),
    ("write-services", "write", "services", True, "Traefik: Odoo hosts -> odoo-router-service"),
    ("start-odoo", "compose-up", "odoo", True, "compose up odoo-tenant and odoo-admin"),
    ("start-router", "compose-up", "router", True, "compose up odoo-router, wait until healthy"),
    ("verify", "verify", "", True, "F1-F5: Traefik, host classes, admin, QR, logs"),
)


def _seconds(kind: str, target: str, facts: Facts, settings: Settings) -> int:
    """Rough durations for the downtime estimate."""
    if kind == "backup":
        # ~40 MB/s dump + tar, in whole minutes: database sizes drift between two plans,
        # the plan (and its id) should not.
        return max(60, math.ceil((facts.backup_bytes or 0) / 40e6 / 60) * 60)
    if kind == "compose-down":
        return settings.stop_timeout + 5
    if kind == "compose-up":
        return 60 if target == "odoo" else 30
    return 30 if kind == "verify" else 1


def _steps(facts: Facts, settings: Settings) -> list[Step]:
    return [
        Step(sid, title, kind, target, down, _seconds(kind, target, facts, settings))
        for sid, kind, target, down, title in STEPS
    ]


def _odoo_routers(services: bytes | None, hosts: OdooHosts) -> list[str]:
    """The Odoo routers the rendered services.yml defines: verify expects each enabled."""
    if services is None:
        return []
    routers = ((load_plain(services.decode()) or {}).get("http") or {}).get("routers") or {}
    return sorted(
        str(k) for k, v in routers.items() if is_odoo_rule(str((v or {}).get("rule", "")), hosts)
    )


def _router_compose(doc: YamlDoc, settings: Settings) -> str:
    return edit_router_compose(
        doc,
        settings.router_image,
        settings.router_command,
        health_interval=settings.router_health_interval,
    )


REQUIRED = ("odoo_compose", "odoo_conf", "middlewares", "services", "router_compose", "nginx_conf")
WRITTEN = (
    "tenant_conf", "admin_conf", "router_yaml", "odoo_compose", "router_compose",
    "middlewares", "services",
)  # fmt: skip


def _untrusted_networks(inv: Inventory, settings: Settings) -> list[str]:
    """Traefik reaches the router over these networks: unless they are trusted proxies the
    router takes Traefik's address for the client's and the admin allowlist means nothing."""
    trusted = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]
    out = []
    for net, subnets in sorted(inv.networks.items()):
        if subnets is None:
            out.append(
                f"docker network {net} does not exist (the compose files use it as external)"
            )
            continue
        for sub in subnets:
            n = ipaddress.ip_network(sub, strict=False)
            if not any(n.version == t.version and n.subnet_of(t) for t in trusted):  # type: ignore[arg-type]
                out.append(
                    f"docker network {net} ({sub}) is not within the trusted proxies "
                    f"({', '.join(settings.trusted_proxies)}): add --trusted-proxy {sub}"
                )
    return out


def _preflight(
    layout: Layout, inv: Inventory, facts: Facts, settings: Settings
) -> tuple[list[str], list[str]]:
    """(problems that refuse the plan, warnings)."""
    problems: list[str] = []
    warnings: list[str] = []
    files = inv.files
    problems += [
        f"{layout.rel(files[r].path)} does not exist" for r in REQUIRED if files[r].data is None
    ]
    major = major_version(inv.traefik_version or "")
    if inv.traefik_version is None:
        problems.append(
            f"Traefik version unknown ({inv.errors.get('traefik', 'no API')}); "
            "give --traefik-api or --traefik-version"
        )
    elif major not in (2, 3):
        problems.append(f"Traefik {inv.traefik_version}: only v2 and v3 syntax can be rendered")
    if facts.admin_password.strip() in WEAK_PASSWORDS:
        problems.append("master password is empty or a default (changeme): refusing to render it")
    if facts.dbfilter_module is None:
        problems.append(
            "dbfilter_from_header is not available to the Odoo image "
            f"({facts.dbfilter_error or 'not found in the addons paths'}): without it Odoo "
            "ignores X-Odoo-dbfilter and every host sees every database"
        )
    if facts.backup_bytes is not None and facts.free_bytes is not None:
        need = int(facts.backup_bytes * 1.2) + (64 << 20)
        if facts.free_bytes < need:
            problems.append(
                f"too little disk for the backups: {facts.free_bytes >> 20} MiB free in "
                f"{layout.rel(layout.backups)}, about {need >> 20} MiB needed"
            )
    watched = layout.traefik_dir.resolve()
    for what, where in (("backups", layout.backups), ("state", layout.state)):
        if where.resolve().is_relative_to(watched):
            problems.append(
                f"the {what} folder {layout.rel(where)} is inside Traefik's watched directory"
            )
    problems += [f"{src}: {inv.errors[src]}" for src in ("docker", "postgres") if src in inv.errors]
    problems += _untrusted_networks(inv, settings)
    problems += [
        f"image {image} is not on this host: build it before the downtime "
        f"(docker build -t {image} . in an odoo-router checkout)"
        for image, present in sorted(inv.images.items())
        if not present
    ]
    current = read_options(files["odoo_conf"].text) if files["odoo_conf"].data else {}
    if current and current.get("admin_passwd", "").strip() in WEAK_PASSWORDS:
        warnings.append("current odoo.conf has a default master password; the new confs will not")
    for role in ("tenant_conf", "admin_conf", "router_yaml"):
        if files[role].data is not None:
            warnings.append(f"{layout.rel(files[role].path)} exists already and will be replaced")
    return problems, warnings


def _render(
    layout: Layout, inv: Inventory, facts: Facts, settings: Settings, problems: list[str]
) -> tuple[dict[str, bytes], RouterFacts | None]:
    """Every new file's content by role; what cannot be rendered becomes a problem."""
    files = inv.files
    rendered: dict[str, bytes] = {}
    nginx: RouterFacts | None = None
    if files["nginx_conf"].data is not None:
        try:
            nginx = parse_router_conf(files["nginx_conf"].text)
            text = render_router_yaml(nginx, settings.admin_allow, settings.trusted_proxies)
            rendered["router_yaml"] = text.encode()
        except NginxParseError as exc:
            problems.append(f"{layout.rel(files['nginx_conf'].path)}: {exc}")
        except ConfigError as exc:
            problems.append(f"rendered router.yaml does not validate:\n{exc}")
    if files["odoo_conf"].data is not None:
        conf = files["odoo_conf"].text
        rendered["tenant_conf"] = render_tenant_conf(conf, facts.admin_hash).encode()
        rendered["admin_conf"] = render_admin_conf(conf, facts.admin_hash).encode()
    edits: tuple[tuple[str, Callable[[YamlDoc], str]], ...] = (
        ("odoo_compose", split_odoo_compose),
        ("router_compose", partial(_router_compose, settings=settings)),
    )
    for role, edit in edits:
        f = files[role]
        if f.data is not None:
            try:
                rendered[role] = edit(load_roundtrip(f.text, layout.rel(f.path))).encode()
            except (RoundTripError, ValueError) as exc:
                problems.append(str(exc))
    major = major_version(inv.traefik_version or "")
    if major not in (2, 3) or nginx is None:
        return rendered, nginx
    mw, svc = files["middlewares"], files["services"]
    try:
        text, removed = edit_middlewares(
            load_roundtrip(mw.text, layout.rel(mw.path)), major, settings.admin_allow
        )
        rendered["middlewares"] = text.encode()
        hosts = OdooHosts.from_facts(nginx)
        doc = load_roundtrip(svc.text, layout.rel(svc.path))
        rendered["services"] = edit_services(doc, hosts, major, removed).encode()
    except (RoundTripError, ValueError, AttributeError) as exc:
        problems.append(str(exc))
    # Traefik loads the whole directory: every file must speak the running version.
    dynamic = {**inv.traefik_files}
    for role in ("middlewares", "services"):
        if role in rendered:
            dynamic[layout.rel(files[role].path)] = rendered[role]
    for rel, data in sorted(dynamic.items()):
        problems += lint(data.decode("utf-8"), major, rel)
    return rendered, nginx


def _expectations(
    inv: Inventory, nginx: RouterFacts, settings: Settings, rendered: dict[str, bytes]
) -> dict[str, Any]:
    """What verify checks after the switch (F0-F5), from the plan's own inputs."""
    hosts = OdooHosts.from_facts(nginx)
    old = inv.odoo_container
    return {
        "admin_hosts": list(nginx.admin_hosts),
        "named": [list(x) for x in nginx.named],
        "tenant_sample": _sample_tenant(nginx, hosts, inv.databases),
        "login_redirect": nginx.login_redirect,
        "admin_allow": list(settings.admin_allow),
        "suffix": hosts.suffix,
        "odoo_containers": ["odoo-tenant", "odoo-admin"],
        "router_container": "seisei-odoo-router",
        "old_containers": [old] if old not in (None, "odoo-tenant", "odoo-admin") else [],
        "router_image": settings.router_image,
        "traefik_routers": _odoo_routers(rendered.get("services"), hosts),
    }


def build_plan(layout: Layout, inv: Inventory, facts: Facts, settings: Settings) -> Plan:
    problems, warnings = _preflight(layout, inv, facts, settings)
    rendered, nginx = _render(layout, inv, facts, settings, problems)
    changes = []
    traefik_dir = layout.traefik_dir.resolve()
    for role in (r for r in WRITTEN if r in rendered):
        f, new = inv.files[role], rendered[role]
        bind_mounted = f.path.resolve() in inv.bind_files and f.data is not None
        changes.append(
            FileChange(
                role=role,
                path=layout.rel(f.path),
                old_sha256=f.sha256,
                new_sha256=sha256_bytes(new),
                write="in-place" if bind_mounted else "atomic",
                watched=f.path.resolve().is_relative_to(traefik_dir),
                like=layout.rel(layout.odoo_conf)
                if role in ("tenant_conf", "admin_conf")
                else None,
                diff=_diff(layout.rel(f.path), f.data, new),
            )
        )
    inputs = {layout.rel(f.path): f.sha256 for f in inv.files.values()}
    inputs.update({rel: sha256_bytes(data) for rel, data in inv.traefik_files.items()})
    return Plan(
        inputs=dict(sorted(inputs.items())),
        traefik_version=inv.traefik_version,
        files=changes,
        steps=_steps(facts, settings),
        problems=problems,
        warnings=warnings,
        verify=_expectations(inv, nginx, settings, rendered) if nginx is not None else {},
        settings={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
        projects={
            "odoo": inv.projects.get("odoo", layout.odoo_dir.name),
            "router": inv.projects.get("router", layout.router_dir.name),
        },
        watched=[layout.rel(layout.traefik_dir)],
        rendered=rendered,
    )


def format_plan(plan: Plan) -> str:
    out = [f"plan {plan.plan_id} (Traefik {plan.traefik_version or 'unknown'})", ""]
    out.append("pre-flight: " + ("OK" if not plan.problems else "REFUSED"))
    out += [f"  ! {p}" for p in plan.problems]
    out += [f"  ~ {w}" for w in plan.warnings]
    out.append("")
    for f in plan.files:
        how = f"{f.write}{', watched directory' if f.watched else ''}"
        out.append(f"--- {f.path} ({'new' if f.old_sha256 is None else 'changed'}, {how})")
        out.append(f.diff.rstrip("\n") if f.diff else "(no change)")
        out.append("")
    out.append("steps:")
    for n, s in enumerate(plan.steps, start=1):
        mark = "*" if s.downtime else " "
        out.append(f"  {n:2d}. {mark} {s.id:22s} ~{s.seconds:4d}s  {s.title}")
    out.append(
        f"expected downtime (steps marked *): about {plan.downtime_seconds // 60 + 1} min "
        f"({plan.downtime_seconds}s)"
    )
    return "\n".join(out) + "\n"


def load_plan_file(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data
