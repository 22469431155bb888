"""Every key of router.yaml, given a bad value, is one problem naming its key path and its
line, called directly on the validator (config.build_config). Each table must cover every
key its section accepts: a key added to the model without a case here fails the coverage
test."""

from __future__ import annotations

import pytest

from odoo_router.configuration.hosts import HOST_KEYS
from odoo_router.configuration.pools import POOL_KEYS
from odoo_router.configuration.routes import PROXY_KEYS, ROUTE_KEYS
from odoo_router.configuration.static import SERVER_KEYS
from unit.configuration.config_text import DEFAULTS, FILENAME, line_of, problems, render

# key -> (the slot's line, the problem's path and message without its place)
SERVER = {
    "listen": ('listen: ["127.0.0.1"]', "server.listen: missing port in '127.0.0.1'"),
    "workers": ("workers: many", "server.workers: expected a whole number, got a string"),
    "server_name": ("server_name: 5", "server.server_name: expected a string, got int"),
    "client_max_body_size": (
        "client_max_body_size: lots",
        "server.client_max_body_size: expected a size such as 8k or 50m, got 'lots'",
    ),
    "large_client_header_buffers": (
        "large_client_header_buffers: -1",
        "server.large_client_header_buffers: a size cannot be negative",
    ),
    "max_header_count": (
        "max_header_count: 0",
        "server.max_header_count: must be between 1 and 10000, got 0",
    ),
    "keepalive_timeout": (
        "keepalive_timeout: soon",
        "server.keepalive_timeout: expected a duration such as 60s or 500ms, got 'soon'",
    ),
    "keepalive_requests": (
        "keepalive_requests: 0",
        "server.keepalive_requests: must be between 1 and 1073741824, got 0",
    ),
    "client_header_timeout": (
        "client_header_timeout: -5",
        "server.client_header_timeout: a duration cannot be negative",
    ),
    "client_body_timeout": (
        "client_body_timeout: true",
        "server.client_body_timeout: expected a duration such as 60s, got a boolean",
    ),
    "client_send_timeout": (
        "client_send_timeout: 1d",
        "server.client_send_timeout: expected a duration such as 60s or 500ms, got '1d'",
    ),
    "shutdown_grace": (
        "shutdown_grace: [30s]",
        "server.shutdown_grace: expected a duration such as 60s or 500ms, got ['30s']",
    ),
    "underscores_in_headers": (
        "underscores_in_headers: yes please",
        "server.underscores_in_headers: expected true or false, got a string",
    ),
    "request_buffer_memory": (
        "request_buffer_memory: true",
        "server.request_buffer_memory: expected a size such as 50m, got a boolean",
    ),
    "response_buffer": (
        "response_buffer: 1t",
        "server.response_buffer: expected a size such as 8k or 50m, got '1t'",
    ),
    "proxy_header_max": (
        "proxy_header_max: lots",
        "server.proxy_header_max: expected a size such as 8k or 50m, got 'lots'",
    ),
    "cache_size": (
        "cache_size: 32 megs",
        "server.cache_size: expected a size such as 8k or 50m, got '32 megs'",
    ),
    "cache_max_entry": (
        "cache_max_entry: -1",
        "server.cache_max_entry: a size cannot be negative",
    ),
    "temp_dir": ("temp_dir: [a, b]", "server.temp_dir: expected a string, got a list"),
    "forwarded": ("forwarded: trusted", "server.forwarded: expected a mapping, got a string"),
    "secure_cookies": (
        "secure_cookies: 1",
        "server.secure_cookies: expected true or false, got int",
    ),
    "session_cookie_samesite": (
        "session_cookie_samesite: Loose",
        "server.session_cookie_samesite: expected Lax, Strict, None or null, got 'Loose'",
    ),
    "dbfilter_anchor": (
        "dbfilter_anchor: anchored",
        "server.dbfilter_anchor: expected true or false, got a string",
    ),
    "server_header": (
        "server_header: {a: b}",
        "server.server_header: expected a string, got a mapping",
    ),
    "rate_limit_keys": (
        "rate_limit_keys: 0",
        "server.rate_limit_keys: must be between 1 and 10000000, got 0",
    ),
}

