"""Routing: compile the config into an immutable table, then decide (pure, no I/O).

Theory of operation
-------------------
Host first, then path, then exactly one action.

1. Host rule: exact names (a dict lookup), then the regex rules in file order, then the
   default rule. The host is already normalised (uri.normalise_host), so a rule never sees
   case or port variants. Named regex groups feed the dbfilter and redirect templates.
2. Route: the host rule's routes in order, first match wins, on the *normalised* path
   (uri.normalise_path); a ``lang_prefix`` route also matches ``/<lang>/...``, which Odoo's
   http_routing rewrites to ``/...`` (docs/security.md).
3. Access: a host rule with ``allow`` answers 403 to client addresses outside it; a route
   with ``auth`` answers 401 without credentials; credentials not yet verified make a
   decision with ``pending_auth``: the data path checks them (its own memo of verified
   credentials first, PBKDF2 off the event loop otherwise) and decides again with the
   verdict in ``Facts.auth_verified``.
4. Action: proxy (pool + options), redirect, or respond. Local answers carry their full
   status, headers and body so the I/O layer only writes bytes.

nginx-compat translation keeps nginx's location precedence by listing each host's exact
locations first, its regex locations in file order, then the prefix catch-all.

The table is immutable and ``decide`` reads nothing else: the same facts give the same
decision. The worker's memo of decisions (route_memo.RouteMemo) lives outside the table;
``decide_matched`` says which decisions it may keep.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..configuration.model import (
    Action,
    BasicAuth,
    Config,
    HostRule,
    Pool,
    ProxyAction,
    RateLimit,
    RedirectAction,
    RespondAction,
    Route,
)
from ..http.headers import dbfilter_line
from ..http.pages import error_page, status_line


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing may look at. ``client_ip`` is the address after the trusted-proxy rule."""

    method: str
    host: str
    path: str
    client_ip: str = "127.0.0.1"
    authorization: str | None = None
    upgrade: bool = False
    # Basic auth: None = not verified yet (a decision with pending_auth when credentials were
    # sent); True/False = the data path checked them.
    auth_verified: bool | None = None


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]  # the first one before Content-Length, as nginx
    body: bytes
    # The answer's head as bytes, made once (a decision is remembered): the status line,
    # the first header and Content-Length, then the rest of the headers and the blank line.
    # The Server, Date and Connection lines go between, per request.
    status_line: bytes = field(init=False, compare=False, repr=False)
    first_lines: bytes = field(init=False, compare=False, repr=False)
    last_lines: bytes = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        first, *rest = self.headers or (("Content-Type", "text/html"),)
        setattr_ = object.__setattr__
        setattr_(self, "status_line", status_line(self.status))
        setattr_(
            self,
            "first_lines",
            b"%b: %b\r\nContent-Length: %d\r\n"
            % (first[0].encode("latin-1"), first[1].encode("latin-1"), len(self.body)),
        )
        lines = [b"%b: %b\r\n" % (n.encode("latin-1"), v.encode("latin-1")) for n, v in rest]
        setattr_(self, "last_lines", b"".join(lines) + b"\r\n")


@dataclass(frozen=True, slots=True)
class Decision:
    host_rule: str
    route: str
    action: Action | None  # None when access control answered before the route's action
    tenant_db: str | None  # the host's database (template filled), None for "all databases"
    dbfilter: str | None  # the X-Odoo-dbfilter value to send, None: send no header
    local: LocalAnswer | None = None  # set for redirect / respond / access refusals
    pending_auth: BasicAuth | None = None  # credentials to verify, then decide again
    rate_limit: RateLimit | None = None  # the route's login limit (security/ratelimit.py)
    # The action when it is a proxy one and nothing answered locally, and what the data path
    # reads of it on every request: computed once (a decision is remembered), read as
    # compiled fields rather than through the config's Python objects.
    proxy: ProxyAction | None = field(init=False, compare=False, repr=False)
    dbfilter_line: bytes = field(init=False, compare=False, repr=False)  # headers.dbfilter_line
    pool: str = field(init=False, compare=False, repr=False)  # "" unless proxied
    # The body goes through datapath/rpc_guard.py: the RPC firewall's (on a tenant host), or
    # the login count alone (rpc_count_logins with a rate limit).
    inspect: bool = field(init=False, compare=False, repr=False)
    firewall_db: str | None = field(init=False, compare=False, repr=False)  # None: count only
    limit_at_head: bool = field(init=False, compare=False, repr=False)  # login_limit.at_head
    buffered: bool = field(init=False, compare=False, repr=False)  # body read whole first
    cache: bool = field(init=False, compare=False, repr=False)  # the static cache may answer

    def __post_init__(self) -> None:
        action = self.action
        proxy = action if isinstance(action, ProxyAction) and self.local is None else None
        setattr_ = object.__setattr__
        setattr_(self, "proxy", proxy)
        setattr_(self, "dbfilter_line", dbfilter_line(self.dbfilter))
        setattr_(self, "pool", proxy.pool if proxy is not None else "")
        firewall = proxy is not None and proxy.rpc_firewall and self.tenant_db is not None
        limited = self.rate_limit is not None
        counting = limited and proxy is not None and proxy.rpc_count_logins
        setattr_(self, "inspect", firewall or counting)
        setattr_(self, "firewall_db", self.tenant_db if firewall else None)
        setattr_(self, "limit_at_head", limited and not firewall)
        buffered = proxy is not None and (proxy.request_buffering or proxy.rpc_firewall)
        setattr_(self, "buffered", buffered)
        setattr_(self, "cache", proxy is not None and proxy.cache)


Matcher = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: Route
    match: Matcher


