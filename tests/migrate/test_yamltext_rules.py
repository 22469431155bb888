"""The rules of docs/yaml-edits.md that are not one table row: bytes outside an edit, what is
refused and how, line endings, strict reading, spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_router.migrate.yamltext import FlowSeq, Quoted, YamlError, YamlText, parse_strict

from .yamltext_cases import apply, kw, lines

FILES = Path(__file__).parent / "yamltext_files"
FIXTURE = Path(__file__).parent / "fixture"
ANCHORS = (FILES / "compose-anchors.yml").read_text()


def only_changed(before: str, after: str) -> list[tuple[str, str]]:
    """The lines that differ, for edits that keep the line count."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_every_other_byte_stays() -> None:
    """Header, CJK and end-of-line comments, two spaces after a colon, indentless lists,
    quoting, anchors, aliases and merge keys: one value changes, one line changes."""
    y = YamlText(ANCHORS, "c.yml")
    y.set_scalar(("services", "redis", "sysctls", "net.core.somaxconn"), 4096)
    assert only_changed(ANCHORS, y.render()) == [
        ("      net.core.somaxconn: 1024\n", "      net.core.somaxconn: 4096\n")
    ]
    offset = (FILES / "compose-offset.yml").read_text()
    y = YamlText(offset, "o.yml")
    y.set_scalar(("services", "db", "volumes", 1, "source"), "./initdb")
    assert only_changed(offset, y.render()) == [
        ("                source: ./init\n", "                source: ./initdb\n")
    ]


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(FILES.iterdir()) if p.suffix == ".yml"] + sorted(FIXTURE.rglob("*.yml")),
    ids=lambda p: p.name,
)
def test_render_without_edits_is_the_text(path: Path) -> None:
    text = path.read_text()
    for variant in (text, text.replace("\n", "\r\n"), "\ufeff" + text, text.rstrip("\n")):
        assert YamlText(variant, path.name).render() == variant


def test_odd_texts_render_unchanged_and_parse() -> None:
    for text in ("", "# only\n", "---\n", "a: 1", "\ufeff", "%YAML 1.1\n---\n[1, 2]\n...\n"):
        assert YamlText(text, "x").render() == text


@pytest.mark.parametrize(
    ("text", "ops"),
    [
        (lines("a: 1", "b:", "  - x", "  - y"), [("delete", ("b", 0))]),
        (lines("a: 1", "b:", "  - x", "  - y"), [("append", ("b",), "z")]),
        (lines("a: 1", "b:", "  - x", "  - y"), [("insert", (), "c", {"d": [1]})]),
        (lines("a: 1", "b:", "  - x", "  - y"), [("delete", ("b",))]),
        (lines("a: 1", "b:", "  - x", "  - y"), [("replace", ("b",), {"k": "v"})]),
        (lines("a: 1", "b:", "  - x", "  - y"), [("set_scalar", ("a",), "two words")]),
        (lines("a:", "  x: 1", "", "b: 2"), [("delete", ("b",))]),
    ],
)
@pytest.mark.parametrize("form", ["crlf", "bom", "no-final-newline", "all"])
def test_line_endings_bom_and_final_newline_stay(text: str, ops: list, form: str) -> None:
    if form in ("crlf", "all"):
        text = text.replace("\n", "\r\n")
    if form in ("bom", "all"):
        text = "\ufeff" + text
    if form in ("no-final-newline", "all"):
        text = text.rstrip("\r\n")
    out = apply(text, ops).render()
    assert out.startswith("\ufeff") == text.startswith("\ufeff")
    assert out.endswith("\n") == text.endswith("\n")
    if "\r\n" in text:
        assert "\n" not in out.replace("\r\n", "")  # every new line break is CRLF too
    else:
        assert "\r" not in out


def test_tabs_stay() -> None:
    text = (FILES / "tabs.yml").read_text()
    y = YamlText(text, "tabs.yml")
    y.append(("services", "app", "labels"), "c=3")
    y.set_scalar(("services", "app", "environment", "GREETING"), "new\tvalue")
    out = y.render()
    assert "# comment\twith a tab" in out and "'single\tquoted'" in out
    assert "      \techo tab-indented\n" in out and "#\tfooter" in out
    assert 'GREETING: "new\\tvalue"' in out


# -- aliases and merge keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "args", "says"),
    [
        ("set_scalar", (("x-defaults", "logging", "driver"), "x"), "is an alias of &logging"),
        ("replace", (("x-defaults", "logging", "options"), {}), "is an alias of &logging"),
        ("insert", (("x-defaults", "logging"), "k", "v"), "is an alias of &logging"),
        ("set_scalar", (("services", "web", "restart"), "no"), "inherited through the merge"),
        ("delete", (("services", "web", "environment", "HOST"),), "inherited through the merge"),
        ("set_scalar", (("services", "web", "logging", "driver"), "x"), "through the merge"),
    ],
)
def test_editing_through_an_alias_or_a_merge_is_refused(op: str, args: tuple, says: str) -> None:
    y = YamlText(ANCHORS, "c.yml")
    with pytest.raises(YamlError, match=says) as exc:
        getattr(y, op)(*args)
    assert exc.value.file == "c.yml" and exc.value.line > 1


