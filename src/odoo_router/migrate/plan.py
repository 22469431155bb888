"""``plan``, pure: the survey of the tree, what the server told (live only) and the operator's
settings in; rendered files, pre-flight problems and the ordered steps out. The same inputs
give the same plan, byte for byte: no clock, no randomness (the master password's hash is an
input, kept in the state dir).

Theory of operation: every file read to decide is recorded with its sha256 (``inputs``) and
Traefik's directory is ``watched``; ``apply`` refuses when one differs from both its planned
input and its planned output (stale plan). Steps are data (id, kind, target); a write step's
target is its file's role; a compose step's target is a key of ``compose``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .fsops import sha256_bytes
from .render import Rendered, Settings, render_all
from .render_compose import ADMIN, TENANT
from .render_odoo import WEAK_PASSWORDS
from .simulate import Simulation, simulate
from .survey import Survey
from .traefik_model import RoutingTable, Winner

PLAN_FORMAT = 2
BEFORE_DOWNTIME = ("tenant_conf", "admin_conf", "router_yaml")


@dataclass(frozen=True)
class Secret:
    """The master password the new confs carry: only its hash is rendered."""

    password: str
    hash: str
    source: str  # "generated, kept in .../secrets.json" or the file it was read from


@dataclass
class LiveFacts:
    """What pre-flight learned on the server; None for an offline plan."""

    dbfilter_module: str | None = None  # where dbfilter_from_header was found
    dbfilter_error: str | None = None
    backup_bytes: int | None = None
    free_bytes: int | None = None
    databases: list[str] = field(default_factory=list)
    projects: dict[str, str] = field(default_factory=dict)  # running compose project names
    odoo_image: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
    target: str = ""  # role of the file, or the compose target (odoo, router)
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
    projects: dict[str, str] = field(default_factory=dict)  # compose target -> project name
    compose: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> dir, file
    watched: list[str] = field(default_factory=list)
    backup: dict[str, Any] = field(default_factory=dict)  # what the backup step archives
    facts: list[str] = field(default_factory=list)
    hazards: list[str] = field(default_factory=list)
    routing: list[str] = field(default_factory=list)  # the simulated winners, before -> after
    offline: bool = False
    rendered: dict[str, bytes] = field(default_factory=dict, repr=False)  # role -> content
    paths: dict[str, Path] = field(default_factory=dict, repr=False)  # role -> host path

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
            "compose": self.compose,
            "watched": self.watched,
            "backup": self.backup,
            "facts": self.facts,
            "hazards": self.hazards,
            "routing": self.routing,
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


def _step_id(role: str) -> str:
    return "write-" + re.sub(r"[^a-z0-9]+", "-", role.lower()).strip("-")


def _seconds(kind: str, target: str, live: LiveFacts | None, settings: Settings) -> int:
    """Rough durations for the downtime estimate."""
    if kind == "backup":
        # ~40 MB/s dump + tar, in whole minutes: database sizes drift between two plans,
        # the plan (and its id) should not.
        size = (live.backup_bytes or 0) if live is not None else 0
        return max(60, math.ceil(size / 40e6 / 60) * 60)
    if kind == "compose-down":
        return settings.stop_timeout + 5
    if kind == "compose-up":
        return 60 if target == "odoo" else 30
    return 30 if kind == "verify" else 1


def make_steps(
    files: list[FileChange], targets: dict[str, str], live: LiveFacts | None, settings: Settings
) -> list[Step]:
    """The runbook's order: files no container reads yet before the downtime; compose files
    once the old containers are down; Traefik's files last (it applies them at once)."""
    rows: list[tuple[str, str, str, bool, str]] = [
        ("backup", "backup", "", False, "back up databases, data volume, docker state, files")
    ]
    early = [f for f in files if f.role in BEFORE_DOWNTIME]
    compose = [f for f in files if f.role.endswith("_compose")]
    dynamic = [f for f in files if f.role.startswith("dynamic:")]
    rows += [(_step_id(f.role), "write", f.role, False, f"write {f.path}") for f in early]
    rows += [
        (f"stop-{t}", "compose-down", t, True, f"compose down {p} ({t})")
        for t, p in targets.items()
    ]
    rows += [
        (_step_id(f.role), "write", f.role, True, f"write {f.path}") for f in compose + dynamic
    ]
    rows += [
        (f"start-{t}", "compose-up", t, True, f"compose up {p} ({t})") for t, p in targets.items()
    ]
    rows.append(
        ("verify", "verify", "", True, "F0-F5: containers, Traefik, host classes, admin, QR, logs")
    )
    return [
        Step(i, title, kind, target, down, _seconds(kind, target, live, settings))
        for i, kind, target, down, title in rows
    ]


