"""Adding and changing: new nodes in the style of their neighbours, replaced values in the
local style, anchors and merges edited where they are written. Each case is the exact text
after the edits."""

from __future__ import annotations

import pytest

from .yamltext_cases import Case, check, kw, lines

CASES = [
    Case(
        "a 4-space file with '-   ' items: new entries alike, the inner addition first",
        lines(
            "services:",
            "    db:",
            "        image: pg",
            "        environment:",
            "            -   A=1",
        ),
        [
            ("insert", ("services", "db"), "volumes", ["x:/y", {"type": "bind"}]),
            ("append", ("services", "db", "environment"), "B=2"),
        ],
        lines(
            "services:",
            "    db:",
            "        image: pg",
            "        environment:",
            "            -   A=1",
            "            -   B=2",
            "        volumes:",
            "            -   x:/y",
            "            -   type: bind",
        ),
    ),
    Case(
        "an indentless sequence gets an indentless item, nested lists too",
        lines("k:", "- a", "- b", "z: 1"),
        [("append", ("k",), {"name": "c", "v": [1]})],
        lines("k:", "- a", "- b", "- name: c", "  v:", "  - 1", "z: 1"),
    ),
    Case(
        "a null becomes a mapping at its parent's indentation step",
        lines("a:", "    b:", "    c: 1"),
        [("insert", ("a", "b"), "x", {"y": 1})],
        lines("a:", "    b:", "        x:", '            "y": 1', "    c: 1"),
    ),
    Case(
        "[] in a block mapping becomes a block sequence",
        lines("a:", "  nets: []"),
        [("append", ("a", "nets"), "edge"), ("append", ("a", "nets"), "db")],
        lines("a:", "  nets:", "    - edge", "    - db"),
    ),
    Case(
        "new keys and values quoted only when plain would not read back as the string",
        lines("env:", "  A: plain"),
        [
            ("insert", ("env",), "yes", "yes"),
            ("insert", ("env",), "on", "on"),
            ("insert", ("env",), "0755", "0755"),
            ("insert", ("env",), "*", "*"),
            ("insert", ("env",), ":", ":"),
            ("insert", ("env",), "#", "#"),
            ("insert", ("env",), "Host(`a`) && PathPrefix(`/x`)", "Host(`a`) && PathPrefix(`/x`)"),
            ("insert", ("env",), "日本", "日本"),
            ("insert", ("env",), "a: b", "a: b"),
            ("insert", ("env",), "x #y", "x #y"),
        ],
        lines(
            "env:",
            "  A: plain",
            '  "yes": "yes"',
            '  "on": "on"',
            '  "0755": "0755"',
            '  "*": "*"',
            '  ":": ":"',
            '  "#": "#"',
            "  Host(`a`) && PathPrefix(`/x`): Host(`a`) && PathPrefix(`/x`)",
            "  日本: 日本",
            '  "a: b": "a: b"',
            '  "x #y": "x #y"',
        ),
    ),
    Case(
        "double-quoted siblings: the new item is double-quoted",
        lines("labels:", '  - "a=1"', '  - "b=2"'),
        [("append", ("labels",), "c=3")],
        lines("labels:", '  - "a=1"', '  - "b=2"', '  - "c=3"'),
    ),
    Case(
        "single-quoted siblings: the new item is single-quoted",
        lines("labels:", "  - 'a=1'"),
        [("append", ("labels",), "c=3")],
        lines("labels:", "  - 'a=1'", "  - 'c=3'"),
    ),
    Case(
        "entries separated by blank lines: the new one too, its comment above it",
        lines("services:", "  a:", "    image: x", "", "  b:", "    image: y", "", "volumes: {}"),
        [("insert", ("services",), "c", {"image": "z"}, kw(after="a", comment="new"))],
        lines(
            "services:",
            "  a:",
            "    image: x",
            "",
            "  # new",
            "  c:",
            "    image: z",
            "",
            "  b:",
            "    image: y",
            "",
            "volumes: {}",
        ),
    ),
    Case(
        "after= an inserted key follows it; the end stays the end",
        lines("m:", "  a: 1", "  b: 2"),
        [
            ("insert", ("m",), "z", 26),
            ("insert", ("m",), "c", 3, kw(after="b")),
            ("insert", ("m",), "d", 4, kw(after="c")),
        ],
        lines("m:", "  a: 1", "  b: 2", "  c: 3", "  d: 4", "  z: 26"),
    ),
    Case(
        "set_scalar keeps single, double, plain and literal styles where the value fits",
        lines("a: 'x'", 'b: "y"', "c: z", "d: |", "  text"),
        [
            ("set_scalar", ("a",), "it's"),
            ("set_scalar", ("b",), 'q"q'),
            ("set_scalar", ("c",), "yes"),
            ("set_scalar", ("d",), "one\ntwo\n"),
        ],
        lines("a: 'it''s'", 'b: "q\\"q"', 'c: "yes"', "d: |", "  one", "  two"),
    ),
    Case(
        "a scalar replaced by a block: the end-of-line comment stays on the key line",
        lines("a: x   # note", "b: 1"),
        [("replace", ("a",), {"k": [1, 2]})],
        lines("a:   # note", "  k:", "    - 1", "    - 2", "b: 1"),
    ),
    Case(
        "a block replaced by a scalar: the key's comment stays, the block's go",
        lines("a:  # note", "  # about k", "  k: 1", "b: 1"),
        [("replace", ("a",), "flat")],
        lines("a: flat  # note", "b: 1"),
    ),
    Case(
        "a flow sequence replaced stays a flow sequence, quoting kept",
        lines('t: ["CMD", "x"]'),
        [("replace", ("t",), ["CMD-SHELL", "y"])],
        lines('t: ["CMD-SHELL", "y"]'),
    ),
    Case(
        "rename_key changes the key's text only",
        lines("a:  # c", "  x: 1"),
        [("rename_key", ("a",), "b")],
        lines("b:  # c", "  x: 1"),
    ),
    Case(
        "set_pair writes key=value in a list, key: value in a mapping",
        lines("l:", "  - A=1", "  - B=2", "m:", '  A: "1"'),
        [
            ("set_pair", ("l",), "B", "3"),
            ("set_pair", ("l",), "C", "4"),
            ("set_pair", ("m",), "A", "true"),
            ("set_pair", ("m",), "Z", "z"),
        ],
        lines("l:", "  - A=1", "  - B=3", "  - C=4", "m:", '  A: "true"', '  Z: "z"'),
    ),
    Case(
        "an edit to the anchored node itself: aliases and merges follow, no copy",
        lines("x: &a {r: 1}", "y: *a", "z:", "  <<: *a", "  s: 2"),
        [("set_scalar", ("x", "r"), 5)],
        lines("x: &a {r: 5}", "y: *a", "z:", "  <<: *a", "  s: 2"),
    ),
    Case(
        "an alias replaced where it stands; the anchor untouched",
        lines("x: &a {r: 1}", "y: *a  # shared"),
        [("replace", ("y",), {"r": 2})],
        lines("x: &a {r: 1}", "y:  # shared", "  r: 2"),
    ),
    Case(
        "a key a merge brings in, set in the merging mapping (after the <<)",
        lines("d: &d {restart: always}", "s:", "  <<: *d", "  image: x"),
        [("insert", ("s",), "restart", "no", kw(after="<<"))],
        lines("d: &d {restart: always}", "s:", "  <<: *d", '  restart: "no"', "  image: x"),
    ),
    Case(
        "the merge key itself deleted",
        lines("d: &d {restart: always}", "s:", "  <<: *d", "  image: x"),
        [("delete", ("s", "<<"))],
        lines("d: &d {restart: always}", "s:", "  image: x"),
    ),
    Case(
        "a tag stays on the edited node",
        lines("cmd: !reset []", "l: !!str 80"),
        [("append", ("cmd",), "x"), ("set_scalar", ("l",), "81")],
        lines("cmd: !reset", "  - x", 'l: !!str "81"'),
    ),
    Case(
        "an empty document gets its first entry after its comments",
        lines("# only comments"),
        [("insert", (), "a", {"b": 1})],
        lines("# only comments", "a:", "  b: 1"),
    ),
    Case(
        "an empty item becomes a mapping on its dash line",
        lines("a:", "-", "- x"),
        [("insert", ("a", 0), "k", [1])],
        lines("a:", "- k:", "  - 1", "- x"),
    ),
    Case(
        "an item that starts with a comment replaced by a scalar: the comment stays",
        lines("a:", "  -   # note", "    k: 1"),
        [("replace", ("a", 0), "flat")],
        lines("a:", "  - flat   # note"),
    ),
    Case(
        "a '|+' scalar keeps its blank lines: an entry after it goes after them",
        lines("keep: |+", "  text", "", "next: 1"),
        [("insert", (), "new", 1, kw(after="keep"))],
        lines("keep: |+", "  text", "", "new: 1", "next: 1"),
    ),
    Case(
        "an explicit '? key' entry's value",
        lines("? explicit key", ": value", "b: 1"),
        [("set_scalar", ("explicit key",), "new")],
        lines("? explicit key", ": new", "b: 1"),
    ),
    Case(
        "insert_copy: the text as written, merge keys and comments too, moved under the new key",
        lines(
            "d: &d {restart: always}",
            "services:",
            "  web:",
            "    <<: *d",
            "    image:  odoo   # pinned",
            "    volumes:",
            "    - data:/var/lib/odoo",
            "  redis:",
            "    image: redis",
        ),
        [
            ("insert_copy", ("services",), "admin", ("services", "web"), kw(after="web")),
            ("insert_copy", ("services", "redis"), "vols", ("services", "web", "volumes")),
            ("insert_copy", ("services", "redis"), "image2", ("services", "web", "image")),
        ],
        lines(
            "d: &d {restart: always}",
            "services:",
            "  web:",
            "    <<: *d",
            "    image:  odoo   # pinned",
            "    volumes:",
            "    - data:/var/lib/odoo",
            "  admin:",
            "    <<: *d",
            "    image:  odoo   # pinned",
            "    volumes:",
            "    - data:/var/lib/odoo",
            "  redis:",
            "    image: redis",
            "    vols:",
            "    - data:/var/lib/odoo",
            "    image2: odoo",
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.desc for c in CASES])
def test_add(case: Case) -> None:
    check(case)
