"""TomlText on the TOML forms Traefik's dynamic files are written in: each edit changes the
lines it must and every other line stays byte for byte (comments, blank lines, quoting,
line endings); the result reads as the data with the edits made."""

from __future__ import annotations

import tomllib

import pytest

from odoo_router.migrate.tomltext import TomlError, TomlText

TABLES = """\
# routers, one table each
[http.routers.a]
  rule = "Host(`a`)"   # the shop
  service = "old"
  middlewares = ["dbf", "sec"]

# b is the admin host
[http.routers."b-admin"]
  rule = 'Host(`b`)'
  service = "old"
  [http.routers."b-admin".tls]
    certResolver = "le"

[http.routers.c]
  rule = "Host(`c`)"
  service = "other"
"""


def test_a_scalar_in_a_table_changes_alone() -> None:
    y = TomlText(TABLES, "r.toml")
    y.set_scalar(("http", "routers", "a", "service"), "router")
    assert y.render() == TABLES.replace('service = "old"', 'service = "router"', 1)


def test_an_array_item_goes_and_the_comment_after_the_value_stays() -> None:
    text = TABLES.replace('["dbf", "sec"]', '["dbf", "sec"]  # order matters')
    y = TomlText(text, "r.toml")
    y.delete(("http", "routers", "a", "middlewares", 0))
    y.append(("http", "routers", "a", "middlewares"), "allow@file")
    out = y.render()
    assert '  middlewares = ["sec", "allow@file"]  # order matters\n' in out
    assert tomllib.loads(out)["http"]["routers"]["a"]["middlewares"] == ["sec", "allow@file"]


def test_a_quoted_table_goes_with_its_sub_table_and_its_comment() -> None:
    y = TomlText(TABLES, "r.toml")
    y.delete(("http", "routers", "b-admin"))
    out = y.render()
    assert out == TABLES.replace(
        "# b is the admin host\n[http.routers.\"b-admin\"]\n  rule = 'Host(`b`)'\n"
        '  service = "old"\n  [http.routers."b-admin".tls]\n    certResolver = "le"\n\n',
        "",
    )


def test_a_literal_string_keeps_its_quotes() -> None:
    y = TomlText(TABLES, "r.toml")
    y.set_scalar(("http", "routers", "b-admin", "rule"), "Host(`b2`)")
    assert "  rule = 'Host(`b2`)'\n" in y.render()


def test_a_key_inserted_after_a_sibling_in_the_table_s_indentation() -> None:
    y = TomlText(TABLES, "r.toml")
    y.insert(("http", "routers", "b-admin"), "priority", 100, after="service")
    out = y.render()
    assert '  service = "old"\n  priority = 100\n  [http.routers."b-admin".tls]' in out


def test_a_new_router_is_a_new_table_after_the_last_one() -> None:
    y = TomlText(TABLES, "r.toml")
    body = {"rule": "Host(`d`)", "service": "router", "tls": {"certResolver": "le"}}
    y.insert(("http", "routers"), "d", body, comment="added by odoo-router-migrate")
    out = y.render()
    assert out == TABLES + (
        '\n# added by odoo-router-migrate\n[http.routers.d]\n  rule = "Host(`d`)"\n'
        '  service = "router"\n  tls = { certResolver = "le" }\n'
    )


DOTTED = """\
# the filters, one line each

# the tenant's database (goes with its line)
http.middlewares.dbf.headers.customRequestHeaders.X-Odoo-dbfilter = "^t_"
http.middlewares.sec.headers.stsSeconds = 31536000

[http.routers]
a.rule = "Host(`a`)"
a.service = "old"
"""


def test_dotted_keys_go_and_new_ones_are_dotted() -> None:
    y = TomlText(DOTTED, "m.toml")
    y.delete(("http", "middlewares", "dbf"))
    y.insert(("http", "middlewares"), "allow", {"ipAllowList": {"sourceRange": ["192.0.2.0/24"]}})
    y.insert(("http", "routers", "a"), "priority", 9)
    out = y.render()
    assert out == (
        "# the filters, one line each\n\n"
        "http.middlewares.sec.headers.stsSeconds = 31536000\n"
        'http.middlewares.allow.ipAllowList = { sourceRange = ["192.0.2.0/24"] }\n'
        "\n[http.routers]\n"
        'a.rule = "Host(`a`)"\na.service = "old"\na.priority = 9\n'
    )


INLINE = """\
[http.routers]
  a = { rule = "Host(`a`)", service = "old", middlewares = ["dbf"] }   # shop
  b = { rule = "Host(`b`)", service = "blog" }
"""


def test_an_inline_table_is_rewritten_on_its_line_only() -> None:
    y = TomlText(INLINE, "i.toml")
    y.set_scalar(("http", "routers", "a", "service"), "router")
    y.delete(("http", "routers", "a", "middlewares"))
    y.insert(("http", "routers", "a"), "priority", 5)
    out = y.render()
    assert out.splitlines()[1] == (
        '  a = { rule = "Host(`a`)", service = "router", priority = 5 }   # shop'
    )
    assert out.splitlines()[2] == INLINE.splitlines()[2]


