"""Static settings and the reloadable routing table on reload (config_static): every key of
``server``, ``metrics`` and ``logging`` changed in the file is named as needing a restart
and keeps its running value; pools, hosts and route sets are taken from the new file."""

from __future__ import annotations

import pytest

from odoo_router.configuration.static import SERVER_KEYS, reloaded, static_changes
from unit.configuration.config_text import DEFAULTS, config

# key -> (the running value, the value in the reloaded file), as router.yaml lines
SERVER_VALUES = {
    "listen": ("listen: ['127.0.0.1:8080']", "listen: ['127.0.0.1:8081']"),
    "workers": ("workers: 2", "workers: auto"),
    "server_name": ("server_name: _", "server_name: erp"),
    "client_max_body_size": ("client_max_body_size: 50m", "client_max_body_size: 1g"),
    "large_client_header_buffers": (
        "large_client_header_buffers: 8k",
        "large_client_header_buffers: 16k",
    ),
    "max_header_count": ("max_header_count: 100", "max_header_count: 200"),
    "keepalive_timeout": ("keepalive_timeout: 75s", "keepalive_timeout: 10s"),
    "keepalive_requests": ("keepalive_requests: 1000", "keepalive_requests: 10"),
    "client_header_timeout": ("client_header_timeout: 60s", "client_header_timeout: 61s"),
    "client_body_timeout": ("client_body_timeout: 60s", "client_body_timeout: 30s"),
    "client_send_timeout": ("client_send_timeout: 60s", "client_send_timeout: 500ms"),
    "shutdown_grace": ("shutdown_grace: 30s", "shutdown_grace: 5m"),
    "underscores_in_headers": ("underscores_in_headers: false", "underscores_in_headers: true"),
    "request_buffer_memory": ("request_buffer_memory: 1m", "request_buffer_memory: 64k"),
    "response_buffer": ("response_buffer: 1m", "response_buffer: 2m"),
    "proxy_header_max": ("proxy_header_max: 64k", "proxy_header_max: 128k"),
    "cache_size": ("cache_size: 32m", "cache_size: 0"),
    "cache_max_entry": ("cache_max_entry: 1m", "cache_max_entry: 1k"),
    "temp_dir": ("temp_dir: null", "temp_dir: /var/tmp"),
    "forwarded": ("forwarded: {mode: append}", "forwarded: {mode: trusted}"),
    "secure_cookies": ("secure_cookies: true", "secure_cookies: false"),
    "session_cookie_samesite": ("session_cookie_samesite: Lax", "session_cookie_samesite: null"),
    "dbfilter_anchor": ("dbfilter_anchor: false", "dbfilter_anchor: true"),
    "server_header": ("server_header: odoo-router", "server_header: nginx"),
    # The buckets are sized once, before the workers fork: a reload keeps them.
    "rate_limit_keys": ("rate_limit_keys: 100000", "rate_limit_keys: 64"),
}


def test_every_server_key_has_a_case() -> None:
    assert set(SERVER_VALUES) == set(SERVER_KEYS)


@pytest.mark.parametrize("key", list(SERVER_VALUES))
def test_a_changed_server_key_needs_a_restart_and_keeps_its_value(key: str) -> None:
    running_line, new_line = SERVER_VALUES[key]
    running, new = config(server=running_line), config(server=new_line)
    assert getattr(running.server, key) != getattr(new.server, key), "the case changes nothing"
    assert static_changes(running, new) == [f"server.{key}"]
    assert reloaded(running, new).server == running.server


def test_the_same_value_written_otherwise_is_no_change() -> None:
    running = config(server="client_max_body_size: 1m\nkeepalive_timeout: 60s\nworkers: 1")
    new = config(server="client_max_body_size: 1048576\nkeepalive_timeout: 1m")
    assert static_changes(running, new) == []


def test_metrics_and_logging_need_a_restart() -> None:
    running = config(metrics="listen: 127.0.0.1:9145", logging="access_log: '-'")
    new = config(metrics="listen: 127.0.0.1:9146", logging="access_log: /var/log/a.log")
    assert static_changes(running, new) == ["metrics", "logging"]
    kept = reloaded(running, new)
    assert (kept.metrics, kept.logging) == (running.metrics, running.logging)


def test_tenant_labels_max_is_reloaded_without_a_restart() -> None:
    running = config(metrics="listen: 127.0.0.1:9145\ntenant_labels_max: 500")
    new = config(metrics="listen: 127.0.0.1:9145\ntenant_labels_max: 20")
    assert static_changes(running, new) == []
    kept = reloaded(running, new)
    assert kept.metrics.listen == ("127.0.0.1", 9145)
    assert kept.metrics.tenant_labels_max == 20
    # The listener needs a restart, the cap comes from the new file all the same.
    moved = config(metrics="listen: 127.0.0.1:9146\ntenant_labels_max: 0")
    assert static_changes(running, moved) == ["metrics"]
    assert reloaded(running, moved).metrics == running.metrics.__class__(("127.0.0.1", 9145), 0)


def test_tenant_labels_max_defaults_to_500_and_takes_no_listen() -> None:
    assert config().metrics.tenant_labels_max == 500
    assert config(metrics="tenant_labels_max: 7").metrics.tenant_labels_max == 7


def test_pools_hosts_and_routes_are_reloaded() -> None:
    running = config()
    new = config(
        pool=f"{DEFAULTS['pool']}\nkeepalive: 2",
        proxy="read_timeout: 5s",
        host=f"{DEFAULTS['host']}\ndbfilter: ten_main",
        item="- {name: extra, exact: /extra, respond: {status: 204}}",
    )
    assert static_changes(running, new) == []
    after = reloaded(running, new)
    assert after.pools == new.pools and after.hosts == new.hosts
    assert after.pools["tenant"].keepalive == 2
    assert after.hosts[0].dbfilter == "ten_main"
    assert [r.name for r in after.hosts[1].routes] == ["extra", "d"]


def test_a_reload_changing_both_kinds() -> None:
    """listen needs a restart and keeps its value; the new route is taken at once."""
    running = config(server="listen: ['127.0.0.1:8080']\ndbfilter_anchor: false")
    new = config(
        server="listen: ['127.0.0.1:9090']\ndbfilter_anchor: true",
        item="- {name: extra, exact: /extra, respond: {status: 204}}",
    )
    assert static_changes(running, new) == ["server.listen", "server.dbfilter_anchor"]
    after = reloaded(running, new)
    assert after.server.listen == (("127.0.0.1", 8080),)
    assert after.server.dbfilter_anchor is False  # it shapes the table: still the running one
    assert after.hosts[1].routes[0].name == "extra"
    assert after.source == new.source
