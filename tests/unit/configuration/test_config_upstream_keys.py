"""The pool keys redirect_prefix / redirect_rewrite and server.proxy_header_max: validated
with the key path and line like every other key, and what the shipped configs set."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_router.configuration.model import ConfigError
from odoo_router.configuration.static import reloaded, static_changes
from odoo_router.configuration.validate import build_config, load_config
from odoo_router.http.response_headers import RedirectRule

REPO = Path(__file__).resolve().parents[3]

BASE = """\
server:
  listen: ["127.0.0.1:8080"]
{server}
pools:
  tenant:
    servers: ["127.0.0.1:8069"]
{pool}
hosts:
  - name: default
    default: true
    routes:
      - {{name: all, prefix: /, proxy: {{pool: tenant}}}}
"""


def _problems(server: str = "", pool: str = "") -> list[str]:
    try:
        build_config(BASE.format(server=server, pool=pool), "router.yaml")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize(
    "value",
    [
        "odoo_tenant",  # no scheme
        "ftp://odoo_tenant/",
        "http://odoo_tenant",  # no closing '/': nginx matches the prefix with its '/'
        "http:///",  # no host
        "http://odoo tenant/",
        "42",
        "[http://odoo_tenant/]",
    ],
)
def test_a_bad_redirect_prefix_is_named_with_its_line(value: str) -> None:
    problems = _problems(pool=f"    redirect_prefix: {value}")
    assert len(problems) == 1, problems
    assert problems[0].startswith("pools.tenant.redirect_prefix: expected a URL prefix")
    assert problems[0].endswith("(router.yaml:7)")


def test_a_bad_redirect_rewrite_is_named_with_its_line() -> None:
    problems = _problems(pool="    redirect_rewrite: absolute")
    assert problems == [
        "pools.tenant.redirect_rewrite: expected 'nginx' or 'relative', got 'absolute'"
        " (router.yaml:7)"
    ]


def test_a_bad_proxy_header_max_is_named_with_its_line() -> None:
    problems = _problems(server="  proxy_header_max: lots")
    assert len(problems) == 1 and problems[0].startswith("server.proxy_header_max: ")
    assert problems[0].endswith("(router.yaml:3)")


def test_good_values() -> None:
    config = build_config(
        BASE.format(
            server="  proxy_header_max: 16k",
            pool='    redirect_prefix: "https://Odoo-Tenant:8069/"\n    redirect_rewrite: nginx',
        )
    )
    assert config.server.proxy_header_max == 16384
    pool = config.pools["tenant"]
    assert (pool.redirect_prefix, pool.redirect_rewrite) == ("https://Odoo-Tenant:8069/", "nginx")


def test_shipped_profiles() -> None:
    compat = load_config(str(REPO / "config" / "nginx-compat.yaml"))
    assert compat.server.proxy_header_max == 128 * 1024  # location /'s proxy_buffer_size
    for name, pool in compat.pools.items():
        assert pool.redirect_prefix == f"http://odoo_{name}/"
        assert pool.redirect_rewrite == "nginx"
    production = load_config(str(REPO / "config" / "router.yaml"))
    assert production.server.proxy_header_max == 64 * 1024
    for pool in production.pools.values():
        host, port = pool.servers[0]
        assert pool.redirect_prefix == f"http://{host}:{port}/"
        assert pool.redirect_rewrite == "relative"


class _Origin:
    def origin(self) -> bytes:
        return b"http://acme.example:8080"


@pytest.mark.parametrize(
    ("value", "nginx", "relative"),
    [
        (b"http://odoo_tenant/web?x=1", b"http://acme.example:8080/web?x=1", b"/web?x=1"),
        (b"http://odoo_tenant/", b"http://acme.example:8080/", b"/"),
        (b"HTTP://ODOO_TENANT/web", b"HTTP://ODOO_TENANT/web", b"/web"),
        (b"http://odoo_tenant", b"http://odoo_tenant", b"http://odoo_tenant"),
        (
            b"http://odoo_tenant:8069/web",
            b"http://odoo_tenant:8069/web",
            b"http://odoo_tenant:8069/web",
        ),
        (b"http://odoo_tenant.evil/x", b"http://odoo_tenant.evil/x", b"http://odoo_tenant.evil/x"),
        (b"/web/login", b"/web/login", b"/web/login"),
        (b"web/login", b"web/login", b"web/login"),
    ],
)
def test_location_rule(value: bytes, nginx: bytes, relative: bytes) -> None:
    assert RedirectRule("http://odoo_tenant/", True).location(value, _Origin()) == nginx
    assert RedirectRule("http://odoo_tenant/", False).location(value, _Origin()) == relative


@pytest.mark.parametrize(
    ("value", "nginx", "relative"),
    [
        (b"0; url=http://odoo_tenant/web", b"0; url=/web", b"0; url=/web"),
        (b"0; URL=http://odoo_tenant/web", b"0; URL=/web", b"0; URL=/web"),
        (b"0;url=HTTP://odoo_tenant/web", b"0;url=HTTP://odoo_tenant/web", b"0;url=/web"),
        (
            b"5; url=http://other.example/",
            b"5; url=http://other.example/",
            b"5; url=http://other.example/",
        ),
        (b"5", b"5", b"5"),
    ],
)
def test_refresh_rule(value: bytes, nginx: bytes, relative: bytes) -> None:
    assert RedirectRule("http://odoo_tenant/", True).refresh(value) == nginx
    assert RedirectRule("http://odoo_tenant/", False).refresh(value) == relative


def test_the_upstream_keepalive_limits_default_to_nginx_and_are_read() -> None:
    """nginx's upstream keepalive_timeout 60s, keepalive_requests 1000, keepalive_time 1h."""
    default = build_config(BASE.format(server="", pool="")).pools["tenant"]
    assert (default.keepalive_timeout, default.keepalive_requests, default.keepalive_time) == (
        60.0,
        1000,
        3600.0,
    )
    pool = "    keepalive_timeout: 500ms\n    keepalive_requests: 3\n    keepalive_time: 2m"
    tuned = build_config(BASE.format(server="", pool=pool)).pools["tenant"]
    assert (tuned.keepalive_timeout, tuned.keepalive_requests, tuned.keepalive_time) == (
        0.5,
        3,
        120.0,
    )


def test_the_upstream_keepalive_limits_are_reloadable() -> None:
    running = build_config(BASE.format(server="", pool=""))
    pool = "    keepalive_timeout: 5s\n    keepalive_requests: 10\n    keepalive_time: 10m"
    new = build_config(BASE.format(server="", pool=pool))
    assert not static_changes(running, new)
    tenant = reloaded(running, new).pools["tenant"]
    assert (tenant.keepalive_timeout, tenant.keepalive_requests, tenant.keepalive_time) == (
        5.0,
        10,
        600.0,
    )
