"""The validator on what spans keys: unknown keys (with the allowed name a typo most likely
meant) at every level, shapes and ranges, and cross-references (a route's pool, route sets,
names that must be unique, the one default host), each problem once with its key path and
line, called directly on config.build_config."""

from __future__ import annotations

import pytest

from odoo_router.configuration.model import ConfigError
from odoo_router.configuration.validate import build_config
from unit.configuration.config_text import DEFAULTS, FILENAME, line_of, problems, render

# case -> (slots, the line the problem names, the problem without its place)
UNKNOWN = {
    "server": (
        {"server": "keepalive_timeot: 5s"},
        "keepalive_timeot",
        "server.keepalive_timeot: unknown key (did you mean 'keepalive_timeout'?)",
    ),
    "server, nothing close": ({"server": "colour: red"}, "colour", "server.colour: unknown key"),
    "forwarded": (
        {"server": "forwarded: {mod: trusted}"},
        "forwarded:",
        "server.forwarded.mod: unknown key (did you mean 'mode'?)",
    ),
    "metrics": (
        {"metrics": "lisen: 127.0.0.1:9145"},
        "lisen",
        "metrics.lisen: unknown key (did you mean 'listen'?)",
    ),
    "logging": (
        {"logging": "acces_log: '-'"},
        "acces_log",
        "logging.acces_log: unknown key (did you mean 'access_log'?)",
    ),
    "pool": (
        {"pool": f"{DEFAULTS['pool']}\nkeepalve: 3"},
        "keepalve",
        "pools.tenant.keepalve: unknown key (did you mean 'keepalive'?)",
    ),
    "host": (
        {"host": f"{DEFAULTS['host']}\ndbfliter: ten"},
        "dbfliter",
        "hosts[0].dbfliter: unknown key (did you mean 'dbfilter'?)",
    ),
    "route": (
        {"route": f"{DEFAULTS['route']}\nlang_prefx: true"},
        "lang_prefx",
        "hosts[0].routes[0].lang_prefx: unknown key (did you mean 'lang_prefix'?)",
    ),
    "proxy": (
        {"proxy": "read_timout: 5s"},
        "read_timout",
        "hosts[0].routes[0].proxy.read_timout: unknown key (did you mean 'read_timeout'?)",
    ),
    "redirect": (
        {"redirect": f"{DEFAULTS['redirect']}\nstatu: 301"},
        "statu:",
        "hosts[0].routes[1].redirect.statu: unknown key (did you mean 'status'?)",
    ),
    "auth": (
        {"auth": f"{DEFAULTS['auth']}\nrelm: ops"},
        "relm",
        "hosts[0].routes[2].auth.relm: unknown key (did you mean 'realm'?)",
    ),
    "respond": (
        {"respond": "status: 200\ncontent_typ: text/html"},
        "content_typ",
        "hosts[0].routes[2].respond.content_typ: unknown key (did you mean 'content_type'?)",
    ),
}

SHAPES = {
    "server not a mapping": (
        {"server": "- 127.0.0.1:80"},
        "server:",
        "server: expected a mapping, got a list",
    ),
    "pools empty": (
        {"pool": "servers: []"},
        "servers: []",
        "pools.tenant.servers: expected a non-empty list of 'host:port'",
    ),
    "a bad server among good ones": (
        {"pool": "servers: ['a:1', 'b', '[::1]:2']"},
        "servers: ['a:1'",
        "pools.tenant.servers[1]: missing port in 'b'",
    ),
    "an IPv6 server without brackets": (
        {"pool": "servers: ['::1:80']"},
        "servers: ['::1",
        "pools.tenant.servers[0]: write IPv6 addresses in brackets: '[::1:80]:80'",
    ),
    "a pool that is not a name": (
        {"item": "- {name: x, prefix: /x, proxy: {pool: [tenant]}}"},
        "name: x",
        "hosts[1].routes[0].proxy.pool: expected a pool name, got a list",
    ),
    "respond headers": (
        {"respond": "status: 200\nheaders: [[X-A, 1, 2]]"},
        "headers:",
        "hosts[0].routes[2].respond.headers: expected a list of [name, value] pairs",
    ),
    "auth users empty": (
        {"auth": "users: {}"},
        "users: {}",
        "hosts[0].routes[2].auth.users: expected a mapping of user -> password hash",
    ),
    "a host rule with two selectors": (
        {"host": "name: main\nexact: [a.test]\nregex: '^a'"},
        "- routes:",
        "hosts[0]: a host rule needs exactly one of exact, regex, default",
    ),
    "a route with two matches": (
        {"item": "- {name: x, prefix: /x, exact: /y, respond: {status: 200}}"},
        "name: x",
        "hosts[1].routes[0]: a route needs exactly one of exact, prefix, regex",
    ),
    "a route without an action": (
        {"item": "- {name: x, prefix: /x}"},
        "name: x",
        "hosts[1].routes[0]: a route needs exactly one action of proxy, redirect, respond "
        "(has none)",
    ),
    "rpc firewall without buffering": (
        {"proxy": "rpc_firewall: true\nrequest_buffering: false"},
        "rpc_firewall",
        "hosts[0].routes[0].proxy.rpc_firewall: the RPC firewall reads the whole body: "
        "needs request_buffering",
    ),
}

