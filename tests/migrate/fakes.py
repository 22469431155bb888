"""A fake router for verify's F2-F4: it answers like odoo-router in front of Odoo, per host
class of a tree (``RouterHosts``), so that verify has something real to talk HTTP to. The
fake Traefik API is in fake_traefik.py."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from harness.stub_http import serve

from .fake_traefik import fake_traefik

__all__ = ["RouterHosts", "fake_router", "fake_traefik"]


@dataclass(frozen=True)
class RouterHosts:
    """A tree's host classes, as its nginx router serves them: the admin hosts, the named
    tenant hosts, the tenant subdomains' suffix, what their UI paths do (None: proxied to
    Odoo), and nginx's health path."""

    admin: tuple[str, ...] = ("admin.erp.seisei.tokyo",)
    named: tuple[str, ...] = ("testodoo.seisei.tokyo", "demo.nagashiro.top")
    suffix: str = ".erp.seisei.tokyo"
    redirect: str | None = "https://biznexus.seisei.tokyo"
    login_redirect: str | None = "https://biznexus.seisei.tokyo/login"
    health: str = "/nginx-health"


@contextlib.contextmanager
def fake_router(
    hosts: RouterHosts = RouterHosts(),
    allow: tuple[str, ...] = ("127.0.0.0/8", "10.0.0.0/8"),
    broken_dbfilter: bool = False,
) -> Iterator[str]:
    nets = [ipaddress.ip_network(a) for a in allow]

    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        host = (req.headers.get("Host") or "").split(":")[0].lower()
        path = req.path
        client = (
            (req.headers.get("X-Forwarded-For") or req.client_address[0]).split(",")[-1].strip()
        )
        if path == hosts.health:
            return 200, {}, b"OK"
        if host in hosts.admin:
            if not any(ipaddress.ip_address(client) in n for n in nets):
                return 403, {}, b"Forbidden"
            return 200, {}, b"<html>admin</html>"
        if host in hosts.named:
            if path.startswith("/web/database/"):
                return 403, {}, b"Database management disabled"
            if path == "/web/login":
                if broken_dbfilter:
                    return 303, {"Location": "/web/database/selector"}, b""
                return 200, {}, b"<html>login</html>"
            return 404, {}, b"not found"
        if host.endswith(hosts.suffix):
            if path.startswith("/web/database/"):
                return 403, {}, b"Database management disabled"
            location = hosts.login_redirect if path == "/web/login" else hosts.redirect
            if location is None:
                return 200, {}, b"<html>tenant</html>"  # the UI proxied to Odoo
            return 302, {"Location": location}, b""
        return 421, {}, b"Unknown host"

    with serve(handle) as url:
        yield url
