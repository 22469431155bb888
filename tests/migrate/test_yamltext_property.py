"""Every node of realistic compose and Traefik files, edited in turn (delete, replace, set,
rename, insert, append), one edit per render:

(a) the result reads as the original data with that edit made to it (computed here on the
    plain data, independently of the editor);
(b) only the edited region changes: the original lines before and after it survive, in order,
    byte for byte (a common prefix and suffix of lines around one window), and additions to a
    block collection change no original line at all;
(c) line breaks, a BOM and a missing final newline stay as they were.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from odoo_router.migrate.yamltext import Span, YamlError, YamlText

FILES = sorted((Path(__file__).parent / "yamltext_files").glob("*.yml"))
# The oracle reads with libyaml where PyYAML has it: another parser than the editor's.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
VALUES: list[Any] = ["new value", 7, {"k": ["v", 1]}, ["a", {"b": "c"}], {}, "yes", True]
PathT = tuple[str | int, ...]


def nodes(y: YamlText, path: PathT = (), value: Any = None) -> Iterator[tuple[PathT, Span]]:
    """Every node that can be edited where it is written (not through an alias or a merge)."""
    value = y.data if not path else value
    if not isinstance(value, dict | list):
        return
    for key, child in value.items() if isinstance(value, dict) else enumerate(value):
        if not isinstance(key, str | int) or isinstance(key, bool):
            continue
        p = (*path, key)
        s = y.span(p)
        if s.shared:
            continue
        yield p, s
        if s.kind != "alias":
            yield from nodes(y, p, child)


def at(data: Any, path: PathT) -> Any:
    for k in path:
        data = data[k]
    return data


def expected(data: Any, op: str, path: PathT, arg: Any) -> Any:
    out = copy.deepcopy(data)  # keeps the sharing aliases give, like the file
    if op in ("insert", "append"):
        target = at(out, path)
        if op == "insert":
            target["zz-new"] = arg
        else:
            target.append(arg)
        return out
    if op == "insert_copy":
        at(out, path[:-1])["zz-copy"] = copy.deepcopy(at(out, path))
        return out
    parent, key = at(out, path[:-1]), path[-1]
    if op == "delete":
        del parent[key]
    elif op == "rename_key":
        parent[arg] = parent.pop(key)
    else:
        parent[key] = arg
    return out


def merges(y: YamlText, path: PathT) -> bool:
    """Under an anchor, or in a mapping with a merge key: merges copy keys (and a deleted key
    may be merged in again), so the plain-data model above does not hold; the editor's own
    check, against PyYAML's reading of the edited node graph, still does."""
    under = any(y.span(path[:i]).anchor for i in range(1, len(path) + 1))
    return under or any(y.has((*path[:i], "<<")) for i in range(len(path) + 1))


def comment_or_blank(line: str) -> bool:
    return line.strip() == "" or line.lstrip().startswith("#")


def allowed(text: str, op: str, s: Span) -> tuple[int, int] | None:
    """Original lines (0-based, inclusive) the edit may change; None: none at all."""
    if op in ("insert", "append", "insert_copy") and s.kind in ("map", "seq") and not s.flow:
        return None
    ls = text.splitlines()
    lo, hi = (s.key_line or s.first_line) - 1, s.last_line - 1
    while lo > 0 and comment_or_blank(ls[lo - 1]):
        lo -= 1
    while hi + 1 < len(ls) and comment_or_blank(ls[hi + 1]):
        hi += 1
    return lo - 1, hi + 1  # the key line above ("key: {}"), a line joined from below


def window(a: str, b: str) -> tuple[int, int]:
    """Original lines [i, j) outside the common prefix and suffix of lines."""
    x, y = a.splitlines(), b.splitlines()
    i = 0
    while i < min(len(x), len(y)) and x[i] == y[i]:
        i += 1
    j = 0
    while j < min(len(x), len(y)) - i and x[-1 - j] == y[-1 - j]:
        j += 1
    return i, len(x) - j


def edits(y: YamlText) -> Iterator[tuple[str, PathT, Any, Span]]:
    cycle = itertools.cycle(VALUES)
    for path, s in nodes(y):
        yield "delete", path, None, s
        yield "replace", path, next(cycle), s
        if s.kind == "scalar":
            yield "set_scalar", path, next(v for v in cycle if isinstance(v, str | int)), s
        if isinstance(path[-1], str):
            yield "rename_key", path, "renamed-key", s
        if s.kind == "map":
            yield "insert", path, {"a": [1, "x"]}, s
        if s.kind == "seq":
            yield "append", path, {"name": "n", "v": [1]}, s
        parent = y.span(path[:-1])
        if parent.kind == "map" and not parent.flow:
            yield "insert_copy", path, None, parent


