"""What test_corpus.py checks a rendered corpus tree with: the lines a may_change node owns
(the node, its key line, the comments it owns by docs/yaml-edits.md's rule), the routing
tables before and after, a probe's expected winner, and a case of corpus-bad as a tree."""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

from odoo_router.migrate.inputs import Inputs, parse_inputs
from odoo_router.migrate.layout import Layout
from odoo_router.migrate.merge import Overrides
from odoo_router.migrate.simulate import build_table, entry_point, static_settings, traefik_version
from odoo_router.migrate.survey import Survey, survey
from odoo_router.migrate.tomltext.scan import scan
from odoo_router.migrate.traefik_model import RoutingTable, Winner
from odoo_router.migrate.yamltext import YamlText

from .corpus_data import BAD, CORPUS, strict_load


def owned_lines(text: str, name: str, paths: list[list[Any]]) -> set[int]:
    """1-based lines of the listed nodes (and the comments they own) in the original text."""
    if name.endswith(".toml"):
        return _owned_toml(text, name, paths)
    y = YamlText(text, name)
    lines = text.splitlines()
    out: set[int] = set()
    for p in paths:
        path = tuple(p)
        if any(isinstance(k, str) and k.startswith("+") for k in path) or not y.has(path):
            continue
        sp = y.span(path)
        first = sp.key_line or sp.first_line
        col = len(lines[first - 1]) - len(lines[first - 1].lstrip(" -"))
        out |= set(range(first, sp.last_line + 1))
        n = first - 1  # the run of comments directly above, at the entry's column
        while n >= 1 and lines[n - 1].strip().startswith("#"):
            if len(lines[n - 1]) - len(lines[n - 1].lstrip()) != col:
                break
            out.add(n)
            n -= 1
        n = sp.last_line + 1  # comments inside its block, after it
        pending: list[int] = []
        while n <= len(lines):
            line = lines[n - 1]
            if not line.strip():
                pending.append(n)
            elif line.strip().startswith("#") and len(line) - len(line.lstrip()) > col:
                out |= {*pending, n}
                pending = []
            else:
                break
            n += 1
    _emptied(y, paths, out)
    return out


def _owned_toml(text: str, name: str, paths: list[list[Any]]) -> set[int]:
    """TOML: every statement at or below a listed path (a table header with the lines of its
    block up to the next header), the run of comments directly above each; a header whose
    every statement below it is owned goes too (the tool deletes what it empties)."""
    text = text.removeprefix("\ufeff")  # Traefik skips a byte order mark
    stmts = scan(text, name)
    lines = text.splitlines()
    heads = [i for i, st in enumerate(stmts) if st.kind != "kv"]
    out: set[int] = set()

    def take(i: int) -> None:
        st = stmts[i]
        first, last = st.first, st.last
        if st.kind != "kv":
            nxt = next((stmts[j].first for j in heads if j > i), len(lines))
            last = nxt - 1
            while last > st.first and (
                not lines[last].strip() or lines[last].lstrip().startswith("#")
            ):
                last -= 1
        while first > 0 and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        out.update(range(first + 1, last + 2))

    wanted = [tuple(p) for p in paths if not any(str(k).startswith("+") for k in p)]
    for i, st in enumerate(stmts):
        if any(st.path[: len(p)] == p for p in wanted):
            take(i)
    for i in heads:
        below = [st for st in stmts if st.path[: len(stmts[i].path)] == stmts[i].path]
        if all(set(range(b.first + 1, b.last + 2)) <= out for b in below[1:]) and below[1:]:
            take(i)
    return out