def test_an_inline_entry_goes_with_its_comment_and_a_new_one_is_inline() -> None:
    text = "[http.routers]\n  # the old shop\n" + INLINE.split("\n", 1)[1]
    y = TomlText(text, "i.toml")
    y.delete(("http", "routers", "a"))
    y.insert(("http", "routers"), "c", {"rule": "Host(`c`)", "service": "router"})
    assert y.render() == (
        "[http.routers]\n"
        '  b = { rule = "Host(`b`)", service = "blog" }\n'
        '  c = { rule = "Host(`c`)", service = "router" }\n'
    )


def test_a_multi_line_array_keeps_one_item_a_line() -> None:
    text = '[http.routers.a]\nmiddlewares = [\n    "dbf",\n    "sec",\n]\nservice = "s"\n'
    y = TomlText(text, "a.toml")
    y.delete(("http", "routers", "a", "middlewares", 0))
    assert y.render() == '[http.routers.a]\nmiddlewares = [\n    "sec",\n]\nservice = "s"\n'


def test_an_array_of_tables_service_goes_whole() -> None:
    text = (
        "[http.services.keep.loadBalancer]\n"
        "  [[http.services.keep.loadBalancer.servers]]\n    url = 'http://r:80'\n\n"
        "# the old container\n"
        "[http.services.old.loadBalancer]\n"
        "  [[http.services.old.loadBalancer.servers]]\n    url = 'http://odoo:8069'\n"
        "  [[http.services.old.loadBalancer.servers]]\n    url = 'http://odoo2:8069'\n"
    )
    y = TomlText(text, "s.toml")
    assert y.data["http"]["services"]["old"]["loadBalancer"]["servers"][1]["url"].startswith(
        "http://odoo2"
    )
    y.delete(("http", "services", "old"))
    assert y.render() == text.split("\n\n")[0] + "\n"


def test_crlf_line_endings_stay_and_new_lines_use_them() -> None:
    text = TABLES.replace("\n", "\r\n")
    y = TomlText(text, "r.toml")
    y.delete(("http", "routers", "a", "middlewares", 0))
    y.insert(("http", "routers", "c"), "priority", 3)
    out = y.render()
    assert "\n" not in out.replace("\r\n", "")
    assert '  middlewares = ["sec"]\r\n' in out
    assert 'service = "other"\r\n  priority = 3\r\n' in out


def test_blank_separations_are_not_doubled_by_a_removal() -> None:
    y = TomlText(TABLES, "r.toml")
    y.delete(("http", "routers", "a"))
    out = y.render()
    assert out.startswith("# b is the admin host\n")  # the first table's comment went with it
    assert "\n\n\n" not in out


def test_errors_name_the_file_and_line() -> None:
    with pytest.raises(TomlError, match=r"^bad\.toml:1:1: not valid TOML"):
        TomlText("[http\n", "bad.toml")
    y = TomlText(TABLES, "r.toml")
    with pytest.raises(TomlError, match=r"^r\.toml:1:1: http\.routers\.zz is not in the file"):
        y.delete(("http", "routers", "zz"))
    with pytest.raises(TomlError, match=r"already has the key 'rule'"):
        y.insert(("http", "routers", "a"), "rule", "x")


def test_multi_line_strings_and_hashes_in_strings_are_read_as_values() -> None:
    text = (
        '[http.routers.a]\nrule = """Host(`a`) # not a comment\n"""\n'
        "note = '''it's\n'''\nservice = \"old\"   # a comment\n"
    )
    y = TomlText(text, "a.toml")
    y.set_scalar(("http", "routers", "a", "service"), "new")
    out = y.render()
    assert out == text.replace('service = "old"', 'service = "new"')


def test_a_byte_order_mark_is_read_past_and_kept() -> None:
    """Traefik loads a TOML file saved with a UTF-8 BOM (tomllib alone refuses it)."""
    y = TomlText("\ufeff" + TABLES, "r.toml")
    assert y.data["http"]["routers"]["c"]["service"] == "other"
    y.set_scalar(("http", "routers", "c", "service"), "router")
    assert y.render() == "\ufeff" + TABLES.replace('"other"', '"router"')


def test_a_table_given_a_new_value_is_written_anew() -> None:
    """A second plan on a tree that has the allowlist already: its body replaced."""
    text = (
        "[http.middlewares.sec.headers]\nframeDeny = true\n\n"
        "# admin ranges\n[http.middlewares.allow.ipAllowList]\nsourceRange = ['192.0.2.0/24']\n"
    )
    y = TomlText(text, "m.toml")
    y.replace(
        ("http", "middlewares", "allow"), {"ipAllowList": {"sourceRange": ["198.51.100.0/24"]}}
    )
    out = y.render()
    assert tomllib.loads(out)["http"]["middlewares"]["allow"] == {
        "ipAllowList": {"sourceRange": ["198.51.100.0/24"]}
    }
    assert out.startswith("[http.middlewares.sec.headers]\nframeDeny = true\n\n")


def test_a_trailing_blank_line_away_from_the_removal_stays() -> None:
    y = TomlText(TABLES + "\n", "r.toml")
    y.delete(("http", "routers", "a"))
    assert y.render().endswith('service = "other"\n\n')
    y = TomlText(TABLES + "\n", "r.toml")
    y.delete(("http", "routers", "c"))
    assert y.render().endswith('    certResolver = "le"\n')
