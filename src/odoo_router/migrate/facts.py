"""The routing facts the migration renders from, each with where it came from.

A fact comes from the files (``nginx/default.conf:31``), from the operator's inputs file
(``inputs.yaml:7 (admin.allow)``), from a command-line override (``--admin-allow``) or is a
documented default. ``plan`` prints every fact with its source; where two sources disagree
the plan is refused, naming both (``merge`` below).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_SUB_CHARS = "[a-z0-9-]+"
# Docker's default address pools and loopback: where Traefik reaches the router from.
DEFAULT_TRUSTED = ("127.0.0.0/8", "::1/128", "172.16.0.0/12", "192.168.0.0/16")
DOCKER_POOL = ipaddress.ip_network("172.16.0.0/12")


@dataclass(frozen=True)
class Fact(Generic[T]):
    value: T
    source: str  # "seisei-odoo/nginx/default.conf:31", "inputs.yaml:7 (admin.allow)", ...

    def __str__(self) -> str:
        return f"{self.value} ({self.source})"


@dataclass(frozen=True)
class SubdomainRule:
    """``<sub>.domain`` -> database ``template.format(sub=<sub>)``."""

    domain: str
    template: str  # "ten_{sub}"
    chars: str = DEFAULT_SUB_CHARS  # a regex character class with its quantifier

    @property
    def regex(self) -> str:
        """Python syntax, one named group ``sub``."""
        return f"^(?P<sub>{self.chars}){re.escape('.' + self.domain)}$"

    @property
    def db_prefix(self) -> str:
        return self.template.split("{sub}", 1)[0]

    def database(self, sub: str) -> str:
        return self.template.replace("{sub}", sub)

    def describe(self) -> str:
        return f"<sub>.{self.domain} -> {self.template.replace('{sub}', '<sub>')}"


@dataclass(frozen=True)
class TenantUI:
    """What "/" and the UI paths of tenant subdomains do: redirect (BizNexus) or proxy."""

    redirect: str | None  # None: proxied to Odoo
    login_redirect: str | None

    @property
    def proxy(self) -> bool:
        return self.redirect is None and self.login_redirect is None

    def describe(self) -> str:
        if self.proxy:
            return "proxy"
        return (
            f"redirect {self.redirect or '(proxied)'}, login {self.login_redirect or '(proxied)'}"
        )


@dataclass
class Routing:
    """The merged facts: one value per fact, with its source."""

    admin_hosts: list[Fact[str]] = field(default_factory=list)
    admin_allow: Fact[tuple[str, ...]] | None = None
    admin_allow_at: tuple[str, ...] = ()  # where each range is written, when known
    subdomains: list[Fact[SubdomainRule]] = field(default_factory=list)
    hosts: dict[str, Fact[str]] = field(default_factory=dict)  # exact host -> database
    tenant_ui: Fact[TenantUI] | None = None
    trusted_proxies: Fact[tuple[str, ...]] = field(
        default_factory=lambda: Fact(DEFAULT_TRUSTED, "default (docs/migrate.md)")
    )

    @property
    def admin(self) -> tuple[str, ...]:
        return tuple(f.value for f in self.admin_hosts)

    def database_of(self, host: str) -> str | None:
        if host in self.hosts:
            return self.hosts[host].value
        for rule in self.subdomains:
            m = re.match(rule.value.regex, host)
            if m:
                return rule.value.database(m.group("sub"))
        return None

    def lines(self) -> list[str]:
        """Every fact with its source, for the report."""
        out = [f"admin host {f.value}: {f.source}" for f in self.admin_hosts]
        if self.admin_allow is not None:
            out.append(
                f"admin allowlist {', '.join(self.admin_allow.value)}: {self.admin_allow.source}"
            )
        out += [f"tenant subdomains {f.value.describe()}: {f.source}" for f in self.subdomains]
        out += [f"tenant host {h} -> {f.value}: {f.source}" for h, f in sorted(self.hosts.items())]
        if self.tenant_ui is not None:
            out.append(f"tenant UI {self.tenant_ui.value.describe()}: {self.tenant_ui.source}")
        tp = self.trusted_proxies
        out.append(f"trusted proxies {', '.join(tp.value)}: {tp.source}")
        return out


def allowlist_problems(
    allow: Sequence[str],
    source: str,
    traefik_subnets: dict[str, list[str]],
    broad_ok: bool,
    at: Sequence[str] = (),
) -> list[str]:
    """An admin allowlist that would let everyone in: ``/0``, or a range overlapping the
    Docker pool or a network Traefik sits on (published ports and hairpin traffic arrive
    with the bridge gateway as the client address)."""
    out: list[str] = []
    for i, cidr in enumerate(allow):
        where = at[i] if i < len(at) else source
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            out.append(f"{where}: {cidr!r} is not an address or CIDR range")
            continue
        if net.prefixlen == 0:
            out.append(f"{where}: {cidr} allows every address: name the office and VPN ranges")
            continue
        if broad_ok:
            continue
        if net.version == 4 and net.overlaps(DOCKER_POOL):
            out.append(
                f"{where}: {cidr} overlaps 172.16.0.0/12, Docker's address pool: behind "
                "published ports every client looks like the bridge gateway "
                "(--allow-broad-allowlist if you mean it)"
            )
            continue
        for netname, subnets in sorted(traefik_subnets.items()):
            for sub in subnets:
                s = ipaddress.ip_network(sub, strict=False)
                if s.version == net.version and s.overlaps(net):
                    out.append(
                        f"{where}: {cidr} overlaps {sub}, the docker network {netname} that "
                        "Traefik is attached to (--allow-broad-allowlist if you mean it)"
                    )
    return out