@dataclass(frozen=True, slots=True)
class _CompiledHost:
    rule: HostRule
    routes: tuple[_CompiledRoute, ...]


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Immutable; a reload compiles a new one and swaps the reference."""

    exact: dict[str, _CompiledHost]
    patterns: tuple[tuple[re.Pattern[str], _CompiledHost], ...]
    default: _CompiledHost
    pools: dict[str, Pool]
    dbfilter_anchor: bool


# The host rule a host matched and the regex's named groups.
HostMatch = tuple[_CompiledHost, dict[str, str]]


def _path_matcher(route: Route) -> Matcher:
    pattern = route.pattern
    base: Matcher
    if route.kind == "exact":
        base = lambda path: path == pattern  # noqa: E731
    elif route.kind == "prefix":
        base = lambda path: path.startswith(pattern)  # noqa: E731
    else:
        search = re.compile(pattern).search
        base = lambda path: search(path) is not None  # noqa: E731
    if not route.lang_prefix:
        return base
    from .langprefix import strip_lang_prefix

    def with_lang(path: str) -> bool:
        if base(path):
            return True
        stripped = strip_lang_prefix(path)
        return stripped is not None and base(stripped)

    return with_lang


def compile_table(config: Config) -> RoutingTable:
    exact: dict[str, _CompiledHost] = {}
    patterns: list[tuple[re.Pattern[str], _CompiledHost]] = []
    default: _CompiledHost | None = None
    for rule in config.hosts:
        compiled = _CompiledHost(
            rule, tuple(_CompiledRoute(r, _path_matcher(r)) for r in rule.routes)
        )
        for name in rule.exact:
            exact[name] = compiled
        if rule.regex is not None:
            patterns.append((re.compile(rule.regex), compiled))
        if rule.default:
            default = compiled
    assert default is not None, "config validation guarantees one default host rule"
    return RoutingTable(
        exact=exact,
        patterns=tuple(patterns),
        default=default,
        pools=config.pools,
        dbfilter_anchor=config.server.dbfilter_anchor,
    )


def match_host(table: RoutingTable, host: str) -> HostMatch:
    """Exact names, then the regex rules in file order, then the default rule."""
    compiled = table.exact.get(host)
    if compiled is not None:
        return compiled, {}
    for regex, compiled in table.patterns:
        m = regex.search(host)
        if m is not None:
            return compiled, {k: v or "" for k, v in m.groupdict().items()}
    return table.default, {}


def _fill(template: str, host: str, groups: dict[str, str]) -> str:
    return template.format_map({"host": host, **groups})


def _redirect(action: RedirectAction, host: str, groups: dict[str, str]) -> LocalAnswer:
    location = _fill(action.location, host, groups)
    return LocalAnswer(
        action.status,
        (("Content-Type", "text/html"), ("Location", location)),
        error_page(action.status),
    )


def _respond(action: RespondAction) -> LocalAnswer:
    return LocalAnswer(
        action.status,
        (("Content-Type", action.content_type), *action.headers),
        action.body.encode("utf-8"),
    )


def _allowed(rule: HostRule, client_ip: str) -> bool:
    if rule.allow is None:
        return True
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(addr in net for net in rule.allow)


def _auth_state(facts: Facts) -> bool | None:
    """True/False when known; None when credentials were given but are not verified yet."""
    if facts.auth_verified is not None:
        return facts.auth_verified
    return None if facts.authorization else False


FORBIDDEN: Final = LocalAnswer(403, (("Content-Type", "text/html"),), error_page(403))


def decide(table: RoutingTable, facts: Facts) -> Decision:
    """The decision for ``facts``: a function of the table and the facts alone."""
    return decide_matched(table, match_host(table, facts.host), facts)[0]


def decide_matched(table: RoutingTable, matched: HostMatch, facts: Facts) -> tuple[Decision, bool]:
    """The decision once the host matched (``match_host(table, facts.host)``), and whether
    it depends on the host and path alone (no allowlist, no credentials): a memo may keep
    those by (host, path)."""
    compiled, groups = matched
    rule = compiled.rule
    tenant_db = _fill(rule.dbfilter, facts.host, groups) if rule.dbfilter else None
    dbfilter = tenant_db
    if tenant_db is not None and table.dbfilter_anchor:
        dbfilter = "^" + re.escape(tenant_db) + "$"
    if not _allowed(rule, facts.client_ip):
        return Decision(rule.name, "-", None, tenant_db, dbfilter, FORBIDDEN), False
    fixed = rule.allow is None
    path = facts.path
    for cr in compiled.routes:
        if not cr.match(path):
            continue
        route = cr.route
        if route.auth is not None:
            verdict = _auth_state(facts)
            if verdict is None:
                pending = Decision(
                    rule.name, route.name, None, tenant_db, dbfilter, pending_auth=route.auth
                )
                return pending, False
            if not verdict:
                realm = route.auth.realm.replace('"', "")
                challenge = (
                    ("Content-Type", "text/html"),
                    ("WWW-Authenticate", f'Basic realm="{realm}"'),
                )
                answer = LocalAnswer(401, challenge, error_page(401))
                return Decision(rule.name, route.name, None, tenant_db, dbfilter, answer), False
        action = route.action
        local = None
        if isinstance(action, RedirectAction):
            local = _redirect(action, facts.host, groups)
        elif isinstance(action, RespondAction):
            local = _respond(action)
        limit = route.rate_limit if local is None else None
        decision = Decision(
            rule.name, route.name, action, tenant_db, dbfilter, local, rate_limit=limit
        )
        return decision, fixed and route.auth is None
    # A host rule whose routes all miss: nginx would have no location either.
    missing = LocalAnswer(404, (("Content-Type", "text/html"),), error_page(404))
    return Decision(rule.name, "-", None, tenant_db, dbfilter, missing), fixed
