"""Render odoo-router's router.yaml (replacing nginx's default.conf) and its compose service.

The routing is the nginx router's (hosts, databases, redirects, pools read from default.conf)
in the shape of config/router.yaml, with that profile's safety switches: anchored dbfilter,
trusted forwarding, unknown hosts refused, the admin host behind an allowlist.
Every rendered text is validated with odoo_router.config.build_config before it is staged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..config import build_config
from .nginxconf import RouterFacts
from .yamledit import YamlDoc, move_trailing_comment, quoted

ROUTER_CONFIG_DIR = "/etc/odoo-router"
ROUTER_SERVICE = "odoo-router"
ROUTER_CONTAINER = "seisei-odoo-router"
ROUTER_NETWORKS = ("seisei-odoo-network", "edge")  # external: created outside the stacks
# No curl in the image (nor in nginx:alpine): the router ships a stdlib probe.
HEALTHCHECK = ["CMD", "python", "-m", "odoo_router.probe"]


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid double-quoted YAML scalar


def _pool(facts: RouterFacts, name: str, upstream: str, default: str, keepalive: int) -> str:
    servers = ", ".join(_q(s) for s in facts.upstreams.get(upstream) or (default,))
    return f"  {name + ':':10s} {{servers: [{servers}], keepalive: {keepalive}}}"


def render_router_yaml(
    facts: RouterFacts, admin_allow: Sequence[str], trusted_proxies: Sequence[str]
) -> str:
    login = facts.login_redirect or "https://biznexus.seisei.tokyo/login"
    root = facts.root_redirect or "https://biznexus.seisei.tokyo"
    default = facts.default_redirect or root
    lines = [
        "# odoo-router configuration rendered by odoo-router-migrate from the nginx router",
        "# (seisei-odoo/nginx/default.conf). Same hosts, databases and pools; the reference's",
        "# holes closed: anchored dbfilter, trusted forwarding, admin allowlist, unknown hosts",
        "# refused. Validate with `odoo-router check` after editing.",
        "",
        "server:",
        '  listen: ["0.0.0.0:80"]',
        "  workers: auto",
        '  server_name: "_"',
        "  client_max_body_size: 50m",
        "  underscores_in_headers: false",
        "  shutdown_grace: 30s",
        "  forwarded:",
        "    # Only Traefik (docker networks, loopback) may state the client address and scheme.",
        "    mode: trusted",
        "    trusted_proxies: [" + ", ".join(_q(n) for n in trusted_proxies) + "]",
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
        "pools:",
        _pool(facts, "tenant", "odoo_tenant", "odoo-tenant:8069", 16),
        _pool(facts, "tenant_lp", "odoo_tenant_lp", "odoo-tenant:8072", 8),
        _pool(facts, "admin", "odoo_admin", "odoo-admin:8069", 4),
        _pool(facts, "admin_lp", "odoo_admin_lp", "odoo-admin:8072", 2),
        "",
        "route_sets:",
        "  health:",
        "    - name: health",
        "      exact: /nginx-health",
        '      respond: {status: 200, body: "OK", content_type: text/plain}',
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
        "    # RPC names the database in the body: the firewall pins it to the host's tenant.",
        "    - name: rpc",
        "      regex: '^/(jsonrpc|xmlrpc)'",
        "      proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s, rpc_firewall: true}",
        "    - {name: report, regex: '^/report/',",
        "       proxy: {pool: tenant, send_timeout: 300s, read_timeout: 300s}}",
        "    - {name: static, regex: '^/web/(static|assets)/', proxy: {pool: tenant}}",
        "",
        "hosts:",
        "  - name: admin",
        "    exact: [" + ", ".join(_q(h) for h in facts.admin_hosts) + "]",
        "    dbfilter: null",
        "    # Client addresses (after the trusted-proxy rule) allowed on the admin host.",
        "    allow: [" + ", ".join(_q(n) for n in admin_allow) + "]",
        "    routes:",
        "      - use: health",
        "      - name: websocket",
        "        regex: '^/(websocket|bus/|longpolling/)'",
        "        proxy: {pool: admin_lp, send_timeout: 300s, read_timeout: 300s, websocket: true,",
        "                request_buffering: false, response_buffering: false}",
        "      # The reference sends admin /qr/ to the tenant pool too.",
        "      - {name: qr, regex: '^/qr/',",
        "         proxy: {pool: tenant, send_timeout: 120s, read_timeout: 120s}}",
        "      - {name: default, prefix: /,",
        "         proxy: {pool: admin, send_timeout: 120s, read_timeout: 120s}}",
    ]
    if facts.subdomain_regex:
        lines += [
            "",
            "  - name: tenant_subdomain",
            f"    regex: {_q(facts.subdomain_regex)}",
            f"    dbfilter: {_q(facts.subdomain_dbfilter or '')}",
            "    routes:",
            "      - use: health",
            "      - {name: login, exact: /web/login,",
            f"         redirect: {{status: 302, location: {_q(login)}}}}}",
            f"      - {{name: root, exact: /, redirect: {{status: 302, location: {_q(root)}}}}}",
            "      - use: deny_database",
            "      - use: tenant_common",
            "      - {name: default, prefix: /,",
            f"         redirect: {{status: 302, location: {_q(default)}}}}}",
        ]
    by_db: dict[str, list[str]] = {}
    for host, db in facts.named:
        by_db.setdefault(db, []).append(host)
    for n, (db, hosts) in enumerate(sorted(by_db.items())):
        lines += [
            "",
            f"  - name: named_tenant_{n + 1}",
            "    exact: [" + ", ".join(_q(h) for h in hosts) + "]",
            f"    dbfilter: {_q(db)}",
            "    routes:",
            "      - use: health",
            "      - use: deny_database",
            "      - {name: login, exact: /web/login, proxy: {pool: tenant}}",
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


def _router_service(
    old: Any, image: str, command: Sequence[str], config_dir: str, health_interval: str
) -> CommentedMap:
    """The service of deploy/docker-compose.yml (the image's ENTRYPOINT/CMD serve
    /etc/odoo-router/router.yaml), keeping the old service's restart policy and labels."""
    svc = CommentedMap()
    svc["image"] = image
    svc["container_name"] = ROUTER_CONTAINER
    svc["restart"] = (old.get("restart") if old is not None else None) or "unless-stopped"
    if command:
        svc["command"] = quoted(list(command))
    # The directory, not the file: a reload must see a replaced router.yaml (new inode).
    svc["volumes"] = CommentedSeq([f"{config_dir}:{ROUTER_CONFIG_DIR}:ro"])
    svc["networks"] = CommentedSeq(list(ROUTER_NETWORKS))
    labels = old.get("labels") if old is not None else None
    if labels is not None:
        svc["labels"] = labels
    # Port 80 as the image's non-root user, with no capability at all.
    svc["sysctls"] = CommentedMap([("net.ipv4.ip_unprivileged_port_start", 0)])
    caps = CommentedSeq(["ALL"])
    caps.fa.set_flow_style()
    svc["cap_drop"] = caps
    svc["security_opt"] = CommentedSeq(["no-new-privileges:true"])
    hc = CommentedMap()
    hc["test"] = quoted(HEALTHCHECK)
    hc["interval"] = health_interval
    hc["timeout"] = "5s"
    hc["retries"] = 3
    svc["healthcheck"] = hc
    svc["stop_grace_period"] = "40s"  # longer than the router's 30s shutdown_grace
    return svc


