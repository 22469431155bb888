"""The route option ``rate_limit`` and ``server.rate_limit_keys``: every bad value is one
problem naming its key path and line (configuration/ratelimit.py)."""

from __future__ import annotations

import pytest

from odoo_router.configuration.model import ConfigError, RateLimit
from odoo_router.configuration.ratelimit import parse_rate
from odoo_router.configuration.validate import build_config
from unit.configuration.config_text import FILENAME, line_of, problems, render

R = "hosts[1].routes[0]"


def _item(limit: str, action: str = "proxy: {pool: tenant}") -> str:
    return f"- name: login\n  prefix: /web/login\n  {action}\n  rate_limit: {limit}"


RATE_FORMS = "expected a rate such as 10/min (units /s, /min, /h), got"
BAD = {
    "unit": ("rate: 10/day", "rate", f"{RATE_FORMS} '10/day'"),
    "zero": ("rate: 0/min", "rate", "a rate must be positive, got '0/min'"),
    "negative": ("rate: -1/s", "rate", f"{RATE_FORMS} '-1/s'"),
    "number": ("rate: 10", "rate", "expected a rate such as 10/min, got int"),
    "key": ("key: session", "key", "expected one of client_ip, client_ip_db, got 'session'"),
    "burst zero": ("burst: 0", "burst", "must be between 1 and 1000000, got 0"),
    "burst text": ("burst: five", "burst", "expected a whole number, got a string"),
}
GOOD = {"key": "key: client_ip", "rate": "rate: 10/min", "burst": "burst: 5"}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_value_names_its_key_and_line(case: str) -> None:
    fill, key, message = BAD[case]
    limit = "{" + ", ".join(fill if k == key else v for k, v in GOOD.items()) + "}"
    text = render(item=_item(limit))
    assert problems(text) == [
        f"{R}.rate_limit.{key}: {message} ({FILENAME}:{line_of(text, 'rate_limit:')})"
    ]


def test_missing_and_unknown_keys() -> None:
    text = render(item=_item("{key: client_ip, rate: 10/min, brust: 5}"))
    found = problems(text)
    line = line_of(text, "rate_limit:")
    assert found == [
        f"{R}.rate_limit.brust: unknown key (did you mean 'burst'?) ({FILENAME}:{line})",
        f"{R}.rate_limit.burst: missing required key ({FILENAME}:{line})",
    ]


def test_needs_a_proxy_action() -> None:
    text = render(item=_item("{key: client_ip, rate: 10/min, burst: 5}", "respond: {status: 200}"))
    assert problems(text) == [
        f"{R}.rate_limit: a rate limit guards what reaches Odoo: needs a proxy action "
        f"({FILENAME}:{line_of(text, 'rate_limit:')})"
    ]


def test_not_a_mapping() -> None:
    text = render(item=_item("[10/min]"))
    line = line_of(text, "rate_limit:")
    assert problems(text) == [f"{R}.rate_limit: expected a mapping, got a list ({FILENAME}:{line})"]


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("10/min", 10 / 60), ("2/s", 2.0), ("3600/h", 1.0), ("0.5/s", 0.5), (" 6 / min ", 0.1)],
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text)[0] == pytest.approx(per_second)


def test_a_good_limit_reaches_the_route_and_the_keys_default() -> None:
    config = build_config(render(item=_item("{key: client_ip_db, rate: 10/min, burst: 5}")))
    route = config.hosts[1].routes[0]
    assert route.rate_limit == RateLimit("client_ip_db", 10 / 60, 5, "client_ip_db 10/min, burst 5")
    assert config.server.rate_limit_keys == 100_000
    config = build_config(render(server="rate_limit_keys: 64"))
    assert config.server.rate_limit_keys == 64


def test_every_problem_of_a_limit_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build_config(render(item=_item("{key: nope, rate: 1/week, burst: -2}")), FILENAME)
    assert [p.path for p in info.value.problems] == [
        f"{R}.rate_limit.key",
        f"{R}.rate_limit.rate",
        f"{R}.rate_limit.burst",
    ]


# -- rpc_count_logins: the admin host's RPC logins counted without the firewall ----------

LIMIT = "{key: client_ip, rate: 10/min, burst: 5}"


def _counting(proxy: str, limit: str | None = LIMIT) -> str:
    item = f"- name: rpc\n  regex: '^/(jsonrpc|xmlrpc)'\n  proxy: {{pool: tenant, {proxy}}}"
    return item + (f"\n  rate_limit: {limit}" if limit is not None else "")


def test_count_logins_needs_a_rate_limit() -> None:
    text = render(item=_counting("rpc_count_logins: true", None))
    assert problems(text) == [
        f"{R}.proxy.rpc_count_logins: counts RPC logins against the route's rate_limit: the "
        f"route needs one ({FILENAME}:{line_of(text, 'rpc_count_logins')})"
    ]


def test_count_logins_and_the_firewall_are_one_or_the_other() -> None:
    text = render(item=_counting("rpc_count_logins: true, rpc_firewall: true"))
    assert problems(text) == [
        f"{R}.proxy.rpc_count_logins: the RPC firewall counts the calls that log in already: "
        f"drop one of the two ({FILENAME}:{line_of(text, 'rpc_count_logins')})"
    ]


def test_count_logins_needs_request_buffering() -> None:
    text = render(item=_counting("rpc_count_logins: true, request_buffering: false"))
    assert problems(text) == [
        f"{R}.proxy.rpc_count_logins: counting RPC logins reads the whole body first: needs "
        f"request_buffering ({FILENAME}:{line_of(text, 'rpc_count_logins')})"
    ]


def test_count_logins_is_a_boolean() -> None:
    text = render(item=_counting("rpc_count_logins: maybe"))
    (problem,) = problems(text)
    assert problem.startswith(f"{R}.proxy.rpc_count_logins: expected true or false")


def test_count_logins_reaches_the_decision() -> None:
    from odoo_router.routing.table import Facts, compile_table, decide

    config = build_config(render(item=_counting("rpc_count_logins: true")))
    route = config.hosts[1].routes[0]
    assert route.action.rpc_count_logins is True  # type: ignore[union-attr]
    d = decide(compile_table(config), Facts("POST", "unknown.test", "/jsonrpc"))  # default host
    assert (d.inspect, d.firewall_db, d.limit_at_head, d.buffered) == (True, None, True, True)