def test_editing_the_anchored_node_reaches_every_user_and_copies_nothing() -> None:
    y = YamlText(ANCHORS, "c.yml")
    y.set_scalar(("x-defaults", "restart"), "always")
    y.insert(("x-defaults", "environment"), "NEW", "1")
    out = y.render()
    data = parse_strict(out, "c.yml")
    assert data["services"]["web"]["restart"] == "always"
    assert data["services"]["worker"]["environment"]["NEW"] == "1"
    assert data["services"]["web"]["environment"]["NEW"] == "1"  # merged into web's own
    assert out.count("*defaults") == 2 and out.count("*odoo-env") == 1


def test_an_alias_is_deleted_or_replaced_where_it_stands() -> None:
    y = YamlText(ANCHORS, "c.yml")
    y.delete(("x-defaults", "logging"))
    y.replace(("services", "worker", "<<"), {"restart": "no"})
    data = parse_strict(y.render(), "c.yml")
    assert data["services"]["worker"]["restart"] == "no"
    assert "logging" not in data["services"]["web"]


def test_removing_an_anchor_an_alias_still_uses_is_refused() -> None:
    y = YamlText(ANCHORS, "c.yml")
    y.delete(("x-logging",))
    with pytest.raises(YamlError, match=r"removes the anchor &logging") as exc:
        y.render()
    assert exc.value.line == 15  # the alias left behind
    y = YamlText(ANCHORS, "c.yml")
    y.replace(("x-defaults",), {"restart": "no"})  # its nested &odoo-env goes too
    with pytest.raises(YamlError, match=r"&odoo-env"):
        y.render()


# -- what else is refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "says"),
    [
        ([("delete", ("a",)), ("set_scalar", ("a", "b"), 1)], "overlaps the earlier delete a"),
        ([("set_scalar", ("a", "b"), 1), ("replace", ("a",), 2)], "overlaps"),
        ([("set_scalar", ("a", "b"), 1), ("set_scalar", ("a", "b"), 2)], "overlaps"),
        ([("replace", ("a",), {}), ("insert", ("a",), "k", 1)], "overlaps"),
        ([("rename_key", ("a",), "x"), ("rename_key", ("a",), "y")], "overlaps"),
        ([("insert", ("a",), "b", 1)], "already has the key 'b'"),
        ([("insert", ("a",), "n", 1), ("insert", ("a",), "n", 2)], "already has the key 'n'"),
        ([("rename_key", ("a", "b"), "c")], "already has 'c'"),
        ([("insert", ("a",), "n", 1, kw(after="zz"))], "no key 'zz' to follow"),
        ([("append", ("a",), 1)], "is a mapping; append adds to a sequence"),
        ([("insert", ("l",), "k", 1)], "is a sequence; insert adds to a mapping"),
        ([("set_scalar", ("a",), "x")], r"is a mapping: use replace\(\)"),
        ([("delete", ("a", "nope"))], "a has no 'nope'"),
        ([("delete", ("l", 5))], r"l has no 5"),
        ([("delete", ("a", "b", "c"))], "a.b is a scalar"),
        ([("delete", ())], "root cannot be deleted"),
    ],
)
def test_refused_edits(ops: list, says: str) -> None:
    with pytest.raises(YamlError, match=says):
        apply(lines("a:", "  b: 1", "  c: 2", "l: [1]"), ops)


@pytest.mark.parametrize(
    ("ops", "says"),
    [
        ([("insert_copy", ("services",), "x", ("x-defaults",))], "defines the anchor &odoo-env"),
        ([("insert_copy", ("services", "web", "networks"), "x", ("version",))], "is a sequence"),
        (
            [("insert_copy", ("services", "worker", "depends_on"), "x", ("version",))],
            "not a block mapping",
        ),
        (
            [("insert_copy", ("x-defaults", "environment"), "x", ("services", "worker"))],
            "which holds x-defaults.environment: the copy would contain itself",
        ),
        ([("insert_copy", ("services", "web"), "x", ("services",))], "is inside the copied"),
        ([("insert_copy", ("services",), "x", ())], "root cannot be copied"),
        ([("insert_copy", ("services",), "redis", ("volumes",))], "already has the key 'redis'"),
        (
            [
                ("set_scalar", ("services", "web", "image"), "x"),
                ("insert_copy", ("services",), "web2", ("services", "web")),
            ],
            "copy of services.web into services overlaps the earlier set",
        ),
        (
            [
                ("insert_copy", ("services",), "web2", ("services", "web")),
                ("delete", ("services",)),
            ],
            "overlaps",
        ),
    ],
)
def test_refused_copies(ops: list, says: str) -> None:
    with pytest.raises(YamlError, match=says):
        apply(ANCHORS, ops)


