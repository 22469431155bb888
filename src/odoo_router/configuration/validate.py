"""Validation: router.yaml -> the typed Config (model.py), built once.

Theory of operation
-------------------
``load_config(path)`` parses YAML with line marks (yamlmarks.py), validates everything and
returns a frozen ``Config``; it never stops at the first problem: every problem is collected
(config_reader.Reader) and raised together in one ``ConfigError`` whose lines read
``hosts[2].routes[0].proxy.pool: unknown pool 'tenant_lpp' (router.yaml:41)``.

One module per section: config_static (server, metrics, logging; what a reload may change),
config_pools, config_hosts and config_routes (the routing table); the values they share
(sizes, durations, addresses) are in config_values. Cross-references (a route's pool, a
``use`` of a route set) are checked against the sections read before them.

Static settings (``server``, ``metrics``, ``logging``) need a restart to change; pools and
hosts form the reloadable routing table (see routing.compile_table).
"""

from __future__ import annotations

import os

import yaml

from .hosts import read_hosts
from .maintenance import read_maintenance
from .model import (
    Action,
    BasicAuth,
    Config,
    ConfigError,
    Forwarded,
    HostRule,
    IPNetwork,
    LoggingSettings,
    MaintenanceSettings,
    MetricsSettings,
    Pool,
    Problem,
    ProxyAction,
    RedirectAction,
    RespondAction,
    Route,
    ServerSettings,
)
from .pools import read_pools
from .reader import Reader
from .static import read_logging, read_metrics, read_server
from .values import parse_duration, parse_hostport, parse_network, parse_size
from .yamlmarks import load_marked

# The model's names stay importable from here, where the data path has always found them.
__all__ = [
    "Action",
    "BasicAuth",
    "Config",
    "ConfigError",
    "Forwarded",
    "HostRule",
    "IPNetwork",
    "LoggingSettings",
    "MaintenanceSettings",
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

TOP_REQUIRED = ("pools", "hosts")
TOP_OPTIONAL = ("server", "metrics", "logging", "route_sets", "maintenance")


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
    r = Reader(marked.lines, short)
    for path, line in marked.duplicate_keys:
        r.problems.append(Problem(path, "duplicate key", f"{short}:{line}"))
    top = r.mapping(marked.data, "", TOP_REQUIRED, TOP_OPTIONAL)
    if top is None:
        raise ConfigError(r.problems)
    server = read_server(r, top.get("server"))
    metrics = read_metrics(r, top.get("metrics"))
    logging_settings = read_logging(r, top.get("logging"))
    maintenance = read_maintenance(r, top.get("maintenance"), filename)
    # A missing top-level key was reported by mapping(); do not report it again, and do not
    # call every route's pool unknown when there are no pools at all.
    pools = read_pools(r, top["pools"]) if "pools" in top else {}
    if "pools" not in top:
        r.skip_pool_check = True
    route_sets = top.get("route_sets") or {}
    if not isinstance(route_sets, dict):
        r.error("route_sets", "expected a mapping of name -> list of routes")
        route_sets = {}
    hosts = read_hosts(r, top["hosts"], pools, route_sets) if "hosts" in top else ()
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
        maintenance=maintenance,
    )


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError([Problem("", f"cannot read config: {exc.strerror}", path)]) from exc
    return build_config(text, path)
