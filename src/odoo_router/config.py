"""Validation: router.yaml -> the typed Config (model.py), built once.

Theory of operation
-------------------
``load_config(path)`` parses YAML with line marks, validates everything and returns a frozen
``Config``; it never stops at the first problem: every problem is collected and raised
together in one ``ConfigError`` whose lines read
``hosts[2].routes[0].proxy.pool: unknown pool 'tenant_lpp' (router.yaml:41)``.

Static settings (``server``, ``metrics``, ``logging``) need a restart to change; pools and
hosts form the reloadable routing table (see routing.compile_table).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

import yaml

from .config_values import (
    _as_bool,
    _as_int,
    _as_listen,
    _as_networks,
    _as_opt_str,
    _as_samesite,
    _as_status,
    _as_str,
    _as_workers,
    _closest,
    _kind,
    _Reader,
    parse_duration,
    parse_hostport,
    parse_network,
    parse_size,
)
from .model import (
    Action,
    BasicAuth,
    Config,
    ConfigError,
    Forwarded,
    HostRule,
    IPNetwork,
    LoggingSettings,
    MetricsSettings,
    Pool,
    Problem,
    ProxyAction,
    RedirectAction,
    RespondAction,
    Route,
    ServerSettings,
)
from .yamlmarks import load_marked

__all__ = [
    "Action",
    "BasicAuth",
    "Config",
    "ConfigError",
    "Forwarded",
    "HostRule",
    "IPNetwork",
    "LoggingSettings",
    "MetricsSettings",
    "Pool",
    "Problem",
    "ProxyAction",
    "RedirectAction",
    "RespondAction",
    "Route",
    "ServerSettings",
    "build_config",
    "load_config",
    "parse_duration",
    "parse_hostport",
    "parse_network",
    "parse_size",
]


_SERVER_KEYS = (
    *tuple(f for f in ServerSettings.__dataclass_fields__ if f != "forwarded"),
    "forwarded",
)


def _read_server(r: _Reader, value: object) -> ServerSettings:
    d = ServerSettings()
    data = r.mapping(value if value is not None else {}, "server", (), _SERVER_KEYS)
    if data is None:
        return d
    p = "server"
    forwarded = d.forwarded
    if "forwarded" in data:
        fw = r.mapping(data["forwarded"], "server.forwarded", (), ("mode", "trusted_proxies"))
        if fw is not None:
            mode = r.get(fw, "server.forwarded", "mode", _as_str, "append")
            if mode not in ("append", "trusted"):
                r.error("server.forwarded.mode", f"expected 'append' or 'trusted', got {mode!r}")
                mode = "append"
            nets: tuple[IPNetwork, ...] = r.get(
                fw, "server.forwarded", "trusted_proxies", _as_networks, ()
            )
            forwarded = Forwarded(mode=mode, trusted_proxies=nets)  # type: ignore[arg-type]
    return ServerSettings(
        listen=r.get(data, p, "listen", _as_listen, d.listen),
        workers=r.get(data, p, "workers", _as_workers, d.workers),
        server_name=r.get(data, p, "server_name", _as_str, d.server_name),
        client_max_body_size=r.get(
            data, p, "client_max_body_size", parse_size, d.client_max_body_size
        ),
        large_client_header_buffers=r.get(
            data, p, "large_client_header_buffers", parse_size, d.large_client_header_buffers
        ),
        max_header_count=r.get(data, p, "max_header_count", _as_int(1, 10000), d.max_header_count),
        keepalive_timeout=r.get(data, p, "keepalive_timeout", parse_duration, d.keepalive_timeout),
        keepalive_requests=r.get(
            data, p, "keepalive_requests", _as_int(1, 1 << 30), d.keepalive_requests
        ),
        client_header_timeout=r.get(
            data, p, "client_header_timeout", parse_duration, d.client_header_timeout
        ),
        client_body_timeout=r.get(
            data, p, "client_body_timeout", parse_duration, d.client_body_timeout
        ),
        client_send_timeout=r.get(
            data, p, "client_send_timeout", parse_duration, d.client_send_timeout
        ),
        shutdown_grace=r.get(data, p, "shutdown_grace", parse_duration, d.shutdown_grace),
        underscores_in_headers=r.get(
            data, p, "underscores_in_headers", _as_bool, d.underscores_in_headers
        ),
        request_buffer_memory=r.get(
            data, p, "request_buffer_memory", parse_size, d.request_buffer_memory
        ),
        response_buffer=r.get(data, p, "response_buffer", parse_size, d.response_buffer),
        proxy_header_max=r.get(data, p, "proxy_header_max", parse_size, d.proxy_header_max),
        cache_size=r.get(data, p, "cache_size", parse_size, d.cache_size),
        cache_max_entry=r.get(data, p, "cache_max_entry", parse_size, d.cache_max_entry),
        temp_dir=r.get(data, p, "temp_dir", _as_opt_str, d.temp_dir),
        forwarded=forwarded,
        secure_cookies=r.get(data, p, "secure_cookies", _as_bool, d.secure_cookies),
        session_cookie_samesite=r.get(data, p, "session_cookie_samesite", _as_samesite, None),
        dbfilter_anchor=r.get(data, p, "dbfilter_anchor", _as_bool, d.dbfilter_anchor),
        server_header=r.get(data, p, "server_header", _as_str, d.server_header),
    )


def _read_pools(r: _Reader, value: object) -> dict[str, Pool]:
    pools: dict[str, Pool] = {}
    if not isinstance(value, dict) or not value:
        r.error("pools", "expected a non-empty mapping of pool name -> pool")
        return pools
    keys = (
        "keepalive",
        "connect_timeout",
        "max_fails",
        "fail_timeout",
        "redirect_prefix",
        "redirect_rewrite",
    )
    for name, spec in value.items():
        p = f"pools.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            r.error(p, "pool names are letters, digits, '_' and '-'")
            continue
        data = r.mapping(spec, p, ("servers",), keys)
        if data is None:
            continue
        servers: list[tuple[str, int]] = []
        raw = data.get("servers")
        if not isinstance(raw, list) or not raw:
            if "servers" in data:
                r.error(f"{p}.servers", "expected a non-empty list of 'host:port'")
        else:
            for i, item in enumerate(raw):
                try:
                    servers.append(parse_hostport(item))
                except ValueError as exc:
                    r.error(f"{p}.servers[{i}]", str(exc))
        pools[name] = Pool(
            name=name,
            servers=tuple(servers),
            keepalive=r.get(data, p, "keepalive", _as_int(0, 100000), 16),
            connect_timeout=r.get(data, p, "connect_timeout", parse_duration, 60.0),
            max_fails=r.get(data, p, "max_fails", _as_int(0, 1000), 1),
            fail_timeout=r.get(data, p, "fail_timeout", parse_duration, 10.0),
            redirect_prefix=r.get(data, p, "redirect_prefix", _as_redirect_prefix, None),
            redirect_rewrite=r.get(data, p, "redirect_rewrite", _as_redirect_rewrite, "relative"),
        )
    return pools


def _as_redirect_prefix(value: object) -> str | None:
    """An absolute http(s) URL naming a host and ending with '/', as nginx's proxy_pass URL
    plus the '/' its proxy_redirect default matches (http://odoo_tenant/)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a URL prefix like 'http://odoo_tenant/', got {_kind(value)}")
    scheme, sep, rest = value.partition("://")
    if (
        scheme.lower() not in ("http", "https")
        or not sep
        or not rest.endswith("/")
        or rest.index("/") == 0
        or not value.isascii()
        or any(c.isspace() for c in value)
    ):
        raise ValueError(f"expected a URL prefix like 'http://odoo_tenant/', got {value!r}")
    return value


def _as_redirect_rewrite(value: object) -> Literal["nginx", "relative"]:
    if value == "nginx":
        return "nginx"
    if value == "relative":
        return "relative"
    raise ValueError(f"expected 'nginx' or 'relative', got {value!r}")


_PROXY_KEYS = tuple(f for f in ProxyAction.__dataclass_fields__ if f != "pool")


def _read_action(r: _Reader, data: dict[str, Any], p: str, pools: dict[str, Pool]) -> Action | None:
    present = [k for k in ("proxy", "redirect", "respond") if k in data]
    if len(present) != 1:
        what = "none" if not present else " and ".join(present)
        r.error(p, f"a route needs exactly one action of proxy, redirect, respond (has {what})")
        return None
    kind = present[0]
    ap = f"{p}.{kind}"
    if kind == "proxy":
        d = r.mapping(data["proxy"], ap, ("pool",), _PROXY_KEYS)
        if d is None:
            return None
        pool = d.get("pool")
        if not isinstance(pool, str):
            if "pool" in d:
                r.error(f"{ap}.pool", f"expected a pool name, got {_kind(pool)}")
            return None
        if pool not in pools and not r.skip_pool_check:
            hint = _closest(pool, set(pools))
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
            websocket=r.get(d, ap, "websocket", _as_bool, False),
            request_buffering=r.get(d, ap, "request_buffering", _as_bool, True),
            response_buffering=r.get(d, ap, "response_buffering", _as_bool, True),
            rpc_firewall=r.get(d, ap, "rpc_firewall", _as_bool, False),
            rpc_body_limit=r.get(d, ap, "rpc_body_limit", parse_size, dflt.rpc_body_limit),
            cache=r.get(d, ap, "cache", _as_bool, False),
        )
        if action.rpc_firewall and not action.request_buffering:
            r.error(
                f"{ap}.rpc_firewall",
                "the RPC firewall reads the whole body: needs request_buffering",
            )
        return action
    if kind == "redirect":
        d = r.mapping(data["redirect"], ap, ("location",), ("status",))
        if d is None:
            return None
        return RedirectAction(
            status=r.get(d, ap, "status", _as_status((301, 302, 303, 307, 308)), 302),
            location=r.get(d, ap, "location", _as_str, "/"),
        )
    d = r.mapping(data["respond"], ap, ("status",), ("body", "content_type", "headers"))
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
        headers = [(h[0], h[1]) for h in raw_headers]
    return RespondAction(
        status=r.get(d, ap, "status", _as_status(range(200, 600)), 200),
        body=r.get(d, ap, "body", _as_str, ""),
        content_type=r.get(d, ap, "content_type", _as_str, "text/plain"),
        headers=tuple(headers),
    )