def variants(text: str) -> list[tuple[str, str]]:
    return [
        ("lf", text),
        ("crlf+bom", "\ufeff" + text.replace("\n", "\r\n")),
        ("no-final-newline", text.rstrip("\n")),
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_node_edited_in_turn(path: Path) -> None:
    text0 = path.read_text()
    count = 0
    for form, text in variants(text0):
        base = YamlText(text, path.name)
        for op, p, arg, s in edits(base):
            if form != "lf" and op not in ("delete", "insert", "append", "insert_copy"):
                continue
            y = YamlText(text, path.name)
            where = f"{form} {op} {p} {arg!r}"
            try:
                if op == "insert":
                    y.insert(p, "zz-new", arg)
                elif op == "insert_copy":
                    y.insert_copy(p[:-1], "zz-copy", p)
                elif op == "delete":
                    y.delete(p)
                else:
                    getattr(y, op)(p, arg)
                out = y.render()
            except YamlError as exc:
                # the file's own anchors: a removed anchor with an alias left, a merge of a
                # value that is no longer a mapping
                assert "anchor" in exc.message or "merg" in exc.message, f"{where}: {exc}"
                continue
            count += 1
            if not merges(base, p):
                assert yaml.load(out, LOADER) == expected(base.data, op, p, arg), where
            i, j = window(text, out)
            bounds = allowed(text, op, s)
            if bounds is None:
                assert i >= j, f"{where}: original lines {i + 1}..{j} changed"
            else:
                assert i >= j or (bounds[0] <= i and j - 1 <= bounds[1]), (
                    f"{where}: lines {i + 1}..{j} changed, allowed {bounds[0] + 1}..{bounds[1] + 1}"
                )
            assert out.startswith("\ufeff") == text.startswith("\ufeff"), where
            # a copied "|+" scalar at the end of a file keeps the breaks its value holds
            kept = op == "insert_copy" and base.span(p).style == "|"
            assert kept or out.endswith("\n") == text.endswith("\n"), where
            assert ("\r\n" in text) == ("\n" not in out.replace("\r\n", "") and "\r\n" in out), (
                where
            )
    assert count > 40


def test_random_combinations_of_edits() -> None:
    """Several edits per render, drawn with a fixed seed: adjacent deletions with insertions
    between them, additions to a collection and to its parent at one offset, flow collections
    losing and gaining entries, copies next to other edits. Each render is checked by the
    editor against the edited data; the only refusals allowed are the file's own anchors and
    merges (a copy's among them)."""
    rng = random.Random(13)
    texts = {p.name: p.read_text() for p in FILES}
    done = 0
    for _ in range(150):
        name = rng.choice(sorted(texts))
        text = rng.choice(variants(texts[name]))[1]
        y = YamlText(text, name)
        targets = list(nodes(y))
        for _ in range(rng.randint(2, 6)):
            p, _ = rng.choice(targets)
            value = rng.choice(VALUES)
            with contextlib.suppress(YamlError, TypeError):  # refused as recorded: fine
                ops = ["delete", "replace", "set", "rename", "insert", "append", "copy"]
                match rng.choice(ops):
                    case "delete":
                        y.delete(p)
                    case "replace":
                        y.replace(p, value)
                    case "set":
                        y.set_scalar(p, rng.choice(["v", "yes", 3, "a: b"]))
                    case "rename":
                        y.rename_key(p, f"rk{rng.randint(0, 3)}")
                    case "insert" if isinstance(p[-1], str) and rng.random() < 0.5:
                        y.insert(p[:-1], f"nk{rng.randint(0, 3)}", value, after=p[-1])
                    case "insert":
                        y.insert(p, f"nk{rng.randint(0, 3)}", value, comment="new")
                    case "append":
                        y.append(p, value, comment=rng.choice([None, "new"]))
                    case "copy":
                        into = rng.choice(targets)[0][:-1]
                        y.insert_copy(into, f"cp{rng.randint(0, 3)}", p)
        try:
            y.render()
            done += 1
        except YamlError as exc:
            assert "anchor" in exc.message or "merg" in exc.message, f"{name}: {exc}"
    assert done > 120