FORWARDED = {
    "mode": (
        "forwarded: {mode: both}",
        "server.forwarded.mode: expected 'append' or 'trusted', got 'both'",
    ),
    "trusted_proxies": (
        "forwarded: {trusted_proxies: [10.0.0.0/8, nope]}",
        "server.forwarded.trusted_proxies: not a CIDR or address: 'nope'",
    ),
}

POOL = {
    "servers": ("servers: []", "pools.tenant.servers: expected a non-empty list of 'host:port'"),
    "keepalive": ("keepalive: -1", "pools.tenant.keepalive: must be between 0 and 100000, got -1"),
    "keepalive_timeout": (
        "keepalive_timeout: idle",
        "pools.tenant.keepalive_timeout: expected a duration such as 60s or 500ms, got 'idle'",
    ),
    "keepalive_requests": (
        "keepalive_requests: 0",
        "pools.tenant.keepalive_requests: must be between 1 and 1073741824, got 0",
    ),
    "keepalive_time": (
        "keepalive_time: -1",
        "pools.tenant.keepalive_time: a duration cannot be negative",
    ),
    "connect_timeout": (
        "connect_timeout: forever",
        "pools.tenant.connect_timeout: expected a duration such as 60s or 500ms, got 'forever'",
    ),
    "max_fails": (
        "max_fails: 1001",
        "pools.tenant.max_fails: must be between 0 and 1000, got 1001",
    ),
    "fail_timeout": (
        "fail_timeout: -1",
        "pools.tenant.fail_timeout: a duration cannot be negative",
    ),
    "redirect_prefix": (
        "redirect_prefix: odoo_tenant",
        "pools.tenant.redirect_prefix: expected a URL prefix like 'http://odoo_tenant/', "
        "got 'odoo_tenant'",
    ),
    "redirect_rewrite": (
        "redirect_rewrite: absolute",
        "pools.tenant.redirect_rewrite: expected 'nginx' or 'relative', got 'absolute'",
    ),
}

R = "hosts[1].routes[0]"  # a route of its own, before the default host's catch-all
ROUTE = {
    "name": (
        "- name: 5\n  prefix: /\n  respond: {status: 200}",
        f"{R}.name: expected a string, got int",
    ),
    "exact": (
        "- exact: web/login\n  respond: {status: 200}",
        f"{R}.exact: expected a path starting with '/'",
    ),
    "prefix": (
        "- prefix: [/]\n  respond: {status: 200}",
        f"{R}.prefix: expected a path starting with '/'",
    ),
    "regex": (
        "- regex: '^/(web'\n  respond: {status: 200}",
        f"{R}.regex: bad regex: missing ), unterminated subpattern at position 2",
    ),
    "lang_prefix": (
        "- prefix: /\n  respond: {status: 200}\n  lang_prefix: maybe",
        f"{R}.lang_prefix: expected true or false, got a string",
    ),
    "auth": (
        "- prefix: /\n  respond: {status: 200}\n  auth: ops",
        f"{R}.auth: expected a mapping, got a string",
    ),
    "rate_limit": (
        "- prefix: /\n  proxy: {pool: tenant}\n  rate_limit: 10/min",
        f"{R}.rate_limit: expected a mapping, got a string",
    ),
    "proxy": ("- prefix: /\n  proxy: tenant", f"{R}.proxy: expected a mapping, got a string"),
    "redirect": (
        "- prefix: /\n  redirect: /x",
        f"{R}.redirect: expected a mapping, got a string",
    ),
    "respond": ("- prefix: /\n  respond: [200]", f"{R}.respond: expected a mapping, got a list"),
}