RANGES = {
    "workers 0": ({"server": "workers: 0"}, "server.workers: must be between 1 and 256, got 0"),
    "workers 257": (
        {"server": "workers: 257"},
        "server.workers: must be between 1 and 256, got 257",
    ),
    "header count": (
        {"server": "max_header_count: 10001"},
        "server.max_header_count: must be between 1 and 10000, got 10001",
    ),
    "listen port 0": (
        {"server": "listen: ['127.0.0.1:0']"},
        "server.listen: bad port '0' in '127.0.0.1:0'",
    ),
    "listen port 65536": (
        {"server": "listen: '[::]:65536'"},
        "server.listen: bad port '65536' in '[::]:65536'",
    ),
    "keepalive 100001": (
        {"pool": f"{DEFAULTS['pool']}\nkeepalive: 100001"},
        "pools.tenant.keepalive: must be between 0 and 100000, got 100001",
    ),
    "respond 199": (
        {"respond": "status: 199"},
        "hosts[0].routes[2].respond.status: status 199 is not allowed here",
    ),
    "redirect 304": (
        {"redirect": "location: /x\nstatus: 304"},
        "hosts[0].routes[1].redirect.status: status 304 is not allowed here",
    ),
    "status as text": (
        {"respond": "status: OK"},
        "hosts[0].routes[2].respond.status: expected a whole number, got a string",
    ),
    "status as boolean": (
        {"respond": "status: true"},
        "hosts[0].routes[2].respond.status: expected a whole number, got a boolean",
    ),
}


def _one(slots: dict[str, str], marker: str, expected: str) -> None:
    text = render(**slots)
    found = problems(text)
    assert found == [f"{expected} ({FILENAME}:{line_of(text, marker)})"], "\n".join(found)


@pytest.mark.parametrize("case", list(UNKNOWN))
def test_unknown_key(case: str) -> None:
    _one(*UNKNOWN[case])


@pytest.mark.parametrize("case", list(SHAPES))
def test_shape(case: str) -> None:
    _one(*SHAPES[case])


@pytest.mark.parametrize("case", list(RANGES))
def test_range(case: str) -> None:
    slots, expected = RANGES[case]
    marker = next(iter(slots.values())).splitlines()[-1]
    _one(slots, marker, expected)


def test_unknown_top_level_key() -> None:
    text = render() + "hostz: []\n"
    assert problems(text) == [
        f"hostz: unknown key (did you mean 'hosts'?) ({FILENAME}:{line_of(text, 'hostz')})"
    ]


def test_a_bad_pool_name() -> None:
    text = render().replace("pools:\n", "pools:\n  'bad name': {servers: ['a:1']}\n")
    assert problems(text) == [
        f"pools.bad name: pool names are letters, digits, '_' and '-' "
        f"({FILENAME}:{line_of(text, 'bad name')})"
    ]


def test_routes_not_a_list() -> None:
    text = "pools: {a: {servers: ['a:1']}}\nhosts:\n  - name: d\n    default: true\n"
    text += "    routes: {a: b}\n"
    assert problems(text) == [
        f"hosts[0].routes: expected a list of routes, got a mapping ({FILENAME}:5)"
    ]


# --------------------------------------------------------------------------- references


def test_unknown_pool_names_the_closest() -> None:
    _one(
        {"proxy": "", "item": "- {name: x, prefix: /x, proxy: {pool: tenant_lpp}}"},
        "name: x",
        "hosts[1].routes[0].proxy.pool: unknown pool 'tenant_lpp' (did you mean 'tenant_lp'?)",
    )


def test_unknown_pool_with_nothing_close() -> None:
    _one(
        {"item": "- {name: x, prefix: /x, proxy: {pool: billing}}"},
        "name: x",
        "hosts[1].routes[0].proxy.pool: unknown pool 'billing'",
    )


