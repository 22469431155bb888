"""Render odoo-router's router.yaml (replacing nginx's default.conf) and its compose service.

The routing is the nginx router's (hosts, databases, redirects, pools read from default.conf)
in the shape of config/router.yaml, with that profile's safety switches: anchored dbfilter,
trusted forwarding, unknown hosts refused, the admin host behind an allowlist.
Every rendered text is validated with odoo_router.configuration.validate.build_config
before it is staged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..configuration.validate import build_config
from .composefile import parse_mount
from .facts import Routing
from .render_compose import explicit, set_key
from .yamltext import FlowSeq, YamlText

ROUTER_CONFIG_DIR = "/etc/odoo-router"
# The maintenance file's directory inside the config directory: the one writable mount.
MAINTENANCE_DIR = "state"
ROUTER_SERVICE = "odoo-router"
# No curl in the image (nor in nginx:alpine): the router ships a stdlib probe.
PROBE = ["CMD", "python", "-m", "odoo_router.probe"]


@dataclass(frozen=True)
class RouterSpec:
    """What router.yaml needs besides the facts: where it listens (nginx's port, so that
    Traefik's service URL stays right), its pools (the new Odoo services) and the nginx
    health path (monitoring keeps working)."""

    pools: dict[str, tuple[str, ...]]  # tenant, tenant_lp, admin, admin_lp -> host:port
    listen_port: int = 80
    health_path: str = "/nginx-health"
    # nginx's answer there, for a monitor that reads it; always with 200, which the compose
    # healthcheck's probe and Traefik's healthCheck take as healthy (nginx's 204 too)
    health_body: str = "OK"
    client_max_body_size: str = "50m"
    nginx_files: tuple[str, ...] = ()

    def healthcheck(self) -> list[str]:
        if self.listen_port == 80 and self.health_path == "/nginx-health":
            return list(PROBE)
        port = "" if self.listen_port == 80 else f":{self.listen_port}"
        return [*PROBE, f"http://127.0.0.1{port}{self.health_path}"]


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid double-quoted YAML scalar


_KEEPALIVE = {"tenant": 16, "tenant_lp": 8, "admin": 4, "admin_lp": 2}


def _pool(spec: RouterSpec, name: str) -> str:
    servers = ", ".join(_q(s) for s in spec.pools[name])
    return f"  {name + ':':10s} {{servers: [{servers}], keepalive: {_KEEPALIVE[name]}}}"


# The production profile's login limit (docs/security.md#10): per client address.
LOGIN_LIMIT = "rate_limit: {key: client_ip, rate: 10/min, burst: 5}"


def _login_route(pool: str, regex: str, timeouts: str = "") -> list[str]:
    """A proxied login path with its /<lang>/ and trailing-slash forms, rate limited."""
    return [
        "      - name: login",
        f"        regex: '{regex}'",
        "        lang_prefix: true",
        f"        proxy: {{pool: {pool}{timeouts}}}",
        f"        {LOGIN_LIMIT}",
    ]


def _ui_route(name: str, path: str, target: str | None, match: str) -> list[str]:
    if target is None:
        return [f"      - {{name: {name}, {match}: {path}, proxy: {{pool: tenant}}}}"]
    return [
        f"      - {{name: {name}, {match}: {path},",
        f"         redirect: {{status: 302, location: {_q(target)}}}}}",
    ]


def render_router_yaml(routing: Routing, spec: RouterSpec) -> str:
    """odoo-router's config with the nginx router's routing; ConfigError when it does not
    validate (build_config lists every problem)."""
    allow = routing.admin_allow.value if routing.admin_allow is not None else ()
    ui = routing.tenant_ui.value if routing.tenant_ui is not None else None
    health = spec.health_path
    lines = [
        "# odoo-router configuration rendered by odoo-router-migrate from the nginx router",
        f"# ({', '.join(spec.nginx_files) or 'nginx'}). Same hosts, databases and pools; the",
        "# reference's holes closed: anchored dbfilter, trusted forwarding, admin allowlist,",
        "# unknown hosts refused. Validate with `odoo-router check` after editing.",
        "",
        "server:",
        f'  listen: ["0.0.0.0:{spec.listen_port}"]',
        "  workers: auto",
        '  server_name: "_"',
        f"  client_max_body_size: {spec.client_max_body_size.lower()}",
        "  underscores_in_headers: false",
        "  shutdown_grace: 30s",
        "  forwarded:",
        "    # Only Traefik (docker networks, loopback) may state the client address and scheme.",
        "    mode: trusted",
        "    trusted_proxies: [" + ", ".join(_q(n) for n in routing.trusted_proxies.value) + "]",
        "  secure_cookies: true",
        "  session_cookie_samesite: Lax",
        "  dbfilter_anchor: true",
        "",
        "metrics:",
        '  listen: "127.0.0.1:9145"',
        "",
        "logging:",
        '  access_log: "-"',
        "",
        "# Tenants taken out of service (503) by `odoo-router maintenance on|off` and by",
        "# `odoo-router-migrate upgrade`; state/ is mounted writable in the router's service.",
        "maintenance:",
        f"  file: {MAINTENANCE_DIR}/maintenance.yaml",
        "",
        "pools:",
        *(_pool(spec, name) for name in ("tenant", "tenant_lp", "admin", "admin_lp")),
        "",
        "route_sets:",
        "  health:",
        "    - name: health",
        f"      exact: {health}",
        f"      respond: {{status: 200, body: {_q(spec.health_body)}, content_type: text/plain}}",
        "  # /web/database/* and its /<lang>/web/database/* twin (Odoo's http_routing strips it).",
        "  deny_database:",
        "    - name: database",
        "      regex: '^/web/database/'",
        "      lang_prefix: true",
        '      respond: {status: 403, body: "Database management disabled",',
        "                content_type: text/plain}",
        "  tenant_common:",
        "    - name: websocket",
        "      regex: '^/(websocket|bus/|longpolling/)'",
        "      proxy: {pool: tenant_lp, send_timeout: 300s, read_timeout: 300s, websocket: true,",
        "              request_buffering: false, response_buffering: false}",
        "    - {name: qr, regex: '^/qr/',",
        "       proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s}}",
        "    # RPC names the database in the body: the firewall pins it to the host's tenant;",
        "    # http_routing also serves /<lang>/jsonrpc. Only the calls that log in count",
        "    # against the rate limit, once the firewall allowed them.",
        "    - name: rpc",
        "      regex: '^/(jsonrpc|xmlrpc)'",
        "      lang_prefix: true",
        "      proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s, rpc_firewall: true}",
        f"      {LOGIN_LIMIT}",
        "    - name: authenticate",
        "      regex: '^/web/session/authenticate/?$'",
        "      lang_prefix: true",
        "      proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s, rpc_firewall: true}",
        f"      {LOGIN_LIMIT}",
        "    - {name: report, regex: '^/report/',",
        "       proxy: {pool: tenant, send_timeout: 300s, read_timeout: 300s}}",
        "    - {name: static, regex: '^/web/(static|assets)/', proxy: {pool: tenant}}",
        "",
        "hosts:",
        "  - name: admin",
        "    exact: [" + ", ".join(_q(h) for h in routing.admin) + "]",
        "    dbfilter: null",
        "    # Client addresses (after the trusted-proxy rule) allowed on the admin host.",
        "    allow: [" + ", ".join(_q(n) for n in allow) + "]",
        "    routes:",
        "      - use: health",
        "      - name: websocket",
        "        regex: '^/(websocket|bus/|longpolling/)'",
        "        proxy: {pool: admin_lp, send_timeout: 300s, read_timeout: 300s, websocket: true,",
        "                request_buffering: false, response_buffering: false}",
        "      # The reference sends admin /qr/ to the tenant pool too.",
        "      - {name: qr, regex: '^/qr/',",
        "         proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s}}",
        *_login_route(
            "admin",
            "^/web/(login|session/authenticate)/?$",
            ", send_timeout: 120s, read_timeout: 120s",
        ),
        "      # RPC logins: the bodies read for common.login/authenticate, which count; no",
        "      # database rules here (the admin host addresses every database).",
        "      - name: rpc",
        "        regex: '^/(jsonrpc|xmlrpc)'",
        "        lang_prefix: true",
        "        proxy: {pool: admin, send_timeout: 120s, read_timeout: 120s,",
        "                rpc_count_logins: true}",
        f"        {LOGIN_LIMIT}",
        "      - {name: default, prefix: /,",
        "         proxy: {pool: admin, send_timeout: 120s, read_timeout: 120s}}",
    ]
    for n, fact in enumerate(routing.subdomains):
        rule = fact.value
        lines += [
            "",
            f"  - name: tenant_subdomain{'' if n == 0 else f'_{n + 1}'}",
            f"    regex: {_q(rule.regex)}",
            f"    dbfilter: {_q(rule.template)}",
            "    routes:",
            "      - use: health",
            *(
                _ui_route("login", "/web/login", ui.login_redirect, "exact")
                if ui and ui.login_redirect
                else _login_route("tenant", "^/web/login/?$")
            ),
            *_ui_route("root", "/", ui.redirect if ui else None, "exact"),
            "      - use: deny_database",
            "      - use: tenant_common",
            *_ui_route("default", "/", ui.redirect if ui else None, "prefix"),
        ]
    by_db: dict[str, list[str]] = {}
    for host, named in routing.hosts.items():
        by_db.setdefault(named.value, []).append(host)
    for n, (db, hosts) in enumerate(sorted(by_db.items())):
        lines += [
            "",
            f"  - name: named_tenant_{n + 1}",
            "    exact: [" + ", ".join(_q(h) for h in hosts) + "]",
            f"    dbfilter: {_q(db)}",
            "    routes:",
            "      - use: health",
            "      - use: deny_database",
            *_login_route("tenant", "^/web/login/?$"),
            "      - {name: root, exact: /, proxy: {pool: tenant}}",
            "      - use: tenant_common",
            "      - name: default",
            "        prefix: /",
            "        proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s,",
            "                websocket: true}",
        ]
    lines += [
        "",
        "  # Unknown hosts never reach Odoo without a filter: 421 Misdirected Request.",
        "  - name: default",
        "    default: true",
        "    dbfilter: null",
        "    routes:",
        "      - use: health",
        "      - name: unknown_host",
        "        prefix: /",
        '        respond: {status: 421, body: "Unknown host", content_type: text/plain}',
        "",
    ]
    text = "\n".join(lines)
    build_config(text, "router.yaml")  # raises ConfigError listing every problem
    return text


_NGINX_PATHS = ("/etc/nginx", "/var/log/nginx", "/var/cache/nginx")


@dataclass(frozen=True)
class RouterComposeSpec:
    service: str  # the nginx service's key: it keeps its name, container name, networks, labels
    image: str
    command: tuple[str, ...]  # () keeps the image's ENTRYPOINT/CMD
    config_dir: str  # mount source of the router.yaml directory ("./odoo-router")
    healthcheck: tuple[str, ...]
    interval: str | None = None  # None keeps the service's own


def edit_router_service(y: YamlText, spec: RouterComposeSpec) -> None:
    """The nginx service becomes odoo-router in place: its image, its nginx mounts (the
    router's config directory instead, read-only, and its state/ directory writable, for the
    maintenance file) and its healthcheck change; nothing else
    (an nginx ``command`` goes: the image serves /etc/odoo-router/router.yaml)."""
    base = ("services", spec.service)
    svc = y.data["services"][spec.service]
    set_key(y, base, "image", spec.image)
    if spec.command:
        set_key(y, base, "command", FlowSeq(spec.command))
    elif explicit(y, (*base, "command")):
        y.delete((*base, "command"))
    mount = f"{spec.config_dir}:{ROUTER_CONFIG_DIR}:ro"
    # Writable, over the read-only config directory: maintenance.file (router.yaml) lives
    # there, written atomically (a rename needs the directory, not a file, mounted).
    state = f"{spec.config_dir}/{MAINTENANCE_DIR}:{ROUTER_CONFIG_DIR}/{MAINTENANCE_DIR}"
    vols = list(svc.get("volumes") or ())
    nginx = [
        i
        for i, v in enumerate(vols)
        if (m := parse_mount(v, 0, {})) and m.target.startswith(_NGINX_PATHS)
    ]
    if explicit(y, (*base, "volumes")):
        for i in nginx:
            y.delete((*base, "volumes", i))
        y.append((*base, "volumes"), mount)
        y.append((*base, "volumes"), state)
    else:
        kept = [v for i, v in enumerate(vols) if i not in nginx]
        set_key(y, base, "volumes", [*kept, mount, state])
    test = FlowSeq(spec.healthcheck)
    if explicit(y, (*base, "healthcheck")):
        set_key(y, (*base, "healthcheck"), "test", test)
        if spec.interval:
            set_key(y, (*base, "healthcheck"), "interval", spec.interval)
    else:
        y.insert(base, "healthcheck", {"test": test, "interval": spec.interval or "10s"})