P = "hosts[0].routes[0].proxy"
PROXY = {
    "pool": None,  # the cross-reference tests (test_config_references.py) cover it
    "connect_timeout": (
        "connect_timeout: 1 hour",
        f"{P}.connect_timeout: expected a duration such as 60s or 500ms, got '1 hour'",
    ),
    "send_timeout": ("send_timeout: -1", f"{P}.send_timeout: a duration cannot be negative"),
    "read_timeout": (
        "read_timeout: soon",
        f"{P}.read_timeout: expected a duration such as 60s or 500ms, got 'soon'",
    ),
    "websocket": ('websocket: "yes"', f"{P}.websocket: expected true or false, got a string"),
    "request_buffering": (
        "request_buffering: 0",
        f"{P}.request_buffering: expected true or false, got int",
    ),
    "response_buffering": (
        "response_buffering: null",
        f"{P}.response_buffering: expected true or false, got null",
    ),
    "rpc_firewall": (
        "rpc_firewall: enabled",
        f"{P}.rpc_firewall: expected true or false, got a string",
    ),
    "rpc_count_logins": (
        "rpc_count_logins: 1",
        f"{P}.rpc_count_logins: expected true or false, got int",
    ),
    "rpc_body_limit": (
        "rpc_body_limit: huge",
        f"{P}.rpc_body_limit: expected a size such as 8k or 50m, got 'huge'",
    ),
    "cache": ("cache: [static]", f"{P}.cache: expected true or false, got a list"),
}

D, A, S = "hosts[0].routes[1].redirect", "hosts[0].routes[2].auth", "hosts[0].routes[2].respond"
OTHERS = {
    "redirect.status": (
        "redirect",
        "location: /x\nstatus: 201",
        f"{D}.status: status 201 is not allowed here",
    ),
    "redirect.location": ("redirect", "location: 7", f"{D}.location: expected a string, got int"),
    "auth.realm": (
        "auth",
        f"{DEFAULTS['auth']}\nrealm: [a]",
        f"{A}.realm: expected a string, got a list",
    ),
    "auth.users": (
        "auth",
        "users: {ops: hunter2}",
        f"{A}.users.ops: expected a hash made by "
        "'odoo-router hash-password' (pbkdf2_sha256$...), never a clear-text password",
    ),
    "respond.status": (
        "respond",
        "status: 600",
        f"{S}.status: must be between 100 and 599, got 600",
    ),
    "respond.body": ("respond", "status: 200\nbody: 42", f"{S}.body: expected a string, got int"),
    "respond.content_type": (
        "respond",
        "status: 200\ncontent_type: null",
        f"{S}.content_type: expected a string, got null",
    ),
    "respond.headers": (
        "respond",
        "status: 200\nheaders: [[X-A]]",
        f"{S}.headers: expected a list of [name, value] pairs",
    ),
    "metrics.listen": ("metrics", "listen: 9145", "metrics.listen: expected 'host:port', got 9145"),
    "metrics.tenant_labels_max": (
        "metrics",
        "tenant_labels_max: 5000000",
        "metrics.tenant_labels_max: must be between 0 and 100000, got 5000000",
    ),
    "logging.access_log": (
        "logging",
        "access_log: 1",
        "logging.access_log: expected a string, got int",
    ),
    "logging.error_log": (
        "logging",
        "error_log: null",
        "logging.error_log: expected a string, got null",
    ),
    "host.name": (
        "host",
        "exact: [a.test]\nname: [main]",
        "hosts[0].name: expected a string, got a list",
    ),
    "host.exact": (
        "host",
        "name: main\nexact: a.test",
        "hosts[0].exact: expected a non-empty list of host names",
    ),
    "host.regex": (
        "host",
        "name: main\nregex: '(?P<sub>'",
        "hosts[0].regex: bad regex: missing ), unterminated subpattern at position 0",
    ),
    "host.default": ("host", "name: main\ndefault: yes-ish", "hosts[0].default: expected true"),
    "host.dbfilter": (
        "host",
        "name: main\nexact: [a.test]\ndbfilter: 5",
        "hosts[0].dbfilter: expected a string, got int",
    ),
    "host.allow": (
        "host",
        "name: main\nexact: [a.test]\nallow: 10.0.0.0/8",
        "hosts[0].allow: expected a list of CIDRs, got a string",
    ),
}


def _check(text: str, marker: str, expected: str) -> None:
    found = problems(text)
    assert found == [f"{expected} ({FILENAME}:{line_of(text, marker)})"], "\n".join(found)


def _last_line(fill: str) -> str:
    return fill.splitlines()[-1]


