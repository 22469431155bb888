"""``verify``: the runbook's F1-F5 as checks, meaningful only with the new stack up.

F0 the stack: new containers running (router healthy), old ones gone - otherwise nothing
   below proves anything (a check during downtime must fail, not pass vacuously).
F1 Traefik: every router for an Odoo host is enabled, from the file provider, points at
   odoo-router-service, one per rule; the admin router carries the allowlist.
F2 host classes through the router: named tenants get a login page (exactly one database
   selected: no redirect to the database selector), tenant subdomains get their redirect,
   unknown hosts 421, /web/database/ refused on tenant hosts.
F3 admin: the database selector answers from an allowed address (list_db only exists on
   the admin container) and is refused from outside the allowlist.
F4 QR: /qr/ on a named tenant reaches Odoo (no 5xx, no router refusal).
F5 logs since the start: no ERROR / Traceback in Odoo, no upstream errors in the router.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .context import Context
from .render_traefik import ALLOWLIST
from .traefik import TraefikError
from .traefik_match import Request, rule_matches
from .traefik_rule_tree import Rule, RuleError
from .traefik_rules import parse
from .traefik_version import TraefikVersion, parse_version

OUTSIDE_ADDRESS = "203.0.113.7"  # TEST-NET-3: never in an allowlist
_ODOO_ERRORS = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback|KeyError")
# odoo-router logs JSON access lines ("status":502) and "odoo-router: internal error ..." on
# stderr; nginx-style lines (" 502 ", "[error]") are matched too.
_ROUTER_ERRORS = re.compile(
    r'"(upstream_)?status":\s*50[234]\b|\s50[234]\s|\[error\]|\bERROR\b|internal error'
)


@dataclass
class Check:
    id: str
    name: str
    ok: bool
    detail: str = ""


def _request(
    base: str, host: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """(status, Location) of one GET through the router; no redirect following."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location") or ""
    finally:
        conn.close()


def router_url(ctx: Context, expect: dict[str, Any]) -> str | None:
    if ctx.router_url:
        return ctx.router_url
    info = ctx.docker.inspect(expect["router_container"])
    for net in ((info or {}).get("NetworkSettings", {}).get("Networks") or {}).values():
        if net.get("IPAddress"):
            return f"http://{net['IPAddress']}:{expect.get('router_port', 80)}"
    return None


def _hosts(expect: dict[str, Any]) -> list[str]:
    named = [h for h, _ in expect["named"]]
    return [*expect["admin_hosts"], *named, *(f"acme.{d}" for d in expect.get("domains") or ())]


def _rule(rule: str, version: str | None) -> Rule | None:
    v = parse_version(version or "3.0", "plan")
    syntax = v.rule_syntax() if isinstance(v, TraefikVersion) else "v3"
    try:
        return parse(rule, syntax)
    except RuleError:
        return None


def _takes(rule: Rule | None, hosts: list[str]) -> bool:
    paths = ("/web/login", "/websocket")
    return rule is not None and any(rule_matches(rule, Request(h, p)) for h in hosts for p in paths)


def _inside_address(allow: list[str]) -> str:
    net = ipaddress.ip_network(allow[0], strict=False)
    return str(net.network_address + 1 if net.num_addresses > 1 else net.network_address)


def check_stack(ctx: Context, expect: dict[str, Any]) -> list[Check]:
    out = []
    for name in [*expect["odoo_containers"], expect["router_container"]]:
        st = ctx.docker.state(name)
        ok = st is not None and st[0] == "running" and st[1] != "unhealthy"
        out.append(Check("F0", f"container {name} running", ok, f"state {st}"))
    want = expect.get("router_image")
    if want:
        info = ctx.docker.inspect(expect["router_container"]) or {}
        image = (info.get("Config") or {}).get("Image")
        out.append(Check("F0", f"router runs {want}", image == want, f"image {image}"))
    for name in expect.get("old_containers", []):
        st = ctx.docker.state(name)
        out.append(Check("F0", f"old container {name} gone", st is None, f"state {st}"))
    return out


def check_traefik(ctx: Context, expect: dict[str, Any]) -> list[Check]:
    if ctx.traefik is None:
        return [Check("F1", "Traefik routers", False, "no Traefik API given")]
    try:
        routers = ctx.traefik.routers()
    except TraefikError as exc:
        return [Check("F1", "Traefik routers", False, str(exc))]
    hosts = _hosts(expect)
    service = str(expect.get("router_service") or "").split("@")[0]
    parsed = {r.name: _rule(r.rule, expect.get("traefik_version")) for r in routers}
    ours = [r for r in routers if _takes(parsed[r.name], hosts)]
    out = [Check("F1", "Odoo routers present", bool(ours), f"{len(ours)} routers")]
    for r in ours:
        ok = r.status == "enabled" and r.short_service == service
        out.append(Check("F1", f"router {r.name}", ok, f"{r.provider} -> {r.service} ({r.status})"))
    present = {r.name: r for r in routers}
    for name in expect.get("traefik_routers", []):
        found = present.get(name)
        out.append(
            Check(
                "F1",
                f"router {name} loaded",
                found is not None and found.status == "enabled",
                "missing: Traefik did not load it" if found is None else found.status,
            )
        )
    rules = [r.rule for r in ours]
    dup = sorted({x for x in rules if rules.count(x) > 1})
    out.append(Check("F1", "one router per rule", not dup, ", ".join(dup)))
    admin_hosts = set(expect["admin_hosts"])
    admin = [r for r in ours if (p := parsed[r.name]) is not None and admin_hosts & set(p.hosts())]
    out.append(
        Check(
            "F1",
            "admin router has the allowlist",
            bool(admin) and all(any(m.startswith(ALLOWLIST) for m in r.middlewares) for r in admin),
            "; ".join(f"{r.name}: {list(r.middlewares)}" for r in admin) or "no admin router",
        )
    )
    return out