_ROUTE_KEYS = (
    "name",
    "exact",
    "prefix",
    "regex",
    "lang_prefix",
    "auth",
    "proxy",
    "redirect",
    "respond",
)


def _read_auth(r: _Reader, value: object, p: str) -> BasicAuth | None:
    d = r.mapping(value, p, ("users",), ("realm",))
    if d is None:
        return None
    users = d.get("users")
    if not isinstance(users, dict) or not users:
        r.error(f"{p}.users", "expected a mapping of user -> password hash")
        return None
    out = []
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not re.fullmatch(
            r"pbkdf2_sha256\$\d+\$[0-9a-f]+\$[0-9a-f]{64}", hashed
        ):
            r.error(
                f"{p}.users.{user}",
                "expected a hash made by 'odoo-router hash-password' (pbkdf2_sha256$...), "
                "never a clear-text password",
            )
            continue
        out.append((str(user), hashed))
    return BasicAuth(realm=r.get(d, p, "realm", _as_str, "odoo-router"), users=tuple(out))


def _read_route(
    r: _Reader, item: object, p: str, pools: dict[str, Pool], index: int
) -> Route | None:
    data = r.mapping(item, p, (), _ROUTE_KEYS)
    if data is None:
        return None
    kinds = [k for k in ("exact", "prefix", "regex") if k in data]
    if len(kinds) != 1:
        r.error(p, "a route needs exactly one of exact, prefix, regex")
        return None
    kind = kinds[0]
    pattern = data[kind]
    if not isinstance(pattern, str) or (kind != "regex" and not pattern.startswith("/")):
        r.error(f"{p}.{kind}", "expected a path starting with '/'")
        return None
    if kind == "regex":
        try:
            re.compile(pattern)
        except re.error as exc:
            r.error(f"{p}.regex", f"bad regex: {exc}")
            return None
    action = _read_action(r, data, p, pools)
    auth = _read_auth(r, data["auth"], f"{p}.auth") if "auth" in data else None
    if action is None:
        return None
    return Route(
        name=r.get(data, p, "name", _as_str, f"route{index}"),
        kind=kind,
        pattern=pattern,
        action=action,
        lang_prefix=r.get(data, p, "lang_prefix", _as_bool, False),
        auth=auth,
        where=r.where(p) or "",
    )


