"""The HTTP routing table Traefik would build, and which router takes a request (pure).

Rules (Traefik's ``pkg/muxer/http/mux.go``, ``pkg/server/router/router.go``,
``pkg/server/aggregator.go``, ``pkg/config/static/static_config.go``):
- A router takes part on the entry points it names; one that names none is on every entry
  point (the default entry points). A router with ``tls`` serves only TLS requests, one
  without only plain requests, unless the entry point applies TLS to all its routers.
- Routers are tried by priority, highest first; the default priority is ``len(rule)``.
- Equal priority: from Traefik 3.7 on, routers of different providers are ordered by
  ``providers.precedence`` (default: ... docker, file ...: docker first); otherwise (and
  always before 3.7) the order is Go's unstable sort of a map: a genuine tie, reported
  between the named routers.
- A router whose rule does not parse, or whose service or a middleware does not exist, is
  disabled: it takes no request.
- Names without ``@provider`` refer to the router's own provider.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .traefik_match import Request, rule_matches
from .traefik_rule_tree import Rule, RuleError
from .traefik_rules import parse
from .traefik_version import RuleSyntax, TraefikVersion

# providers.precedence default from 3.7 (static_config.go providerNames), first wins a tie.
PROVIDER_PRECEDENCE = (
    "kubernetesgateway",
    "kubernetescrd",
    "kubernetes",
    "kubernetesingressnginx",
    "swarm",
    "docker",
    "file",
    "redis",
    "knative",
    "consul",
    "consulcatalog",
    "nomad",
    "etcd",
    "ecs",
    "http",
    "zookeeper",
    "rest",
)
ALLOWLIST_KINDS = ("ipallowlist", "ipwhitelist")


def qualify(name: str, provider: str) -> str:
    return name if "@" in name else f"{name}@{provider}"


@dataclass(frozen=True)
class MiddlewareEntry:
    name: str  # qualified: "admin-ip-allowlist@file"
    kind: str  # lower-case type key: "ipallowlist", "headers", ...
    config: Mapping[str, Any]
    source: str

    @property
    def source_range(self) -> tuple[str, ...] | None:
        """The allowed ranges of an allowlist middleware, None for other types."""
        if self.kind not in ALLOWLIST_KINDS:
            return None
        value = next((v for k, v in self.config.items() if k.lower() == "sourcerange"), None)
        if isinstance(value, str):
            return tuple(x.strip() for x in value.split(",") if x.strip())
        return tuple(str(x) for x in value or ())


@dataclass(frozen=True)
class RouterEntry:
    name: str  # qualified: "odoo-admin@file"
    provider: str
    rule: str
    syntax: RuleSyntax
    priority: int  # effective
    entry_points: tuple[str, ...]  # () = every entry point
    middlewares: tuple[str, ...]  # qualified
    service: str  # qualified
    tls: bool
    source: str  # "services.yml:44", "odoo18-prod/docker-compose.yml:38", "snapshot"
    error: str | None = None  # why Traefik disables it
    parsed: Rule | None = None

    @property
    def enabled(self) -> bool:
        return self.error is None and self.parsed is not None

    def on(self, entry_point: str) -> bool:
        return not self.entry_points or entry_point in self.entry_points


def make_router(
    name: str,
    provider: str,
    conf: Mapping[str, Any],
    version: TraefikVersion,
    source: str,
    default_rule_syntax: str | None = None,
) -> RouterEntry:
    """A router from its decoded configuration (file, labels or API shape)."""
    low = {str(k).lower(): v for k, v in conf.items()}
    rule = str(low.get("rule") or "")
    syntax_opt = low.get("rulesyntax")
    syntax = version.rule_syntax(str(syntax_opt) if syntax_opt else None, default_rule_syntax)
    prio_raw = low.get("priority") or 0
    try:
        prio = int(prio_raw)
    except (TypeError, ValueError):
        prio = 0
    error: str | None = None
    parsed: Rule | None = None
    try:
        parsed = parse(rule, syntax, wildcards=version.key >= (3, 7))
    except RuleError as exc:
        error = f"rule: {exc}"
    eps = low.get("entrypoints") or ()
    if isinstance(eps, str):
        eps = [e.strip() for e in eps.split(",") if e.strip()]
    mws = low.get("middlewares") or ()
    if isinstance(mws, str):
        mws = [m.strip() for m in mws.split(",") if m.strip()]
    return RouterEntry(
        name=qualify(name, provider),
        provider=provider,
        rule=rule,
        syntax=syntax,
        priority=prio or len(rule.encode("utf-8")),
        entry_points=tuple(str(e) for e in eps),
        middlewares=tuple(qualify(str(m), provider) for m in mws),
        service=qualify(str(low.get("service") or ""), provider) if low.get("service") else "",
        tls=low.get("tls") is not None and low.get("tls") is not False,
        source=source,
        error=error,
        parsed=parsed,
    )


@dataclass(frozen=True)
class Winner:
    host: str
    path: str
    entry_point: str
    router: RouterEntry | None  # None: no router takes it (404), or a tie
    tie: tuple[RouterEntry, ...]  # every router tied at the top, when Traefik's choice is random
    middlewares: tuple[MiddlewareEntry, ...]  # the winner's chain, as far as it is known
    candidates: tuple[RouterEntry, ...]  # every enabled router that matches, best first

    @property
    def is_tie(self) -> bool:
        return len(self.tie) > 1

    @property
    def allowlists(self) -> tuple[tuple[str, ...], ...]:
        """The source ranges of every allowlist on the winner's chain (each must pass)."""
        return tuple(m.source_range for m in self.middlewares if m.source_range is not None)

    def allows(self, client_ip: str) -> bool:
        """Whether a client at ``client_ip`` gets past every allowlist of the chain (True
        when there is none). Without ``ipStrategy`` Traefik checks the peer address."""
        ip = ipaddress.ip_address(client_ip)
        return all(
            any(ip in ipaddress.ip_network(r.strip(), strict=False) for r in ranges)
            for ranges in self.allowlists
        )

    def describe(self) -> str:
        where = f"{self.host}{self.path} on {self.entry_point}"
        if self.is_tie:
            names = ", ".join(r.name for r in self.tie)
            return f"{where}: tie at priority {self.tie[0].priority} between {names}"
        if self.router is None:
            return f"{where}: no router (404)"
        mws = ", ".join(m.name for m in self.middlewares) or "no middleware"
        return f"{where}: {self.router.name} (priority {self.router.priority}; {mws})"


