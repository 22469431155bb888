"""Routes of router.yaml: a path match (exact, prefix or regex), optional basic auth, and
exactly one action (proxy, redirect, respond); and route lists, which may splice a named
route set (``- use: NAME``) from ``route_sets``."""

from __future__ import annotations

import re
from typing import Any

from .model import Action, BasicAuth, Pool, ProxyAction, RedirectAction, RespondAction, Route
from .ratelimit import read_rate_limit
from .reader import Reader, closest
from .values import as_bool, as_header_text, as_status, as_str, kind, parse_duration, parse_size

ROUTE_KEYS = (
    "name",
    "exact",
    "prefix",
    "regex",
    "lang_prefix",
    "auth",
    "rate_limit",
    "proxy",
    "redirect",
    "respond",
)
PROXY_KEYS = tuple(f for f in ProxyAction.__dataclass_fields__ if f != "pool")
_HASH = re.compile(r"pbkdf2_sha256\$\d+\$[0-9a-f]+\$[0-9a-f]{64}")


def _read_proxy(r: Reader, value: object, ap: str, pools: dict[str, Pool]) -> ProxyAction | None:
    d = r.mapping(value, ap, ("pool",), PROXY_KEYS)
    if d is None:
        return None
    pool = d.get("pool")
    if not isinstance(pool, str):
        if "pool" in d:
            r.error(f"{ap}.pool", f"expected a pool name, got {kind(pool)}")
        return None
    if pool not in pools and not r.skip_pool_check:
        hint = closest(pool, set(pools))
        r.error(
            f"{ap}.pool",
            f"unknown pool {pool!r}" + (f" (did you mean '{hint}'?)" if hint else ""),
        )
    dflt = ProxyAction(pool=pool)
    action = ProxyAction(
        pool=pool,
        connect_timeout=r.get(d, ap, "connect_timeout", parse_duration, None),
        send_timeout=r.get(d, ap, "send_timeout", parse_duration, dflt.send_timeout),
        read_timeout=r.get(d, ap, "read_timeout", parse_duration, dflt.read_timeout),
        websocket=r.get(d, ap, "websocket", as_bool, dflt.websocket),
        request_buffering=r.get(d, ap, "request_buffering", as_bool, dflt.request_buffering),
        response_buffering=r.get(d, ap, "response_buffering", as_bool, dflt.response_buffering),
        rpc_firewall=r.get(d, ap, "rpc_firewall", as_bool, dflt.rpc_firewall),
        rpc_body_limit=r.get(d, ap, "rpc_body_limit", parse_size, dflt.rpc_body_limit),
        rpc_count_logins=r.get(d, ap, "rpc_count_logins", as_bool, dflt.rpc_count_logins),
        cache=r.get(d, ap, "cache", as_bool, dflt.cache),
    )
    if action.rpc_firewall and not action.request_buffering:
        r.error(
            f"{ap}.rpc_firewall",
            "the RPC firewall reads the whole body: needs request_buffering",
        )
    if action.rpc_count_logins:
        if action.rpc_firewall:
            r.error(
                f"{ap}.rpc_count_logins",
                "the RPC firewall counts the calls that log in already: drop one of the two",
            )
        elif not action.request_buffering:
            r.error(
                f"{ap}.rpc_count_logins",
                "counting RPC logins reads the whole body first: needs request_buffering",
            )
    return action


def _read_respond(r: Reader, value: object, ap: str) -> RespondAction | None:
    d = r.mapping(value, ap, ("status",), ("body", "content_type", "headers"))
    if d is None:
        return None
    headers: list[tuple[str, str]] = []
    raw_headers = d.get("headers", [])
    if not isinstance(raw_headers, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h)
        for h in raw_headers
    ):
        r.error(f"{ap}.headers", "expected a list of [name, value] pairs")
    else:
        for i, (name, text) in enumerate(raw_headers):
            try:
                headers.append((as_header_text(name), as_header_text(text)))
            except ValueError as exc:
                r.error(f"{ap}.headers[{i}]", str(exc))
    return RespondAction(
        status=r.get(d, ap, "status", as_status(range(200, 600)), 200),
        body=r.get(d, ap, "body", as_str, ""),
        content_type=r.get(d, ap, "content_type", as_header_text, "text/plain"),
        headers=tuple(headers),
    )


