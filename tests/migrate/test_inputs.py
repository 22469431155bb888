"""The inputs file: typed, every problem with file, line and key; merged with what the
files say (a disagreement names both); the admin allowlist policy; the version sources."""

from __future__ import annotations

import pytest

from odoo_router.migrate.facts import Fact, SubdomainRule, TenantUI, allowlist_problems
from odoo_router.migrate.inputs import InputsError, parse_inputs
from odoo_router.migrate.merge import Overrides, merge_routing, merge_version
from odoo_router.migrate.nginxconf import NginxFacts

GOOD = """\
stacks: {odoo: odoo18-prod, router: seisei-odoo}
services: {odoo: web}
traefik_version: "3.7"
admin:
  hosts: [Admin.Example.COM]
  allow: [203.0.113.0/24, "2001:db8::/48"]
tenants:
  subdomains: {domain: erp.example.com, db_prefix: ten_}
  hosts: {shop.example.org: ten_shop}
tenant_ui:
  redirect: https://app.example.com
  login_redirect: https://app.example.com/login
master_password: {file: /root/secrets/master}
trusted_proxies: [172.18.0.0/16]
"""


def test_a_complete_file() -> None:
    i = parse_inputs(GOOD, "inputs.yaml")
    assert i.stacks["odoo"] == Fact("odoo18-prod", "inputs.yaml:1 (stacks.odoo)")
    assert i.services["odoo"].value == "web"
    assert i.traefik_version == Fact("3.7", "inputs.yaml:3 (traefik_version)")
    assert [h.value for h in i.admin_hosts or []] == ["admin.example.com"]  # lowercased
    assert i.admin_allow == Fact(("203.0.113.0/24", "2001:db8::/48"), "inputs.yaml:6 (admin.allow)")
    assert i.subdomains is not None
    assert i.subdomains[0].value == SubdomainRule("erp.example.com", "ten_{sub}")
    assert i.hosts == {
        "shop.example.org": Fact("ten_shop", "inputs.yaml:9 (tenants.hosts.shop.example.org)")
    }
    assert i.tenant_ui is not None
    assert i.tenant_ui.value == TenantUI("https://app.example.com", "https://app.example.com/login")
    assert i.master_password == Fact(
        "/root/secrets/master", "inputs.yaml:13 (master_password.file)"
    )
    assert i.trusted_proxies is not None and i.trusted_proxies.value == ("172.18.0.0/16",)
    proxy = parse_inputs(
        "admin: {allow: [192.0.2.1]}\ntenant_ui: proxy\nmaster_password: generate\n", "i.yaml"
    )
    assert proxy.tenant_ui is not None and proxy.tenant_ui.value.proxy
    assert proxy.master_password == Fact("generate", "i.yaml:3 (master_password)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("master_password: generate\n", "i.yaml:1: admin.allow: missing: the address ranges"),
        (
            "admin:\n  allow: [10.0.0.0/33]\n",
            "i.yaml:2: admin.allow[0]: '10.0.0.0/33' is not an address",
        ),
        ("admin:\n  allow: 10.0.0.0/8\n", "i.yaml:2: admin.allow: expected a list of CIDR ranges"),
        (
            "admin: {allow: [1.2.3.4]}\ntraefik_version: 2.10\n",
            "i.yaml:2: traefik_version: 2.1: write the version in quotes",
        ),
        (
            "admin: {allow: [1.2.3.4]}\ntraefik_version: latest\n",
            "i.yaml:2: traefik_version: 'latest': expected a version",
        ),
        ("admin: {allow: [1.2.3.4], host: [a.b]}\n", "i.yaml:1: admin.host: unknown key"),
        (
            "admin: {allow: [1.2.3.4]}\ntenant_ui: {redirect: ftp://x}\n",
            "i.yaml:2: tenant_ui.redirect: 'ftp://x' is not an http(s) URL",
        ),
        (
            "admin: {allow: [1.2.3.4]}\ntenant_ui: redirect\n",
            "i.yaml:2: tenant_ui: 'redirect': expected proxy",
        ),
        (
            "admin: {allow: [1.2.3.4]}\nmaster_password: changeme\n",
            "i.yaml:2: master_password: 'changeme': expected generate",
        ),
        (
            "admin: {allow: [1.2.3.4]}\ntenants: {hosts: {a.b: 'x y'}}\n",
            "i.yaml:2: tenants.hosts.a.b: 'x y' is not a database name",
        ),
        ("admin: {allow: [1.2.3.4]}\nstacks: {db: x}\n", "i.yaml:2: stacks.db: unknown key"),
        (
            "admin: {allow: [1.2.3.4]}\nadmin: {allow: [1.2.3.5]}\n",
            "i.yaml:2: admin: duplicate key",
        ),
        ("admin: [\n", "i.yaml:2: not valid YAML"),
        ("- a\n", "i.yaml:1: : expected a mapping, got a list"),
    ],
)
def test_each_problem_names_line_and_key(text: str, message: str) -> None:
    with pytest.raises(InputsError) as exc:
        parse_inputs(text, "i.yaml")
    assert any(p.startswith(message) for p in exc.value.problems), exc.value.problems