def edit_router_compose(
    doc: YamlDoc,
    image: str,
    command: Sequence[str] = (),
    config_dir: str = "./odoo-router",
    health_interval: str = "10s",
) -> str:
    """The nginx service (the one named container seisei-odoo-router) becomes odoo-router."""
    services = doc.data.get("services")
    if not isinstance(services, CommentedMap):
        raise ValueError(f"{doc.name}: no services mapping")
    old_key = next(
        (
            k
            for k, v in services.items()
            if isinstance(v, dict) and v.get("container_name") == ROUTER_CONTAINER
        ),
        None,
    )
    old = services.get(old_key) if old_key is not None else None
    new = CommentedMap()
    new_svc = _router_service(old, image, command, config_dir, health_interval)
    placed = False
    for k, v in services.items():
        if k in (old_key, ROUTER_SERVICE):
            if not placed:
                new[ROUTER_SERVICE] = new_svc
                placed = True
            continue
        new[k] = v
    if not placed:
        new[ROUTER_SERVICE] = new_svc
    # The blank line / comment that followed the old service stays where it was.
    if old is not None:
        move_trailing_comment(old, new_svc)
    doc.data["services"] = new
    networks = doc.data.get("networks")
    if isinstance(networks, CommentedMap):
        for net in ROUTER_NETWORKS:
            if net not in networks:
                networks[net] = CommentedMap([("external", True)])
    return doc.dump()