def check_http(ctx: Context, expect: dict[str, Any]) -> list[Check]:
    base = router_url(ctx, expect)
    if base is None:
        return [
            Check("F2", "router reachable", False, f"no address for {expect['router_container']}")
        ]
    out: list[Check] = []

    def probe(
        cid: str, name: str, host: str, path: str, want: Any, headers: dict[str, str] | None = None
    ) -> None:
        try:
            status, location = _request(base, host, path, headers)
        except OSError as exc:
            out.append(Check(cid, name, False, f"{host}{path}: {exc}"))
            return
        ok = bool(want(status, location))
        out.append(Check(cid, name, ok, f"{host}{path} -> {status} {location}".rstrip()))

    def login_page(s: int, loc: str) -> bool:
        return s == 200 or (
            s in (302, 303) and "/web/database/selector" not in loc and "/web/login" in loc
        )

    for host, db in expect["named"]:
        probe("F2", f"{host} selects only {db}", host, "/web/login", login_page)
        probe(
            "F2",
            f"{host} refuses database manager",
            host,
            "/web/database/manager",
            lambda s, _l: s == 403,
        )
    sample = expect.get("tenant_sample")
    if sample and expect.get("login_redirect"):
        want_loc = expect["login_redirect"]
        probe(
            "F2",
            f"{sample} tenant UI redirect",
            sample,
            "/web/login",
            lambda s, loc: s in (301, 302) and loc == want_loc,
        )
    if sample:
        health = expect.get("health_path") or "/nginx-health"
        probe("F2", f"{sample} health", sample, health, lambda s, _l: s == 200)
    probe("F2", "unknown host refused", "unknown.invalid", "/web/login", lambda s, _l: s == 421)
    inside = _inside_address(expect["admin_allow"])
    for admin in expect["admin_hosts"]:
        probe(
            "F3",
            f"{admin} database selector from {inside}",
            admin,
            "/web/database/selector",
            lambda s, _l: s == 200,
            {"X-Forwarded-For": inside},
        )
        probe(
            "F3",
            f"{admin} refused from {OUTSIDE_ADDRESS}",
            admin,
            "/web/login",
            lambda s, _l: s == 403,
            {"X-Forwarded-For": OUTSIDE_ADDRESS},
        )
    for host, _db in expect["named"][:1]:
        probe(
            "F4",
            f"{host} QR reaches Odoo",
            host,
            "/qr/order/odoo-router-migrate-probe",
            lambda s, _l: s < 500 and s not in (403, 421),
        )
    return out


def check_logs(ctx: Context, expect: dict[str, Any], since: str | None) -> list[Check]:
    out = []
    for name in expect["odoo_containers"]:
        bad = [
            line for line in ctx.docker.logs(name, since).splitlines() if _ODOO_ERRORS.search(line)
        ]
        out.append(Check("F5", f"{name} log clean", not bad, " | ".join(bad[-3:])))
    name = expect["router_container"]
    bad = [
        line for line in ctx.docker.logs(name, since).splitlines() if _ROUTER_ERRORS.search(line)
    ]
    out.append(Check("F5", f"{name} log clean", not bad, " | ".join(bad[-3:])))
    return out


def run_checks(ctx: Context, expect: dict[str, Any], since: str | None = None) -> list[Check]:
    stack = check_stack(ctx, expect)
    if not all(c.ok for c in stack):
        return stack  # during downtime nothing else proves anything
    return [
        *stack,
        *check_traefik(ctx, expect),
        *check_http(ctx, expect),
        *check_logs(ctx, expect, since),
    ]


def wait_healthy(
    ctx: Context, name: str, timeout: float, need_healthy: bool = True
) -> tuple[str, str | None] | None:
    """Poll until running (and healthy, or without a healthcheck); bounded by ``timeout``.
    ``need_healthy=False`` accepts a health check still "starting" (Odoo boots slowly; the
    verify step's HTTP checks are the real proof)."""
    ok_health: tuple[str | None, ...] = (
        (None, "healthy") if need_healthy else (None, "healthy", "starting")
    )
    deadline = time.monotonic() + timeout
    st = ctx.docker.state(name)
    while time.monotonic() < deadline:
        st = ctx.docker.state(name)
        if st is not None and st[0] == "running" and st[1] in ok_health:
            return st
        if st is not None and (st[1] == "unhealthy" or st[0] in ("exited", "dead")):
            return st
        time.sleep(0.5)
    return st


def format_checks(checks: list[Check]) -> str:
    return "\n".join(
        f"  {'ok  ' if c.ok else 'FAIL'} {c.id} {c.name}  {c.detail}".rstrip() for c in checks
    )
