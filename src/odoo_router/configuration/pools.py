"""The ``pools`` section of router.yaml: named upstream pools, each a list of servers and
its connection settings."""

from __future__ import annotations

import re
from typing import Literal

from .model import Pool
from .reader import Reader
from .values import as_int, kind, parse_duration, parse_hostport

POOL_KEYS = (
    "keepalive",
    "keepalive_timeout",
    "keepalive_requests",
    "keepalive_time",
    "connect_timeout",
    "max_fails",
    "fail_timeout",
    "redirect_prefix",
    "redirect_rewrite",
)
_POOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def read_pools(r: Reader, value: object) -> dict[str, Pool]:
    pools: dict[str, Pool] = {}
    if not isinstance(value, dict) or not value:
        r.error("pools", "expected a non-empty mapping of pool name -> pool")
        return pools
    for name, spec in value.items():
        p = f"pools.{name}"
        if not isinstance(name, str) or not _POOL_NAME.fullmatch(name):
            r.error(p, "pool names are letters, digits, '_' and '-'")
            continue
        data = r.mapping(spec, p, ("servers",), POOL_KEYS)
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
            keepalive=r.get(data, p, "keepalive", as_int(0, 100000), 16),
            keepalive_timeout=r.get(data, p, "keepalive_timeout", parse_duration, 60.0),
            keepalive_requests=r.get(data, p, "keepalive_requests", as_int(1, 1 << 30), 1000),
            keepalive_time=r.get(data, p, "keepalive_time", parse_duration, 3600.0),
            connect_timeout=r.get(data, p, "connect_timeout", parse_duration, 60.0),
            max_fails=r.get(data, p, "max_fails", as_int(0, 1000), 1),
            fail_timeout=r.get(data, p, "fail_timeout", parse_duration, 10.0),
            redirect_prefix=r.get(data, p, "redirect_prefix", as_redirect_prefix, None),
            redirect_rewrite=r.get(data, p, "redirect_rewrite", as_redirect_rewrite, "relative"),
        )
    return pools


def as_redirect_prefix(value: object) -> str | None:
    """An absolute http(s) URL naming a host and ending with '/', as nginx's proxy_pass URL
    plus the '/' its proxy_redirect default matches (http://odoo_tenant/)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a URL prefix like 'http://odoo_tenant/', got {kind(value)}")
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


def as_redirect_rewrite(value: object) -> Literal["nginx", "relative"]:
    if value == "nginx":
        return "nginx"
    if value == "relative":
        return "relative"
    raise ValueError(f"expected 'nginx' or 'relative', got {value!r}")