def _expectations(
    s: Survey, r: Rendered, live: LiveFacts | None, allow: tuple[str, ...], winners: list[Winner]
) -> dict[str, Any]:
    """What verify checks after the switch (F0-F5)."""
    t = s.tree
    assert t.odoo is not None and t.router is not None
    odoo_cf, named = t.odoo.cf, bool(t.odoo.svc.container_name)
    containers = [n if named else f"{odoo_cf.project}-{n}-1" for n in (TENANT, ADMIN)]
    sample = None
    if s.routing.subdomains:
        rule = s.routing.subdomains[0].value
        dbs = live.databases if live is not None else []
        prefix = rule.db_prefix
        subs = [
            db[len(prefix) :]
            for db in dbs
            if db.startswith(prefix) and rule.template.endswith("{sub}")
        ]
        good = [sub for sub in subs if re.match(rule.regex, f"{sub}.{rule.domain}")]
        sample = f"{good[0] if good else 'probe'}.{rule.domain}"
    ui = s.routing.tenant_ui.value if s.routing.tenant_ui is not None else None
    spec = r.router
    # the routers that win for the Odoo hosts after the switch: verify expects them loaded
    routers = sorted({w.router.name for w in winners if w.router is not None})
    return {
        "admin_hosts": list(s.routing.admin),
        "named": [[h, f.value] for h, f in sorted(s.routing.hosts.items())],
        "domains": [f.value.domain for f in s.routing.subdomains],
        "tenant_sample": sample,
        "login_redirect": ui.login_redirect if ui else None,
        "admin_allow": list(allow),
        "odoo_containers": containers,
        "router_container": t.router.cf.container(t.router.svc.name),
        "router_port": spec.listen_port if spec else 80,
        "health_path": spec.health_path if spec else "/nginx-health",
        "old_containers": [t.odoo.cf.container(t.odoo.svc.name)],
        "router_service": r.router_service,
        "traefik_version": s.version.value if s.version is not None else None,
        "traefik_routers": routers,
    }


def build_plan(
    s: Survey,
    settings: Settings,
    secret: Secret,
    live: LiveFacts | None,
    before_table: RoutingTable | None = None,
) -> Plan:
    """``before_table``: Traefik's routers as the API or a snapshot lists them (else the
    simulation of the tree's files and labels)."""
    layout = s.layout
    problems = list(s.problems)
    warnings = list(s.warnings)
    if secret.password.strip() in WEAK_PASSWORDS:
        problems.append(f"master password ({secret.source}) is empty or a default: refusing it")
    r = render_all(s, settings, secret.hash)
    problems += r.problems
    # after a problem in the tree or the render, the simulated "after" would only echo it
    ok = not r.problems and not s.problems
    rendered = {f.path: f.data for f in r.files.values()} if ok else None
    sim = simulate(s, rendered, r.router_service, before_table, r.backends)
    hazards = list(s.hazards)
    if sim is not None:
        problems += [p for p in sim.problems if p not in problems]
        warnings += sim.warnings
        hazards += sim.hazards
    if live is not None:
        problems += live.problems
        warnings += live.warnings
    t = s.tree
    bind_files = {
        p.resolve()
        for cf in t.composes
        for svc in cf.services.values()
        for m in svc.mounts
        if (p := m.host_path(cf.dir)) is not None and p.is_file()
    }
    watched_dirs = [d.resolve() for d in s.watched]
    changes = []
    for role, f in r.files.items():
        old = s.reader.read(f.path) if s.reader is not None else None
        rel = layout.rel(f.path)
        if old == f.data:
            continue
        changes.append(
            FileChange(
                role=role,
                path=rel,
                old_sha256=None if old is None else sha256_bytes(old),
                new_sha256=sha256_bytes(f.data),
                write="in-place"
                if f.path.resolve() in bind_files and old is not None
                else "atomic",
                watched=any(f.path.resolve().is_relative_to(w) for w in watched_dirs),
                like=layout.rel(f.like) if f.like is not None else None,
                diff=_diff(rel, old, f.data),
            )
        )
        if old is not None and role in BEFORE_DOWNTIME:
            warnings.append(f"{rel} exists already and will be replaced")
    compose: dict[str, dict[str, str]] = {}
    projects: dict[str, str] = {}
    for target, stack in (("odoo", t.odoo), ("router", t.router)):
        if stack is None or any(c["file"] == layout.rel(stack.cf.path) for c in compose.values()):
            continue
        compose[target] = {"dir": layout.rel(stack.cf.dir), "file": layout.rel(stack.cf.path)}
        projects[target] = (live.projects.get(target) if live else None) or stack.cf.project
    if t.router is not None and "router" not in projects and "odoo" in projects:
        projects["router"] = projects["odoo"]  # the router lives in Odoo's project
    allow = s.routing.admin_allow.value if s.routing.admin_allow is not None else ()
    ready = t.odoo is not None and t.router is not None
    fs = s.filestore
    return Plan(
        inputs=dict(s.reads),
        traefik_version=s.version.value if s.version is not None else None,
        files=changes,
        steps=make_steps(changes, {t: projects[t] for t in compose}, live, settings),
        problems=problems,
        warnings=warnings,
        verify=_expectations(s, r, live, allow, _after(sim)) if ready else {},
        settings={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
        projects=projects,
        compose=compose,
        watched=[layout.rel(d) for d in s.watched],
        backup={
            "odoo_container": t.odoo.cf.container(t.odoo.svc.name) if t.odoo else None,
            "odoo_image": live.odoo_image if live else None,
            "data_volume": fs.name if fs is not None and fs.kind == "volume" else None,
            "data_bind": str(fs.host) if fs is not None and fs.host is not None else None,
        },
        facts=s.facts_lines(),
        hazards=hazards,
        routing=sim.lines() if sim is not None else [],
        offline=live is None,
        rendered={
            role: f.data for role, f in r.files.items() if any(c.role == role for c in changes)
        },
        paths={role: f.path for role, f in r.files.items()},
    )


def _after(sim: Simulation | None) -> list[Winner]:
    return [row.after for row in sim.rows if row.after is not None] if sim is not None else []


def load_plan_file(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data
