"""The nginx router read by evaluating it: facts whatever the variable names and shapes,
each with the line that decided it; syntax errors with file and line."""

from __future__ import annotations

import pytest

from odoo_router.migrate.nginx_eval import NginxConfig
from odoo_router.migrate.nginx_parse import NginxSyntaxError, parse
from odoo_router.migrate.nginxconf import NginxError, pattern_rule, read_nginx

MAPS = """
map $host $db {
    hostnames;
    default            "";
    ops.example.com    "";
    shop.example.org   t_shop;
    ~^([a-z0-9]+)\\.erp\\.example\\.com$   t_$1;
}
map $host $adm { default no; ops.example.com yes; }
map $host $sub { default 0; ~^[a-z0-9]+\\.erp\\.example\\.com$ 1; }
"""

# One configuration per shape; each must give the same facts.
SHAPES = {
    "maps_and_if": MAPS
    + """
server {
    listen 80;
    proxy_set_header X-Odoo-dbfilter $db;
    location ~ ^/web/database/ {
        if ($adm != yes) { return 403; }
        proxy_pass http://odoo:8069;
    }
    location = / {
        if ($sub) { return 302 https://app.example.com; }
        proxy_pass http://odoo:8069;
    }
    location = /web/login {
        if ($sub = 1) { return 302 https://app.example.com/login; }
        proxy_pass http://odoo:8069;
    }
    location / { proxy_pass http://odoo:8069; }
}
""",
    "error_page_jump": MAPS
    + """
server {
    listen 80;
    set $f $db;
    error_page 418 = @admin;
    error_page 419 = @ui;
    location @admin { proxy_set_header X-Odoo-dbfilter ""; proxy_pass http://odoo_admin; }
    location @ui { return 302 https://app.example.com$uri; }
    location ^~ /web/database/ {
        if ($adm = yes) { return 418; }
        return 404;
    }
    location ~ ^/(jsonrpc|xmlrpc|websocket) {
        if ($adm = yes) { return 418; }
        proxy_set_header X-Odoo-dbfilter $f;
        proxy_pass http://odoo;
    }
    location = /web/login {
        if ($sub) { rewrite ^ https://app.example.com/login redirect; }
        if ($adm = yes) { return 418; }
        proxy_set_header X-Odoo-dbfilter $f;
        proxy_pass http://odoo;
    }
    location / {
        if ($sub) { return 419; }
        if ($adm = yes) { return 418; }
        proxy_set_header X-Odoo-dbfilter $f;
        proxy_pass http://odoo;
    }
}
upstream odoo { server odoo-web:8069; }
upstream odoo_admin { server odoo-web:8069; }
""",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_facts_whatever_the_shape(shape: str) -> None:
    f = read_nginx([("router.conf", SHAPES[shape])], None)
    assert [a.value for a in f.admin_hosts] == ["ops.example.com"]
    assert {h: x.value for h, x in f.hosts.items()} == {"shop.example.org": "t_shop"}
    (sub,) = f.subdomains
    assert (sub.value.domain, sub.value.template, sub.value.chars) == (
        "erp.example.com",
        "t_{sub}",
        "[a-z0-9]+",
    )
    assert sub.source == "router.conf:7"  # the map entry that names the database
    ui = f.tenant_ui
    assert ui is not None and ui.value.login_redirect == "https://app.example.com/login"
    assert ui.value.redirect is not None and ui.value.redirect.startswith("https://app.example.com")
    assert f.admin_hosts[0].source.startswith("router.conf:5")


def test_server_blocks_per_host_and_server_name_captures() -> None:
    conf = """
    server {
        listen 8080;
        server_name ~^(?<t>[a-z]+)\\.shop\\.example$;
        location = /up { return 204; }
        location / { proxy_set_header X-Odoo-dbfilter ^shop_$t$; proxy_pass http://odoo:8069; }
    }
    server {
        listen 8080;
        server_name admin.shop.example;
        client_max_body_size 80m;
        location / { proxy_set_header X-Odoo-dbfilter ""; proxy_pass http://odoo:8069; }
    }
    server {
        listen 8080 default_server;
        return 444;
    }
    """
    f = read_nginx([("sites.conf", conf)], None)
    assert [a.value for a in f.admin_hosts] == ["admin.shop.example"]
    assert f.admin_hosts[0].source == "sites.conf:10"  # its server_name
    (sub,) = f.subdomains
    assert (sub.value.domain, sub.value.template) == ("shop.example", "shop_{sub}")
    assert f.tenant_ui is not None and f.tenant_ui.value.proxy
    assert f.listen_port == 8080 and f.health_path is not None and f.health_path.value == "/up"
    assert f.health_body == ""  # what monitors read there, kept by router.yaml
    assert f.unknown_host == "answered 444 (sites.conf:16)"


def test_header_inheritance_and_a_client_controlled_header() -> None:
    conf = """
    map $host $db { default ""; a.example.com t_a; b.example.com t_b; }
    server {
        proxy_set_header X-Odoo-dbfilter $db;
        location /websocket {
            proxy_set_header Upgrade $http_upgrade;   # replaces the server's list: no dbfilter
            proxy_pass http://odoo:8072;
        }
        location / { proxy_pass http://odoo:8069; }
    }
    """
    cfg = NginxConfig.build(parse(conf, "r.conf"))
    assert cfg.request("a.example.com", "/jsonrpc").dbfilter == "t_a"
    ws = cfg.request("a.example.com", "/websocket")
    assert ws.kind == "proxy" and ws.dbfilter is None  # the client's header would pass
    unknown = cfg.request("x.example.com", "/")
    assert unknown.dbfilter == ""  # an empty value: nginx sends no header at all


def test_include_through_a_resolver() -> None:
    files = {"/etc/nginx/conf.d/common.inc": 'proxy_set_header X-Odoo-dbfilter "$db";'}

    def resolve(pattern: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in files.items() if k == pattern]

    conf = """
    map $host $db { default ""; a.example.com t_a; admin.example.com ""; }
    server { include /etc/nginx/conf.d/common.inc; location / { proxy_pass http://o; } }
    """
    f = read_nginx([("main.conf", conf)], resolve)
    assert f.hosts["a.example.com"].value == "t_a"
    assert [a.value for a in f.admin_hosts] == ["admin.example.com"]


def test_a_wildcard_host_with_one_database() -> None:
    conf = """
    map $host $db { hostnames; default ""; .partner.example t_partner; admin.example.com ""; }
    server { proxy_set_header X-Odoo-dbfilter $db; location / { proxy_pass http://o; } }
    """
    f = read_nginx([("r.conf", conf)], None)
    (sub,) = f.subdomains
    assert (sub.value.domain, sub.value.template) == ("partner.example", "t_partner")
    assert sub.value.database("anything") == "t_partner"


def test_a_regex_filter_is_not_a_database() -> None:
    conf = """
    map $host $db { default ""; a.example.com "^t_.*$"; }
    server { proxy_set_header X-Odoo-dbfilter $db; location / { proxy_pass http://o; } }
    """
    f = read_nginx([("r.conf", conf)], None)
    assert f.problems == ["r.conf:2: a.example.com gets X-Odoo-dbfilter '^t_.*$', not one database"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server { listen 80 }", "r.conf:1: listen: missing ;"),
        ("server { listen 80;", "r.conf:1: { is never closed"),
        ("listen 80; }", "r.conf:1: unexpected }"),
        ('server { return 200 "ok; }', 'r.conf:1: unclosed " quote'),
    ],
)
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(NginxSyntaxError, match=message):
        parse(text, "r.conf")
    with pytest.raises(NginxError, match=message):
        read_nginx([("r.conf", text)], None)


def test_escapes_follow_nginx() -> None:
    (d,) = parse('map $host $x { ~^a\\.b$ "q\\"x"; }', "r.conf")
    assert d.block is not None
    assert d.block[0].name == "~^a\\.b$" and d.block[0].args == ['q"x']


@pytest.mark.parametrize(
    ("rx", "want"),
    [
        (r"^(?<s>[a-z0-9]+)\.erp\.example\.com$", ("erp.example.com", "[a-z0-9]+")),
        (r"^(?P<s>[a-z-]+)\.x\.io$", ("x.io", "[a-z-]+")),
        (r"^([^.]+)\.x\.io$", ("x.io", "[^.]+")),
        (r"^[a-z0-9]+\.erp\.example\.com$", ("erp.example.com", "[a-z0-9]+")),
        (r"^(?<s>[a-z]+)\.(eu|us)\.x\.io$", None),
    ],
)
def test_host_patterns(rx: str, want: tuple[str, str] | None) -> None:
    assert pattern_rule(rx) == want
