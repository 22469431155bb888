"""Which containers ran before ``apply``, and which the run created.

Rollback's end state is the set of containers that ran before ``apply``, running. So before
the first act that stops or starts a container, the run records once, for every compose
project the plan touches, every container of the project (id, name, service, state), the
networks and volumes compose had made for it (by name), and the compose file's bytes and
sha256 (journal event ``containers-before``, the file kept in the run's originals/). From
that record alone:

- the run created a container when its id is not in the record and its service did not run
  before: rollback removes exactly those, by id (never ``compose down`` of a project whose
  old containers must run again, never a container the operator had, running or not);
- the run created a network or volume when compose labels it with the project and its
  name is not in the record (compose makes only what the services it starts use, so these
  are what the new files declared for the new services): rollback removes them once the
  run's containers are gone, never one that existed before. A volume goes only when it is
  empty: one the run created may hold what the new services wrote since apply (a volume
  the old service declared but never had, made by the first ``up``), which no backup
  holds; it is kept and named (``kept_volumes``), and the operator decides;
- the pre-apply set is started from the restored compose file with ``up -d --no-deps`` and
  the services that ran, nothing else (a service that was stopped stays stopped), and each
  of its containers must then run.
A container of a service that ran before is left to that ``compose up``: from the restored
file compose recreates it if the run changed it, and leaves it running if not.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .context import Context
from .docker_api import Container
from .fsops import sha256_file, write_atomic
from .journal import Journal
from .yamltext.tabs import safe_load


class StepFailed(Exception):
    pass


@dataclass(frozen=True)
class Project:
    target: str  # the plan's name for the stack: "odoo", "router"
    name: str  # compose project name (the one the running stack has)
    directory: Path
    compose_file: Path


def projects(ctx: Context, plan: dict[str, Any]) -> dict[str, Project]:
    """The stacks the plan touches (discovered: ``plan["compose"]``; one when the router
    lives in Odoo's project)."""
    layout = ctx.layout
    names = plan.get("projects") or {}
    out = {}
    for target, c in (plan.get("compose") or {}).items():
        d, f = layout.path(c["dir"]), layout.path(c["file"])
        out[target] = Project(target, str(names.get(target) or d.name), d, f)
    return out


def compose_services(data: bytes | None) -> list[str]:
    """The service names a compose file defines ([] for no file)."""
    if data is None:
        return []
    doc = safe_load(data.decode("utf-8")) or {}
    services = doc.get("services") if isinstance(doc, dict) else None
    return sorted(str(k) for k in services) if isinstance(services, dict) else []


def take_snapshot(ctx: Context, j: Journal, plan: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target, p in projects(ctx, plan).items():
        data = p.compose_file.read_bytes() if p.compose_file.exists() else None
        if data is not None:
            write_atomic(j.originals() / f"compose-{target}", data, mode=0o600)
        out[target] = {
            "project": p.name,
            "compose_file": ctx.layout.rel(p.compose_file),
            "compose_sha256": sha256_file(p.compose_file),
            "services": compose_services(data),
            "containers": [asdict(c) for c in ctx.docker.containers(p.name)],
            **{f"{k}s": ctx.docker.project_resources(k, p.name) for k in RESOURCES},
        }
    return out


RESOURCES = ("network", "volume")


def created_resources(ctx: Context, p: Project, snap: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of the networks and volumes compose made for the project since the
    record (none from a record without them: an older run's, nothing is known)."""
    out = []
    for kind in RESOURCES:
        before = snap.get(f"{kind}s")
        if before is not None:
            known = set(before)
            out += [(kind, n) for n in ctx.docker.project_resources(kind, p.name) if n not in known]
    return out


def left_by_run(ctx: Context, p: Project, snap: dict[str, Any]) -> list[tuple[str, str]]:
    """What the run created that rollback must remove: its networks, and its volumes that
    hold nothing (see kept_volumes)."""
    return [
        (kind, n)
        for kind, n in created_resources(ctx, p, snap)
        if kind == "network" or ctx.docker.volume_empty(n) is True
    ]


def kept_volumes(ctx: Context, p: Project, snap: dict[str, Any]) -> list[str]:
    """Volumes the run created that hold data (or whose content cannot be seen from here):
    never removed, since nothing can restore what the new services wrote in them."""
    gone = set(left_by_run(ctx, p, snap))
    return [n for k, n in created_resources(ctx, p, snap) if k == "volume" and (k, n) not in gone]


def remove_created_resources(ctx: Context, p: Project, snap: dict[str, Any]) -> list[str]:
    """Remove them; the errors (one still in use stays, and is named)."""
    errors = []
    left = left_by_run(ctx, p, snap)
    for kind in RESOURCES:
        errors += ctx.docker.remove_resources(kind, [n for k, n in left if k == kind])
    return errors


def snapshot(j: Journal, target: str) -> dict[str, Any] | None:
    event = j.last("containers-before")
    return None if event is None else (event.get("projects") or {}).get(target)


def ran_before(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in snap["containers"] if c["state"] == "running"]


def services_that_ran(snap: dict[str, Any]) -> list[str]:
    """Services to start again: those that ran and that the compose file defines (an orphan
    container is never stopped by us, so it needs no start)."""
    return sorted({c["service"] for c in ran_before(snap)} & set(snap["services"]))


def created_by_run(ctx: Context, p: Project, snap: dict[str, Any]) -> list[Container]:
    known = {c["id"] for c in snap["containers"]}
    keep = set(services_that_ran(snap))
    return [c for c in ctx.docker.containers(p.name) if c.id not in known and c.service not in keep]


def remove_created(ctx: Context, p: Project, snap: dict[str, Any]) -> list[str]:
    victims = created_by_run(ctx, p, snap)
    ctx.docker.remove([c.id for c in victims])
    left = created_by_run(ctx, p, snap)
    if left:
        raise StepFailed(f"could not remove {', '.join(c.name for c in left)}")
    return [c.name for c in victims]


def start_before_set(ctx: Context, p: Project, snap: dict[str, Any]) -> list[str]:
    """Start what ran before from the (restored) compose file; the services started."""
    services = services_that_ran(snap)
    if not services:
        return []
    now = sha256_file(p.compose_file)
    if now != snap["compose_sha256"]:
        raise StepFailed(
            f"{ctx.layout.rel(p.compose_file)} is not the file the old containers ran from "
            f"(sha256 {now}, was {snap['compose_sha256']}): not starting {p.name} from it"
        )
    ctx.docker.compose_up(p.directory, p.compose_file, p.name, services, no_deps=True)
    wait_running(ctx, p, snap)
    return services


def missing(ctx: Context, p: Project, snap: dict[str, Any]) -> list[str]:
    """What ran before apply and does not run now, per service: counted, not named (compose
    may name a recreated container differently from one an older compose made)."""
    want = Counter(c["service"] for c in ran_before(snap))
    now = Counter(c.service for c in ctx.docker.containers(p.name) if c.state == "running")
    return [
        f"{p.name}/{svc}: {want[svc]} running before apply, {now[svc]} now"
        for svc in sorted(want)
        if now[svc] < want[svc]
    ]


def wait_running(ctx: Context, p: Project, snap: dict[str, Any]) -> None:
    """Until the pre-apply set runs (health is not judged: a container may have been
    unhealthy before apply too); bounded by ``health_timeout``."""
    deadline = time.monotonic() + ctx.health_timeout
    while True:
        left = missing(ctx, p, snap)
        if not left:
            return
        if time.monotonic() >= deadline:
            raise StepFailed("not running: " + "; ".join(left))
        time.sleep(0.5)
