"""Edit Traefik's dynamic files for the router: every file of the directory, wherever the
routers and middlewares are (round-trip edits; only the files that change are rendered).

- Middlewares that set X-Odoo-dbfilter go (choosing the database is the router's job), and
  every router loses its references to them.
- Every router whose rule names an Odoo host points at the Traefik service that reaches the
  router; path-specific Odoo routers aimed elsewhere (a QR shortcut to the old container)
  go: the router does path routing, one route per host. Rules are written in the running
  version's syntax (v3: ``HostRegexp(`^...$`)``, one ``Host()`` argument).
- The admin host's router carries the allowlist middleware (``ipAllowList`` from 2.11 on,
  ``ipWhiteList`` before) and a priority above every other router that matches the host.
- Hosts no file router serves (only the removed docker labels did) get a router of their
  own; services aimed at the old Odoo container go when nothing uses them any more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString as DQ

from .edge import rule_matches_host
from .facts import Routing
from .yamledit import YamlDoc, blank_line, delete_key, get_trailing, load_plain, set_trailing

ALLOWLIST = "admin-ip-allowlist"
ADMIN_ROUTER = "odoo-admin"


def version_key(version: str) -> tuple[int, int]:
    parts = [*version.lstrip("v").split("."), "0"][:2]
    return int(parts[0]), int(parts[1]) if parts[1].isdigit() else 0


def allowlist_key(version: str) -> str:
    """``ipAllowList`` exists from Traefik 2.11 on; older releases know only ipWhiteList."""
    return "ipAllowList" if version_key(version) >= (2, 11) else "ipWhiteList"


@dataclass(frozen=True)
class OdooHosts:
    admin: tuple[str, ...]
    named: tuple[str, ...]
    domains: tuple[tuple[str, str], ...]  # (domain, character class) of tenant subdomains

    @classmethod
    def from_routing(cls, routing: Routing) -> OdooHosts:
        return cls(
            admin=routing.admin,
            named=tuple(sorted(routing.hosts)),
            domains=tuple((f.value.domain, f.value.chars) for f in routing.subdomains),
        )

    @property
    def exact(self) -> tuple[str, ...]:
        return self.admin + self.named

    def probes(self) -> list[str]:
        return [*self.exact, *(f"probe1.{d}" for d, _ in self.domains)]


def tenant_rule(domain: str, chars: str, version: str) -> str:
    if version_key(version)[0] >= 3:
        return f"HostRegexp(`^{chars}{re.escape('.' + domain)}$`)"
    return f"HostRegexp(`{{sub:{chars}}}.{domain}`)"


def rule_hosts(rule: str) -> list[str]:
    return [
        h.lower()
        for g in re.findall(r"\bHost\(([^)]*)\)", rule)
        for h in re.findall(r"`([^`]*)`", g)
    ]


def is_odoo_rule(rule: str, hosts: OdooHosts) -> bool:
    return any(rule_matches_host(rule, h) for h in hosts.probes())


def _default_priority(rule: str) -> int:
    return len(rule)  # Traefik's default: the rule's length


@dataclass(frozen=True)
class EdgeSpec:
    hosts: OdooHosts
    version: str
    allow: tuple[str, ...]
    service: str  # the Traefik service that reaches the router ("odoo-router@docker" too)
    service_url: str | None  # create that file service with this URL when it is missing
    old_hosts: tuple[str, ...]  # names of the old Odoo container (services aimed there go)
    resolver: str | None = None


@dataclass
class _State:
    dead: set[str] = field(default_factory=set)
    covered: set[str] = field(default_factory=set)
    resolvers: list[str] = field(default_factory=list)
    entry_points: list[Any] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)  # of routers matching the admin host
    admin_routers: list[tuple[CommentedMap, str]] = field(default_factory=list)


def _dbfilter(mw: Any) -> bool:
    headers = (mw or {}).get("headers") or {}
    custom = headers.get("customRequestHeaders") or {}
    return any(str(k).lower() == "x-odoo-dbfilter" for k in custom)


def needs_edit(text: str, hosts: OdooHosts) -> bool:
    data = load_plain(text) or {}
    http = data.get("http") or {} if isinstance(data, dict) else {}
    if any(_dbfilter(m) for m in (http.get("middlewares") or {}).values()):
        return True
    return any(
        is_odoo_rule(str((r or {}).get("rule", "")), hosts)
        for r in (http.get("routers") or {}).values()
    )


def edit_dynamic(docs: dict[str, YamlDoc], plain: dict[str, str], spec: EdgeSpec) -> dict[str, str]:
    """``docs``: the files that need an edit (round-trip); ``plain``: every file's text (the
    others are read, not edited). Returns the new text of every file in ``docs``."""
    st = _State()
    for doc in docs.values():
        mws = (doc.data.get("http") or {}).get("middlewares") or {}
        for name in [str(k) for k, v in mws.items() if _dbfilter(v)]:
            delete_key(mws, name)
            st.dead |= {name, f"{name}@file"}
    for doc in docs.values():
        routers = (doc.data.get("http") or {}).get("routers") or {}
        for name in list(routers.keys()):
            _router(routers, str(name), spec, st)
    for text in [t for n, t in plain.items() if n not in docs]:
        for r in ((load_plain(text) or {}).get("http") or {}).get("routers", {}).values() or ():
            rule = str((r or {}).get("rule", ""))
            if any(rule_matches_host(rule, h) for h in spec.hosts.admin):
                st.priorities.append(int(r.get("priority") or _default_priority(rule)))
    home = _home(docs)
    resolver = spec.resolver or (st.resolvers[0] if st.resolvers else None)
    routers = home.data.setdefault("http", CommentedMap()).setdefault("routers", CommentedMap())
    for domain, chars in spec.hosts.domains:
        if f"*.{domain}" not in st.covered:
            _add_router(
                routers,
                f"odoo-tenants-{domain.split('.')[0]}",
                tenant_rule(domain, chars, spec.version),
                spec,
                resolver,
            )
    missing_admin = [h for h in spec.hosts.admin if h not in st.covered]
    if missing_admin:
        name = ADMIN_ROUTER if ADMIN_ROUTER not in routers else f"{ADMIN_ROUTER}-migrated"
        rule = " || ".join(f"Host(`{h}`)" for h in missing_admin)
        r = _add_router(routers, name, rule, spec, resolver, [f"{ALLOWLIST}@file"], st.entry_points)
        st.admin_routers.append((r, rule))
    for host in spec.hosts.named:
        if host not in st.covered:
            _add_router(
                routers, "odoo-" + host.replace(".", "-"), f"Host(`{host}`)", spec, resolver
            )
    top = max(st.priorities, default=0)
    for r, rule in st.admin_routers:
        mine = int(r.get("priority") or _default_priority(rule))
        if mine <= top:
            keys = list(r.keys())
            at = keys.index("service") + 1 if "service" in keys else len(keys)
            if "priority" in r:
                r["priority"] = top + 1
            else:
                r.insert(at, "priority", top + 1)
    _allowlist(docs, home, spec)
    _services(docs, plain, spec)
    return {name: doc.dump() for name, doc in docs.items()}


def _home(docs: dict[str, YamlDoc]) -> YamlDoc:
    for doc in docs.values():
        if (doc.data.get("http") or {}).get("routers"):
            return doc
    return next(iter(docs.values()))


def _router(routers: Any, name: str, spec: EdgeSpec, st: _State) -> None:
    r = routers[name]
    rule = str(r.get("rule", ""))
    if not is_odoo_rule(rule, spec.hosts):
        return
    admin = any(rule_matches_host(rule, h) for h in spec.hosts.admin)
    if re.search(r"\bPath(Prefix|Regexp)?\(", rule) and r.get("service") != spec.service:
        delete_key(routers, name)  # the router does path routing: one route per host
        return
    r["service"] = spec.service
    keep = [m for m in r.get("middlewares") or () if str(m) not in st.dead]
    exact = rule_hosts(rule)
    if any(h in spec.hosts.admin for h in exact) and f"{ALLOWLIST}@file" not in keep:
        keep.append(f"{ALLOWLIST}@file")
    if keep:
        if r.get("middlewares") is None:
            r["middlewares"] = CommentedSeq()
        r["middlewares"][:] = keep
    elif "middlewares" in r:
        trailing = get_trailing(r)
        del r["middlewares"]
        if trailing is not None and get_trailing(r) is None:
            set_trailing(r, trailing)
    for domain, chars in spec.hosts.domains:
        if rule_matches_host(rule, f"probe1.{domain}") and not exact:
            st.covered.add(f"*.{domain}")
            v3 = version_key(spec.version)[0] >= 3 and r.get("ruleSyntax") != "v2"
            if ("{" in rule) == v3:  # the other syntax matches nothing on this version
                r["rule"] = DQ(tenant_rule(domain, chars, spec.version))
    if version_key(spec.version)[0] >= 3 and re.search(r"\bHost\(`[^`]*`\s*,", rule):
        r["rule"] = DQ(" || ".join(f"Host(`{h}`)" for h in exact))  # v3: one Host() argument
    st.covered |= set(exact)
    if r.get("entryPoints") and not st.entry_points:
        st.entry_points = [str(e) for e in r["entryPoints"]]
    resolver = (r.get("tls") or {}).get("certResolver")
    if resolver:
        st.resolvers.insert(0, str(resolver)) if not exact else st.resolvers.append(str(resolver))
    if any(h in spec.hosts.admin for h in exact):
        st.admin_routers.append((r, str(r.get("rule", rule))))
    elif admin:
        st.priorities.append(int(r.get("priority") or _default_priority(str(r.get("rule", rule)))))


def _add_router(
    routers: CommentedMap,
    name: str,
    rule: str,
    spec: EdgeSpec,
    resolver: str | None,
    middlewares: Sequence[str] = (),
    entry_points: Sequence[str] = (),
) -> CommentedMap:
    r = CommentedMap()
    r["rule"] = DQ(rule)
    if entry_points:
        r["entryPoints"] = CommentedSeq(entry_points)
    r["service"] = spec.service
    if middlewares:
        r["middlewares"] = CommentedSeq(list(middlewares))
    if resolver:
        r["tls"] = CommentedMap([("certResolver", resolver)])
    last = list(routers.keys())[-1] if len(routers) else None
    trailing = get_trailing(routers[last]) if last is not None else None
    if last is not None:
        set_trailing(routers[last], blank_line())
    routers[name] = r
    routers.yaml_set_comment_before_after_key(name, before="added by odoo-router-migrate", indent=4)
    if trailing is not None:
        set_trailing(r, trailing)
    return r


def _allowlist(docs: dict[str, YamlDoc], home: YamlDoc, spec: EdgeSpec) -> None:
    target = next(
        (d for d in docs.values() if (d.data.get("http") or {}).get("middlewares") is not None),
        home,
    )
    http = target.data.setdefault("http", CommentedMap())
    mws = http.get("middlewares")
    if mws is None:
        mws = http["middlewares"] = CommentedMap()
    body = CommentedMap()
    key = allowlist_key(spec.version)
    body[key] = CommentedMap([("sourceRange", CommentedSeq([DQ(a) for a in spec.allow]))])
    fresh = ALLOWLIST not in mws
    if fresh and len(mws):
        last = list(mws.keys())[-1]
        if get_trailing(mws[last]) is None:
            set_trailing(mws[last], blank_line())
    mws[ALLOWLIST] = body
    if fresh:
        mws.yaml_set_comment_before_after_key(
            ALLOWLIST, before="Admin host: office/VPN ranges only (odoo-router-migrate)", indent=4
        )


def _services(docs: dict[str, YamlDoc], plain: dict[str, str], spec: EdgeSpec) -> None:
    used: set[str] = set()
    defined: set[str] = set()
    for name, text in plain.items():
        data = docs[name].data if name in docs else (load_plain(text) or {})
        http = data.get("http") or {}
        used |= {
            str((r or {}).get("service", "")).split("@")[0]
            for r in (http.get("routers") or {}).values()
        }
        defined |= {str(k) for k in http.get("services") or {}}
    for doc in docs.values():
        services = (doc.data.get("http") or {}).get("services") or {}
        for name in list(services.keys()):
            servers = ((services[name] or {}).get("loadBalancer") or {}).get("servers") or []
            urls = [str(s.get("url", "")) for s in servers]
            if name not in used and any(_aimed_at(u, spec.old_hosts) for u in urls):
                delete_key(services, name)
    short = spec.service.split("@")[0]
    if spec.service_url is not None and "@" not in spec.service and short not in defined:
        home = _home(docs)
        services = home.data.setdefault("http", CommentedMap()).setdefault(
            "services", CommentedMap()
        )
        lb = CommentedMap(
            [("servers", CommentedSeq([CommentedMap([("url", DQ(spec.service_url))])]))]
        )
        services[short] = CommentedMap([("loadBalancer", lb)])


def _aimed_at(url: str, hosts: Sequence[str]) -> bool:
    m = re.match(r"^[a-z]+://([^/:]+)", url)
    return m is not None and m.group(1) in hosts