def test_the_template_is_valid() -> None:
    assert problems(render()) == []


@pytest.mark.parametrize("key", list(SERVER))
def test_server_key(key: str) -> None:
    fill, expected = SERVER[key]
    _check(render(server=fill), fill, expected)


@pytest.mark.parametrize("key", list(FORWARDED))
def test_forwarded_key(key: str) -> None:
    fill, expected = FORWARDED[key]
    _check(render(server=fill), fill, expected)


@pytest.mark.parametrize("key", list(POOL))
def test_pool_key(key: str) -> None:
    fill, expected = POOL[key]
    if key != "servers":
        fill = f'servers: ["127.0.0.1:8069"]\n{fill}'
    _check(render(pool=fill), _last_line(fill), expected)


@pytest.mark.parametrize("key", list(ROUTE))
def test_route_key(key: str) -> None:
    fill, expected = ROUTE[key]
    marker = next(line for line in fill.splitlines() if key in line).lstrip("- ")
    _check(render(item=fill), marker, expected)


@pytest.mark.parametrize("key", [k for k, v in PROXY.items() if v is not None])
def test_proxy_key(key: str) -> None:
    case = PROXY[key]
    assert case is not None
    fill, expected = case
    _check(render(proxy=fill), fill, expected)


@pytest.mark.parametrize("key", list(OTHERS))
def test_other_key(key: str) -> None:
    slot, fill, expected = OTHERS[key]
    _check(render(**{slot: fill}), _last_line(fill), expected)


# Text written into a response head as it is: what a header line cannot carry is a problem
# at load, never a failure when a request is answered (or in explain).
HEADER_TEXT = {
    "redirect.location": (
        "redirect",
        'location: "https://\\u20ac.example/"',
        f"{D}.location: expected text an HTTP header can carry (Latin-1, no control "
        "characters), got 'https://\u20ac.example/'",
    ),
    "auth.realm": (
        "auth",
        f'{DEFAULTS["auth"]}\nrealm: "ops\\r\\nX-Evil: 1"',
        f"{A}.realm: expected text an HTTP header can carry (Latin-1, no control "
        "characters), got 'ops\\r\\nX-Evil: 1'",
    ),
    "respond.content_type": (
        "respond",
        'status: 200\ncontent_type: "text/plain\\n"',
        f"{S}.content_type: expected text an HTTP header can carry (Latin-1, no control "
        "characters), got 'text/plain\\n'",
    ),
    "respond.headers": (
        "respond",
        'status: 200\nheaders: [[X-A, "caf\\u00e9 \\u2615"]]',
        f"{S}.headers[0]: expected text an HTTP header can carry (Latin-1, no control "
        "characters), got 'caf\u00e9 \u2615'",
    ),
}


@pytest.mark.parametrize("key", list(HEADER_TEXT))
def test_header_text(key: str) -> None:
    slot, fill, expected = HEADER_TEXT[key]
    _check(render(**{slot: fill}), _last_line(fill), expected)


def test_header_text_takes_latin1_and_tab() -> None:
    fill = 'status: 200\nheaders: [[X-A, "caf\\u00e9\\tfine"]]'
    assert problems(render(respond=fill)) == []


def test_every_key_has_a_case() -> None:
    assert set(SERVER) == set(SERVER_KEYS)
    assert set(FORWARDED) == {"mode", "trusted_proxies"}
    assert set(POOL) == {"servers", *POOL_KEYS}
    assert set(ROUTE) == set(ROUTE_KEYS)
    assert set(PROXY) == {"pool", *PROXY_KEYS}
    assert {k.split(".")[1] for k in OTHERS if k.startswith("host.")} | {"routes"} == set(HOST_KEYS)


def test_problems_of_several_keys_come_together_in_file_order() -> None:
    """One run reports every problem, not the first one only."""
    text = render(
        server="workers: many\nshutdown_grace: soon",
        pool='servers: ["127.0.0.1:8069"]\nkeepalive: -1',
    )
    assert [p.split(":")[0] for p in problems(text)] == [
        "server.workers",
        "server.shutdown_grace",
        "pools.tenant.keepalive",
    ]
