"""Human-readable views of the routing table: ``explain`` (one decision) and ``routes``."""

from __future__ import annotations

from ..configuration.validate import Config, ProxyAction, RedirectAction, RespondAction, Route
from ..http.headers import pairs
from .request_filter import FilterSettings, Peer, Refusal, RequestHead, request_filter
from .table import compile_table


def _action_text(route: Route) -> str:
    a = route.action
    if isinstance(a, ProxyAction):
        extras = [f"read {a.read_timeout:g}s", f"send {a.send_timeout:g}s"]
        if a.websocket:
            extras.append("websocket")
        if a.rpc_firewall:
            extras.append("rpc_firewall")
        if a.rpc_count_logins:
            extras.append("rpc_count_logins")
        if a.cache:
            extras.append("cache")
        if not a.request_buffering:
            extras.append("streaming upload")
        return f"proxy {a.pool} ({', '.join(extras)})"
    if isinstance(a, RedirectAction):
        return f"redirect {a.status} {a.location}"
    assert isinstance(a, RespondAction)
    return f"respond {a.status} {a.body!r}"


def render_routes(config: Config) -> str:
    lines = []
    for rule in config.hosts:
        if rule.default:
            sel = "default"
        elif rule.regex:
            sel = f"regex {rule.regex}"
        else:
            sel = "exact " + ", ".join(rule.exact)
        db = f"dbfilter {rule.dbfilter}" if rule.dbfilter else "no dbfilter"
        allow = f", allow {', '.join(map(str, rule.allow))}" if rule.allow is not None else ""
        lines.append(f"host {rule.name}: {sel}; {db}{allow}")
        for route in rule.routes:
            lp = " (+ /<lang>/ forms)" if route.lang_prefix else ""
            auth = " [basic auth]" if route.auth else ""
            if route.rate_limit is not None:
                auth += f" [rate limit {route.rate_limit.text}]"
            head = f"  {route.name:<14} {route.kind:<6} {route.pattern:<34}{lp}{auth}"
            lines.append(f"{head} -> {_action_text(route)}")
    return "\n".join(lines)


def explained_head(method: str, target: str, headers: list[bytes]) -> RequestHead:
    """The head of an HTTP/1.1 request as framing would hand it over (``headers`` flat:
    name, value, ...; upgrade as llhttp reads it: an Upgrade header and ``upgrade`` among
    the Connection tokens)."""
    head = RequestHead(0.0)
    head.method = method.upper()
    head.url = target.encode("latin-1")
    head.headers = headers
    named = pairs(headers)
    connection = b",".join(v for n, v in named if n.lower() == b"connection").lower()
    head.upgrade = any(n.lower() == b"upgrade" for n, _ in named) and b"upgrade" in [
        t.strip() for t in connection.split(b",")
    ]
    head.keep_alive = True
    return head


def explain(
    config: Config,
    host: str,
    path: str,
    method: str = "GET",
    headers: list[str] | None = None,
    client_ip: str = "127.0.0.1",
) -> str:
    hdrs: list[bytes] = [b"Host", host.encode("latin-1")]
    for item in headers or []:
        name, sep, value = item.partition(":")
        if not sep:
            raise ValueError(f"--header wants NAME:VALUE, got {item!r}")
        hdrs += (name.strip().encode("latin-1"), value.strip().encode("latin-1"))
    head = explained_head(method, path, hdrs)
    settings = FilterSettings(config.server)
    filtered = request_filter(head, Peer(client_ip), settings, compile_table(config))
    if isinstance(filtered, Refusal):
        return f"answer: {filtered.status} ({filtered.reason}) before routing"
    d = filtered.decision
    norm_host, norm_path, view = filtered.host, filtered.path, filtered.view
    rule = next(h for h in config.hosts if h.name == d.host_rule)
    route = next((r for r in rule.routes if r.name == d.route), None)
    out = [
        f"host:        {norm_host} (rule {d.host_rule}, {rule.where})",
        f"path:        {norm_path}",
        f"route:       {d.route}"
        + (f" ({route.kind} {route.pattern}, {route.where})" if route else ""),
        f"client:      {view.client_ip} (forwarded mode {config.server.forwarded.mode}), "
        f"proto {view.proto}",
    ]
    if d.pending_auth is not None:
        out.append("action:      basic auth: the credentials are checked when a request comes")
    elif d.local is not None:
        out.append(f"action:      answer {d.local.status}")
        for name, value in d.local.headers:
            out.append(f"             {name}: {value}")
        if d.local.body and len(d.local.body) < 80:
            out.append(f"             body {d.local.body!r}")
    else:
        a = d.proxy
        assert a is not None
        pool = config.pools[a.pool]
        servers = ", ".join(f"{h}:{p}" for h, p in pool.servers)
        out += [
            f"action:      proxy to pool {a.pool} ({servers}; keepalive {pool.keepalive})",
            f"timeouts:    connect {a.connect_timeout or pool.connect_timeout:g}s, "
            f"send {a.send_timeout:g}s, read {a.read_timeout:g}s",
            "websocket:   "
            + ("allowed" if a.websocket else "not allowed (Upgrade is not forwarded)"),
            f"buffering:   request {'on' if a.request_buffering else 'off'}, "
            f"response {'on' if a.response_buffering else 'off'}",
            "rpc firewall: "
            + (f"on, pinned to {d.tenant_db}" if a.rpc_firewall and d.tenant_db else "off"),
            f"cache:       {'on' if a.cache else 'off'}",
        ]
        if d.rate_limit is not None:  # security/ratelimit.py: which requests count
            how = ", RPC bodies read for them" if a.rpc_count_logins else ""
            out.append(f"rate limit:  {d.rate_limit.text}, on login attempts{how}")
    out.append(
        f"X-Odoo-dbfilter: {d.dbfilter}"
        if d.dbfilter
        else "X-Odoo-dbfilter: (none sent; client copies removed)"
    )
    return "\n".join(out)
