"""Edit Traefik's dynamic files (middlewares.yml, services.yml) for the router, round trip.

- Middlewares that set X-Odoo-dbfilter go (choosing the database is the router's job).
- ``admin-ip-allowlist`` is added in the running version's syntax: ``ipAllowList`` (v3) or
  ``ipWhiteList`` (v2). On v3 one unknown key can make the file provider drop the whole
  directory, so ``lint`` refuses a file that mixes the versions.
- Every router for an Odoo host points at ``odoo-router-service``; path-specific Odoo routers
  (the QR shortcut to the old container) go, so each host has one route; an ``odoo-admin``
  router with the allowlist is added; the tenant rule is written in the version's syntax and
  excludes the admin host. Other routers (erp, www, dify, ...) are not touched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString as DQ

from .nginxconf import RouterFacts
from .yamledit import YamlDoc, blank_line, delete_key, get_trailing, set_trailing

ROUTER_SERVICE = "odoo-router-service"
ROUTER_URL = "http://seisei-odoo-router:80"
ALLOWLIST = "admin-ip-allowlist"
ADMIN_ROUTER = "odoo-admin"


@dataclass(frozen=True)
class OdooHosts:
    exact: tuple[str, ...]  # admin + named tenants
    admin: tuple[str, ...]
    suffix: str | None  # ".erp.seisei.tokyo" for the subdomain tenants
    subdomain_chars: str = "[a-z0-9]+"

    @classmethod
    def from_facts(cls, facts: RouterFacts) -> OdooHosts:
        suffix = None
        chars = "[a-z0-9]+"
        if facts.subdomain_regex:
            m = re.match(r"^\^?\(\?P<\w+>([^)]*)\)(.*?)\$?$", facts.subdomain_regex)
            if m:
                chars = m.group(1)
                suffix = m.group(2).replace("\\", "")
        return cls(
            exact=tuple(facts.admin_hosts) + tuple(h for h, _ in facts.named),
            admin=tuple(facts.admin_hosts),
            suffix=suffix,
            subdomain_chars=chars,
        )


def tenant_rule(hosts: OdooHosts, major: int) -> str:
    assert hosts.suffix is not None
    if major >= 3:
        rule = f"HostRegexp(`^{hosts.subdomain_chars}{re.escape(hosts.suffix)}$`)"
    else:
        rule = f"HostRegexp(`{{subdomain:{hosts.subdomain_chars}}}{hosts.suffix}`)"
    for admin in hosts.admin:
        if admin.endswith(hosts.suffix):
            rule += f" && !Host(`{admin}`)"
    return rule


def _rule_hosts(rule: str) -> list[str]:
    return [
        h for group in re.findall(r"Host\(([^)]*)\)", rule) for h in re.findall(r"`([^`]*)`", group)
    ]


def _rule_regexps(rule: str) -> list[str]:
    return re.findall(r"HostRegexp\(`([^`]*)`", rule)


def is_odoo_rule(rule: str, hosts: OdooHosts) -> bool:
    if any(h in hosts.exact for h in _rule_hosts(rule)):
        return True
    suffix = hosts.suffix
    return suffix is not None and any(suffix in r.replace("\\", "") for r in _rule_regexps(rule))


def sets_dbfilter(mw: Any) -> bool:
    headers = (mw or {}).get("headers") or {}
    custom = headers.get("customRequestHeaders") or {}
    return any(str(k).lower() == "x-odoo-dbfilter" for k in custom)


def edit_middlewares(doc: YamlDoc, major: int, allow: Sequence[str]) -> tuple[str, list[str]]:
    """Returns the new text and the names of the removed middlewares."""
    http = doc.data.setdefault("http", CommentedMap())
    mws = http.get("middlewares")
    if mws is None:
        mws = http["middlewares"] = CommentedMap()
    removed = [str(k) for k, v in mws.items() if sets_dbfilter(v)]
    for name in removed:
        delete_key(mws, name)
    key = "ipAllowList" if major >= 3 else "ipWhiteList"
    body = CommentedMap()
    body[key] = CommentedMap([("sourceRange", CommentedSeq([DQ(a) for a in allow]))])
    if ALLOWLIST in mws:
        mws[ALLOWLIST] = body
    else:
        if len(mws):
            last = list(mws.keys())[-1]
            if get_trailing(mws[last]) is None:
                set_trailing(mws[last], blank_line())
        mws[ALLOWLIST] = body
        mws.yaml_set_comment_before_after_key(
            ALLOWLIST, before="Admin host: office/VPN ranges only (odoo-router-migrate)", indent=4
        )
    return doc.dump(), removed


def _add_router(
    routers: CommentedMap, name: str, rule: str, resolver: str, middlewares: Sequence[str] = ()
) -> None:
    r = CommentedMap()
    r["rule"] = DQ(rule)
    r["entryPoints"] = CommentedSeq(["websecure"])
    r["service"] = ROUTER_SERVICE
    if middlewares:
        r["middlewares"] = CommentedSeq(list(middlewares))
    r["tls"] = CommentedMap([("certResolver", resolver)])
    last = list(routers.keys())[-1] if len(routers) else None
    trailing = get_trailing(routers[last]) if last is not None else None
    if last is not None:
        set_trailing(routers[last], blank_line())
    routers[name] = r
    routers.yaml_set_comment_before_after_key(name, before="added by odoo-router-migrate", indent=4)
    if trailing is not None:
        set_trailing(r, trailing)


def _repoint(r: CommentedMap, rule: str, hosts: OdooHosts, major: int, dead: set[str]) -> None:
    """One Odoo router: to the router service, tenant rule in the version's syntax, the
    dbfilter middlewares out, the allowlist in when it serves the admin host."""
    r["service"] = ROUTER_SERVICE
    if hosts.suffix and _rule_regexps(rule):
        r["rule"] = DQ(tenant_rule(hosts, major))
    keep = [m for m in r.get("middlewares") or () if str(m) not in dead]
    if any(h in hosts.admin for h in _rule_hosts(rule)) and f"{ALLOWLIST}@file" not in keep:
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


def edit_services(
    doc: YamlDoc, hosts: OdooHosts, major: int, removed_middlewares: Sequence[str]
) -> str:
    http = doc.data.setdefault("http", CommentedMap())
    routers = http.get("routers")
    if routers is None:
        routers = http["routers"] = CommentedMap()
    services = http.get("services")
    if services is None:
        services = http["services"] = CommentedMap()
    dead = {f"{m}@file" for m in removed_middlewares} | set(removed_middlewares)
    resolvers: list[str] = []
    covered: set[str] = set()  # exact hosts with a router; "*" for the tenant subdomains
    for name in list(routers.keys()):
        r = routers[name]
        rule = str(r.get("rule", ""))
        if not is_odoo_rule(rule, hosts):
            continue
        if re.search(r"\bPath(Prefix|Regexp)?\(", rule):
            delete_key(routers, name)  # the router does path routing; one route per host
            continue
        _repoint(r, rule, hosts, major, dead)
        covered |= set(_rule_hosts(rule)) | ({"*"} if _rule_regexps(rule) else set())
        resolver = (r.get("tls") or {}).get("certResolver")
        if resolver and _rule_regexps(rule):
            resolvers.insert(0, str(resolver))  # the wildcard's resolver first
        elif resolver:
            resolvers.append(str(resolver))
    resolver = resolvers[0] if resolvers else "letsencrypt"
    # Hosts that only the removed docker labels served get a file route of their own.
    if hosts.suffix and "*" not in covered:
        _add_router(routers, "odoo-tenant", tenant_rule(hosts, major), resolver)
    missing_admin = [h for h in hosts.admin if h not in covered]
    if missing_admin:
        rule = " || ".join(f"Host(`{h}`)" for h in missing_admin)
        name = ADMIN_ROUTER if ADMIN_ROUTER not in routers else f"{ADMIN_ROUTER}-migrated"
        _add_router(routers, name, rule, resolver, [f"{ALLOWLIST}@file"])
    for host in hosts.exact:
        if host not in covered and host not in hosts.admin:
            _add_router(routers, "odoo-" + host.replace(".", "-"), f"Host(`{host}`)", resolver)
    used = {str(r.get("service", "")).split("@")[0] for r in routers.values()}
    for name in list(services.keys()):
        urls = [
            str(s.get("url", ""))
            for s in ((services[name].get("loadBalancer") or {}).get("servers") or [])
        ]
        if name not in used and name != ROUTER_SERVICE and any(_old_odoo_url(u) for u in urls):
            delete_key(services, name)
    if ROUTER_SERVICE not in services:
        lb = CommentedMap([("servers", CommentedSeq([CommentedMap([("url", DQ(ROUTER_URL))])]))])
        services[ROUTER_SERVICE] = CommentedMap([("loadBalancer", lb)])
    return doc.dump()


def _old_odoo_url(url: str) -> bool:
    # Services aimed at the single Odoo container that the split removes.
    return bool(re.search(r"//(odoo18-prod-web|web)(:\d+)?(/|$)", url))


_V2_ONLY = (
    (re.compile(r"\bipWhiteList\s*:"), "ipWhiteList (v3 calls it ipAllowList)"),
    (re.compile(r"HostRegexp\(`[^`]*\{\w+:"), "HostRegexp with {name:regex} (v2 syntax)"),
    (re.compile(r"\bHostHeader\("), "HostHeader() (removed in v3)"),
    (re.compile(r"\bHeaders\("), "Headers() (v3: Header())"),
)
_V3_ONLY = (
    (re.compile(r"\bipAllowList\s*:"), "ipAllowList (v2 calls it ipWhiteList)"),
    (re.compile(r"HostRegexp\(`\^"), "HostRegexp with a ^regex$ (v3 syntax)"),
)


def lint(text: str, major: int, name: str) -> list[str]:
    """Syntax of the other major version in a file Traefik ``major`` will load."""
    rules = _V2_ONLY if major >= 3 else _V3_ONLY
    problems = []
    for n, line in enumerate(text.splitlines(), start=1):
        for rx, what in rules:
            if rx.search(line):
                problems.append(f"{name}:{n}: {what} cannot be loaded by Traefik v{major}")
    return problems
