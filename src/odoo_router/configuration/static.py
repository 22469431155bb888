"""The static sections of router.yaml (``server``, ``metrics``, ``logging``), and what a reload
may change (of these, only ``metrics.tenant_labels_max``).

Static settings are read once at start: a reload that changes one of them is told so
(``static_changes``) and keeps the running value (``reloaded``), while pools and hosts, the
routing table, are taken from the new file.
"""

from __future__ import annotations

from dataclasses import replace

from .model import Config, Forwarded, IPNetwork, LoggingSettings, MetricsSettings, ServerSettings
from .reader import Reader
from .values import (
    as_bool,
    as_int,
    as_listen,
    as_networks,
    as_opt_str,
    as_samesite,
    as_str,
    as_workers,
    parse_duration,
    parse_hostport,
    parse_size,
)

# A Prometheus series per tenant and status class costs the TSDB about 3 KiB; 100,000
# tenants is past any farm one router fronts, and keeps a typo (5000000) from being taken.
TENANT_LABELS_LIMIT = 100_000

SERVER_KEYS = (
    *tuple(f for f in ServerSettings.__dataclass_fields__ if f != "forwarded"),
    "forwarded",
)


def _read_forwarded(r: Reader, value: object, default: Forwarded) -> Forwarded:
    fw = r.mapping(value, "server.forwarded", (), ("mode", "trusted_proxies"))
    if fw is None:
        return default
    mode = r.get(fw, "server.forwarded", "mode", as_str, "append")
    if mode not in ("append", "trusted"):
        r.error("server.forwarded.mode", f"expected 'append' or 'trusted', got {mode!r}")
        mode = "append"
    nets: tuple[IPNetwork, ...] = r.get(fw, "server.forwarded", "trusted_proxies", as_networks, ())
    return Forwarded(mode="trusted" if mode == "trusted" else "append", trusted_proxies=nets)


def read_server(r: Reader, value: object) -> ServerSettings:
    d = ServerSettings()
    data = r.mapping(value if value is not None else {}, "server", (), SERVER_KEYS)
    if data is None:
        return d
    p = "server"
    forwarded = d.forwarded
    if "forwarded" in data:
        forwarded = _read_forwarded(r, data["forwarded"], d.forwarded)

    def size(key: str, default: int) -> int:
        return r.get(data, p, key, parse_size, default)

    def duration(key: str, default: float) -> float:
        return r.get(data, p, key, parse_duration, default)

    def flag(key: str, default: bool) -> bool:
        return r.get(data, p, key, as_bool, default)

    return ServerSettings(
        listen=r.get(data, p, "listen", as_listen, d.listen),
        workers=r.get(data, p, "workers", as_workers, d.workers),
        server_name=r.get(data, p, "server_name", as_str, d.server_name),
        client_max_body_size=size("client_max_body_size", d.client_max_body_size),
        large_client_header_buffers=size(
            "large_client_header_buffers", d.large_client_header_buffers
        ),
        max_header_count=r.get(data, p, "max_header_count", as_int(1, 10000), d.max_header_count),
        keepalive_timeout=duration("keepalive_timeout", d.keepalive_timeout),
        keepalive_requests=r.get(
            data, p, "keepalive_requests", as_int(1, 1 << 30), d.keepalive_requests
        ),
        client_header_timeout=duration("client_header_timeout", d.client_header_timeout),
        client_body_timeout=duration("client_body_timeout", d.client_body_timeout),
        client_send_timeout=duration("client_send_timeout", d.client_send_timeout),
        shutdown_grace=duration("shutdown_grace", d.shutdown_grace),
        underscores_in_headers=flag("underscores_in_headers", d.underscores_in_headers),
        request_buffer_memory=size("request_buffer_memory", d.request_buffer_memory),
        response_buffer=size("response_buffer", d.response_buffer),
        proxy_header_max=size("proxy_header_max", d.proxy_header_max),
        cache_size=size("cache_size", d.cache_size),
        cache_max_entry=size("cache_max_entry", d.cache_max_entry),
        temp_dir=r.get(data, p, "temp_dir", as_opt_str, d.temp_dir),
        forwarded=forwarded,
        secure_cookies=flag("secure_cookies", d.secure_cookies),
        session_cookie_samesite=r.get(data, p, "session_cookie_samesite", as_samesite, None),
        dbfilter_anchor=flag("dbfilter_anchor", d.dbfilter_anchor),
        server_header=r.get(data, p, "server_header", as_str, d.server_header),
        rate_limit_keys=r.get(data, p, "rate_limit_keys", as_int(1, 10_000_000), d.rate_limit_keys),
    )


def read_metrics(r: Reader, value: object) -> MetricsSettings:
    if value is None:
        return MetricsSettings()
    m = r.mapping(value, "metrics", (), ("listen", "tenant_labels_max"))
    if m is None:
        return MetricsSettings()
    d = MetricsSettings()
    return MetricsSettings(
        listen=r.get(m, "metrics", "listen", parse_hostport, None)
        if m.get("listen") is not None
        else None,
        tenant_labels_max=r.get(
            m, "metrics", "tenant_labels_max", as_int(0, TENANT_LABELS_LIMIT), d.tenant_labels_max
        ),
    )


def read_logging(r: Reader, value: object) -> LoggingSettings:
    d = LoggingSettings()
    if value is None:
        return d
    lg = r.mapping(value, "logging", (), ("access_log", "error_log"))
    if lg is None:
        return d
    return LoggingSettings(
        access_log=r.get(lg, "logging", "access_log", as_opt_str, d.access_log),
        error_log=r.get(lg, "logging", "error_log", as_str, d.error_log),
    )


# --------------------------------------------------------------------------- reload


def static_changes(old: Config, new: Config) -> list[str]:
    """The static keys whose value differs in ``new``: they need a restart to take effect."""
    changed = [
        f"server.{name}"
        for name in SERVER_KEYS
        if getattr(old.server, name) != getattr(new.server, name)
    ]
    if old.metrics.listen != new.metrics.listen:  # tenant_labels_max is reloadable
        changed.append("metrics")
    if old.logging != new.logging:
        changed.append("logging")
    return changed


def reloaded(running: Config, new: Config) -> Config:
    """What a reload runs: the static settings as they are, the routing table of ``new``."""
    return Config(
        server=running.server,
        metrics=replace(running.metrics, tenant_labels_max=new.metrics.tenant_labels_max),
        logging=running.logging,
        pools=new.pools,
        hosts=new.hosts,
        source=new.source,
        maintenance=new.maintenance,  # reloadable: the workers' watcher follows it
    )
