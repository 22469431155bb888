"""The configuration model: frozen, typed dataclasses built once by config.build_config.

Static settings (``server``, ``metrics``, ``logging``) need a restart to change; pools and
hosts form the reloadable routing table (see routing.compile_table).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Forwarded:
    # append: nginx's $proxy_add_x_forwarded_for, X-Forwarded-Proto "https" trusted from anyone.
    # trusted: client X-Forwarded-* honoured only from trusted_proxies; Odoo gets one address.
    mode: Literal["append", "trusted"] = "append"
    trusted_proxies: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerSettings:
    listen: tuple[tuple[str, int], ...] = (("0.0.0.0", 80),)
    workers: int = 1  # 0 means "auto": one per CPU
    server_name: str = "_"
    client_max_body_size: int = 50 * 1024 * 1024
    large_client_header_buffers: int = 8192
    max_header_count: int = 1000
    keepalive_timeout: float = 75.0
    keepalive_requests: int = 1000
    client_header_timeout: float = 60.0
    client_body_timeout: float = 60.0
    client_send_timeout: float = 60.0  # nginx's send_timeout: no byte taken by the client
    shutdown_grace: float = 30.0
    underscores_in_headers: bool = False
    request_buffer_memory: int = 1024 * 1024
    response_buffer: int = 1024 * 1024
    proxy_header_max: int = 64 * 1024  # an upstream's response head: 502 above it
    cache_size: int = 32 * 1024 * 1024  # the static cache of routes with cache: true
    cache_max_entry: int = 1024 * 1024
    temp_dir: str | None = None
    forwarded: Forwarded = field(default_factory=Forwarded)
    secure_cookies: bool = True
    session_cookie_samesite: str | None = None
    dbfilter_anchor: bool = False
    server_header: str = "odoo-router"
    rate_limit_keys: int = 100_000  # buckets of the routes' rate_limit, shared by the workers


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    listen: tuple[str, int] | None = None
    # Per-tenant series at most (ops/metrics_tenants.py); 0 turns them off. Reloadable.
    tenant_labels_max: int = 500


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    access_log: str | None = "-"
    error_log: str = "-"


@dataclass(frozen=True, slots=True)
class MaintenanceSettings:
    # The state file `odoo-router maintenance` writes and the workers watch; None: no
    # maintenance mode. A relative path is taken from router.yaml's directory.
    file: str | None = None
    retry_after: float = 300.0  # Retry-After when a tenant's maintenance has no "until"


@dataclass(frozen=True, slots=True)
class Pool:
    name: str
    servers: tuple[tuple[str, int], ...]
    keepalive: int = 16
    # nginx's upstream keepalive_timeout, keepalive_requests and keepalive_time: an idle
    # connection is closed after the first, a connection after the second's requests or once
    # older than the third (checked when a request ends on it).
    keepalive_timeout: float = 60.0
    keepalive_requests: int = 1000
    keepalive_time: float = 3600.0
    connect_timeout: float = 60.0
    max_fails: int = 1
    fail_timeout: float = 10.0
    # Location/Refresh values starting with this URL prefix (the upstream as it names itself,
    # nginx's proxy_pass URL) are rewritten: "nginx" exactly as proxy_redirect default does,
    # "relative" to the path alone (response_headers.RedirectRule).
    redirect_prefix: str | None = None
    redirect_rewrite: Literal["nginx", "relative"] = "relative"


@dataclass(frozen=True, slots=True)
class ProxyAction:
    pool: str
    connect_timeout: float | None = None  # None: the pool's
    send_timeout: float = 60.0
    read_timeout: float = 60.0
    websocket: bool = False
    request_buffering: bool = True
    response_buffering: bool = True
    rpc_firewall: bool = False
    rpc_body_limit: int | None = None  # None: server.client_max_body_size
    # The route's rate limit counts the RPC calls that log in, read without the firewall's
    # database rules (the admin host's RPC): security/ratelimit.py.
    rpc_count_logins: bool = False
    cache: bool = False


@dataclass(frozen=True, slots=True)
class RedirectAction:
    status: int
    location: str  # template: {host} and the host rule's named groups


@dataclass(frozen=True, slots=True)
class RespondAction:
    status: int
    body: str = ""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


Action = ProxyAction | RedirectAction | RespondAction


@dataclass(frozen=True, slots=True)
class BasicAuth:
    realm: str
    users: tuple[tuple[str, str], ...]  # (user, "pbkdf2_sha256$iterations$salt_hex$hash_hex")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A route's login rate limit: token buckets of ``burst`` attempts refilled at ``rate``
    per second, one per client address (``client_ip``) or per address and tenant database
    (``client_ip_db``). security/ratelimit.py says which requests count."""

    key: Literal["client_ip", "client_ip_db"]
    rate: float  # tokens per second
    burst: int
    text: str  # "10/min, burst 5": for explain, and the buckets' namespace


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    kind: Literal["exact", "prefix", "regex"]
    pattern: str
    action: Action
    lang_prefix: bool = False
    auth: BasicAuth | None = None
    where: str = ""  # "router.yaml:41", for explain and errors
    rate_limit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class HostRule:
    name: str
    exact: tuple[str, ...] = ()
    regex: str | None = None
    default: bool = False
    dbfilter: str | None = None  # template with the regex's named groups, e.g. "ten_{sub}"
    allow: tuple[IPNetwork, ...] | None = None
    routes: tuple[Route, ...] = ()
    where: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerSettings
    metrics: MetricsSettings
    logging: LoggingSettings
    pools: dict[str, Pool]
    hosts: tuple[HostRule, ...]
    source: str = "<config>"
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str
    where: str | None

    def __str__(self) -> str:
        suffix = f" ({self.where})" if self.where else ""
        return f"{self.path or '<top>'}: {self.message}{suffix}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(dict.fromkeys(problems))  # a route set used twice reports once
        super().__init__("\n".join(str(p) for p in self.problems))