def test_every_problem_at_once() -> None:
    with pytest.raises(InputsError) as exc:
        parse_inputs("admin: {allow: [x]}\nbogus: 1\ntenant_ui: {}\n", "i.yaml")
    assert len(exc.value.problems) == 3


def _nginx() -> NginxFacts:
    return NginxFacts(
        admin_hosts=[Fact("admin.example.com", "r.conf:3")],
        hosts={"shop.example.org": Fact("ten_shop", "r.conf:4")},
        subdomains=[Fact(SubdomainRule("erp.example.com", "ten_{sub}", "[a-z0-9]+"), "r.conf:5")],
        tenant_ui=Fact(
            TenantUI("https://app.example.com", "https://app.example.com/login"), "r.conf:9"
        ),
    )


def test_inputs_that_repeat_the_files_agree() -> None:
    m = merge_routing(_nginx(), parse_inputs(GOOD, "inputs.yaml"), Overrides(), {})
    assert m.problems == []
    r = m.routing
    assert r.admin_hosts == [Fact("admin.example.com", "r.conf:3")]  # the files' source
    assert r.admin_allow is not None and r.admin_allow.source == "inputs.yaml:6 (admin.allow)"
    assert r.subdomains[0].value.chars == "[a-z0-9]+"  # nginx's class kept
    assert r.trusted_proxies.source == "inputs.yaml:14 (trusted_proxies)"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("hosts: [Admin.Example.COM]", "hosts: [ops.example.com]"),
            "admin hosts: the inputs say ops.example.com (inputs.yaml:5 (admin.hosts[0])), "
            "the nginx router says admin.example.com (r.conf:3)",
        ),
        (
            ("{shop.example.org: ten_shop}", "{shop.example.org: ten_other}"),
            "tenants.hosts.shop.example.org: the inputs say ten_other "
            "(inputs.yaml:9 (tenants.hosts.shop.example.org)), the files say ten_shop (r.conf:4)",
        ),
        (
            ("db_prefix: ten_", "db_prefix: t_"),
            "tenants.subdomains: the inputs say <sub>.erp.example.com -> t_<sub> "
            "(inputs.yaml:8 (tenants.subdomains)), the nginx router says "
            "<sub>.erp.example.com -> ten_<sub> (r.conf:5)",
        ),
        (
            ("redirect: https://app.example.com\n", "redirect: https://other.example.com\n"),
            "tenant_ui.redirect: the inputs say https://other.example.com "
            "(inputs.yaml:11 (tenant_ui.redirect)), the nginx router says "
            "https://app.example.com (r.conf:9)",
        ),
    ],
)
def test_a_disagreement_names_both_sources(edit: tuple[str, str], message: str) -> None:
    inputs = parse_inputs(GOOD.replace(*edit), "inputs.yaml")
    m = merge_routing(_nginx(), inputs, Overrides(), {})
    assert any(p.startswith(message) for p in m.problems), m.problems


