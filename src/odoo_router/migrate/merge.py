"""One value per fact: the files' (nginx, Traefik), the inputs file's, a command-line
override's, or a documented default, in that order of authority for what the files say.

Rules:
- The inputs file may add what the files do not say and may repeat what they say; where
  both say something different the plan is refused, naming both sources.
- A command-line option (``--admin-allow``, ``--trusted-proxy``, ``--traefik-version``) is an
  override of its inputs key, shown as the fact's source; it is never a second default.
- ``admin.allow`` has no default; ``trusted_proxies`` defaults to Docker's address pools and
  loopback (shown as such); the Traefik version comes from the API or a snapshot, else the
  image tag, else the inputs file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .facts import Fact, Routing, SubdomainRule, allowlist_problems
from .inputs import Inputs
from .nginxconf import NginxFacts


@dataclass(frozen=True)
class Overrides:
    """Command-line options that override inputs keys."""

    admin_allow: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    traefik_version: str | None = None
    master_password_file: str | None = None
    allow_broad_allowlist: bool = False


@dataclass
class Merged:
    routing: Routing
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _conflict(what: str, a: Fact[object], b: Fact[object]) -> str:
    return f"{what}: the inputs say {a.value} ({a.source}), the files say {b.value} ({b.source})"


def merge_routing(
    nginx: NginxFacts | None,
    inputs: Inputs,
    over: Overrides,
    traefik_subnets: dict[str, list[str]],
) -> Merged:
    out = Merged(Routing())
    r = out.routing
    found = nginx or NginxFacts()
    # admin hosts
    if inputs.admin_hosts is not None and found.admin_hosts:
        mine = {f.value for f in inputs.admin_hosts}
        theirs = {f.value for f in found.admin_hosts}
        if mine != theirs:
            out.problems.append(
                f"admin hosts: the inputs say {', '.join(sorted(mine))} "
                f"({inputs.admin_hosts[0].source}), the nginx router says "
                f"{', '.join(sorted(theirs))} ({found.admin_hosts[0].source})"
            )
        r.admin_hosts = list(found.admin_hosts)
    else:
        r.admin_hosts = list(found.admin_hosts or inputs.admin_hosts or [])
    if not r.admin_hosts:
        out.problems.append(
            "no admin host: the nginx router names none; give admin.hosts in the inputs file"
        )
    # allowlist: an override, else the inputs; never a default
    if over.admin_allow:
        r.admin_allow = Fact(over.admin_allow, "--admin-allow")
    elif inputs.admin_allow is not None:
        r.admin_allow = inputs.admin_allow
        r.admin_allow_at = inputs.admin_allow_at
    else:
        out.problems.append(
            "admin.allow: missing: the address ranges allowed on the admin host (office, VPN) "
            "go in the inputs file (or --admin-allow); there is no default"
        )
    if r.admin_allow is not None:
        out.problems += allowlist_problems(
            r.admin_allow.value,
            r.admin_allow.source,
            traefik_subnets,
            over.allow_broad_allowlist,
            r.admin_allow_at,
        )
    _merge_tenants(found, inputs, out)
    # tenant UI
    if inputs.tenant_ui is not None and found.tenant_ui is not None:
        _merge_ui(inputs, found, out)
        r.tenant_ui = found.tenant_ui
    else:
        r.tenant_ui = found.tenant_ui or inputs.tenant_ui
    if r.tenant_ui is None and found.ui_conflict is not None:
        out.problems.append(found.ui_conflict)
    elif r.tenant_ui is None and r.subdomains:
        out.problems.append(
            "tenant_ui: the nginx router does not say what / and the UI paths of tenant "
            "subdomains do: give tenant_ui (redirect or proxy) in the inputs file"
        )
    # trusted proxies: an override, else the inputs, else the documented default
    if over.trusted_proxies:
        r.trusted_proxies = Fact(over.trusted_proxies, "--trusted-proxy")
    elif inputs.trusted_proxies is not None:
        r.trusted_proxies = inputs.trusted_proxies
    out.problems += found.problems
    out.warnings += found.warnings
    return out


def _merge_ui(inputs: Inputs, found: NginxFacts, out: Merged) -> None:
    assert inputs.tenant_ui is not None and found.tenant_ui is not None
    mine, theirs = inputs.tenant_ui.value, found.tenant_ui.value
    if mine.proxy or theirs.proxy:
        if mine != theirs:
            out.problems.append(
                f"tenant_ui: the inputs say {mine.describe()} ({inputs.tenant_ui.source}), the "
                f"nginx router says {theirs.describe()} ({found.tenant_ui.source})"
            )
        return
    for key in ("redirect", "login_redirect"):
        a, b = getattr(mine, key), getattr(theirs, key)
        if a != b:
            where = inputs.tenant_ui_sources.get(key, inputs.tenant_ui.source)
            there = found.tenant_ui_sources.get(key, found.tenant_ui.source)
            out.problems.append(
                f"tenant_ui.{key}: the inputs say {a or '(proxied)'} ({where}), "
                f"the nginx router says {b or '(proxied)'} ({there})"
            )


def _merge_tenants(found: NginxFacts, inputs: Inputs, out: Merged) -> None:
    r = out.routing
    admin = set(r.admin)
    by_domain: dict[str, Fact[SubdomainRule]] = {f.value.domain: f for f in found.subdomains}
    for rule in inputs.subdomains or []:
        known = by_domain.get(rule.value.domain)
        if known is None:
            by_domain[rule.value.domain] = rule
        elif known.value.template != rule.value.template:
            out.problems.append(
                f"tenants.subdomains: the inputs say {rule.value.describe()} ({rule.source}), "
                f"the nginx router says {known.value.describe()} ({known.source})"
            )
    r.subdomains = list(by_domain.values())
    if not r.subdomains and found.unread_patterns and not inputs.subdomains:
        out.problems += [
            f"{u}: give tenants.subdomains in the inputs file" for u in found.unread_patterns
        ]
    r.hosts = dict(found.hosts)
    for host, f in (inputs.hosts or {}).items():
        theirs = found.hosts.get(host)
        if host in admin:
            out.problems.append(
                f"tenants.hosts: {host} is a tenant of {f.value} in the inputs ({f.source}) "
                "but the admin host in the files"
            )
        elif theirs is None:
            r.hosts[host] = f
        elif theirs.value != f.value:
            out.problems.append(_conflict(f"tenants.hosts.{host}", f, theirs))  # type: ignore[arg-type]


def merge_version(
    inputs: Inputs,
    over: Overrides,
    running: Fact[str] | None,
    image: Fact[str] | None,
    image_unknown: str,
) -> tuple[Fact[str] | None, list[str]]:
    """(the version to render for, problems). ``running``: from the API or a snapshot."""
    problems: list[str] = []
    if over.traefik_version:
        return Fact(over.traefik_version.lstrip("v"), "--traefik-version"), problems
    chosen = running or image
    given = inputs.traefik_version
    if given is not None and chosen is not None and _minor(given.value) != _minor(chosen.value):
        problems.append(
            f"traefik_version: the inputs say {given.value} ({given.source}), but "
            f"{chosen.value} runs ({chosen.source})"
        )
    chosen = chosen or given
    if chosen is None:
        problems.append(
            f"Traefik version unknown ({image_unknown or 'no Traefik service found'}): give "
            'traefik_version (e.g. "3.7") in the inputs file or a --traefik-snapshot'
        )
    return chosen, problems


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.lstrip("v").split(".")[:2])
