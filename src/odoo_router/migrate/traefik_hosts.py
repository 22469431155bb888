"""Which of Traefik's routers take an Odoo host's requests, for render_traefik: a router takes
a host when its rule matches one of the host's usual paths (or its own ``Path``); a
path-specific one takes only its paths, never the pages; and the middleware chain a new
router for a host keeps from the router that served it before; the TLS settings it takes
from a neighbour, less a certificate that does not cover its hosts."""

from __future__ import annotations

from typing import Any

from .facts import Routing
from .traefik_match import Request, rule_matches
from .traefik_model import RouterEntry
from .traefik_rule_tree import walk

PATHS = ("/web/login", "/websocket", "/")


def _paths(r: RouterEntry) -> list[str]:
    out = []
    if r.parsed is not None:
        for m in walk(r.parsed.tree):
            if m.name in ("Path", "PathPrefix") and m.args:
                out.append(m.args[0] + ("probe" if m.args[0].endswith("/") else ""))
    return out


def path_specific(r: RouterEntry) -> bool:
    return r.parsed is not None and any(
        m.name in ("Path", "PathPrefix", "PathRegexp") for m in walk(r.parsed.tree)
    )


def takes(r: RouterEntry, host: str) -> bool:
    """The router takes some request for ``host``."""
    if r.parsed is None:
        return False
    return any(rule_matches(r.parsed, Request(host, p)) for p in (*PATHS, *_paths(r)))


def probe_hosts(routing: Routing) -> list[str]:
    return [
        *routing.admin,
        *sorted(routing.hosts),
        *(f"acme.{f.value.domain}" for f in routing.subdomains),
    ]


def inherited_chain(chains: list[tuple[RouterEntry, list[str]]], host: str) -> list[str]:
    """The middlewares that stay of the router that took ``host``'s pages before (security
    headers, compression...): a new router for the host keeps the chain it had, less the
    dbfilter middlewares. Among several, the one Traefik preferred (a TLS one, then the
    highest priority); a path-specific router takes only its paths, never the pages."""
    found = [
        (r.tls, r.priority, -i, mws)
        for i, (r, mws) in enumerate(chains)
        if r.parsed is not None and rule_matches(r.parsed, Request(host, "/web/login"))
    ]
    return list(max(found)[3]) if found else []


def tls_for(tls: Any, hosts: list[str]) -> Any:
    """A neighbour's ``tls`` for a router of ``hosts``: its ``domains`` (the certificate
    Traefik requests and serves instead of the rule's hosts) only where they cover every
    one of them, else left out (Traefik takes the names from the rule)."""
    if not isinstance(tls, dict):
        return tls
    key = next((k for k in tls if str(k).lower() == "domains"), None)
    if key is None or all(_covered(h, tls[key]) for h in hosts):
        return tls
    return {k: v for k, v in tls.items() if k != key}


def _covered(host: str, domains: Any) -> bool:
    names: list[str] = []
    for d in domains if isinstance(domains, list) else []:
        if isinstance(d, dict):
            low = {str(k).lower(): v for k, v in d.items()}
            sans = low.get("sans") or ()
            sans = sans.split(",") if isinstance(sans, str) else sans
            names += [str(low.get("main") or ""), *(str(x).strip() for x in sans)]
    host = host.lower()
    return any(
        host == n.lower() or (n.startswith("*.") and host.partition(".")[2] == n[2:].lower())
        for n in names
    )