def test_inputs_add_what_the_files_lack_and_overrides_win() -> None:
    inputs = parse_inputs(GOOD, "inputs.yaml")
    m = merge_routing(NginxFacts(), inputs, Overrides(admin_allow=("198.51.100.0/24",)), {})
    assert m.problems == []
    r = m.routing
    assert r.admin == ("admin.example.com",)
    assert r.hosts["shop.example.org"].source == "inputs.yaml:9 (tenants.hosts.shop.example.org)"
    assert r.admin_allow == Fact(("198.51.100.0/24",), "--admin-allow")
    assert r.database_of("acme.erp.example.com") == "ten_acme"
    bare = merge_routing(
        NginxFacts(), parse_inputs("admin: {allow: [192.0.2.0/24]}\n", "i.yaml"), Overrides(), {}
    )
    assert bare.problems == [
        "no admin host: the nginx router names none; give admin.hosts in the inputs file"
    ]


@pytest.mark.parametrize(
    ("cidr", "subnets", "broad", "found"),
    [
        ("0.0.0.0/0", {}, True, "allows every address"),
        ("::/0", {}, False, "allows every address"),
        ("172.18.0.0/16", {}, False, "overlaps 172.16.0.0/12, Docker's address pool"),
        ("172.0.0.0/8", {}, False, "overlaps 172.16.0.0/12"),
        ("192.168.0.0/16", {"proxy": ["192.168.16.0/20"]}, False, "the docker network proxy"),
        ("172.18.0.0/16", {}, True, None),
        ("203.0.113.0/24", {"proxy": ["192.168.16.0/20"]}, False, None),
    ],
)
def test_allowlist_policy(
    cidr: str, subnets: dict[str, list[str]], broad: bool, found: str | None
) -> None:
    got = allowlist_problems([cidr], "i.yaml:2 (admin.allow)", subnets, broad)
    if found is None:
        assert got == []
    else:
        (p,) = got
        assert p.startswith("i.yaml:2 (admin.allow): ") and found in p


def test_the_version_sources() -> None:
    given = parse_inputs('admin: {allow: [1.2.3.4]}\ntraefik_version: "3.7"\n', "i.yaml")
    none = parse_inputs("admin: {allow: [1.2.3.4]}\n", "i.yaml")
    image = Fact("3.7.6", "image tag traefik:v3.7.6 (edge/docker-compose.yml:3)")
    assert merge_version(given, Overrides(), None, image, "") == (image, [])
    assert merge_version(given, Overrides(), None, None, "tag 'latest'") == (
        given.traefik_version,
        [],
    )
    v, problems = merge_version(
        none, Overrides(), None, None, "image tag 'latest' does not give the minor version"
    )
    assert v is None and problems[0].startswith("Traefik version unknown (image tag 'latest'")
    v, problems = merge_version(given, Overrides(), Fact("3.1.2", "Traefik API"), image, "")
    assert problems == [
        "traefik_version: the inputs say 3.7 (i.yaml:2 (traefik_version)), "
        "but 3.1.2 runs (Traefik API)"
    ]
    assert merge_version(none, Overrides(traefik_version="v2.11"), None, image, "")[0] == Fact(
        "2.11", "--traefik-version"
    )


def test_the_commented_example_is_valid() -> None:
    from pathlib import Path

    example = Path(__file__).parents[2] / "config" / "migrate-inputs.example.yaml"
    i = parse_inputs(example.read_text(), example.name)
    assert i.admin_allow is not None and i.master_password is not None
    assert i.stacks["router"].value == "seisei-odoo"


def test_a_misspelt_key_is_one_message() -> None:
    with pytest.raises(InputsError) as exc:
        parse_inputs("admin:\n  allowlist: [192.0.2.0/24]\n", "i.yaml")
    assert exc.value.problems == ["i.yaml:2: admin.allowlist: unknown key (did you mean allow?)"]
