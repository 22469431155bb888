"""Traefik's routes to the router: surgical edits of every dynamic file and of the router
service's labels, decided on Traefik's routing table (traefik_model), pure.

- Middlewares that set X-Odoo-dbfilter go (a file entry, or the labels that define one),
  and every router loses its uses of them: choosing the database is the router's job.
- Routers that will remain (every file router; label routers except the old Odoo
  service's, which go with it), that take an Odoo host and reach Odoo or the router (their
  service is aimed at either; others, an HTTPS redirect or another application on an Odoo
  domain, stay as they are): path-specific ones aimed elsewhere (a QR shortcut to the old
  container) go, the router routes paths itself; the others point at the Traefik service
  that reaches the router. A router naming an admin
  host in ``Host()`` gets the allowlist middleware in place of any it had (two allowlists
  would intersect; the inputs' ranges are the ones asked for; an ``ipStrategy`` carries
  over), and a priority above every other router that takes the admin host, so that the
  admin host is never reached without it.
- A host no remaining router serves (only the old labels did, or, for an admin host, only
  a wildcard) gets a router of its own in the file that holds the Odoo routers, with the
  middlewares of the router that served its pages before (security headers stay; the
  dbfilter ones go; on an admin host the allowlist takes an allowlist's place, as above);
  the allowlist middleware (``ipAllowList`` from 2.11 on,
  ``ipWhiteList`` before) goes into a file that holds middlewares; services aimed at the old
  Odoo container, and their transports, go when nothing uses them any more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .facts import Routing
from .traefik_files import (
    EdgeEdits,
    Files,
    ci,
    define_allowlist,
    home_file,
    ip_strategy,
    is_allowlist,
    section_key,
    services,
    sibling_fields,
)
from .traefik_hosts import inherited_chain, path_specific, probe_hosts, takes, tls_for
from .traefik_model import MiddlewareEntry, RouterEntry, RoutingTable, qualify

ALLOWLIST = "admin-ip-allowlist"
ADMIN_ROUTER = "odoo-admin"


def version_key(version: str) -> tuple[int, int]:
    parts = [*version.lstrip("v").split("."), "0"][:2]
    return int(parts[0]), int(parts[1]) if parts[1].isdigit() else 0


def allowlist_key(version: str) -> str:
    """``ipAllowList`` exists from Traefik 2.11 on; older releases know only ipWhiteList."""
    return "ipAllowList" if version_key(version) >= (2, 11) else "ipWhiteList"


def tenant_rule(domain: str, chars: str, syntax: str) -> str:
    if syntax == "v3":
        return f"HostRegexp(`^{chars}{re.escape('.' + domain)}$`)"
    return f"HostRegexp(`{{sub:{chars}}}.{domain}`)"


@dataclass(frozen=True)
class EdgeSpec:
    routing: Routing
    version: str
    syntax: str  # rule syntax of new routers: "v2" | "v3"
    allow: tuple[str, ...]
    service: str  # qualified Traefik service that reaches the router
    service_url: str | None  # create that file service with this URL when missing
    old_hosts: tuple[str, ...]  # names of the old Odoo container (services aimed there go)
    old_service: tuple[Path, str]  # (compose file, service): its label routers go with it
    router_service: tuple[Path, str]  # (compose file, service) whose labels may change
    backends: frozenset[str] = frozenset()  # services that reach Odoo or the router (qualified)


def edit_edge(
    spec: EdgeSpec,
    table: RoutingTable,
    texts: dict[Path, str],
    shown: dict[str, Path],
    dbfilter: list[tuple[str, str]],  # (qualified middleware, its source "file:line")
    label_owner: dict[str, tuple[Path, str]],  # router/middleware label name -> (compose, svc)
) -> EdgeEdits:
    edits = EdgeEdits()
    files = Files(texts, shown, edits)
    dead = {qualify(m, "file") for m, _ in dbfilter}
    for name, source in dbfilter:
        _drop_middleware(files, edits, name, source, spec, label_owner)
    hosts = probe_hosts(spec.routing)
    admin = set(spec.routing.admin)
    covered: set[str] = set()
    admin_routers: list[RouterEntry] = []
    others: list[RouterEntry] = []
    sibling: RouterEntry | None = None
    replaced: list[MiddlewareEntry] = []
    chains: list[tuple[RouterEntry, list[str]]] = []  # Odoo's routers, the middlewares that stay
    for r in table.routers:
        owner = label_owner.get(r.name) if r.provider == "docker" else None
        if owner == spec.old_service:  # its label routers go with it, and its middlewares
            gone = {m for m in r.middlewares if label_owner.get(m) == spec.old_service}
            chains.append((r, [m for m in r.middlewares if m not in dead | gone]))
            continue
        if not any(takes(r, h) for h in hosts) or not _reaches_odoo(r, owner, spec):
            others.append(r)  # not Odoo's: an HTTPS redirect, another application
            continue
        if path_specific(r) and r.service != spec.service:
            _drop_router(files, edits, r, owner)
            continue
        mws = [m for m in r.middlewares if m not in dead]
        chains.append((r, mws))
        named = set(r.parsed.hosts()) if r.parsed is not None else set()
        if named & admin:  # the inputs' ranges replace an allowlist already there
            ours = qualify(ALLOWLIST, "file")
            replaced += [table.middlewares[m] for m in mws if is_allowlist(table, m, ours)]
            mws = [m for m in mws if not is_allowlist(table, m, ours)] + [ours]
        _update_router(files, edits, r, owner, spec.service, mws)
        r = replace(r, service=spec.service)
        covered |= {h for h in hosts if h in named or (h.startswith("acme.") and takes(r, h))}
        if named & admin:
            admin_routers.append(r)
        elif sibling is None or (r.tls and not sibling.tls):
            sibling = r
        others.append(r)
    home = home_file(files, table, sibling)
    new_admin = [h for h in spec.routing.admin if h not in covered]
    top = _top(spec, admin_routers, others, covered)
    ours = qualify(ALLOWLIST, "file")
    keep = {h: inherited_chain(chains, h) for h in hosts if h not in covered}
    for h in new_admin:  # the inputs' ranges replace an allowlist the host had
        replaced += [table.middlewares[m] for m in keep[h] if is_allowlist(table, m, ours)]
        keep[h] = [m for m in keep[h] if not is_allowlist(table, m, ours)] + [ours]
    _new_routers(files, home, spec, covered, new_admin, sibling, table, top, keep)
    _priorities(files, edits, admin_routers, top)
    first = [files.file_of(src) for name, src in dbfilter if name.endswith("@file")]
    body: dict[str, Any] = {"sourceRange": list(spec.allow)}
    strategy = ip_strategy(replaced, edits)
    if strategy:
        body["ipStrategy"] = strategy
    body = {allowlist_key(spec.version): body}
    define_allowlist(files, ALLOWLIST, body, home, first)
    used = {r.service.removesuffix("@file") for r in others if r.service.endswith("@file")}
    used.add(spec.service.removesuffix("@file"))
    services(files, spec.old_hosts, spec.service, spec.service_url, home, used)
    files.finish()
    return edits


def _reaches_odoo(r: RouterEntry, owner: tuple[Path, str] | None, spec: EdgeSpec) -> bool:
    return r.service in spec.backends or owner in (spec.old_service, spec.router_service)


def _drop_middleware(
    files: Files,
    edits: EdgeEdits,
    name: str,
    source: str,
    spec: EdgeSpec,
    owners: dict[str, tuple[Path, str]],
) -> None:
    short, _, provider = name.partition("@")
    if provider == "file":
        path = files.file_of(source)
        key = section_key(files, path, "middlewares", short) if path else None
        if path is not None and key is not None:
            files.drop(path, key)
    elif owners.get(name) == spec.router_service:
        edits.labels.append(("delete-prefix", f"traefik.http.middlewares.{short}.", ""))


def _drop_router(
    files: Files, edits: EdgeEdits, r: RouterEntry, owner: tuple[Path, str] | None
) -> None:
    short = r.name.split("@", 1)[0]
    if r.provider == "file":
        path = files.file_of(r.source)
        key = section_key(files, path, "routers", short) if path else None
        if path is not None and key is not None:
            files.drop(path, key)
    elif owner is not None:
        edits.labels.append(("delete-prefix", f"traefik.http.routers.{short}.", ""))


def _update_router(
    files: Files,
    edits: EdgeEdits,
    r: RouterEntry,
    owner: tuple[Path, str] | None,
    service: str,
    mws: list[str],
) -> None:
    short = r.name.split("@", 1)[0]
    provider_service = service if not service.endswith(f"@{r.provider}") else service.split("@")[0]
    if r.provider == "docker":
        if owner is None:
            edits.problems.append(
                f"{r.source}: router {r.name} takes an Odoo host: edit its labels by hand"
            )
            return
        prefix = f"traefik.http.routers.{short}."
        if r.service != service:
            edits.labels.append(("set", prefix + "service", provider_service))
        if mws != list(r.middlewares):
            local = [m.removesuffix("@docker") for m in mws]
            edits.labels.append(
                ("set" if local else "delete", prefix + "middlewares", ",".join(local))
            )
        return
    path = files.file_of(r.source)
    key = section_key(files, path, "routers", short) if path else None
    if path is None or key is None:
        return
    y = files.doc(path)
    body = y.data
    for k in key:
        body = body[k]
    if r.service != service:
        skey = ci(body, "service")
        if skey is not None:
            y.set_scalar((*key, skey), provider_service)
        else:
            y.insert(key, "service", provider_service)
    if mws == list(r.middlewares):
        return
    mkey = ci(body, "middlewares")
    written = list(body.get(mkey) or ()) if mkey else []
    keep = [m for m in written if qualify(str(m), "file") in mws]
    if (
        mkey is not None
        and not keep
        and not (set(mws) - {qualify(str(m), "file") for m in written})
    ):
        y.delete((*key, mkey))
        return
    if mkey is None:
        y.insert(key, "middlewares", mws)
        return
    for i, m in enumerate(written):
        if qualify(str(m), "file") not in mws:
            y.delete((*key, mkey, i))
    for m in mws:
        if m not in {qualify(str(x), "file") for x in written}:
            y.append((*key, mkey), m)


def _free(table: RoutingTable, name: str, taken: set[str]) -> str:
    names = {r.name.split("@")[0] for r in table.routers} | taken
    n, out = 1, name
    while out in names:
        n += 1
        out = f"{name}-{n}"
    return out


def _new_routers(
    files: Files,
    home: Path | None,
    spec: EdgeSpec,
    covered: set[str],
    new_admin: list[str],
    sibling: RouterEntry | None,
    table: RoutingTable,
    top: int,
    keep: dict[str, list[str]],
) -> None:
    """Routers for what no remaining router serves, each with the middlewares ``keep`` says
    for its host, the entry points and TLS of ``sibling`` (its certificate's domains only
    where they cover the router's hosts); a new admin router above ``top``."""
    todo: list[tuple[str, str, list[str], bool]] = []  # name, rule, its hosts, admin
    if new_admin:
        rule = " || ".join(f"Host(`{h}`)" for h in new_admin)
        todo.append((ADMIN_ROUTER, rule, new_admin, True))
    for f in spec.routing.subdomains:
        if f"acme.{f.value.domain}" not in covered:
            rule = tenant_rule(f.value.domain, f.value.chars, spec.syntax)
            name = f"odoo-tenants-{f.value.domain.split('.')[0]}"
            todo.append((name, rule, [f"acme.{f.value.domain}"], False))
    for host in sorted(spec.routing.hosts):
        if host not in covered:
            todo.append(("odoo-" + host.replace(".", "-"), f"Host(`{host}`)", [host], False))
    if not todo:
        return
    if home is None:
        files.edits.problems.append("no Traefik dynamic file to hold the routers it needs")
        return
    y = files.doc(home)
    extra = sibling_fields(files, sibling)
    taken: set[str] = set()
    service = spec.service[:-5] if spec.service.endswith("@file") else spec.service
    bodies: dict[str, dict[str, Any]] = {}
    for name, rule, named, admin in todo:
        mws = keep[named[0]]
        name = _free(table, name, taken)
        taken.add(name)
        body: dict[str, Any] = {"rule": rule, "service": service}
        if admin and len(rule.encode()) <= top:
            body["priority"] = top + 1
        if "entryPoints" in extra:
            body["entryPoints"] = extra["entryPoints"]
        if mws:
            body["middlewares"] = mws
        if "tls" in extra:
            body["tls"] = tls_for(extra["tls"], named)
        bodies[name] = body
    base = files.section(home, "routers")
    if base is not None:
        for name, body in bodies.items():
            files.add(home, base, name, body, comment="added by odoo-router-migrate")
        return
    h = ci(y.data, "http")  # no routers in that file yet: one new section
    if h is None:
        y.insert((), "http", {"routers": bodies})
    else:
        y.insert((h,), "routers", bodies, comment="added by odoo-router-migrate")


def _top(
    spec: EdgeSpec, admin_routers: list[RouterEntry], others: list[RouterEntry], covered: set[str]
) -> int:
    """The highest priority of a router, not an admin one, that takes an admin host (a new
    tenant router counts by the length of its rule)."""
    mine = {r.name for r in admin_routers}
    prio = [
        r.priority
        for r in others
        if r.name not in mine and any(takes(r, h) for h in spec.routing.admin)
    ]
    for f in spec.routing.subdomains:
        rule = tenant_rule(f.value.domain, f.value.chars, spec.syntax)
        if f"acme.{f.value.domain}" not in covered and any(
            h.endswith("." + f.value.domain) for h in spec.routing.admin
        ):
            prio.append(len(rule.encode()))
    return max(prio, default=0)


def _priorities(files: Files, edits: EdgeEdits, admin_routers: list[RouterEntry], top: int) -> None:
    """Every existing admin router above ``top``."""
    for r in admin_routers:
        if r.priority > top:
            continue
        short = r.name.split("@")[0]
        if r.provider == "docker":
            edits.labels.append(("set", f"traefik.http.routers.{short}.priority", str(top + 1)))
            continue
        path = files.file_of(r.source)
        key = section_key(files, path, "routers", short) if path else None
        if path is None or key is None:
            continue
        y = files.doc(path)
        body = y.data
        for k in key:
            body = body[k]
        pkey = ci(body, "priority")
        if pkey is not None:
            y.set_scalar((*key, pkey), top + 1)
        else:
            y.insert(key, "priority", top + 1, after=ci(body, "service"))


__all__ = [
    "ALLOWLIST",
    "EdgeEdits",
    "EdgeSpec",
    "allowlist_key",
    "edit_edge",
    "probe_hosts",
    "takes",
    "tenant_rule",
]