def test_a_missing_pools_section_is_one_problem_not_one_per_route() -> None:
    text = "hosts:\n  - {name: d, default: true, routes: [{prefix: /, proxy: {pool: a}}]}\n"
    assert problems(text) == ["pools: missing required key"]  # no line: it is not there


def test_unknown_route_set() -> None:
    _one(
        {"item": "- use: comon"}, "use: comon", "hosts[1].routes[0].use: unknown route set 'comon'"
    )


def test_use_stands_alone() -> None:
    _one(
        {"item": "- {use: common, name: x}"},
        "use: common, name",
        "hosts[1].routes[0]: 'use' stands alone in its list item",
    )


def test_a_route_set_that_includes_itself() -> None:
    text = render().replace("route_sets:\n", "route_sets:\n  loop:\n    - use: loop\n")
    assert problems(text) == []  # defined, not used: nothing to splice
    used = text.replace("      - use: common\n", "      - use: loop\n")
    line = line_of(used, "  loop:") + 1
    assert problems(used) == [
        f"route_sets.loop[0].use: route set 'loop' includes itself ({FILENAME}:{line})"
    ]


def test_a_route_set_used_twice_reports_its_problem_once() -> None:
    text = render(item="- use: common").replace("exact: /health", "exact: health")
    assert problems(text) == [
        f"route_sets.common[0].exact: expected a path starting with '/' "
        f"({FILENAME}:{line_of(text, 'exact: health')})"
    ]


def test_duplicate_host_rule_names() -> None:
    _one(
        {
            "item": "- {name: x, prefix: /x, respond: {status: 200}}",
            "host": "name: default\nexact: [a.test]",
        },
        "- name: default",
        "hosts[1].name: duplicate host rule name 'default'",
    )


def test_an_exact_host_in_two_rules_compares_normalised() -> None:
    text = render().replace(
        "  - name: default\n",
        "  - {name: other, exact: [A.Test.], routes: [{prefix: /, respond: {status: 200}}]}\n"
        "  - name: default\n",
    )
    assert problems(text) == [
        f"hosts[1].exact: host 'a.test' is already in host rule 'main' "
        f"({FILENAME}:{line_of(text, 'name: other')})"
    ]


def test_two_default_host_rules() -> None:
    text = render().replace(
        "  - name: default\n",
        "  - {name: first, default: true, routes: [{prefix: /, respond: {status: 200}}]}\n"
        "  - name: default\n",
    )
    line = line_of(text, "  - name: default\n") + 1
    assert problems(text) == [
        f"hosts[2].default: two default host rules (hosts[1] is the first) ({FILENAME}:{line})"
    ]


def test_no_default_host_rule() -> None:
    text = render().replace("    default: true\n", "    exact: [b.test]\n")
    assert problems(text) == [
        f"hosts: one host rule needs 'default: true' (what unknown hosts get) "
        f"({FILENAME}:{line_of(text, 'hosts:')})"
    ]


def test_a_dbfilter_names_only_its_regex_groups() -> None:
    _one(
        {"host": "name: main\nregex: '^(?P<sub>[a-z]+)\\.test$'\ndbfilter: 'ten_{sub}_{site}'"},
        "dbfilter:",
        "hosts[0].dbfilter: {site} is not a named group of this host rule's regex",
    )
    good = render(host="name: main\nregex: '^(?P<sub>[a-z]+)\\.test$'\ndbfilter: 'ten_{sub}'")
    assert build_config(good, FILENAME).hosts[0].dbfilter == "ten_{sub}"


def test_duplicate_yaml_keys_are_problems() -> None:
    _one(
        {"proxy": "read_timeout: 5s\nread_timeout: 6s"},
        "read_timeout: 6s",
        "hosts[0].routes[0].proxy.read_timeout: duplicate key",
    )


def test_yaml_syntax_error_names_its_line() -> None:
    text = render(proxy="read_timeout: [5s")
    with pytest.raises(ConfigError) as caught:
        build_config(text, f"/somewhere/{FILENAME}")
    (problem,) = caught.value.problems
    assert problem.path == "" and problem.message.startswith("YAML syntax error: ")
    assert problem.where is not None and problem.where.startswith(f"{FILENAME}:")


def test_not_a_mapping_at_the_top() -> None:
    assert problems("- a\n- b\n") == [f"<top>: expected a mapping, got a list ({FILENAME}:1)"]
