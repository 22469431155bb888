"""The routing facts of the nginx database router, whatever its variable names, pure.

Theory of operation: no variable name is assumed. The hosts nginx knows (the keys of every
``map $host ...``, every ``server_name``, a sample host for each host pattern) are run
through the configuration (nginx_eval.py) on a few probe paths, and classified by what
nginx does with them:
- a host whose API path is proxied with a non-empty ``X-Odoo-dbfilter`` is a tenant: the
  value names its database (a pattern's sample gives the template ``ten_{sub}``);
- a host proxied with the header cleared (or not set) whose ``/web/database/`` is not
  refused is an admin host;
- what ``/`` and ``/web/login`` do on a tenant subdomain is the tenant UI (redirect or
  proxy); the upstreams used give the pools; an unknown host's fate is reported.
Each fact keeps the ``file:line`` of the map entry (or server_name) that decided it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .facts import Fact, SubdomainRule, TenantUI
from .nginx_eval import NginxConfig, Outcome
from .nginx_parse import Directive, NginxSyntaxError, Resolver, parse, walk
from .nginx_vars import pcre_to_python

API, UI, LOGIN, DBM, WS = "/jsonrpc", "/", "/web/login", "/web/database/manager", "/websocket"
PROBES = (API, UI, LOGIN, DBM, WS)
SAMPLE_SUBS = ("probe1", "probe", "p1", "a", "1")
UNKNOWN_HOST = "unknown-host.invalid"


class NginxError(Exception):
    pass


@dataclass
class NginxFacts:
    admin_hosts: list[Fact[str]] = field(default_factory=list)
    hosts: dict[str, Fact[str]] = field(default_factory=dict)
    subdomains: list[Fact[SubdomainRule]] = field(default_factory=list)
    tenant_ui: Fact[TenantUI] | None = None
    upstreams: dict[str, Fact[tuple[str, ...]]] = field(default_factory=dict)  # role -> servers
    unknown_host: str = ""  # what an unknown host gets, in words
    listen_port: int = 80
    health_path: Fact[str] | None = None
    health_body: str = "OK"  # what its return answers
    client_max_body_size: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unread_patterns: list[str] = field(default_factory=list)  # host regexes of another shape
    ui_conflict: str | None = None  # host patterns whose UI paths differ
    tenant_ui_sources: dict[str, str] = field(default_factory=dict)  # redirect, login_redirect


_PATTERN = re.compile(
    r"^\^?(?:\((?:\?P?<\w+>)?(?P<cls>[^()|]+)\)|(?P<bare>\[[^\]]+\][+*]|\\w\+|\.\+))"
    r"(?P<lit>(?:\\.|[-\w])+)\$?$"
)


def pattern_rule(rx: str) -> tuple[str, str] | None:
    """(domain, character class) of a host regex shaped ``^(<class>)\\.domain$``."""
    m = _PATTERN.match(pcre_to_python(rx))
    if m is None:
        return None
    literal = re.sub(r"\\(.)", r"\1", m.group("lit"))
    if not literal.startswith(".") or len(literal) < 3:
        return None
    return literal[1:].lower(), m.group("cls") or m.group("bare")


def _sample(rx: str, flags: int, domain: str) -> str | None:
    compiled = re.compile(pcre_to_python(rx), flags)
    for sub in SAMPLE_SUBS:
        host = f"{sub}.{domain}"
        if compiled.search(host):
            return sub
    return None


@dataclass
class _Candidate:
    host: str
    where: str
    pattern: tuple[str, str, str] | None = None  # (sub, domain, chars) for a pattern sample


def _candidates(cfg: NginxConfig, unread: list[str]) -> list[_Candidate]:
    out: dict[str, _Candidate] = {}

    def add_pattern(rx: str, flags: int, where: str) -> None:
        rule = pattern_rule(rx)
        if rule is None:
            unread.append(f"{where}: cannot read the host pattern {rx!r}")
            return
        domain, chars = rule
        sub = _sample(rx, flags, domain)
        if sub is not None:
            out.setdefault(
                f"{sub}.{domain}", _Candidate(f"{sub}.{domain}", where, (sub, domain, chars))
            )

    for m in cfg.maps.values():
        if m.source not in ("$host", "$http_host", "$server_name"):
            continue
        for key, (_, d) in m.exact.items():
            out.setdefault(key, _Candidate(key, d.where))
        for mask, _, d in m.masks:
            domain = mask.lstrip("*.").removesuffix(".*")
            out.setdefault(
                f"probe.{domain}",
                _Candidate(f"probe.{domain}", d.where, ("probe", domain, r"[^.]+")),
            )
        for rx, _, d in m.regexes:
            add_pattern(rx.pattern, rx.flags & re.I, d.where)
    for s in cfg.servers:
        for d in s.children("server_name"):
            for name in d.args:
                n = name.lower()
                if n.startswith("~"):
                    add_pattern(name[1:], 0, d.where)
                elif n.startswith(("*.", ".")):
                    dom = n.lstrip("*.")
                    out.setdefault(
                        f"probe.{dom}",
                        _Candidate(f"probe.{dom}", d.where, ("probe", dom, r"[^.]+")),
                    )
                elif n not in ("_", "", "localhost") and "*" not in n:
                    out.setdefault(n, _Candidate(n, d.where))
    return list(out.values())


def _database(value: str) -> str | None:
    """``ten_acme`` or ``^ten_acme$``: one database; a wider regex is not."""
    m = re.match(r"^\^?([\w.-]+)\$?$", value)
    return m.group(1) if m else None


def _source(host: str, outcomes: dict[str, Outcome], fallback: str) -> str:
    """The map entries that named this host exactly (the lines an operator edits)."""
    lines: list[str] = []
    for o in outcomes.values():
        for step in o.trace:
            if f": {host} -> " in step.what and step.where not in lines:
                lines.append(step.where)
    return ", ".join(lines) or fallback


def read_nginx(files: list[tuple[str, str]], resolve: Resolver | None) -> NginxFacts:
    """``files``: (name, text) of the router's configuration, in nginx's load order."""
    directives: list[Directive] = []
    try:
        for name, text in files:
            directives += parse(text, name, resolve)
        cfg = NginxConfig.build(directives)
    except (NginxSyntaxError, ValueError) as exc:
        raise NginxError(str(exc)) from exc
    facts = NginxFacts()
    port = _listen_port(cfg)
    facts.listen_port = port
    try:
        _classify(cfg, port, facts)
    except ValueError as exc:  # an if condition we cannot read
        raise NginxError(str(exc)) from exc
    for d in walk(directives):
        if d.name == "client_max_body_size" and d.args and facts.client_max_body_size is None:
            facts.client_max_body_size = d.args[0]
        if d.name == "location" and len(d.args) == 2 and d.args[0] == "=" and d.block:
            r = next((x for x in d.block if x.name == "return"), None)
            if (
                r is not None
                and r.args
                and r.args[0] in ("200", "204")
                and facts.health_path is None
            ):
                facts.health_path = Fact(d.args[1], d.where)
                facts.health_body = r.args[1] if len(r.args) > 1 else ""
    return facts


def _listen_port(cfg: NginxConfig) -> int:
    for s in cfg.servers:
        for d in s.children("listen"):
            if d.args and "ssl" not in d.args:
                port = d.args[0].rsplit(":", 1)[-1]
                if port.isdigit():
                    return int(port)
    return 80


def _classify(cfg: NginxConfig, port: int, facts: NginxFacts) -> None:
    roles: dict[str, list[str]] = {}
    ui_seen: list[tuple[Outcome, Outcome]] = []
    for cand in _candidates(cfg, facts.unread_patterns):
        got = {p: cfg.request(cand.host, p, port) for p in PROBES}
        api = got[API]
        if api.kind != "proxy":
            continue
        dbf = api.dbfilter
        if dbf is None:
            facts.warnings.append(
                f"{api.where}: nginx does not set X-Odoo-dbfilter for {cand.host}: the "
                "client's header would reach Odoo"
            )
        if dbf:
            _tenant(cand, dbf, got, facts)
            roles.setdefault("tenant", []).append(api.upstream or "")
            roles.setdefault("tenant_lp", []).append(got[WS].upstream or "")
            if cand.pattern is not None:
                ui_seen.append((got[UI], got[LOGIN]))
        elif got[DBM].kind == "proxy" and cand.pattern is None:
            facts.admin_hosts.append(Fact(cand.host, _source(cand.host, got, cand.where)))
            roles.setdefault("admin", []).append(got[DBM].upstream or "")
            roles.setdefault("admin_lp", []).append(got[WS].upstream or "")
    seen = {(TenantUI(ui.redirect, login.redirect), ui, login) for ui, login in ui_seen}
    kinds = {t for t, _, _ in seen}
    if len(kinds) > 1:
        facts.ui_conflict = (
            "tenant subdomains differ in what / and /web/login do ("
            + "; ".join(f"{t.describe()} at {u.where}" for t, u, _ in sorted(seen, key=str))
            + "): the router renders one tenant_ui; give tenant_ui in the inputs file"
        )
    elif ui_seen:
        ui, login = ui_seen[0]
        where = ", ".join(o.where for o in (ui, login) if o.redirect) or ui.where
        facts.tenant_ui = Fact(TenantUI(ui.redirect, login.redirect), where)
        facts.tenant_ui_sources = {"redirect": ui.where, "login_redirect": login.where}
    for role, names in roles.items():
        name = next((n for n in names if n), None)
        if name is not None:
            servers, d = cfg.upstreams.get(name, ([name], None))
            facts.upstreams[role] = Fact(tuple(servers), d.where if d is not None else name)
    unknown = cfg.request(UNKNOWN_HOST, API, port)
    if unknown.kind == "proxy":
        facts.unknown_host = (
            f"proxied to {unknown.upstream} with "
            + ("no X-Odoo-dbfilter" if not unknown.dbfilter else f"dbfilter {unknown.dbfilter}")
            + f" ({unknown.where})"
        )
    else:
        facts.unknown_host = f"answered {unknown.status} ({unknown.where})"


def _tenant(cand: _Candidate, dbf: str, got: dict[str, Outcome], facts: NginxFacts) -> None:
    src = _source(cand.host, got, cand.where)
    if cand.pattern is None:
        db = _database(dbf)
        if db is None:
            facts.problems.append(
                f"{src}: {cand.host} gets X-Odoo-dbfilter {dbf!r}, not one database"
            )
        else:
            facts.hosts[cand.host] = Fact(db, src)
        return
    sub, domain, chars = cand.pattern
    db = _database(dbf)
    if db is None:
        facts.problems.append(
            f"{src}: tenant subdomains of {domain} get X-Odoo-dbfilter {dbf!r}, not one database"
        )
        return
    steps = [s.where for o in got.values() for s in o.trace if "~" in s.what or "." in s.what]
    # ten_<sub>, or one database for every subdomain (a wildcard host)
    rule = SubdomainRule(domain, db.replace(sub, "{sub}", 1), chars)
    facts.subdomains.append(Fact(rule, steps[0] if steps else src))
