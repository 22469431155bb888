"""Deleting: which comments go with an entry, what an emptied collection becomes, flow
collections. Each case is the exact text after the edit."""

from __future__ import annotations

import pytest

from .yamltext_cases import Case, check, kw, lines

CASES = [
    Case(
        "a comment run directly above at the entry's column goes; the next entry's stays",
        lines("a:", "  # about b", "  b: 1", "  # about c", "  c: 2"),
        [("delete", ("a", "b"))],
        lines("a:", "  # about c", "  c: 2"),
    ),
    Case(
        "a blank line ends the run of comments an entry owns",
        lines("a:", "  # not b's", "", "  # b's", "  b: 1", "  c: 2"),
        [("delete", ("a", "b"))],
        lines("a:", "  # not b's", "", "  c: 2"),
    ),
    Case(
        "a comment above at another column is not the entry's",
        lines("a:", "# top level note", "  b: 1", "  c: 2"),
        [("delete", ("a", "b"))],
        lines("a:", "# top level note", "  c: 2"),
    ),
    Case(
        "end-of-line comments and comments indented inside the block go, blank lines between too",
        lines(
            "s:",
            "  web:  # the app",
            "    image: x  # pinned",
            "    # ports: [80]",
            "",
            "    # still web's",
            "  db:",
            "    image: y",
        ),
        [("delete", ("s", "web"))],
        lines("s:", "  db:", "    image: y"),
    ),
    Case(
        "the comment after a deleted entry stays (it belongs to what follows)",
        lines(
            "services:",
            "  web:",
            "    image: x",
            "  # redis follows",
            "  redis:",
            "    image: y",
            "# end",
        ),
        [("delete", ("services", "web"))],
        lines("services:", "  # redis follows", "  redis:", "    image: y", "# end"),
    ),
    Case(
        "the file's header comments are not the first key's",
        lines("# header", 'version: "3"', "services: {}"),
        [("delete", ("version",))],
        lines("# header", "services: {}"),
    ),
    Case(
        "a comment after a deleted block at the parent's column stays",
        lines("a:", "  b:", "    - x", "  # c is next", "  c: 1"),
        [("delete", ("a", "b"))],
        lines("a:", "  # c is next", "  c: 1"),
    ),
    Case(
        "a comment between a list key and its first item goes with that item",
        lines("labels:", "  # routes", "  - a", "  - b", "x: 1"),
        [("delete", ("labels", 0))],
        lines("labels:", "  - b", "x: 1"),
    ),
    Case(
        "indentless items own their comments like indented ones",
        lines("k:", "# about a", "- a", "  # inside a", "# about b", "- b"),
        [("delete", ("k", 0))],
        lines("k:", "# about b", "- b"),
    ),
    Case(
        "the last item of a block sequence out: []",
        lines("labels:", "  - a  # only", "  # trailing note", "other: 1"),
        [("delete", ("labels", 0))],
        lines("labels: []", "  # trailing note", "other: 1"),
    ),
    Case(
        "the last entry of a block mapping out: {}, the key's comment kept",
        lines("labels:   # kept", "  a: 1", "other: 1"),
        [("delete", ("labels", "a"))],
        lines("labels: {}   # kept", "other: 1"),
    ),
    Case(
        "every entry of a '- key: v' item out: - {}",
        lines("- name: a", "  val: 1", "- name: b"),
        [("delete", (0, "name")), ("delete", (0, "val"))],
        lines("- {}", "- name: b"),
    ),
    Case(
        "the first entry of a '- key: v' item out: the next moves onto the dash line",
        lines("- name: a  # gone", "  val: 1", "- name: b"),
        [("delete", (0, "name"))],
        lines("- val: 1", "- name: b"),
    ),
    Case(
        "every top-level entry out: {} below the header",
        lines("# header", "a: 1"),
        [("delete", ("a",))],
        lines("# header", "{}"),
    ),
    Case(
        "a flow sequence's middle item out, the comment after it kept",
        lines("cmd: [a, b, c]  # note"),
        [("delete", ("cmd", 1))],
        lines("cmd: [a, c]  # note"),
    ),
    Case(
        "a flow sequence's last item out",
        lines("cmd: [a, b, c]"),
        [("delete", ("cmd", 2))],
        lines("cmd: [a, b]"),
    ),
    Case(
        "every item of a flow sequence out: []",
        lines("cmd: [a, b]"),
        [("delete", ("cmd", 0)), ("delete", ("cmd", 1))],
        lines("cmd: []"),
    ),
    Case(
        "a flow mapping's first entry out",
        lines("tls: {certResolver: cf, options: x}"),
        [("delete", ("tls", "certResolver"))],
        lines("tls: {options: x}"),
    ),
    Case(
        "a flow mapping's only entry out: {}",
        lines("tls: {certResolver: cf}"),
        [("delete", ("tls", "certResolver"))],
        lines("tls: {}"),
    ),
    Case(
        "a flow sequence written one item per line: line out, trailing comma left",
        lines("cmd: [", '  "a",  # first', '  "b"', "]"),
        [("delete", ("cmd", 1))],
        lines("cmd: [", '  "a",  # first', "]"),
    ),
    Case(
        "a flow sequence written one item per line gets a line, comma added",
        lines("cmd: [", '  "a",  # first', '  "b"', "]"),
        [("append", ("cmd",), "c", kw(comment="new"))],
        lines("cmd: [", '  "a",  # first', '  "b",', "  # new", '  "c"', "]"),
    ),
    # Blank lines: a run of deleted neighbours leaves one separation, not two or three.
    Case(
        "neighbours deleted together take the blank line between them and the one after",
        lines("m:", "  a: 1", "", "  b: 2", "", "  c: 3", "", "  d: 4"),
        [("delete", ("m", "b")), ("delete", ("m", "c"))],
        lines("m:", "  a: 1", "", "  d: 4"),
    ),
    Case(
        "one deleted entry between blank lines leaves one",
        lines("m:", "  a: 1", "", "  # b's", "  b: 2", "", "  c: 3"),
        [("delete", ("m", "b"))],
        lines("m:", "  a: 1", "", "  c: 3"),
    ),
    Case(
        "without a blank line before the entry, the one after it stays",
        lines("m:", "  a: 1", "  b: 2", "", "  c: 3"),
        [("delete", ("m", "b"))],
        lines("m:", "  a: 1", "", "  c: 3"),
    ),
    Case(
        "the first entries take the blank lines after them",
        lines("m:", "  a: 1", "", "  b: 2", "", "  c: 3"),
        [("delete", ("m", "a")), ("delete", ("m", "b"))],
        lines("m:", "  c: 3"),
    ),
    Case(
        "the last entries of a section keep the separation from the next section",
        lines("h:", "  r:", "    a: 1", "", "    b: 2", "", "  s:", "    x: 1"),
        [("delete", ("h", "r", "b"))],
        lines("h:", "  r:", "    a: 1", "", "  s:", "    x: 1"),
    ),
    Case(
        "entries that end the file take the blank line before them",
        lines("m:", "  a: 1", "", "  b: 2", "", "  c: 3"),
        [("delete", ("m", "b")), ("delete", ("m", "c"))],
        lines("m:", "  a: 1"),
    ),
    Case(
        "a comment between deleted neighbours stays, and the blank lines around it",
        lines("m:", "  a: 1", "", "  b: 2", "  # after b", "", "  c: 3", "", "  d: 4"),
        [("delete", ("m", "b")), ("delete", ("m", "c"))],
        lines("m:", "  a: 1", "", "  # after b", "", "  d: 4"),
    ),
    Case(
        "blank lines inside an emptied collection go; the one after it stays",
        lines("labels:", "  - a", "", "  - b", "", "x: 1"),
        [("delete", ("labels", 0)), ("delete", ("labels", 1))],
        lines("labels: []", "", "x: 1"),
    ),
    Case(
        "an entry inserted where deleted ones were takes their separation",
        lines("m:", "  a: 1", "", "  b: 2", "", "  c: 3", "x: 1"),
        [("delete", ("m", "c")), ("insert", ("m",), "d", 4, kw(comment="new"))],
        lines("m:", "  a: 1", "", "  b: 2", "", "  # new", "  d: 4", "x: 1"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.desc for c in CASES])
def test_delete(case: Case) -> None:
    check(case)
