"""Tabs where compose and Traefik take them: Go's YAML (a libyaml port) eats a tab between
tokens in a line, but not as indentation nor right after ``-``; PyYAML's own scanner takes
none, so without TabScanner an operator's working compose file was refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from odoo_router.migrate.composefile import load_compose
from odoo_router.migrate.yamltext import YamlText, parse_strict
from odoo_router.migrate.yamltext.tabs import compose, safe_load


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("a: b\t# c\n", {"a": "b"}),
        ('a:\n  - "x"\t# c\n', {"a": ["x"]}),
        ("a: [x]\t# c\n", {"a": ["x"]}),
        ("a: {\tb: 1 }\n", {"a": {"b": 1}}),
        ("a:\t1\n", {"a": 1}),  # docker-compose v2 reads `image:<TAB>x`
        ("a:  \t# c\n", {"a": None}),
        ("# a\tcomment\na: 1\n", {"a": 1}),
        ("\ufeffa: 1\r\nb: 2\r\n", {"a": 1, "b": 2}),
    ],
)
def test_tabs_go_s_yaml_takes(text: str, data: object) -> None:
    assert safe_load(text) == data
    assert parse_strict(text, "f.yml") == data
    assert compose(text) is not None


@pytest.mark.parametrize("text", ["a:\n\tb: 1\n", "a:\n  -\tx\n", "a: 1\n\t# c\n"])
def test_tabs_go_s_yaml_refuses_stay_refused(text: str) -> None:
    with pytest.raises(yaml.YAMLError):
        safe_load(text)


def test_a_compose_file_with_tabs_before_comments_is_read_and_edited_in_place() -> None:
    text = (
        "services:\n  odoo:\n    image: odoo:18\t# pinned\n    labels:\n"
        '      - "traefik.enable=false"\t# routed by nginx\n'
    )
    cf = load_compose(Path("/x/docker-compose.yml"), "x/docker-compose.yml", text, None)
    assert cf.services["odoo"].labels == {"traefik.enable": "false"}
    y = YamlText(text, "x/docker-compose.yml")
    y.set_scalar(("services", "odoo", "image"), "odoo:18.0")
    assert y.render() == text.replace("odoo:18\t", "odoo:18.0\t")