def _read_routes(
    r: _Reader,
    value: object,
    p: str,
    pools: dict[str, Pool],
    route_sets: dict[str, Any],
    seen: tuple[str, ...] = (),
) -> list[Route]:
    if not isinstance(value, list):
        r.error(p, f"expected a list of routes, got {_kind(value)}")
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
                _read_routes(
                    r, route_sets[name], f"route_sets.{name}", pools, route_sets, (*seen, name)
                )
            )
            continue
        route = _read_route(r, item, ip, pools, i)
        if route is not None:
            routes.append(route)
    return routes


_HOST_KEYS = ("name", "exact", "regex", "default", "dbfilter", "allow", "routes")


def _read_hosts(
    r: _Reader, value: object, pools: dict[str, Pool], route_sets: dict[str, Any]
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
        data = r.mapping(item, p, ("name", "routes"), _HOST_KEYS)
        if data is None:
            continue
        name = r.get(data, p, "name", _as_str, f"host{i}")
        if name in names:
            r.error(f"{p}.name", f"duplicate host rule name {name!r}")
        names.add(name)
        selectors = [k for k in ("exact", "regex", "default") if k in data]
        if len(selectors) != 1:
            r.error(p, "a host rule needs exactly one of exact, regex, default")
        exact: tuple[str, ...] = ()
        if "exact" in data:
            raw = data["exact"]
            if not isinstance(raw, list) or not raw or not all(isinstance(h, str) for h in raw):
                r.error(f"{p}.exact", "expected a non-empty list of host names")
            else:
                exact = tuple(h.lower().rstrip(".") for h in raw)
                for h in exact:
                    if h in exact_seen:
                        r.error(
                            f"{p}.exact", f"host {h!r} is already in host rule {exact_seen[h]!r}"
                        )
                    exact_seen[h] = name
        regex = None
        groups: set[str] = set()
        if "regex" in data:
            regex = r.get(data, p, "regex", _as_str, None)
            if regex is not None:
                try:
                    groups = set(re.compile(regex).groupindex)
                except re.error as exc:
                    r.error(f"{p}.regex", f"bad regex: {exc}")
                    regex = None
        if data.get("default") is not None and data.get("default") is not True:
            r.error(f"{p}.default", "expected true")
        if data.get("default") is True:
            defaults.append(p)
        dbfilter = r.get(data, p, "dbfilter", _as_opt_str, None)
        if dbfilter:
            for field_name in re.findall(r"\{(\w*)\}", dbfilter):
                if field_name not in groups:
                    r.error(
                        f"{p}.dbfilter",
                        f"{{{field_name}}} is not a named group of this host rule's regex",
                    )
        allow = r.get(data, p, "allow", _as_networks, None) if "allow" in data else None
        routes: list[Route] = []
        if "routes" in data:  # a missing key was reported by mapping() already
            raw_routes = data["routes"]
            routes = _read_routes(r, raw_routes, f"{p}.routes", pools, route_sets)
            if isinstance(raw_routes, list) and not raw_routes:
                r.error(f"{p}.routes", "a host rule needs at least one route")
        rules.append(
            HostRule(
                name=name,
                exact=exact,
                regex=regex,
                default=data.get("default") is True,
                dbfilter=dbfilter or None,
                allow=allow,
                routes=tuple(routes),
                where=r.where(p) or "",
            )
        )
    if len(defaults) > 1:
        for p in defaults[1:]:
            r.error(f"{p}.default", f"two default host rules ({defaults[0]} is the first)")
    return tuple(rules)


_DEFAULT_LOG: str | None = "-"


def build_config(text: str, filename: str = "<config>") -> Config:
    """Validate ``text`` (YAML) into a Config, or raise ConfigError listing every problem."""
    short = os.path.basename(filename)
    try:
        marked = load_marked(text, short)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{short}:{mark.line + 1}" if mark is not None else short
        raise ConfigError(
            [Problem("", f"YAML syntax error: {getattr(exc, 'problem', exc)}", where)]
        ) from exc
    r = _Reader(marked.lines, short)
    for path, line in marked.duplicate_keys:
        r.problems.append(Problem(path, "duplicate key", f"{short}:{line}"))
    top = r.mapping(
        marked.data, "", ("pools", "hosts"), ("server", "metrics", "logging", "route_sets")
    )
    if top is None:
        raise ConfigError(r.problems)
    server = _read_server(r, top.get("server"))
    metrics = MetricsSettings()
    if top.get("metrics") is not None:
        m = r.mapping(top["metrics"], "metrics", (), ("listen",))
        if m is not None and m.get("listen") is not None:
            metrics = MetricsSettings(listen=r.get(m, "metrics", "listen", parse_hostport, None))
    logging_settings = LoggingSettings()
    if top.get("logging") is not None:
        lg = r.mapping(top["logging"], "logging", (), ("access_log", "error_log"))
        if lg is not None:
            logging_settings = LoggingSettings(
                access_log=r.get(lg, "logging", "access_log", _as_opt_str, _DEFAULT_LOG),
                error_log=r.get(lg, "logging", "error_log", _as_str, "-"),
            )
    # A missing top-level key was reported by mapping(); do not report it again, and do not
    # call every route's pool unknown when there are no pools at all.
    pools = _read_pools(r, top["pools"]) if "pools" in top else {}
    if "pools" not in top:
        r.skip_pool_check = True
    route_sets = top.get("route_sets") or {}
    if not isinstance(route_sets, dict):
        r.error("route_sets", "expected a mapping of name -> list of routes")
        route_sets = {}
    hosts = _read_hosts(r, top["hosts"], pools, route_sets) if "hosts" in top else ()
    if hosts and not any(h.default for h in hosts):
        r.error("hosts", "one host rule needs 'default: true' (what unknown hosts get)")
    if r.problems:
        raise ConfigError(r.problems)
    return Config(
        server=server,
        metrics=metrics,
        logging=logging_settings,
        pools=pools,
        hosts=hosts,
        source=filename,
    )


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError([Problem("", f"cannot read config: {exc.strerror}", path)]) from exc
    return build_config(text, path)