@dataclass
class RoutingTable:
    version: TraefikVersion
    routers: list[RouterEntry] = field(default_factory=list)
    middlewares: dict[str, MiddlewareEntry] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)  # dropped files, skipped duplicates
    tls_entry_points: frozenset[str] = frozenset()  # entry points that make every router TLS
    precedence: tuple[str, ...] = PROVIDER_PRECEDENCE  # static providers.precedence (3.7+)
    check_references: bool = True  # False for an API body (Traefik already said)

    def add(self, other: RoutingTable) -> None:
        self.routers += other.routers
        self.middlewares.update(other.middlewares)
        self.services |= other.services
        self.problems += other.problems

    def effective(self, router: RouterEntry) -> RouterEntry:
        """The router with the error Traefik's runtime gives it for a missing reference."""
        if not router.enabled or not self.check_references:
            return router
        if not router.service:
            return _with_error(router, "the router has no service")
        if router.service not in self.services:
            return _with_error(router, f"the service {router.service!r} does not exist")
        for m in router.middlewares:
            if m not in self.middlewares:
                return _with_error(router, f"middleware {m!r} does not exist")
        return router

    def _rank(self, router: RouterEntry) -> tuple[int, int]:
        if self.version.key >= (3, 7) and router.provider in self.precedence:
            return (router.priority, -self.precedence.index(router.provider))
        return (router.priority, 0)

    def winner(
        self,
        host: str,
        path: str = "/",
        entry_point: str = "websecure",
        tls: bool = True,
        method: str = "GET",
        headers: Mapping[str, Sequence[str]] | None = None,
        client_ip: str = "127.0.0.1",
    ) -> Winner:
        req = Request(host, path, method, headers or {}, client_ip)
        tls_ep = entry_point in self.tls_entry_points
        hits = []
        for r in map(self.effective, self.routers):
            if r.parsed is None or not r.enabled or not r.on(entry_point):
                continue
            if (r.tls or tls_ep) != tls:
                continue
            if rule_matches(r.parsed, req):
                hits.append(r)
        hits.sort(key=self._rank, reverse=True)
        if not hits:
            return Winner(host, path, entry_point, None, (), (), ())
        top = tuple(r for r in hits if self._rank(r) == self._rank(hits[0]))
        best = top[0] if len(top) == 1 else None
        chain = tuple(
            self.middlewares[m] for m in (best.middlewares if best else ()) if m in self.middlewares
        )
        return Winner(
            host, path, entry_point, best, top if len(top) > 1 else (), chain, tuple(hits)
        )


def _with_error(router: RouterEntry, error: str) -> RouterEntry:
    from dataclasses import replace

    return replace(router, error=error)


def from_api(
    routers: Sequence[Mapping[str, Any]],
    middlewares: Sequence[Mapping[str, Any]],
    version: TraefikVersion,
    source: str = "API",
) -> RoutingTable:
    """A table from the bodies of ``/api/http/routers`` and ``/api/http/middlewares``.

    Traefik already resolved references there: ``status`` says which routers run."""
    table = RoutingTable(version, check_references=False)
    for body in routers:
        name = str(body.get("name", ""))
        provider = str(body.get("provider") or (name.split("@", 1)[1] if "@" in name else ""))
        r = make_router(name.split("@", 1)[0], provider, body, version, f"{source}: {name}")
        status = str(body.get("status", "enabled"))
        if status != "enabled" and r.error is None:
            errs = body.get("error") or [status]
            r = _with_error(r, "; ".join(str(e) for e in errs))
        table.routers.append(r)
    for body in middlewares:
        name = str(body.get("name", ""))
        kind = str(body.get("type", "")).lower()
        conf = next(
            (v for k, v in body.items() if k.lower() == kind and isinstance(v, Mapping)), {}
        )
        table.middlewares[name] = MiddlewareEntry(name, kind, conf, f"{source}: {name}")
    return table