def test_values_must_be_plain_data() -> None:
    y = YamlText("a: 1\n", "t")
    with pytest.raises(TypeError):
        y.set_scalar(("a",), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        y.replace(("a",), object())
    with pytest.raises(TypeError):
        y.insert((), 5, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        y.insert((), "b", 1, comment="bell \x07")


def test_markers_choose_flow_and_double_quotes() -> None:
    y = YamlText("hc:\n  interval: 10s\n", "t")
    y.insert(("hc",), "test", FlowSeq(["CMD", "odoo-router", "probe"]))
    y.insert(("hc",), "name", Quoted("plain"))
    assert y.render() == lines(
        "hc:", "  interval: 10s", "  test: [CMD, odoo-router, probe]", '  name: "plain"'
    )


@pytest.mark.parametrize(
    "value",
    ["yes", "No", "on", "OFF", "y", "~", "null", "", " x", "x ", "0755", "0o755", "0x1F",
     "1e3", "1_000", ".5", "-.inf", ".nan", "1:20", "2024-01-01", "*", "&a", "!t", "%x", "@x",
     "`x", "- x", "-x", "? x", ":", "a: b", "a:b", "x #y", "x#y", "#", "[a]", "{a}", "a, b",
     "'", '"', "\\", "...", "---", "<<", "=", "日本語", "tab\tin", "two\nlines", "\x07",
     "Host(`a`) && PathPrefix(`/x`)", "HostRegexp(`^[a-z0-9]+\\.erp\\.x$`)", "${VAR:-x}"],
)  # fmt: skip
def test_new_strings_read_back_as_strings(value: str) -> None:
    """In a block mapping, a flow sequence, and among quoted siblings: keys and values."""
    text = lines("m:", "  a: plain", "f: [x, y]", "q:", "  - 'single'")
    y = YamlText(text, "t")
    y.insert(("m",), value, value)
    y.append(("f",), value)
    y.append(("q",), value)
    y.insert(("m",), "nested", {value: [value, {value: value}]})
    data = parse_strict(y.render(), "t")
    assert data["m"][value] == value and data["f"][-1] == value and data["q"][-1] == value
    assert data["m"]["nested"] == {value: [value, {value: value}]}


# -- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("a: 1\nb: [\n", "f.yml:3:1", "expected the node content"),
        ("a:\n  b: 1\n  b: 3\n", "f.yml:3:3", "'b': first at line 2, again at line 3"),
        ("x:\n  - {k: 1, k: 2}\n", "f.yml:2:12", "duplicate key 'k'"),
        ("yes: 1\ntrue: 2\n", "f.yml:2:1", "duplicate key True"),
        ("<<: {a: 1}\n<<: {b: 1}\n", "f.yml:2:1", "duplicate key '<<'"),
        ("a: 1\n---\nb: 2\n", "f.yml:2:1", "a second document"),
        ("a: *nope\n", "f.yml:1:4", "undefined alias 'nope'"),
        ("a: 2024-13-01\n", "f.yml:1:4", "cannot read this value"),
        ("a: !!python/name:os.system x\n", "f.yml:1:4", "could not determine a constructor"),
        ("a: b\x07\n", "f.yml:1:5", "unacceptable character #x0007"),
        ("a: &x 1\nb: &x 2\n", "f.yml:2:4", "duplicate anchor 'x'"),
    ],
)  # fmt: skip
def test_parse_strict_refuses_with_file_line_column(text: str, where: str, says: str) -> None:
    with pytest.raises(YamlError) as exc:
        parse_strict(text, "f.yml")
    assert str(exc.value).startswith(where + ": "), str(exc.value)
    assert says in exc.value.message
    with pytest.raises(YamlError):
        YamlText(text, "f.yml")


def test_parse_strict_reads_merges_aliases_and_local_tags() -> None:
    data = parse_strict("d: &d {a: 1, b: 2}\ne:\n  <<: *d\n  b: 3\nf: !reset []\ng: *d\n", "t")
    assert data == {"d": {"a": 1, "b": 2}, "e": {"a": 1, "b": 3}, "f": [], "g": {"a": 1, "b": 2}}


def test_has_and_span() -> None:
    y = YamlText(ANCHORS, "c.yml")
    assert y.has(("services", "web", "restart"))  # through the merge: it is there to read
    assert not y.has(("services", "web", "nope")) and not y.has(("version", 0))
    s = y.span(("services", "web", "volumes"))
    assert (s.first_line, s.first_column, s.last_line, s.kind, s.flow, s.indent) == (
        30,
        5,
        33,
        "seq",
        False,
        4,
    )
    assert s.key_line == 29 and y.text[s.start : s.end].startswith("- odoo-data")
    s = y.span(("services", "web", "networks"))
    assert (s.first_line, s.last_line, s.kind, s.flow, s.indent) == (34, 34, "seq", True, 4)
    s = y.span(("services", "worker", "command"))
    assert (s.kind, s.style, s.flow, s.first_line, s.last_line) == ("scalar", "|", False, 46, 48)
    s = y.span(("x-defaults", "environment"))
    assert (s.anchor, s.kind, s.shared) == ("odoo-env", "map", False)
    s = y.span(("services", "web", "logging", "driver"))
    assert s.shared and s.first_line == 8  # the anchor's lines
    s = y.span(("services", "web", "<<"))
    assert (s.kind, s.first_line, s.first_column) == ("alias", 23, 9)
