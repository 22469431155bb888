"""Odoo's /<lang>/ prefix: what a lang-prefix-aware deny rule must see through."""

from __future__ import annotations

import re

import pytest

from odoo_router.routing.langprefix import is_lang_code, strip_lang_prefix

DATABASE_RULE = re.compile(r"^/web/database/")  # the production deny_database route

STRIPPED = [
    ("/en/web/database/manager", "/web/database/manager"),
    ("/fr/web/database/manager", "/web/database/manager"),
    ("/fr_BE/web/database/selector", "/web/database/selector"),
    ("/zh_CN/web/database/backup", "/web/database/backup"),
    ("/zh_TW/web/database/drop", "/web/database/drop"),
    ("/sr@latin/web/database/restore", "/web/database/restore"),
    ("/es_419/web/database/list", "/web/database/list"),
    ("/es_ES/web/database/create", "/web/database/create"),
    ("/ar_001/web/database/duplicate", "/web/database/duplicate"),
    ("/mya/web/database/manager", "/web/database/manager"),  # Burmese: /my is the portal
    ("/pt_BR/web/database/manager", "/web/database/manager"),
    ("/EN/web/database/manager", "/web/database/manager"),
    ("/fr-be/web/database/manager", "/web/database/manager"),
    ("/zh-Hant-TW/web/database/manager", "/web/database/manager"),
    ("/english/web/database/manager", "/web/database/manager"),  # a custom url_code
    ("/x1/web/database/manager", "/web/database/manager"),
    ("/en/web/database/", "/web/database/"),
    ("/en/jsonrpc", "/jsonrpc"),
    ("/en/", "/"),
    ("/en", "/"),
    ("/fr_BE", "/"),
    ("/en/fr/web/database/manager", "/fr/web/database/manager"),  # Odoo strips one segment
]


@pytest.mark.parametrize(("path", "expected"), STRIPPED)
def test_first_segment_is_stripped(path: str, expected: str) -> None:
    assert strip_lang_prefix(path) == expected


@pytest.mark.parametrize("path", ["/", "", "web/database", "//web/database/manager"])
def test_nothing_to_strip(path: str) -> None:
    assert strip_lang_prefix(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "/en/web/database/manager",
        "/fr_BE/web/database/x",
        "/zh_CN/web/database/x",
        "/sr@latin/web/database/x",
        "/es_419/web/database/x",
        "/anything/web/database/x",
    ],
)
def test_deny_rule_sees_through_the_prefix(path: str) -> None:
    stripped = strip_lang_prefix(path)
    assert not DATABASE_RULE.match(path)
    assert stripped is not None and DATABASE_RULE.match(stripped)


@pytest.mark.parametrize(
    "path", ["/web/login", "/en/web/login", "/en/shop", "/en/web/databases", "/en/web/database"]
)
def test_stripping_does_not_invent_database_paths(path: str) -> None:
    stripped = strip_lang_prefix(path)
    assert stripped is None or not DATABASE_RULE.match(stripped)


LANG_CODES = [
    "en",
    "fr",
    "fr_BE",
    "zh_CN",
    "sr@latin",
    "es_419",
    "ar_001",
    "mya",
    "EN",
    "fr-BE",
    "pt_br",
    "zh-Hant-TW",
    "ca@valencia",
    "kab_DZ",
]
NOT_LANG_CODES = [
    "",
    "e",
    "english",
    "1en",
    "en_",
    "en__US",
    "fr_BE_",
    "en@",
    "@latin",
    "en/us",
    "en US",
    "static",
    "x1",
]


@pytest.mark.parametrize("code", LANG_CODES)
def test_language_code_shapes(code: str) -> None:
    assert is_lang_code(code)


@pytest.mark.parametrize("segment", NOT_LANG_CODES)
def test_not_language_code_shapes(segment: str) -> None:
    assert not is_lang_code(segment)
