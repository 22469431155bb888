"""The production topology on loopback: real Traefik 3, then odoo-router on config/router.yaml,
then the recording fake Odoo upstreams (tests/integration/upstreams.py).

Both configurations are the real ones, read at test time and edited by code; every edit
first checks that the value it replaces is exactly the shipped one, so a changed
config/router.yaml or fixture fails loudly here instead of being tested half edited (as
tests/conformance/nginx_ref.py does for nginx). The edits only point things at loopback:

- router: ``server.listen``, ``metrics.listen`` (a free port: 9145 may be taken), the four
  pools' servers, ``trusted_proxies`` (Traefik's one address here, as in docs/security.md's
  advice to narrow it), and the admin host's ``allow``;
- Traefik (traefik-dynamic.yml, the migration's rendering): the router service's URL and
  the admin ``ipAllowList``; plus one more entry point, ``passthrough``, that trusts every
  client's X-Forwarded-* (``forwardedHeaders.insecure``): a misconfigured Traefik, to show
  that the router alone still takes only Traefik's hop.

Client addresses are loopback addresses (all of 127/8 is local on Linux): the two
allowlists are set so that each address below tests one layer.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import yaml

from harness.traefik import insecure_tls
from integration.client import Conn

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "config" / "router.yaml"
DYNAMIC = Path(__file__).with_name("traefik-dynamic.yml")

TRAEFIK_HOP = "127.0.0.1"  # Traefik reaches the router from here: the only trusted proxy
ALLOWED = "127.0.0.2"  # in both allowlists
TRAEFIK_REFUSES = "127.0.0.3"  # in the router's allow only: Traefik's ipAllowList refuses
ROUTER_REFUSES = "127.0.0.4"  # in Traefik's ipAllowList only: the router refuses
OUTSIDER = "127.0.0.5"  # in neither

ROUTER_ALLOW = [f"{ALLOWED}/32", f"{TRAEFIK_REFUSES}/32"]
TRAEFIK_ALLOW = [f"{ALLOWED}/32", f"{ROUTER_REFUSES}/32"]
# Traefik's entry points: the production one, and one that passes client X-Forwarded-* on.
ENTRY_POINTS: dict[str, dict[str, Any]] = {
    "websecure": {},
    "passthrough": {"forwardedHeaders": {"insecure": True}},
}
POOL_SERVERS = {
    "tenant": ["odoo-tenant:8069"],
    "tenant_lp": ["odoo-tenant:8072"],
    "admin": ["odoo-admin:8069"],
    "admin_lp": ["odoo-admin:8072"],
}
SHIPPED_ALLOW = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "192.168.0.0/16"]


class ShapeError(AssertionError):
    """A shipped file no longer has the value an edit was written for."""


def _swap(data: dict[str, Any], path: tuple[str, ...], shipped: Any, new: Any) -> None:
    """``data[path] = new``, after checking that it holds ``shipped``."""
    *parents, key = path
    node = data
    for part in parents:
        node = node[part]
    if node.get(key) != shipped:
        raise ShapeError(
            f"{'.'.join(path)} is {node.get(key)!r}, expected {shipped!r}: update e2e/topology.py"
        )
    node[key] = new


def _host(data: dict[str, Any], name: str) -> dict[str, Any]:
    found = [h for h in data["hosts"] if h.get("name") == name]
    if len(found) != 1:
        raise ShapeError(f"config/router.yaml: expected one host rule {name!r}")
    host: dict[str, Any] = found[0]
    return host


def router_config(port: int, metrics_port: int, upstream_ports: dict[str, int]) -> dict[str, Any]:
    """config/router.yaml with only the loopback edits of the module doc."""
    data: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text(encoding="utf-8"))
    if set(data["pools"]) != set(POOL_SERVERS):
        raise ShapeError(f"pools are {sorted(data['pools'])}: update e2e/topology.py")
    _swap(data, ("server", "listen"), ["0.0.0.0:80"], [f"127.0.0.1:{port}"])
    _swap(data, ("metrics", "listen"), "127.0.0.1:9145", f"127.0.0.1:{metrics_port}")
    trusted = ["127.0.0.0/8", "::1/128", "172.16.0.0/12"]
    trusted_path = ("server", "forwarded", "trusted_proxies")
    _swap(data, trusted_path, trusted, [f"{TRAEFIK_HOP}/32"])
    for pool, servers in POOL_SERVERS.items():
        loopback = [f"127.0.0.1:{upstream_ports[pool]}"]
        _swap(data, ("pools", pool, "servers"), servers, loopback)
    _swap(_host(data, "admin"), ("allow",), SHIPPED_ALLOW, ROUTER_ALLOW)
    return data


def traefik_dynamic(router_port: int) -> dict[str, Any]:
    """The fixture with the router service at loopback and the test allowlist."""
    data: dict[str, Any] = yaml.safe_load(DYNAMIC.read_text(encoding="utf-8"))
    http = data["http"]
    lb = http["services"]["odoo-router-service"]["loadBalancer"]
    servers = [{"url": f"http://127.0.0.1:{router_port}"}]
    _swap(lb, ("servers",), [{"url": "http://seisei-odoo-router:80"}], servers)
    allow = http["middlewares"]["admin-ip-allowlist"]["ipAllowList"]
    _swap(allow, ("sourceRange",), SHIPPED_ALLOW, TRAEFIK_ALLOW)
    for router in http["routers"].values():
        _swap(router, ("entryPoints",), ["websecure"], list(ENTRY_POINTS))
    return data


async def edge_connect(port: int, host: str, source: str) -> Conn:
    """A TLS connection to Traefik's entry point from ``source``, SNI = host (a browser's)."""
    tls: ssl.SSLContext = insecure_tls()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            "127.0.0.1",
            port,
            ssl=tls,
            server_hostname=host,
            local_addr=(source, 0),
            limit=1 << 20,
        ),
        5,
    )
    return Conn(reader, writer)
