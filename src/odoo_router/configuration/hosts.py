"""The ``hosts`` section of router.yaml: host rules (exact names, a regex, or the one
default), each with its dbfilter template, client allowlist and route list.

Cross-checks made here: host rule names and exact host names are unique, a dbfilter
template only names groups of its rule's regex, and exactly one rule is the default.
"""

from __future__ import annotations

import re
from typing import Any

from .model import HostRule, Pool, Route
from .reader import Reader
from .routes import read_routes
from .values import as_networks, as_opt_str, as_str

HOST_KEYS = ("name", "exact", "regex", "default", "dbfilter", "allow", "routes")


def _read_exact(r: Reader, raw: object, p: str, name: str, seen: dict[str, str]) -> tuple[str, ...]:
    """The rule's exact host names, normalised as requests' hosts are; ``seen`` maps each
    name already taken to its rule."""
    if not isinstance(raw, list) or not raw or not all(isinstance(h, str) for h in raw):
        r.error(f"{p}.exact", "expected a non-empty list of host names")
        return ()
    exact = tuple(h.lower().rstrip(".") for h in raw)
    for h in exact:
        if h in seen:
            r.error(f"{p}.exact", f"host {h!r} is already in host rule {seen[h]!r}")
        seen[h] = name
    return exact


def _read_regex(r: Reader, data: dict[str, Any], p: str) -> tuple[str | None, set[str]]:
    """The rule's host regex and its named groups (what the dbfilter template may use)."""
    regex = r.get(data, p, "regex", as_str, None)
    if regex is None:
        return None, set()
    try:
        return regex, set(re.compile(regex).groupindex)
    except re.error as exc:
        r.error(f"{p}.regex", f"bad regex: {exc}")
        return None, set()


def read_hosts(
    r: Reader, value: object, pools: dict[str, Pool], route_sets: dict[str, Any]
) -> tuple[HostRule, ...]:
    if not isinstance(value, list) or not value:
        r.error("hosts", "expected a non-empty list of host rules")
        return ()
    rules: list[HostRule] = []
    defaults: list[str] = []
    exact_seen: dict[str, str] = {}
    names: set[str] = set()
    for i, item in enumerate(value):
        p = f"hosts[{i}]"
        data = r.mapping(item, p, ("name", "routes"), HOST_KEYS)
        if data is None:
            continue
        name = r.get(data, p, "name", as_str, f"host{i}")
        if name in names:
            r.error(f"{p}.name", f"duplicate host rule name {name!r}")
        names.add(name)
        selectors = [k for k in ("exact", "regex", "default") if k in data]
        if len(selectors) != 1:
            r.error(p, "a host rule needs exactly one of exact, regex, default")
        exact = _read_exact(r, data["exact"], p, name, exact_seen) if "exact" in data else ()
        regex, groups = _read_regex(r, data, p) if "regex" in data else (None, set())
        default = data.get("default")
        if default is not None and default is not True:
            r.error(f"{p}.default", "expected true")
        if default is True:
            defaults.append(p)
        dbfilter = r.get(data, p, "dbfilter", as_opt_str, None)
        for field_name in re.findall(r"\{(\w*)\}", dbfilter or ""):
            if field_name not in groups:
                r.error(
                    f"{p}.dbfilter",
                    f"{{{field_name}}} is not a named group of this host rule's regex",
                )
        allow = r.get(data, p, "allow", as_networks, None) if "allow" in data else None
        routes: list[Route] = []
        if "routes" in data:  # a missing key was reported by mapping() already
            raw_routes = data["routes"]
            routes = read_routes(r, raw_routes, f"{p}.routes", pools, route_sets)
            if isinstance(raw_routes, list) and not raw_routes:
                r.error(f"{p}.routes", "a host rule needs at least one route")
        rules.append(
            HostRule(
                name=name,
                exact=exact,
                regex=regex,
                default=default is True,
                dbfilter=dbfilter or None,
                allow=allow,
                routes=tuple(routes),
                where=r.where(p) or "",
            )
        )
    for p in defaults[1:]:
        r.error(f"{p}.default", f"two default host rules ({defaults[0]} is the first)")
    return tuple(rules)