def _emptied(y: YamlText, paths: list[list[Any]], out: set[int]) -> None:
    """A mapping whose every entry is owned goes with them (the tool deletes a section its
    deletions empty): its key line is owned too, and so on upwards."""
    parents = {tuple(p[:i]) for p in paths for i in range(1, len(p))}
    for parent in sorted(parents, key=len, reverse=True):
        if not parent or not y.has(parent):
            continue
        node: Any = y.data
        for k in parent:
            node = node[k]
        if not isinstance(node, dict) or not node:
            continue
        spans = [y.span((*parent, k)) for k in node]
        if all(set(range(sp.key_line or sp.first_line, sp.last_line + 1)) <= out for sp in spans):
            sp = y.span(parent)
            out.add(sp.key_line or sp.first_line)


def kept_in_order(original: str, rendered: str, owned: set[int]) -> list[str]:
    """What the render lost of the original outside ``owned``: a line with content missing
    or out of order; a blank separation between two such lines gone; and a run of blank
    lines longer than any the original has (two removed neighbours' separations doubled)."""
    new = rendered.splitlines()
    old = original.splitlines()
    pos, missing = 0, []
    at: dict[int, int] = {}  # original line -> where it is in the render
    for n, line in enumerate(old, start=1):
        if n in owned or not line.strip():
            continue
        while pos < len(new) and new[pos] != line:
            pos += 1
        if pos == len(new):
            missing.append(f"line {n}: {line!r}")
            pos = 0
            continue
        at[n] = pos
        pos += 1
    for a, b in pairwise(sorted(at)):
        between = old[a : b - 1]  # the lines strictly between a and b (1-based)
        blank_gap = bool(between) and not any(x.strip() for x in between)
        if blank_gap and all(x.strip() for x in new[at[a] + 1 : at[b]]):
            missing.append(f"lines {a + 1}-{b - 1}: the blank lines between {a} and {b}")
    longest = max(_blank_runs(old), default=0)
    if max(_blank_runs(new), default=0) > longest:
        missing.append(f"a run of blank lines longer than the original's longest ({longest})")
    return missing


def _blank_runs(lines: list[str]) -> list[int]:
    runs, n = [], 0
    for line in [*lines, "x"]:
        if line.strip():
            runs.append(n)
            n = 0
        else:
            n += 1
    return runs


def inputs_of(tree_dir: Path) -> Inputs:
    return parse_inputs((tree_dir / "inputs.yaml").read_text("utf-8"), "inputs.yaml")


def tables(tree_dir: Path, out: Path) -> tuple[Survey, RoutingTable, RoutingTable, str]:
    """The routing table before (the tree) and after (OUT), and the entry point probed."""
    s = survey(Layout.make(tree_dir), inputs_of(tree_dir), Overrides())
    version = traefik_version(s)
    assert version is not None
    static = static_settings(s)
    before, _ = build_table(s, version, static, {})
    stacks = s.layout.stacks
    files = {}
    paths = [cf.path for cf in s.tree.composes] + (s.edge.dynamic_files if s.edge else [])
    for p in paths:
        files[p] = (out / p.relative_to(stacks)).read_bytes()
    after, _ = build_table(s, version, static, files)
    return s, before, after, entry_point(s, before, static)


def probe(key: str) -> tuple[str, str]:
    host, _, path = key.partition("/")
    return host, "/" + path if path else "/web/login"


def winner_matches(w: Winner, want: str, before: RoutingTable) -> bool:
    if want.startswith("tie("):
        names = {n.strip() for n in want[4:-1].split(",")}
        return w.is_tie and {r.name for r in w.tie} == names
    if w.router is None or w.is_tie:
        return False
    if want == "+*":
        return w.router.name not in {r.name for r in before.routers}
    return w.router.name == want


def bad_tree(case: str, tmp: Path) -> tuple[Path, dict[str, Any]]:
    """A corpus-bad case laid over its base tree, in ``tmp``."""
    exp = strict_load(BAD / case / "expect.yaml")
    tree = tmp / case
    shutil.copytree(CORPUS / exp["base"], tree)
    for f in (BAD / case).rglob("*"):
        if f.is_file() and f.name != "expect.yaml":
            dest = tree / f.relative_to(BAD / case)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    return tree, exp