def read_action(r: Reader, data: dict[str, Any], p: str, pools: dict[str, Pool]) -> Action | None:
    present = [k for k in ("proxy", "redirect", "respond") if k in data]
    if len(present) != 1:
        what = "none" if not present else " and ".join(present)
        r.error(p, f"a route needs exactly one action of proxy, redirect, respond (has {what})")
        return None
    which = present[0]
    ap = f"{p}.{which}"
    if which == "proxy":
        return _read_proxy(r, data["proxy"], ap, pools)
    if which == "respond":
        return _read_respond(r, data["respond"], ap)
    d = r.mapping(data["redirect"], ap, ("location",), ("status",))
    if d is None:
        return None
    return RedirectAction(
        status=r.get(d, ap, "status", as_status((301, 302, 303, 307, 308)), 302),
        location=r.get(d, ap, "location", as_header_text, "/"),
    )


def read_auth(r: Reader, value: object, p: str) -> BasicAuth | None:
    d = r.mapping(value, p, ("users",), ("realm",))
    if d is None:
        return None
    realm = r.get(d, p, "realm", as_header_text, "odoo-router")
    users = d.get("users")
    if not isinstance(users, dict) or not users:
        if "users" in d:  # a missing key was reported by mapping() already
            r.error(f"{p}.users", "expected a mapping of user -> password hash")
        return None
    out = []
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not _HASH.fullmatch(hashed):
            r.error(
                f"{p}.users.{user}",
                "expected a hash made by 'odoo-router hash-password' (pbkdf2_sha256$...), "
                "never a clear-text password",
            )
            continue
        out.append((str(user), hashed))
    return BasicAuth(realm=realm, users=tuple(out))


def read_route(r: Reader, item: object, p: str, pools: dict[str, Pool], index: int) -> Route | None:
    data = r.mapping(item, p, (), ROUTE_KEYS)
    if data is None:
        return None
    kinds = [k for k in ("exact", "prefix", "regex") if k in data]
    if len(kinds) != 1:
        r.error(p, "a route needs exactly one of exact, prefix, regex")
        return None
    match = kinds[0]
    pattern = data[match]
    if not isinstance(pattern, str) or (match != "regex" and not pattern.startswith("/")):
        r.error(f"{p}.{match}", "expected a path starting with '/'")
        return None
    if match == "regex":
        try:
            re.compile(pattern)
        except re.error as exc:
            r.error(f"{p}.regex", f"bad regex: {exc}")
            return None
    action = read_action(r, data, p, pools)
    auth = read_auth(r, data["auth"], f"{p}.auth") if "auth" in data else None
    limit = None
    if "rate_limit" in data:
        limit = read_rate_limit(r, data["rate_limit"], f"{p}.rate_limit")
        if action is not None and not isinstance(action, ProxyAction):
            r.error(
                f"{p}.rate_limit", "a rate limit guards what reaches Odoo: needs a proxy action"
            )
    if isinstance(action, ProxyAction) and action.rpc_count_logins and "rate_limit" not in data:
        r.error(
            f"{p}.proxy.rpc_count_logins",
            "counts RPC logins against the route's rate_limit: the route needs one",
        )
    if action is None:
        return None
    return Route(
        name=r.get(data, p, "name", as_str, f"route{index}"),
        kind="exact" if match == "exact" else "prefix" if match == "prefix" else "regex",
        pattern=pattern,
        action=action,
        lang_prefix=r.get(data, p, "lang_prefix", as_bool, False),
        auth=auth,
        where=r.where(p) or "",
        rate_limit=limit,
    )


def read_routes(
    r: Reader,
    value: object,
    p: str,
    pools: dict[str, Pool],
    route_sets: dict[str, Any],
    seen: tuple[str, ...] = (),
) -> list[Route]:
    """A route list; ``- use: NAME`` splices route set NAME in place (``seen``: the sets
    being spliced, to refuse one that includes itself)."""
    if not isinstance(value, list):
        r.error(p, f"expected a list of routes, got {kind(value)}")
        return []
    routes: list[Route] = []
    for i, item in enumerate(value):
        ip = f"{p}[{i}]"
        if isinstance(item, dict) and "use" in item:
            if len(item) != 1:
                r.error(ip, "'use' stands alone in its list item")
                continue
            name = item["use"]
            if not isinstance(name, str) or name not in route_sets:
                r.error(f"{ip}.use", f"unknown route set {name!r}")
                continue
            if name in seen:
                r.error(f"{ip}.use", f"route set {name!r} includes itself")
                continue
            routes.extend(
                read_routes(
                    r, route_sets[name], f"route_sets.{name}", pools, route_sets, (*seen, name)
                )
            )
            continue
        route = read_route(r, item, ip, pools, i)
        if route is not None:
            routes.append(route)
    return routes
